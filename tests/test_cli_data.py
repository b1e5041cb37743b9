"""``replearn data``: list, path (embedded names too), a readable verify, download (offline)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from replearn.cli import main
from replearn.data import sources
from replearn.data.sources import DatasetSpec, FileSpec

CONTENT = b"some verified bytes\n" * 5000


@pytest.fixture
def toy(tmp_path: Path, monkeypatch) -> Path:
    """A data set 'toy' served from a local file:// URL; empty data folder and cache."""
    served = tmp_path / "server" / "a.txt"
    served.parent.mkdir()
    served.write_bytes(CONTENT)
    spec = DatasetSpec(
        name="toy",
        description="a local data set",
        licence="none",
        homepage="file://",
        files=(FileSpec("a.txt", hashlib.sha256(CONTENT).hexdigest(), served.as_uri()),),
    )
    monkeypatch.setitem(sources.DATASETS, "toy", spec)
    monkeypatch.setenv("REPLEARN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("REPLEARN_OFFLINE")
    return tmp_path


def test_download_fetches_verifies_and_reports_progress(toy: Path, capsys) -> None:
    seen: list[tuple[int, int | None]] = []
    rows = sources.download("toy", progress=lambda url, done, total: seen.append((done, total)))
    target = toy / "xdg" / "replearn" / "toy" / "a.txt"
    assert rows == [("a.txt", f"downloaded to {target}")]
    assert target.read_bytes() == CONTENT
    assert seen and seen[-1] == (len(CONTENT), len(CONTENT))
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"], "no temporary left"
    assert main(["data", "download", "toy"]) == 0
    assert "present at" in capsys.readouterr().out


def test_download_of_wrong_bytes_keeps_nothing(toy: Path, capsys) -> None:
    (toy / "server" / "a.txt").write_bytes(b"tampered")
    code = main(["data", "download", "toy"])
    err = capsys.readouterr().err
    assert code == 2 and "SHA-256 mismatch" in err and len(err.strip().splitlines()) == 1
    folder = toy / "xdg" / "replearn" / "toy"
    assert not folder.exists() or not list(folder.iterdir())


def test_verify_summary_and_exit_codes(toy: Path, capsys) -> None:
    assert main(["data", "verify", "toy"]) == 1  # asked for, not downloaded
    out = capsys.readouterr().out
    assert "toy: not downloaded" in out and "replearn data download toy" in out
    assert "1 data set: 0 verified, 1 not downloaded, 0 failed" in out
    bad = toy / "data" / "toy" / "a.txt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"tampered")
    assert main(["data", "verify"]) == 2
    out = capsys.readouterr().out
    assert "toy: FAILED a.txt" in out and "1 failed" in out and "{" not in out
    bad.write_bytes(CONTENT)
    assert main(["data", "verify", "toy"]) == 0
    assert "toy: ok, 1 files verified" in capsys.readouterr().out


def test_every_listed_name_has_a_path(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert main(["data", "list"]) == 0
    listed = capsys.readouterr().out
    for e in sources.embedded_datasets():
        assert e.name in listed
        assert main(["data", "path", e.name]) == 0
        assert capsys.readouterr().out.strip()
    assert main(["data", "path", "digits"]) == 0
    assert Path(capsys.readouterr().out.strip()).is_file()
    code = main(["data", "path", "digitz"])
    assert code == 2 and "unknown data set 'digitz'" in capsys.readouterr().err
