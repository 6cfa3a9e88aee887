"""``mmimdb build``: records -> split -> Parquet + HDF5 + report + manifest.

Two passes over the records store, each spread over every core:

1. *inspect*: read and validate each record, apply the paper's filter (genres, plot,
   poster), keep only movies with at least one of the 23 genres, and check that the poster
   decodes. Movies that fail are left out, with the reason in the report (or, with
   ``strict``, the build stops).
2. *write*: split the kept movies, then preprocess the posters in split order (workers
   decode, crop, resize and compress the HDF5 chunks) while the main process writes the
   Parquet rows and the chunks.

Everything is written into a staging folder under the data root and moved into place at
the end, manifest last: an interrupted or failed build leaves the previous outputs as they
were.
"""
from __future__ import annotations

import multiprocessing
import os
import platform
import shutil
import signal
import tempfile
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import __version__, paths
from ..storage import atomic, lock
from . import hdf5, parquet, split as splits
from ..storage.checksums import sha256_of
from ..storage.manifest import output_entry as manifest_entry, read_manifest
from ..errors import ImageError, MmimdbError, RecordError, UsageError
from ..records.genres import GENRE_CHOICES, GENRES, labels_of
from ..records.posters import check_poster
from . import images
from ..records.record import TEXT_CHOICES, file_id, missing_for_dataset
from ..records.split_file import SPLITS, SplitFile, read_split_file, write_split_file
from ..records.store import RecordStore

#: Records per task sent to a worker process.
TASK_CHUNK = 16
#: Tasks in flight at once: bounds the finished chunks waiting in memory for the writer.
WINDOW = 1024
#: Below this many records the build runs in one process (starting workers costs more).
MIN_PARALLEL_RECORDS = 64
#: Packages whose versions the manifest records.
VERSIONED_PACKAGES = ("numpy", "pyarrow", "h5py", "pillow", "iterative-stratification", "jsonschema")
STAGING_PREFIX = ".build-"


@dataclass
class Inspected:
    """What pass 1 learnt about one record."""

    imdb_id: str
    row: dict[str, Any] | None = None  # Parquet row without the poster bytes
    reason: str | None = None  # why it is left out
    fatal: bool = False  # a defect (unreadable record or poster) rather than the paper's filter
    sources: tuple[str, ...] = ()  # the sources its fields name (provenance: "generated" films say so)


def inspect_record(store_dir: str, imdb_id: str, text: str = "longest", genres: str = "23") -> Inspected:
    """Pass 1 for one id: the Parquet row (poster bytes left out) or why it is left out."""
    store = RecordStore(store_dir)
    try:
        record = store.read(imdb_id)
    except RecordError as error:
        where = f"field '{error.field}': " if error.field else ""
        return Inspected(imdb_id, reason=f"invalid record: {where}{error.message}", fatal=True)
    missing = missing_for_dataset(record)
    if missing:
        return Inspected(imdb_id, reason=missing)
    if not labels_of(record["genres"]):
        return Inspected(imdb_id, reason=f"none of the 23 genres ({', '.join(record['genres'])})")
    try:
        info = check_poster(store.read_poster(imdb_id), imdb_id)
    except OSError as error:
        return Inspected(imdb_id, reason=f"poster unreadable ({error.strerror or error})", fatal=True)
    except ImageError as error:
        return Inspected(imdb_id, reason=str(error).removeprefix(f"{imdb_id}: "), fatal=True)
    return Inspected(imdb_id, row=parquet.record_row(record, b"", info.sha256, text, genres),
                     sources=tuple(sorted(set((record.get("sources") or {}).values()))))


def _inspect_task(task: tuple[str, str, str, str]) -> Inspected:
    return inspect_record(*task)


def image_chunk(store_dir: str, imdb_id: str) -> bytes:
    """Pass 2 for one id: its poster preprocessed and compressed as an HDF5 chunk."""
    poster = RecordStore(store_dir).read_poster(imdb_id)
    return hdf5.encode_image_chunk(images.preprocess_poster(poster, imdb_id))


def _image_task(task: tuple[str, str]) -> bytes:
    return image_chunk(*task)


def _ignore_interrupts() -> None:
    # Ctrl-C is the main process's to handle (it stops the pool); workers that also got it
    # would each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Ctrl-C is ignored inside the block (a few renames), where it could only leave a mix
    of old and new outputs; only the main thread can change signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _parallel_map(function: Callable, tasks: Sequence[Any], workers: int) -> Iterator[Any]:
    """``map(function, tasks)`` in order, over ``workers`` processes when it pays."""
    if workers <= 1 or len(tasks) < MIN_PARALLEL_RECORDS:
        yield from map(function, tasks)
        return
    with multiprocessing.Pool(workers, initializer=_ignore_interrupts) as pool:
        for start in range(0, len(tasks), WINDOW):
            yield from pool.imap(function, tasks[start:start + WINDOW], chunksize=TASK_CHUNK)


def _progress(iterable: Iterable[Any], total: int, description: str, enabled: bool) -> Iterable[Any]:
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, unit="movie", disable=not enabled, leave=False)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "mmimdb": __version__}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _assign(method: str, labels: np.ndarray, ids: list[str], seed: int | None,
            split_file: SplitFile | None, store_ids: set[str]) -> tuple[splits.Assignment, list[str], list[int]]:
    """Row indices per split, the split file's unknown ids, and rows the file leaves out."""
    if method == "original":
        return splits.original_split(labels, seed), [], []
    if method == "iterative":
        return splits.iterative_split(labels, seed), [], []
    assert split_file is not None
    mapped = splits.file_split(ids, split_file)
    # Ids the store has but the build left out are reported with their own reason.
    unknown = [imdb_id for imdb_id in mapped.unknown_ids if imdb_id not in store_ids]
    return mapped.rows, unknown, mapped.unlisted_rows


@lock.writes_root("mmimdb build")
def build(root: str | os.PathLike | None = None, method: str = "original", split_file: str | os.PathLike | None = None,
          seed: int | None = None, strict: bool = False, workers: int | None = None,
          progress: bool = False, text: str = "longest", genres: str = "23",
          log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Build the dataset of the records under ``root``; return the manifest.

    ``method`` is ``original``, ``iterative`` or ``file`` (then ``split_file`` names the
    ``split.json``; default: the imported release's ``release-split.json``). ``seed`` changes the shuffle of ``original`` (default ``[2014, 8, 6]``)
    and ``iterative`` (default 20140806). With ``strict``, an unreadable record or poster,
    or a split-file id that is not among the records, stops the build instead of being
    reported. ``workers`` defaults to the number of cores. ``text`` picks the plot each
    movie's ``plot`` column (and so its text features) holds: ``longest`` (the paper's),
    ``first`` or ``outline``; ``genres`` ``23`` (the paper's) or ``all`` keeps the genres
    outside the 23 in the ``genres`` column (the labels stay the 23). Both are recorded in
    the manifest under ``choices``. The outputs of an earlier build's later stages (features,
    missing tables, exports, card) were made for its rows and are removed, each named to
    ``log``.
    """
    root = paths.data_root(root)
    if text not in TEXT_CHOICES:
        raise UsageError(f"unknown --text {text!r} for a build; use one of {', '.join(TEXT_CHOICES)}"
                         + (" (one sample per plot is an export choice: mmimdb export --text all)" if text == "all" else ""))
    if genres not in GENRE_CHOICES:
        raise UsageError(f"unknown --genres {genres!r}; use one of {', '.join(GENRE_CHOICES)}")
    if method not in splits.METHODS:
        raise UsageError(f"unknown split method {method!r}; use one of {', '.join(splits.METHODS)}")
    if method == "file" and split_file is None and paths.release_split_path(root).is_file():
        split_file = paths.release_split_path(root)  # the release's split, kept by the archive import
    if (method == "file") != (split_file is not None):
        raise UsageError("--split file needs --split-file PATH (or a release imported by `mmimdb fetch --from-archive`)"
                         if method == "file"
                         else f"--split-file is only used with --split file (not {method})")
    if method == "file" and seed is not None:
        raise UsageError("--seed does not apply to --split file")
    chosen_file = read_split_file(split_file) if split_file is not None else None
    store = RecordStore(paths.dataset_dir(root))
    store_ids = store.ids()
    if not store_ids:
        raise UsageError(f"no movie records in {store.directory}; run `mmimdb fetch` first")
    workers = workers or os.cpu_count() or 1

    # Pass 1: which records make it into the dataset.
    inspected = list(_progress(_parallel_map(_inspect_task, [(str(store.directory), i, text, genres) for i in store_ids], workers),
                               len(store_ids), "reading records", progress))
    if strict:
        defects = [item for item in inspected if item.fatal]
        if defects:
            first = defects[0]
            raise MmimdbError(f"{first.imdb_id}: {first.reason}" + (f" (and {len(defects) - 1} more)" if len(defects) > 1 else "")
                              + "; fix or remove them, or build without --strict to leave them out")
    kept = [item for item in inspected if item.row is not None]
    excluded = [{"imdb_id": item.imdb_id, "reason": item.reason} for item in inspected if item.row is None]
    ids = [item.imdb_id for item in kept]
    labels = np.asarray([item.row["labels"] for item in kept], dtype=np.int32).reshape(-1, len(GENRES))

    rows, unknown_ids, unlisted = _assign(method, labels, ids, seed, chosen_file, set(store_ids))
    if strict and unknown_ids:
        raise UsageError(f"{chosen_file.path}: {len(unknown_ids)} id(s) not among the records, e.g. "
                         f"{', '.join(unknown_ids[:5])}; build without --strict to leave them out")
    excluded += [{"imdb_id": ids[row], "reason": "not in the split file"} for row in unlisted]
    order, ranges = splits.concatenated(rows)
    if len(order) == 0:
        raise UsageError(f"no movie of {store.directory} can enter the dataset "
                         f"({len(excluded)} left out; first: {excluded[0]['imdb_id']}: {excluded[0]['reason']})")

    effective_seed: Any = None
    if method == "original":
        effective_seed = list(splits.ORIGINAL_SEED) if seed is None else seed
    elif method == "iterative":
        effective_seed = splits.DEFAULT_ITERATIVE_SEED if seed is None else seed
    report = {
        "method": method,
        "seed": effective_seed,
        "split_file": str(chosen_file.path) if chosen_file else None,
        **splits.genre_table(labels, rows),
        "records": len(store_ids),
        "excluded": excluded,
        "unknown_ids": list(unknown_ids),  # tt ids, as the left-out movies
    }

    root.mkdir(parents=True, exist_ok=True)
    try:  # what the earlier build's stages wrote, to remove once its rows are replaced
        previous = read_manifest(root)
    except MmimdbError:
        previous = {}
    for leftover in root.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(leftover, ignore_errors=True)  # from a build that was killed
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
    try:
        outputs = _write_outputs(staging, store, ids, labels, kept, rows, order, ranges, report, workers, progress)
        manifest = {
            "mmimdb": __version__,
            "split": {"method": method, "seed": effective_seed,
                      "split_file": str(chosen_file.path) if chosen_file else None,
                      "split_file_sha256": sha256_of(chosen_file.path) if chosen_file else None},
            # What the Parquet holds (the features read the same text); labels are the 23.
            "choices": {"text": text, "genres": genres},
            "counts": {**{name: len(rows[name]) for name in SPLITS}, "total": int(len(order)),
                       "records": len(store_ids), "excluded": len(excluded), "unknown_ids": len(unknown_ids)},
            "outputs": {name: manifest_entry(staging / name) for name in outputs},
            # the movies naming each source (the reports say when they are generated, not real)
            "record_sources": dict(sorted(Counter(source for item in kept for source in item.sources).items())),
            "versions": package_versions(),
        }
        atomic.write_json(staging / paths.manifest_path(Path(".")), manifest)
        with _uninterrupted():  # all outputs are replaced, or none: never half old, half new
            for name in [*outputs, str(paths.manifest_path(Path(".")))]:
                target = root / name
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name, target)
            removed = remove_earlier_outputs(root, previous, set(manifest["outputs"]))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if removed:
        log(f"removed {len(removed)} output(s) of the earlier build, made for its rows: "
            + ", ".join(removed[:6]) + (f" and {len(removed) - 6} more" if len(removed) > 6 else ""))
    return manifest


def remove_earlier_outputs(root: Path, previous: dict[str, Any], kept: set[str]) -> list[str]:
    """Delete what an earlier build's later stages wrote for its rows (features, missing
    tables, exports, the card), now that a new build replaced those rows: every file the
    earlier manifest listed that the new one does not, and the export folders it recorded
    inside the root. Files the manifest never listed are left for ``info --verify`` to
    name. Returns what was removed (paths relative to ``root``)."""
    removed = []
    for relative in sorted(set(previous.get("outputs", {})) - kept):
        path = root / relative
        if path.is_file():
            path.unlink()
            removed.append(relative)
    for entry in previous.get("exports", {}).values():
        out = Path(str(entry.get("out", "")))
        inside = out.is_absolute() and out.resolve().is_relative_to(root.resolve()) and out.resolve() != root.resolve()
        if inside and out.is_dir() and (out / "mmimdb-export.json").is_file():
            shutil.rmtree(out, ignore_errors=True)
            removed.append(os.path.relpath(out.resolve(), root.resolve()) + "/")
    for folder in (paths.features_dir(root), paths.missing_dir(root), paths.figures_dir(root), paths.exports_dir(root)):
        for directory in sorted((d for d in folder.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)) if folder.is_dir() else ():
            if not any(directory.iterdir()):
                directory.rmdir()
    return removed


def _write_outputs(staging: Path, store: RecordStore, ids: list[str], labels: np.ndarray, kept: list[Inspected],
                   rows: splits.Assignment, order: np.ndarray, ranges: dict[str, tuple[int, int]],
                   report: dict[str, Any], workers: int, progress: bool) -> list[str]:
    """Write every output but the manifest into ``staging``; return their relative names."""
    here = Path(".")
    names = {
        "split": str(paths.split_path(here)),
        "report_md": str(paths.split_report_md_path(here)),
        "report_json": str(paths.split_report_json_path(here)),
        "hdf5": str(paths.hdf5_path(here)),
        **{f"parquet_{name}": str(paths.parquet_path(here, name)) for name in SPLITS},
    }
    write_split_file(staging / names["split"], splits.ids_by_split(ids, rows))
    atomic.write_json(staging / names["report_json"], report)
    atomic.write_bytes(staging / names["report_md"], splits.report_markdown(report).encode("utf-8"))
    (staging / names["parquet_train"]).parent.mkdir(parents=True, exist_ok=True)

    chunks = _progress(_parallel_map(_image_task, [(str(store.directory), ids[row]) for row in order], workers),
                       len(order), "writing posters", progress)
    with hdf5.Hdf5Writer(staging / names["hdf5"], [file_id(ids[row]) for row in order], labels[order], ranges) as writer:
        position = iter(range(len(order)))

        def split_rows(name: str) -> Iterator[dict[str, Any]]:
            # The workers' chunks come in global row order; the Parquet rows of the split
            # are written meanwhile, so the main process is never idle.
            for row in rows[name]:
                index = next(position)
                writer.write_image_chunk(index, next(chunks_iter))
                item = kept[row]
                yield {**item.row, "poster": {**item.row["poster"], "bytes": store.read_poster(item.imdb_id)}}

        chunks_iter = iter(chunks)
        try:
            for name in SPLITS:
                parquet.write_split(staging / names[f"parquet_{name}"], split_rows(name))
        except ImageError as error:
            raise MmimdbError(f"{error}; it passed the check before the split, so the build stopped "
                              "(rerun with the poster fixed or removed)") from None
    return list(names.values())

