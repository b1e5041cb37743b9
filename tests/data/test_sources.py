"""Tests of replearn.data.sources: look-up order, SHA-256 checks, (fake) downloads.

No test touches the network: ``sources._fetch`` is replaced by a fake in every test.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

import pytest

from replearn.data import sources
from replearn.data.sources import DataError, DatasetSpec, FileSpec

GOOD = b"the right bytes\n"
EVIL = b"tampered bytes!!\n"
URL = "https://example.invalid/toy/a.txt"
ZIP_URL = "https://example.invalid/toy.zip"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Empty $REPLEARN_DATA and cache, a small fake data set, and a network that fails."""
    data, cache = tmp_path / "data", tmp_path / "xdg"
    monkeypatch.setenv("REPLEARN_DATA", str(data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("REPLEARN_OFFLINE", raising=False)
    calls: list[str] = []

    def no_network(url: str, dest: Path) -> None:
        calls.append(url)
        raise AssertionError(f"unexpected download of {url}")

    monkeypatch.setattr(sources, "_fetch", no_network)
    spec = DatasetSpec(
        name="toy",
        description="a fake data set",
        licence="none",
        homepage="https://example.invalid",
        files=(FileSpec("a.txt", sha(GOOD), URL),),
    )
    monkeypatch.setitem(sources.DATASETS, "toy", spec)
    return {"data": data / "toy", "cache": cache / "replearn" / "toy", "calls": calls}


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def fake_fetch(monkeypatch, content: bytes) -> list[str]:
    calls: list[str] = []

    def fetch(url: str, dest: Path) -> None:
        calls.append(url)
        dest.write_bytes(content)

    monkeypatch.setattr(sources, "_fetch", fetch)
    return calls


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_table_matches_layout_and_urls():
    fashion = sources.DATASETS["fashion-mnist"]
    assert [f.name for f in fashion.files] == [
        f"{split}-{kind}-ubyte.gz"
        for split in ("train", "t10k")
        for kind in ("images-idx3", "labels-idx1")
    ]
    for f in fashion.files:
        assert f.url == f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{f.name}"
    (text,) = sources.DATASETS["tinyshakespeare"].files
    assert text.name == "input.txt" and text.url.endswith("tinyshakespeare/input.txt")
    sst2 = sources.DATASETS["sst2"].files
    assert [(f.name, f.member) for f in sst2] == [
        (f"{s}.tsv", f"SST-2/{s}.tsv") for s in ("train", "dev", "test")
    ]
    assert {f.url for f in sst2} == {"https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"}
    digests = [f.sha256 for spec in sources.DATASETS.values() for f in spec.files]
    assert all(re.fullmatch("[0-9a-f]{64}", d) for d in digests)


def test_digests_match_shared_sha256sums():
    root = os.environ.get("REPLEARN_DATA")
    sums = Path(root) / "SHA256SUMS" if root else None
    if sums is None or not sums.is_file():
        pytest.skip("REPLEARN_DATA with SHA256SUMS not available")
    listed = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line)
    table = {
        f"{name}/{f.name}": f.sha256 for name, spec in sources.DATASETS.items() for f in spec.files
    }
    assert table == listed


def test_shared_data_verifies(monkeypatch):
    root = os.environ.get("REPLEARN_DATA")
    if not root or not (Path(root) / "sst2" / "dev.tsv").is_file():
        pytest.skip("REPLEARN_DATA does not hold the shared data")
    monkeypatch.setenv("REPLEARN_OFFLINE", "1")
    for name in sources.DATASETS:
        results = sources.verify(name)
        assert [ok for _, ok, _ in results] == [True] * len(results), results
        assert all(msg.startswith(str(Path(root).expanduser())) for _, _, msg in results)


def test_resolves_from_replearn_data_first(env):
    local = write(env["data"] / "a.txt", GOOD)
    write(env["cache"] / "a.txt", GOOD)
    assert sources.file_path("toy", "a.txt") == local
    assert sources.dataset_path("toy") == env["data"]


def test_falls_back_to_xdg_cache(env, monkeypatch):
    cached = write(env["cache"] / "a.txt", GOOD)
    assert sources.file_path("toy", "a.txt") == cached
    monkeypatch.delenv("REPLEARN_DATA")
    assert sources.dataset_path("toy") == env["cache"]


def test_home_cache_without_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert sources.cache_dir() == tmp_path / ".cache" / "replearn"


def test_tampered_file_in_replearn_data_is_refused(env):
    bad = write(env["data"] / "a.txt", EVIL)
    write(env["cache"] / "a.txt", GOOD)  # a good copy later in the order is not used either
    with pytest.raises(DataError) as err:
        sources.file_path("toy", "a.txt")
    message = str(err.value)
    assert "\n" not in message
    assert "toy/a.txt" in message and str(bad) in message
    assert sha(GOOD) in message and sha(EVIL) in message
    with pytest.raises(DataError, match="mismatch"):
        sources.dataset_path("toy")


def test_change_after_verification_is_caught(env):
    path = write(env["data"] / "a.txt", GOOD)
    assert sources.file_path("toy", "a.txt") == path
    assert sources.file_path("toy", "a.txt") == path  # cached digest
    path.write_bytes(EVIL + b"longer")  # new size: the cached digest no longer applies
    with pytest.raises(DataError, match="mismatch"):
        sources.file_path("toy", "a.txt")


def test_download_goes_to_cache_atomically(env, monkeypatch):
    calls = fake_fetch(monkeypatch, GOOD)
    path = sources.file_path("toy", "a.txt")
    assert path == env["cache"] / "a.txt" and path.read_bytes() == GOOD
    assert calls == [URL]
    assert leftovers(env["cache"]) == ["a.txt"]  # no temporary file left behind
    assert sources.file_path("toy", "a.txt") == path
    assert calls == [URL]  # second look-up finds the cached copy


def test_tampered_download_is_refused_and_not_cached(env, monkeypatch):
    calls = fake_fetch(monkeypatch, EVIL)
    with pytest.raises(DataError) as err:
        sources.file_path("toy", "a.txt")
    assert URL in str(err.value) and sha(GOOD) in str(err.value) and sha(EVIL) in str(err.value)
    assert calls == [URL]
    assert leftovers(env["cache"]) == []


def test_offline_never_downloads(env, monkeypatch):
    monkeypatch.setenv("REPLEARN_OFFLINE", "1")
    with pytest.raises(DataError, match="REPLEARN_OFFLINE"):
        sources.file_path("toy", "a.txt")
    assert env["calls"] == []


def test_network_error_becomes_data_error(env, monkeypatch):
    def fail(url: str, dest: Path) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(sources, "_fetch", fail)
    with pytest.raises(DataError, match="connection refused"):
        sources.file_path("toy", "a.txt")
    assert leftovers(env["cache"]) == []


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_members_extracted_and_verified(env, monkeypatch):
    spec = DatasetSpec(
        name="toy",
        description="a zipped fake data set",
        licence="none",
        homepage="https://example.invalid",
        files=(
            FileSpec("train.tsv", sha(b"train"), ZIP_URL, member="T/train.tsv"),
            FileSpec("dev.tsv", sha(b"dev"), ZIP_URL, member="T/dev.tsv"),
            FileSpec("test.tsv", sha(b"test"), ZIP_URL, member="T/test.tsv"),
        ),
    )
    monkeypatch.setitem(sources.DATASETS, "toy", spec)
    archive = {"T/train.tsv": b"train", "T/dev.tsv": b"dev", "T/test.tsv": b"tampered"}
    calls = fake_fetch(monkeypatch, zip_bytes(archive))
    assert sources.file_path("toy", "dev.tsv").read_bytes() == b"dev"
    assert calls == [ZIP_URL]  # the archive is fetched once for all its files
    assert leftovers(env["cache"]) == ["dev.tsv", "train.tsv"]  # tampered test.tsv dropped
    assert sources.file_path("toy", "train.tsv").read_bytes() == b"train"
    assert calls == [ZIP_URL]
    with pytest.raises(DataError, match=r"test\.tsv"):
        sources.file_path("toy", "test.tsv")
    assert leftovers(env["cache"]) == ["dev.tsv", "train.tsv"]


def test_dataset_path_completes_cache_from_local_copy(env, monkeypatch):
    spec = DatasetSpec(
        name="toy",
        description="two files",
        licence="none",
        homepage="https://example.invalid",
        files=(FileSpec("a.txt", sha(GOOD), URL), FileSpec("b.txt", sha(b"b"), URL + "b")),
    )
    monkeypatch.setitem(sources.DATASETS, "toy", spec)
    write(env["data"] / "a.txt", GOOD)  # only one of the two files locally
    calls = fake_fetch(monkeypatch, b"b")
    folder = sources.dataset_path("toy")
    assert folder == env["cache"]
    assert (folder / "a.txt").read_bytes() == GOOD and (folder / "b.txt").read_bytes() == b"b"
    assert calls == [URL + "b"]  # a.txt was copied, not downloaded


def test_verify_and_list_report_without_downloading(env):
    assert sources.verify("toy") == [("a.txt", False, f"missing (would download {URL})")]
    (info,) = [i for i in sources.list_datasets() if i.name == "toy"]
    assert info.files == {"a.txt": "missing"} and info.licence == "none"
    bad = write(env["data"] / "a.txt", EVIL)
    (result,) = sources.verify("toy")
    assert result[:2] == ("a.txt", False) and "mismatch" in result[2]
    bad.write_bytes(GOOD)
    assert sources.verify("toy") == [("a.txt", True, str(bad))]
    (info,) = [i for i in sources.list_datasets() if i.name == "toy"]
    assert info.files == {"a.txt": str(bad)}
    assert env["calls"] == []
    assert {i.name for i in sources.list_datasets()} >= {"fashion-mnist", "tinyshakespeare", "sst2"}


def test_unknown_names_suggest_close_ones(env):
    with pytest.raises(DataError, match="did you mean 'sst2'"):
        sources.dataset_path("sst-2")
    with pytest.raises(DataError, match="did you mean 'fashion-mnist'"):
        sources.verify("fashion_mnist")
    with pytest.raises(DataError, match=r"did you mean 'a\.txt'"):
        sources.file_path("toy", "a.txtt")
    with pytest.raises(DataError, match="unknown data set 'zzz'"):
        sources.file_path("zzz", "a.txt")


def test_recompressed_gzip_passes_by_content_and_changed_content_fails(env, monkeypatch):
    import gzip

    content = b"IDX payload " * 100
    original = gzip.compress(content, compresslevel=9, mtime=0)
    spec = DatasetSpec(
        name="toy",
        description="a fake gz data set",
        licence="none",
        homepage="https://example.invalid",
        files=(FileSpec("a.gz", sha(original), URL, content_sha256=sha(content)),),
    )
    monkeypatch.setitem(sources.DATASETS, "toy", spec)
    recompressed = gzip.compress(content, compresslevel=1, mtime=12345)
    assert recompressed != original
    fake_fetch(monkeypatch, recompressed)
    assert sources.file_path("toy", "a.gz").read_bytes() == recompressed
    write(env["data"] / "a.gz", gzip.compress(content + b"!", mtime=0))
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        sources.file_path("toy", "a.gz")


# --- test fixtures ($REPLEARN_FIXTURE_DATA) -------------------------------------------------

FIXTURE_DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def test_fixture_digests_are_pinned_and_match_the_shipped_files():
    for dataset, files in sources.FIXTURES.items():
        assert set(files) == {f.name for f in sources.DATASETS[dataset].files}
        for name, digest in files.items():
            assert sources.sha256sum(FIXTURE_DATA / dataset / name) == digest
            assert digest != sources.DATASETS[dataset].file(name).sha256


def test_fixture_used_only_when_enabled_and_the_real_file_is_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLEARN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("REPLEARN_OFFLINE", "1")
    monkeypatch.delenv("REPLEARN_FIXTURE_DATA", raising=False)
    with pytest.raises(DataError, match="REPLEARN_OFFLINE"):
        sources.file_path("tinyshakespeare", "input.txt")
    monkeypatch.setenv("REPLEARN_FIXTURE_DATA", str(FIXTURE_DATA))
    path = sources.file_path("tinyshakespeare", "input.txt")
    assert path == FIXTURE_DATA / "tinyshakespeare" / "input.txt"
    assert "tinyshakespeare/input.txt" in sources.fixtures_used()
    assert sources.dataset_path("sst2") == FIXTURE_DATA / "sst2"
    # a real file that is present but wrong is refused: the stand-in never replaces it
    write(tmp_path / "data" / "tinyshakespeare" / "input.txt", EVIL)
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        sources.file_path("tinyshakespeare", "input.txt")


def test_a_tampered_fixture_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLEARN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    write(tmp_path / "fx" / "tinyshakespeare" / "input.txt", EVIL)
    monkeypatch.setenv("REPLEARN_FIXTURE_DATA", str(tmp_path / "fx"))
    with pytest.raises(DataError, match="test fixture"):
        sources.file_path("tinyshakespeare", "input.txt")
    # a file with no pinned stand-in is not looked for in the fixture folder
    write(tmp_path / "fx" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz", GOOD)
    with pytest.raises(DataError, match="REPLEARN_OFFLINE"):
        sources.file_path("fashion-mnist", "t10k-labels-idx1-ubyte.gz")
