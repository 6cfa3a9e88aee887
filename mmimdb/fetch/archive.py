"""Import of the original MM-IMDb release (``mmimdb.tar.gz`` or its extracted folder).

The archive is read as a stream (it is 8 GB; gzip cannot seek), one member at a time. Every
member name is checked before anything is written: absolute paths, ``..``, links and special
files stop the import. A movie's JSON and JPEG may be far apart in the stream, so each half
waits in a staging folder until its twin arrives; then the pair is validated (JSON, schema,
the paper's filter, a full poster decode) and written to the records store. Movies already
in the store are skipped, so a rerun after an interruption resumes and never clobbers.

>>> report = import_release("mmimdb.tar.gz", data_root())  # doctest: +SKIP
>>> len(report.imported), report.skipped.keys()  # doctest: +SKIP
"""
from __future__ import annotations

import json
import shutil
import sys
import tarfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from tqdm import tqdm

from ..storage import atomic, lock
from ..records import posters as images, record as records, split_file as splits
from .. import paths
from ..storage.checksums import sha256_of
from .download import download
from ..errors import ArchiveError, ImageError, RecordError, UsageError
from ..records.store import RecordStore

#: Default public mirror of the release.
RELEASE_URL = "https://archive.org/download/mmimdb/mmimdb.tar.gz"
#: The sha256 MMF recorded for RELEASE_URL's file (facebookresearch/mmf, commit 4e5b5c1 of
#: 2020-04-21, ``mmf/datasets/builders/mmimdb/builder.py``, ``IMAGE_RESOURCES``; the zoo
#: config that replaced that table the next day, ``mmf/configs/zoo/datasets.yaml``, lists no
#: hash for it). The only digest of the release anyone published.
RELEASE_SHA256 = "7facb412f84e8e707cf5c15bb58e4cf3ac12d33e6e944e1bdefebada1259a253"
#: Where the digest applies: a URL of the mirror's path (archive.org, or a mirror of it)...
RELEASE_PATH = PurePosixPath(urlsplit(RELEASE_URL).path)
#: ... or a local file of the published name whose size is the published one. The size is
#: published only rounded, "8.1G" (peers' READMEs, e.g. sbseo/mm-gatbt), as ``ls -h`` and
#: wget print GiB: a file in [8.05, 8.15) GiB.
RELEASE_SIZE_RANGE = (int(8.05 * 1024**3), int(8.15 * 1024**3))
#: ``--sha256 none``: import a file of the published name without checking it.
NO_CHECK = "none"
#: Hosts the release mirror uses (archive.org redirects to its storage nodes).
RELEASE_HOSTS = ("archive.org", ".archive.org")
#: Caps per archive member, bytes.
MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_SPLIT_BYTES = 32 * 1024 * 1024
SPLITS = splits.SPLITS
REPORT_NAME = "import-report.json"
SOURCE_NAME = "archive"


@dataclass
class ImportReport:
    """What an import did. ``skipped`` maps a reason to the ids skipped for it."""

    source: str
    imported: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    split: dict[str, Any] | None = None
    fatal: str | None = None

    def skip(self, imdb_id: str, reason: str, message: str | None = None) -> None:
        self.skipped.setdefault(reason, []).append(imdb_id)
        if message:
            self.messages.append(message)

    @property
    def complete(self) -> bool:
        """True if every movie of the source is in the store and nothing went wrong."""
        return not self.skipped and self.fatal is None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "imported": len(self.imported),
            "already_present": len(self.already_present),
            "skipped": {reason: sorted(ids) for reason, ids in sorted(self.skipped.items())},
            "messages": self.messages,
            "split": self.split,
            "fatal": self.fatal,
            "imported_ids": sorted(self.imported),
        }


def _check_member(member: tarfile.TarInfo) -> None:
    """Refuse members that could land outside the target or are not plain files."""
    name = member.name
    pure = PurePosixPath(name)
    if name.startswith(("/", "\\")) or pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"unsafe archive member {name!r}: absolute path")
    if ".." in pure.parts or "\\" in name:
        raise ArchiveError(f"unsafe archive member {name!r}: path traversal")
    if member.issym() or member.islnk():
        raise ArchiveError(f"unsafe archive member {name!r}: links are not allowed")
    if not (member.isfile() or member.isdir()):
        raise ArchiveError(f"unsafe archive member {name!r}: not a regular file")


def _classify(name: str) -> tuple[str, str | None]:
    """('json'|'jpeg', digits) for a movie file, ('split', None), ('bad-name', stem) for a
    movie file whose name is digits but no IMDb id, or ('other', None)."""
    path = PurePosixPath(name)
    if path.name == "split.json":
        return "split", None
    stem, suffix = path.stem, path.suffix.lower()
    if suffix not in (".json", ".jpeg", ".jpg") or not stem.isdigit():
        return "other", None
    if not records.is_file_id(stem):
        # Digits, but not an id of the layout (non-ASCII digits such as '٠١١٤٧٠٩', too short).
        return "bad-name", stem
    return ("json" if suffix == ".json" else "jpeg"), stem


class _Importer:
    """Pairs movie files as they arrive and writes each complete, valid movie to the store."""

    def __init__(self, root: Path, report: ImportReport, progress: bool):
        self.root = root
        self.store = RecordStore(paths.dataset_dir(root))
        self.store.directory.mkdir(parents=True, exist_ok=True)
        self.store.clean()
        self.report = report
        self.staging = root / ".import-staging"
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        self.waiting: dict[str, dict[str, Path]] = {}
        self.rejected: set[str] = set()
        self.bar = tqdm(unit=" movies", desc="import", disable=not progress, file=sys.stderr)

    def add(self, kind: str, digits: str, read: Callable[[int], bytes], size: int) -> None:
        imdb_id = "tt" + digits
        if imdb_id in self.store:
            if kind == "json":
                self.report.already_present.append(imdb_id)
                self.bar.update()
            return
        if digits in self.rejected:
            return
        limit = MAX_JSON_BYTES if kind == "json" else images.MAX_POSTER_BYTES
        if size > limit:
            self.rejected.add(digits)
            self._drop(digits)
            self.report.skip(imdb_id, f"{kind} too large", f"{imdb_id}: {digits}.{kind} is {size} bytes, over the {limit}-byte cap")
            self.bar.update()
            return
        staged = self.staging / f"{digits}.{kind}"
        staged.write_bytes(read(limit))
        halves = self.waiting.setdefault(digits, {})
        halves[kind] = staged
        if "json" in halves and "jpeg" in halves:
            self._finish(digits)

    def skip_name(self, name: str) -> None:
        """Skip a movie file whose name is digits but not an IMDb id."""
        self.report.skip(name, "file name is not an IMDb id",
                         f"{name}: skipped, the name is not an IMDb id (7 or more ASCII digits)")

    def _drop(self, digits: str) -> None:
        for staged in self.waiting.pop(digits, {}).values():
            staged.unlink(missing_ok=True)

    def _finish(self, digits: str) -> None:
        halves = self.waiting[digits]
        try:
            self._import(digits, halves.get("json"), halves.get("jpeg"))
        finally:
            self._drop(digits)
            self.bar.update()

    def _import(self, digits: str, json_path: Path | None, jpeg_path: Path | None) -> None:
        imdb_id, report = "tt" + digits, self.report
        if json_path is None:
            report.skip(imdb_id, "poster without record", f"{imdb_id}: poster without a JSON record")
            return
        try:
            data = json.loads(json_path.read_bytes())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (UnicodeDecodeError, ValueError) as error:
            report.skip(imdb_id, "invalid JSON", f"{imdb_id}: {digits}.json: invalid JSON ({error})")
            return
        movie = records.from_imdbpy(digits, data)
        try:
            records.validate(movie)
        except RecordError as error:
            report.skip(imdb_id, "invalid record", str(error))
            return
        if jpeg_path is not None:
            movie.setdefault("poster", {})["file"] = f"{digits}.jpeg"
        missing = records.missing_for_dataset(movie)
        if missing:
            report.skip(imdb_id, missing, f"{imdb_id}: {missing}")
            return
        poster = jpeg_path.read_bytes()
        try:
            info = images.check_poster(poster, f"{imdb_id}: {digits}.jpeg")
        except ImageError as error:
            report.skip(imdb_id, "unreadable image", str(error))
            return
        movie["poster"].update(info.record_fields())
        # A JSON that names its sources (``_mmimdb``: the demo's real and generated films) keeps them;
        # the original release's JSON names none: its fields come from the archive.
        recorded = movie.get("sources") or {}
        movie["sources"] = {field: recorded.get(field, source) for field, source in records.all_from(movie, SOURCE_NAME).items()}
        self.store.write(movie, poster)
        report.imported.append(imdb_id)

    def close(self, source_complete: bool) -> None:
        """Settle the movies whose twin never came: with the whole source read, a JSON
        without poster is 'no poster'; after an early stop they are only reported."""
        for digits in sorted(self.waiting):
            if source_complete:
                self._finish(digits)
            else:
                self.report.skip("tt" + digits, "incomplete (source ended early)")
        self.bar.close()
        shutil.rmtree(self.staging, ignore_errors=True)


def _keep_split(data: bytes, root: Path, report: ImportReport, name: str) -> None:
    """Check the release's ``split.json`` and keep it as ``<root>/release-split.json``;
    an existing, different file is kept and the difference reported."""
    def parsed(raw: bytes, source: str) -> splits.SplitFile:
        try:
            return splits.parse_split(json.loads(raw), source)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UsageError(f"{source}: invalid JSON ({error})") from None

    split = parsed(data, name)
    target = paths.release_split_path(root)
    counts = {part: len(split.ids[part]) for part in SPLITS}
    if target.is_file() and parsed(target.read_bytes(), str(target)).ids != split.ids:
        report.split = {"kept": str(target), "counts": counts, "note": f"{name} differs from the existing {target}; kept the existing file"}
        report.messages.append(report.split["note"])
        return
    atomic.write_bytes(target, data)
    report.split = {"kept": str(target), "counts": counts}


@contextmanager
def _archive_errors(path: Path) -> Iterator[None]:
    """Turn tarfile/gzip failures, wherever in the stream they happen, into one-line errors."""
    try:
        yield
    except (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error, OSError, TypeError) as error:
        # (tarfile's gzip reader raises TypeError on a stream cut inside the gzip header: the fuzzer found it)
        # The first bytes were checked, so a failure in the stream means a damaged file.
        message = str(error) or type(error).__name__
        raise ArchiveError(f"{path}: archive is truncated or corrupt ({message}); rerun with a complete file to import the rest") from None


#: Leading bytes of the compressions tarfile reads, and of an uncompressed POSIX tar.
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _looks_like_archive(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(265)
    return head.startswith(_COMPRESSED_MAGIC) or head[257:262] == b"ustar"


def _import_tar(path: Path, importer: _Importer, root: Path, report: ImportReport) -> None:
    if not _looks_like_archive(path):
        raise ArchiveError(f"{path}: not a gzip/tar archive")
    with _archive_errors(path), tarfile.open(path, mode="r|*") as tar:
        for member in tar:
            _check_member(member)
            if member.isdir():
                continue
            kind, digits = _classify(member.name)
            if kind == "other":
                continue
            if kind == "bad-name":
                importer.skip_name(member.name)
                continue
            handle = tar.extractfile(member)
            read = lambda limit, handle=handle: handle.read(limit)  # noqa: E731
            if kind == "split":
                if member.size > MAX_SPLIT_BYTES:
                    raise ArchiveError(f"{member.name}: {member.size} bytes, over the {MAX_SPLIT_BYTES}-byte cap")
                _keep_split(read(MAX_SPLIT_BYTES), root, report, member.name)
            else:
                importer.add(kind, digits, read, member.size)


def _import_folder(folder: Path, importer: _Importer, root: Path, report: ImportReport) -> None:
    dataset = next((d for d in (folder / "dataset", folder / "mmimdb" / "dataset") if d.is_dir()), folder)
    for split_file in (dataset.parent / "split.json", folder / "split.json"):
        if split_file.is_file():
            _keep_split(split_file.read_bytes(), root, report, str(split_file))
            break
    if dataset.resolve() == importer.store.directory.resolve():
        raise UsageError(f"{folder}: this is the records store itself; nothing to import")
    files = sorted(p for p in dataset.iterdir() if p.is_file() and not p.is_symlink())
    if not any(p.suffix == ".json" for p in files):
        raise UsageError(f"{folder}: no <id>.json records found (expected the release's dataset/ folder)")
    for path in files:
        kind, digits = _classify(path.name)
        if kind == "bad-name":
            importer.skip_name(path.name)
        elif kind in ("json", "jpeg"):
            importer.add(kind, digits, lambda limit, path=path: path.read_bytes()[:limit], path.stat().st_size)


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def expected_sha256(source: str | Path, sha256: str | None = None) -> str | None:
    """The digest an import of ``source`` checks: ``sha256`` when given (``'none'``: none),
    else :data:`RELEASE_SHA256` for the published file (a URL with the mirror's path, or a
    local ``mmimdb.tar.gz`` of the published size), else none.

    >>> expected_sha256(RELEASE_URL) == RELEASE_SHA256, expected_sha256("http://127.0.0.1/mine.tar.gz")
    (True, None)
    """
    if sha256 is not None:
        given = sha256.strip().lower()
        if given == NO_CHECK:
            return None
        if len(given) != 64 or not all(c in "0123456789abcdef" for c in given):
            raise UsageError(f"--sha256 {sha256!r}: expected 64 hex digits (or 'none')")
        return given
    text = str(source)
    if _is_url(text):
        return RELEASE_SHA256 if PurePosixPath(urlsplit(text).path) == RELEASE_PATH else None
    path = Path(text).expanduser()
    if path.name == RELEASE_PATH.name and path.is_file():
        low, high = RELEASE_SIZE_RANGE
        if low <= path.stat().st_size < high:
            return RELEASE_SHA256
    return None


def _digest_source(expected: str) -> str:
    return "the digest MMF published for the release" if expected == RELEASE_SHA256 else "--sha256"


def import_release(
    source: str | Path,
    root: str | Path | None = None,
    *,
    sha256: str | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import the original release from a URL, a ``.tar.gz``/``.tar`` file or a folder.

    The file is checked against ``sha256``, or, when none is given, against the published
    digest where it applies (:func:`expected_sha256`); a mismatch imports nothing.

    Writes the valid movies into ``<root>/dataset``, keeps ``split.json`` as
    ``<root>/release-split.json``, and saves the report as ``<root>/import-report.json``. Raises
    :class:`ArchiveError` for a truncated, non-archive or unsafe archive, after keeping every
    movie completed before the problem; :class:`UsageError` for a wrong path.
    """
    root = paths.data_root(root)
    text = str(source)
    expected = expected_sha256(text, sha256)
    if _is_url(text):
        allowed = set(RELEASE_HOSTS) if (urlsplit(text).hostname or "").endswith("archive.org") else None
        name = PurePosixPath(urlsplit(text).path).name or "mmimdb.tar.gz"
        path = download(text, paths.downloads_dir(root) / name, sha256=expected, allowed_hosts=allowed,
                        progress=progress, expected_from=_digest_source(expected) if expected else None)
    else:
        scheme = urlsplit(text).scheme
        if len(scheme) > 1 and "://" in text:  # ftp://, s3://, ... (a one-letter scheme is a Windows drive)
            raise UsageError(f"{text}: only http(s) URLs are supported (or a local .tar.gz, .tar or folder)")
        path = Path(text).expanduser()
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        if expected and path.is_file():
            actual = sha256_of(path)
            if actual != expected:
                raise ArchiveError(f"{path}: sha256 does not match {expected} ({_digest_source(expected)}; "
                                   f"the file's is {actual}); nothing imported")
    with lock.exclusive(root, "mmimdb fetch --from-archive"):
        return _import_locked(path, text, root, progress)


def _import_locked(path: Path, text: str, root: Path, progress: bool) -> ImportReport:
    report = ImportReport(source=text)
    importer = _Importer(root, report, progress)
    try:
        if path.is_dir():
            _import_folder(path, importer, root, report)
        else:
            _import_tar(path, importer, root, report)
        if not (report.imported or report.already_present or report.skipped or importer.waiting):
            # Not one <id>.json or <id>.jpeg: some other archive or folder, not a release with problems.
            raise UsageError(f"{path}: nothing imported: not the MM-IMDb release "
                             "(no <7-digit id>.json records with their .jpeg posters in it)")
    except BaseException as error:  # an interrupted import still reports what it kept
        report.fatal = str(error) or type(error).__name__
        raise
    finally:
        importer.close(source_complete=report.fatal is None)
        atomic.write_json(root / REPORT_NAME, report.to_json())
    return report
