"""Locate, download and verify the data files replearn uses.

Every file a data set needs is listed in :data:`DATASETS` with its SHA-256 and the
canonical URL it comes from. A file is looked up, in this order, at

1. ``$REPLEARN_DATA/<dataset>/<file>`` (a read-only copy, e.g. the CI data folder),
2. ``<cache>/<dataset>/<file>`` where ``<cache>`` is ``$XDG_CACHE_HOME/replearn``
   (``~/.cache/replearn`` when ``XDG_CACHE_HOME`` is unset),
3. otherwise it is downloaded into the cache: written to a temporary file in the
   same folder, checked against its SHA-256 and only then renamed into place, so a
   partial or tampered download never lands in the cache. ``REPLEARN_OFFLINE=1``
   turns downloads off; a missing file is then an error.

The SHA-256 of a file is verified every time it is resolved (the digest is cached
in-process per ``(path, inode, size, mtime)`` so repeated loads cost a ``stat``). A
mismatch raises :class:`DataError` and the file is never used.

Test fixtures. The test suite must pass on a fresh clone without any data folder, so
``$REPLEARN_FIXTURE_DATA`` may name a folder of small stand-ins in the same formats
(``tests/fixtures/data``: 16 KB of Tiny Shakespeare, a few hundred synthetic SST-2
rows). A stand-in is used only when that variable is set, only when the real file is
found nowhere above (steps 1-2; it is preferred to a download), and only if its own
SHA-256 matches the digest pinned for it in :data:`FIXTURES`. A real file that exists
is always checked against the real digest: a wrong real file still raises, whatever the
fixture folder holds. ``tests/conftest.py`` sets the variable; users never need it.
:func:`fixtures_used` lists the stand-ins resolved in this process, and the run records
them (``env.json``), so a result computed on a fixture says so.

Example:
    >>> from replearn.data import file_path
    >>> file_path("tinyshakespeare", "input.txt")  # doctest: +SKIP
    PosixPath('/home/me/.cache/replearn/tinyshakespeare/input.txt')
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATASETS",
    "FIXTURES",
    "DataError",
    "DatasetInfo",
    "DatasetSpec",
    "EmbeddedData",
    "FileSpec",
    "cache_dir",
    "data_used",
    "dataset_path",
    "download",
    "embedded_datasets",
    "file_path",
    "fixtures_used",
    "list_datasets",
    "offline",
    "reset_data_used",
    "sha256sum",
    "verify",
]


class DataError(Exception):
    """A data file is missing, unknown, malformed or fails its SHA-256 check."""


@dataclass(frozen=True)
class FileSpec:
    """One file of a data set.

    Attributes:
        name: File name inside the data set's folder, e.g. ``"train.tsv"``.
        sha256: Expected SHA-256 of the file, lowercase hex.
        url: Canonical URL the file (or the archive holding it) is downloaded from.
        member: Path of the file inside the zip archive at ``url``; ``None`` when
            ``url`` is the file itself.
        content_sha256: For a ``.gz`` file, the SHA-256 of its decompressed content,
            accepted in place of ``sha256``: the same data compressed by another gzip
            (another header or level) then passes, and any change of the data fails.
    """

    name: str
    sha256: str
    url: str
    member: str | None = None
    content_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A file data set: its description, licence and files."""

    name: str
    description: str
    licence: str
    homepage: str
    files: tuple[FileSpec, ...]

    def file(self, filename: str) -> FileSpec:
        """Return the :class:`FileSpec` called ``filename``.

        Raises:
            DataError: If the data set has no such file (close names are suggested).
        """
        for spec in self.files:
            if spec.name == filename:
                return spec
        names = [spec.name for spec in self.files]
        raise DataError(
            f"data set {self.name!r} has no file {filename!r}{_suggest(filename, names)}; "
            f"its files are {', '.join(names)}"
        )


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`list_datasets` reports about a data set.

    Attributes:
        name: Data set name, a key of :data:`DATASETS`.
        description: One-line description.
        licence: Licence of the data.
        files: File name -> where it currently resolves (a path) or ``"missing"``.
            Presence only; use :func:`verify` to check the digests.
    """

    name: str
    description: str
    licence: str
    files: dict[str, str]


_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
_SST2_URL = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"

# Digests are those of the reference copies in the project's shared data folder (its
# SHA256SUMS file). Those copies are not byte-identical to what two of the URLs serve.
# The Fashion-MNIST .gz files were re-compressed (their gzip headers carry no file name),
# so each also pins the SHA-256 of its decompressed IDX bytes, which a download from
# Zalando's server must match. The SST-2 files are not GLUE's (columns label/sentence or
# label/content, and a labelled test split, where GLUE has sentence/label and
# index/sentence and no test labels): a download of the GLUE archive is refused by the
# checksum, and the error says to place the files in $REPLEARN_DATA/sst2.
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="fashion-mnist",
            description="Fashion-MNIST: 28x28 grey images of clothing, 10 classes, "
            "60,000 train / 10,000 test (Xiao et al. 2017), IDX gz files",
            licence="MIT",
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            files=tuple(
                FileSpec(name, sha, _FASHION_URL + name, content_sha256=content)
                for name, sha, content in (
                    (
                        "train-images-idx3-ubyte.gz",
                        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    ),
                    (
                        "train-labels-idx1-ubyte.gz",
                        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                    ),
                    (
                        "t10k-images-idx3-ubyte.gz",
                        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                    ),
                    (
                        "t10k-labels-idx1-ubyte.gz",
                        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                    ),
                )
            ),
        ),
        DatasetSpec(
            name="tinyshakespeare",
            description="Tiny Shakespeare: 1,115,394 characters of Shakespeare's plays "
            "(Karpathy's char-rnn), one text file",
            licence="public domain text",
            homepage="https://github.com/karpathy/char-rnn",
            files=(
                FileSpec(
                    "input.txt",
                    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                    _SHAKESPEARE_URL,
                ),
            ),
        ),
        DatasetSpec(
            name="sst2",
            description="SST-2: binary sentiment of movie-review phrases (Socher et al. 2013, "
            "GLUE): 67,349 train, 872 dev, 1,821 test, tab-separated",
            licence="see the SST / GLUE terms",
            homepage="https://gluebenchmark.com/tasks",
            files=tuple(
                FileSpec(name, sha, _SST2_URL, member=f"SST-2/{name}")
                for name, sha in (
                    (
                        "train.tsv",
                        "dc4a10637729af71aeb11f573482b10031ba7ffe53159403599d06759e484e30",
                    ),
                    (
                        "dev.tsv",
                        "84207e6be5873fb18db798cc6faec86871f5a426554650ff64a1c34e87665f6f",
                    ),
                    (
                        "test.tsv",
                        "fcd46f967b7b8efd8b5398481dadf873886298d092195167af907fd532e81e1c",
                    ),
                )
            ),
        ),
    )
}

# Small stand-ins for the test suite (see the module docstring): data set -> file -> the
# SHA-256 of the stand-in in $REPLEARN_FIXTURE_DATA (tests/fixtures/data, written by
# tests/fixtures/make_data.py). Never accepted in place of a real file that exists.
FIXTURES: dict[str, dict[str, str]] = {
    "tinyshakespeare": {
        "input.txt": "9d189f6a2d73710967056f1e3847a043aa6e35cb7252b9d0492fafa4d97c2eb1",
    },
    "sst2": {
        "train.tsv": "4a6bd948e888acb34a9b9bbd1314f71f22dc2d30267bb99c5ae2b54d591d23f9",
        "dev.tsv": "01a9cdd5f19e35c60600a6daf11360a4bd96ef895c722464667122b4dc2e46d6",
        "test.tsv": "5dd4865b6a002b8a5dfb78703217de632c801198f2cd950884e798b23de0a92e",
    },
}

# "<data set>/<file>" of every fixture resolved, and every data set whose real files were
# resolved, since the last reset_data_used() (the runner records them in result.json).
_FIXTURES_USED: set[str] = set()
_RESOLVED: set[str] = set()

# (resolved path, inode, size, mtime_ns) -> SHA-256 hex digest.
_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(
            f"unknown data set {name!r}{_suggest(name, DATASETS)}; "
            f"known: {', '.join(sorted(DATASETS))}"
        ) from None


def offline() -> bool:
    """Return whether downloads are disabled (``REPLEARN_OFFLINE`` set to 1/true/yes/on)."""
    return os.environ.get("REPLEARN_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def cache_dir() -> Path:
    """Return the user cache root: ``$XDG_CACHE_HOME/replearn`` or ``~/.cache/replearn``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "replearn"


def _data_root() -> Path | None:
    root = os.environ.get("REPLEARN_DATA", "")
    return Path(root).expanduser() if root else None


def _fixture_root() -> Path | None:
    root = os.environ.get("REPLEARN_FIXTURE_DATA", "")
    return Path(root).expanduser() if root else None


def _fixture(dataset: str, filename: str) -> Path | None:
    """The verified stand-in for a file, when fixtures are enabled and it exists; else None.

    Raises:
        DataError: If the stand-in exists but does not match its pinned digest.
    """
    root = _fixture_root()
    expected = FIXTURES.get(dataset, {}).get(filename)
    if root is None or expected is None or not (root / dataset / filename).is_file():
        return None
    path = root / dataset / filename
    actual = sha256sum(path)
    if actual != expected:
        raise DataError(
            f"SHA-256 mismatch for the test fixture {dataset}/{filename} at {path}: "
            f"expected {expected}, got {actual}; refusing to use it"
        )
    _FIXTURES_USED.add(f"{dataset}/{filename}")
    return path


def fixtures_used() -> list[str]:
    """``"<data set>/<file>"`` of every test fixture resolved since the last reset (sorted)."""
    return sorted(_FIXTURES_USED)


def data_used() -> dict[str, str]:
    """Data set -> ``"file"`` or ``"test fixture"``: what was resolved since the last reset."""
    used = {name: "file" for name in sorted(_RESOLVED)}
    used.update({f.split("/")[0]: "test fixture" for f in _FIXTURES_USED})
    return used


def reset_data_used() -> None:
    """Forget what :func:`data_used` and :func:`fixtures_used` report (a run starts)."""
    _RESOLVED.clear()
    _FIXTURES_USED.clear()


def _candidates(dataset: str, filename: str) -> list[Path]:
    """Locations searched for a file, in order."""
    root = _data_root()
    paths = [root / dataset / filename] if root is not None else []
    return [*paths, cache_dir() / dataset / filename]


def sha256sum(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 of a file, cached in-process per ``(path, inode, size, mtime)``."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    digest = _DIGESTS.get(key)
    if digest is None:
        hasher = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                hasher.update(chunk)
        digest = _DIGESTS[key] = hasher.hexdigest()
    return digest


def gunzip_sha256sum(path: str | os.PathLike[str]) -> str | None:
    """SHA-256 of a gzip file's decompressed content (None if it is not valid gzip)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path) + "#content", stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    hasher = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                hasher.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    digest = _DIGESTS[key] = hasher.hexdigest()
    return digest


def _matches(spec: FileSpec, path: Path) -> tuple[bool, str]:
    """Whether ``path`` holds ``spec``'s bytes (or, for gz, its content); and the digest."""
    actual = sha256sum(path)
    if actual == spec.sha256:
        return True, actual
    if spec.content_sha256 is not None and gunzip_sha256sum(path) == spec.content_sha256:
        return True, actual
    return False, actual


def _check(dataset: str, spec: FileSpec, path: Path) -> None:
    """Raise :class:`DataError` unless ``path`` has the expected SHA-256."""
    ok, actual = _matches(spec, path)
    if not ok:
        raise DataError(
            f"SHA-256 mismatch for {dataset}/{spec.name} at {path}: "
            f"expected {spec.sha256}, got {actual}; refusing to use it"
        )


# Called as progress(url, bytes_done, bytes_total or None) while _fetch downloads.
_PROGRESS: list[Callable[[str, int, int | None], None]] = []


def _fetch(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` (the only function that touches the network)."""
    request = urllib.request.Request(url, headers={"User-Agent": "replearn"})
    with urllib.request.urlopen(request, timeout=60) as response, dest.open("wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        for chunk in iter(lambda: response.read(1 << 20), b""):
            out.write(chunk)
            done += len(chunk)
            for report in _PROGRESS:
                report(url, done, total)


def _temp_in(folder: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    os.close(fd)
    return Path(tmp)


def _install(dataset: str, spec: FileSpec, tmp: Path, final: Path) -> None:
    """Verify ``tmp`` and atomically rename it to ``final``; delete it on a mismatch."""
    try:
        ok, actual = _matches(spec, tmp)
        if not ok:
            raise DataError(
                f"SHA-256 mismatch for {dataset}/{spec.name} downloaded from {spec.url}: "
                f"expected {spec.sha256}, got {actual}; not saved (place the verified file "
                f"in $REPLEARN_DATA/{dataset}/ instead)"
            )
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        stat = final.stat()
        _DIGESTS[(str(final.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)] = actual
    finally:
        tmp.unlink(missing_ok=True)


def _download(dataset: str, spec: FileSpec) -> Path:
    """Download ``spec`` into the cache, verified; return its cached path."""
    folder = cache_dir() / dataset
    final = folder / spec.name
    if offline():
        searched = ", ".join(str(p) for p in _candidates(dataset, spec.name))
        raise DataError(
            f"{dataset}/{spec.name} not found (searched {searched}) and REPLEARN_OFFLINE "
            f"forbids downloading it from {spec.url}; set REPLEARN_DATA to a folder holding it "
            f"(or run 'replearn data download {dataset}' where the network is allowed)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    download = _temp_in(folder, Path(spec.url).name)
    try:
        try:
            _fetch(spec.url, download)
        except OSError as err:
            raise DataError(f"could not download {spec.url}: {err}") from err
        if spec.member is None:
            _install(dataset, spec, download, final)
            return final
        # An archive: extract every missing file of the data set that it holds, so the
        # archive is fetched once; the requested file's check raises, the others' wait.
        siblings = [s for s in _spec(dataset).files if s.url == spec.url]
        with zipfile.ZipFile(download) as archive:
            for sibling in siblings:
                target = folder / sibling.name
                if target.exists() and sibling is not spec:
                    continue
                try:
                    source = archive.open(sibling.member)
                except KeyError:
                    raise DataError(f"{spec.url} holds no {sibling.member}") from None
                tmp = _temp_in(folder, sibling.name)
                with source, tmp.open("wb") as out:
                    shutil.copyfileobj(source, out, length=1 << 20)
                try:
                    _install(dataset, sibling, tmp, target)
                except DataError:
                    if sibling is spec:
                        raise
        return final
    except zipfile.BadZipFile as err:
        raise DataError(f"{spec.url} is not a valid zip archive: {err}") from err
    finally:
        download.unlink(missing_ok=True)


def _resolve(dataset: str, spec: FileSpec, *, download: bool) -> Path | None:
    """First existing candidate, verified; else a download (or ``None``)."""
    for path in _candidates(dataset, spec.name):
        if path.is_file():
            _check(dataset, spec, path)
            _RESOLVED.add(dataset)
            return path
    stand_in = _fixture(dataset, spec.name)
    if stand_in is not None:
        return stand_in
    if not download:
        return None
    path = _download(dataset, spec)
    _RESOLVED.add(dataset)
    return path


def file_path(name: str, filename: str) -> Path:
    """Return the verified path of one file of a data set, downloading it if needed.

    Args:
        name: Data set name, e.g. ``"fashion-mnist"``.
        filename: File name inside the data set, e.g. ``"train-images-idx3-ubyte.gz"``.

    Returns:
        Path of a file whose SHA-256 matches the pinned digest.

    Raises:
        DataError: Unknown data set or file, digest mismatch, or the file is missing
            and cannot be downloaded (``REPLEARN_OFFLINE=1`` or a network error).
    """
    dataset = _spec(name)
    path = _resolve(name, dataset.file(filename), download=True)
    assert path is not None
    return path


def dataset_path(name: str) -> Path:
    """Return a folder holding every file of a data set, verified, downloading if needed.

    The ``$REPLEARN_DATA`` folder of the data set is used if it holds every file, then
    the cache folder; otherwise the missing files are put into the cache folder
    (copied from ``$REPLEARN_DATA`` when there, else downloaded).

    Raises:
        DataError: As :func:`file_path`.
    """
    dataset = _spec(name)
    cache = cache_dir() / name
    root = _data_root()
    folders = [root / name] if root is not None else []
    for folder in [*folders, cache]:
        if all((folder / spec.name).is_file() for spec in dataset.files):
            for spec in dataset.files:
                _check(name, spec, folder / spec.name)
            _RESOLVED.add(name)
            return folder
    fixture_root = _fixture_root()
    stand_ins = [_fixture(name, spec.name) for spec in dataset.files] if fixture_root else []
    if stand_ins and all(p is not None for p in stand_ins):
        return fixture_root / name
    for spec in dataset.files:
        target = cache / spec.name
        if target.is_file():
            _check(name, spec, target)
            continue
        local = _resolve(name, spec, download=False)
        if local is None:
            _download(name, spec)
        else:  # verified copy in $REPLEARN_DATA: copy it instead of downloading
            cache.mkdir(parents=True, exist_ok=True)
            tmp = _temp_in(cache, spec.name)
            shutil.copyfile(local, tmp)
            _install(name, spec, tmp, target)
    return cache


def download(
    name: str, progress: Callable[[str, int, int | None], None] | None = None
) -> list[tuple[str, str]]:
    """Make every file of a data set present and verified, downloading what is missing.

    A file already in ``$REPLEARN_DATA`` or the cache is verified, not fetched again (test
    fixtures are never used here). A download goes to a temporary file in the cache
    folder, is checked against its SHA-256 and only then renamed into place.

    Args:
        name: Data set name (a key of :data:`DATASETS`).
        progress: Called as ``progress(url, bytes_done, bytes_total_or_None)`` during a
            download.

    Returns:
        One ``(filename, what happened)`` per file: ``"present at PATH"`` or
        ``"downloaded to PATH"``.

    Raises:
        DataError: Unknown data set, offline, network error or digest mismatch (nothing
            is kept then).
    """
    dataset = _spec(name)
    done = []
    if progress is not None:
        _PROGRESS.append(progress)
    try:
        for spec in dataset.files:
            found = next((p for p in _candidates(name, spec.name) if p.is_file()), None)
            if found is not None:
                _check(name, spec, found)
                done.append((spec.name, f"present at {found}"))
                continue
            path = _download(name, spec)
            done.append((spec.name, f"downloaded to {path}"))
    finally:
        if progress is not None:
            _PROGRESS.remove(progress)
    return done


@dataclass(frozen=True)
class EmbeddedData:
    """A data set that needs no download: shipped by a dependency or generated.

    Attributes:
        name: What ``--set data=...`` and ``replearn data path`` call it.
        description: One line.
        where: Returns the file (or module) it comes from.
    """

    name: str
    description: str
    where: Callable[[], Path]


def _digits_file() -> Path:
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "data" / "digits.csv.gz"


def _module_file(module: str) -> Callable[[], Path]:
    def where() -> Path:
        import importlib

        return Path(importlib.import_module(module).__file__ or module)

    return where


def _mnist1d_file() -> Path:
    from replearn.data.images import _mnist1d_cache_file

    return _mnist1d_cache_file()


def embedded_datasets() -> list[EmbeddedData]:
    """The data sets with no file to download (gymnasium only when it is installed)."""
    import importlib.util

    found = [
        EmbeddedData(
            "digits",
            "8x8 handwritten digits, 1,797 images, 10 classes (scikit-learn's copy of UCI)",
            _digits_file,
        ),
        EmbeddedData(
            "mnist1d",
            "MNIST-1D: 40-sample 1-D signals, 10 classes, generated by the mnist1d package "
            "(cached after the first use)",
            _mnist1d_file,
        ),
        EmbeddedData(
            "toy2d",
            "2-D toy densities (moons, rings, mixtures, ...), generated",
            _module_file("replearn.data.toy2d"),
        ),
        EmbeddedData(
            "sequence-tasks",
            "copy, selective copy, associative recall, adding problem: generated",
            _module_file("replearn.data.sequences"),
        ),
    ]
    if importlib.util.find_spec("gymnasium") is not None:
        found.append(
            EmbeddedData(
                "gymnasium",
                "reinforcement-learning environments of the gymnasium package",
                _module_file("gymnasium"),
            )
        )
    return found


def verify(name: str) -> list[tuple[str, bool, str]]:
    """Check every file of a data set where it currently resolves, without downloading.

    Returns:
        One ``(filename, ok, message)`` per file; ``message`` is the path on success,
        else why it failed (missing, or the digest mismatch).

    Raises:
        DataError: If ``name`` is not a known data set.
    """
    results = []
    for spec in _spec(name).files:
        try:
            path = _resolve(name, spec, download=False)
        except DataError as err:
            results.append((spec.name, False, str(err)))
            continue
        if path is None:
            results.append((spec.name, False, f"missing (would download {spec.url})"))
        else:
            results.append((spec.name, True, str(path)))
    return results


def list_datasets() -> list[DatasetInfo]:
    """Describe every file data set and where each of its files currently resolves."""
    infos = []
    for name, spec in DATASETS.items():
        files = {}
        for file in spec.files:
            found = next((p for p in _candidates(name, file.name) if p.is_file()), None)
            files[file.name] = str(found) if found is not None else "missing"
        infos.append(DatasetInfo(name, spec.description, spec.licence, files))
    return infos
