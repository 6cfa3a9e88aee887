"""The one owner of a built data root: its files, its rows, and the guarantee that every
feature a reader gets belongs to those rows.

:class:`BuiltDataset` (after torchvision's ``VisionDataset`` and Hugging Face's
``DatasetInfo``) is the only code that opens a built root's Parquet files, HDF5 file and
manifest for reading. Every reader (``mmimdb.load``, the torch dataset, the feature stage,
the benchmark, ``export``, ``card``, ``missing``) goes through it, so the checks are made
once, here:

* the Parquet rows of a split are the HDF5 rows of that split (same ids, same order);
* a per-movie feature (a vector or a token sequence) was written for exactly these rows
  (the ``ids_sha256`` its writer stored beside it) and holds finite numbers only;
* labels, ids, images or a vocabulary are never served as a feature vector;
* :meth:`check_digests` compares the files a command publishes or trains on with the
  manifest's sha256 (hashing only what changed since the last check).

Ids are ``tt`` + digits everywhere inside (:func:`mmimdb.records.record.normalize_id`);
the HDF5 and the records store keep the release's 7 digits, converted only here.

>>> data = BuiltDataset("~/.cache/mmimdb")                     # doctest: +SKIP
>>> data.split_ranges["train"], len(data.ids)                   # doctest: +SKIP
((0, 15552), 25959)
>>> data.vectors("dev", ["features"])["features"].shape         # doctest: +SKIP
(2608, 300)
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .. import paths
from ..errors import MmimdbError, UsageError
from ..storage import atomic, manifest as manifests
from ..storage.checksums import sha256_of
from . import hdf5, parquet
from .hdf5 import ids_sha256
from ..records.split_file import SPLITS

BUILD_HINT = "run `mmimdb build` (after `mmimdb fetch`) to build it"

#: What a dataset of the HDF5 file holds, as readers must treat it.
IDS, LABELS, IMAGES, VECTOR, SEQUENCE, TABLE = "ids", "labels", "images", "vector", "sequence", "table"
#: What ``mmimdb.load(features=...)`` may name: per-movie datasets (not the ids, nor a
#: shared table such as a vocabulary).
LOADABLE = (VECTOR, SEQUENCE, IMAGES, LABELS)
_FIXED_KINDS = {hdf5.IMDB_IDS: IDS, hdf5.GENRES_NAME: LABELS, hdf5.IMAGES: IMAGES}
#: Bytes a Parquet read passes pages through (see :meth:`BuiltDataset.table`).
_READ_BUFFER = 8 * 2**20
#: Where :meth:`BuiltDataset.check_digests` remembers the (size, mtime) of files it hashed.
_VERIFIED_NAME = ".verified.json"


class BuiltDataset:
    """A data root built by ``mmimdb build`` (and extended by ``mmimdb build-features``),
    or a bare ``multimodal_imdb.hdf5`` in the release's layout (:meth:`from_hdf5`: no
    Parquet, no manifest; its features are checked for finite values only).

    Construction reads nothing; each property reads what it needs once.
    """

    def __init__(self, root: str | os.PathLike | None = None, hdf5_file: str | os.PathLike | None = None):
        self.root = paths.data_root(root)
        self.hdf5_path = Path(hdf5_file).expanduser() if hdf5_file is not None else paths.hdf5_path(self.root)
        #: A root built here (has a manifest), not a file from elsewhere.
        self.managed = hdf5_file is None

    @classmethod
    def from_hdf5(cls, path: str | os.PathLike) -> "BuiltDataset":
        """A bare HDF5 file in the release's layout (the original ``multimodal_imdb.hdf5``,
        or a built root's file passed by path). Inside a built root, the root's manifest
        applies."""
        path = Path(path).expanduser()
        if path.name == hdf5.FILE_NAME and paths.manifest_path(path.parent).is_file():
            return cls(path.parent)
        return cls(path.parent, hdf5_file=path)

    # ---- files ---------------------------------------------------------------------------
    def parquet_path(self, split: str) -> Path:
        return paths.parquet_path(self.root, split)

    @property
    def manifest_path(self) -> Path:
        return paths.manifest_path(self.root)

    def is_built(self) -> bool:
        return self.parquet_path(SPLITS[0]).is_file() or self.hdf5_path.is_file()

    def require_split(self, split: str) -> Path:
        """The Parquet file of ``split``; :class:`UsageError` naming ``mmimdb build`` if absent."""
        if split not in SPLITS:
            raise UsageError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        path = self.parquet_path(split)
        if not path.is_file():
            raise UsageError(f"no built dataset in {self.root} ({path} is missing); {BUILD_HINT}")
        return path

    def require_hdf5(self) -> Path:
        if not self.hdf5_path.is_file():
            if not self.managed:
                raise UsageError(f"--hdf5 {self.hdf5_path}: no such file")
            raise UsageError(f"no HDF5 file in {self.root} ({self.hdf5_path} is missing); {BUILD_HINT}")
        return self.hdf5_path

    # ---- the manifest and the build's choices ----------------------------------------------
    @cached_property
    def manifest(self) -> dict[str, Any]:
        """The root's manifest ({} for a bare HDF5 file or a root without one)."""
        return manifests.read_manifest(self.root) if self.managed else {}

    @property
    def feature_entries(self) -> dict[str, Any]:
        return self.manifest.get(manifests.FEATURES, {})

    @property
    def text_choice(self) -> str:
        """The plot the build chose (``build --text``; ``longest``, the paper's, for a build
        that predates the choice)."""
        return self.manifest.get("choices", {}).get("text", "longest")

    @property
    def genre_choice(self) -> str:
        return self.manifest.get("choices", {}).get("genres", "23")

    # ---- rows ------------------------------------------------------------------------------
    @cached_property
    def _layout(self) -> tuple[list[str], dict[str, tuple[int, int]], list[str], dict[str, tuple[Any, ...]]]:
        path = self.require_hdf5()
        with hdf5.opened(path) as handle:
            if hdf5.GENRES_NAME not in handle:
                raise UsageError(f"{path} has no '{hdf5.GENRES_NAME}' dataset: rebuild it with `mmimdb build`")
            rows = int(handle[hdf5.GENRES_NAME].shape[0])
            ids = hdf5.read_ids(handle) if hdf5.IMDB_IDS in handle else [str(i) for i in range(rows)]
            ranges = hdf5.split_ranges(handle, path)
            target_names = hdf5.target_names(handle)
            shapes = {name: (tuple(handle[name].shape), handle[name].dtype, dict(handle[name].attrs))
                      for name in hdf5.complete_datasets(handle)}
        return ids, ranges, target_names, shapes

    @property
    def ids(self) -> list[str]:
        """Every movie's ``tt`` id in HDF5 row order (train, dev, test)."""
        return self._layout[0]

    @property
    def split_ranges(self) -> dict[str, tuple[int, int]]:
        """Each split's row range ``[start, stop)`` in the HDF5 file."""
        return self._layout[1]

    @property
    def target_names(self) -> list[str]:
        return self._layout[2]

    @property
    def n_rows(self) -> int:
        return len(self.ids)

    def split_ids(self, split: str) -> list[str]:
        start, stop = self.split_ranges[split]
        return self.ids[start:stop]

    def ids_sha256(self) -> str:
        return ids_sha256(self.ids)

    # ---- Parquet ---------------------------------------------------------------------------
    def table(self, split: str, columns: Sequence[str] | None = None):
        """The split's Parquet rows as a ``pyarrow.Table`` (``columns`` only, if given), read
        one row group at a time: reading the whole file at once holds its compressed pages
        beside the decoded table (twice the posters at peak)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.require_split(split)
        with parquet.reading(path), _arrow_pool():
            # Buffered reads: a row group's pages pass through 8 MiB, not a copy of the group.
            handle = pq.ParquetFile(str(path), buffer_size=_READ_BUFFER)
            wanted = list(columns) if columns is not None else None
            groups = [handle.read_row_group(group, columns=wanted, use_threads=False) for group in range(handle.num_row_groups)]
            return pa.concat_tables(groups) if groups else handle.schema_arrow.empty_table().select(wanted or handle.schema_arrow.names)

    def parquet_ids(self, split: str) -> list[str]:
        return self.table(split, ["imdb_id"]).column("imdb_id").to_pylist()

    def check_parquet_rows(self, split: str, ids: Sequence[str] | None = None) -> None:
        """The Parquet rows of ``split`` (``ids``, if read already) are the HDF5's rows of
        it; else one line saying the two come from different builds."""
        if list(ids if ids is not None else self.parquet_ids(split)) != self.split_ids(split):
            raise MmimdbError(f"{self.hdf5_path} and {self.parquet_path(split)} come from different builds; "
                              "rerun `mmimdb build`")

    def row_count(self, split: str) -> int:
        import pyarrow.parquet as pq

        path = self.require_split(split)
        with parquet.reading(path):
            return pq.ParquetFile(str(path)).metadata.num_rows

    def batches(self, split: str, columns: Sequence[str] | None = None, batch_size: int = parquet.ROW_GROUP_ROWS) -> Iterator[Any]:
        """The split's rows as ``pyarrow.RecordBatch`` es, one row group at a time, so that a
        reader of every poster never holds more than a group in memory."""
        import pyarrow.parquet as pq

        path = self.require_split(split)
        with parquet.reading(path):
            handle = pq.ParquetFile(str(path))
            yield from handle.iter_batches(batch_size=batch_size, columns=list(columns) if columns is not None else None)

    def plots(self, ids: Sequence[str] | None = None) -> list[str]:
        """Each movie's ``plot`` column (the build's chosen plot), in HDF5 row order or in the
        order of ``ids``."""
        by_id: dict[str, str] = {}
        for split in SPLITS:
            table = self.table(split, ["imdb_id", "plot"])
            by_id.update(zip(table.column("imdb_id").to_pylist(), table.column("plot").to_pylist()))
        wanted = self.ids if ids is None else ids
        missing = [imdb_id for imdb_id in wanted if imdb_id not in by_id]
        if missing:
            raise MmimdbError(f"{missing[0]} is in {self.hdf5_path} but in no Parquet split; rerun `mmimdb build`")
        return [by_id[imdb_id] or "" for imdb_id in wanted]

    def poster_reader(self) -> "PosterReader":
        """``reader(imdb_id) -> bytes``: each movie's poster from the build's Parquet files
        (what the features stage encodes), safe to hand to DataLoader workers."""
        return PosterReader(self.root, {split: self.parquet_ids(split) for split in SPLITS})

    # ---- HDF5 datasets -------------------------------------------------------------------
    def datasets(self) -> list[str]:
        """The complete datasets of the HDF5 file."""
        return sorted(self._layout[3])

    def shape(self, name: str) -> tuple[int, ...]:
        self.kind(name)  # a dataset the file lacks: one line naming those it has
        return self._layout[3][name][0]

    def attrs(self, name: str) -> dict[str, Any]:
        """The attributes the writer stored on dataset ``name`` (encoder, modality, file, ...)."""
        self.kind(name)
        return dict(self._layout[3][name][2])

    def kind(self, name: str) -> str:
        """What dataset ``name`` holds (:data:`IDS`, :data:`LABELS`, :data:`IMAGES`,
        :data:`VECTOR`, :data:`SEQUENCE` or :data:`TABLE`: not one row per movie)."""
        shapes = self._layout[3]
        if name not in shapes:
            raise UsageError(f"{self.hdf5_path} has no dataset '{name}' (it has: {', '.join(sorted(shapes))}); "
                             "`mmimdb build-features` adds features")
        if name in _FIXED_KINDS:
            return _FIXED_KINDS[name]
        shape, dtype, attrs = shapes[name]
        entry = self.feature_entries.get(name)
        # A shared table (the word vectors of the sequence ids) may have as many rows as there
        # are movies; its writer records no rows, which tells it apart.
        shared = name == hdf5.EMBEDDINGS or ("hdf5" in attrs and "ids_sha256" not in attrs) or (
            entry is not None and "ids_sha256" not in entry)
        if shared or not shape or shape[0] != self.n_rows:
            return TABLE
        if hdf5.is_variable_length(dtype):
            return SEQUENCE
        if len(shape) == 2 and np.issubdtype(dtype, np.number):
            return VECTOR
        return TABLE

    def vector_names(self) -> list[str]:
        """The per-movie feature vectors of the file (what ``--text-features`` may name)."""
        return [name for name in self.datasets() if self.kind(name) == VECTOR]

    def check_feature(self, name: str, kinds: Sequence[str] = (VECTOR, SEQUENCE)) -> None:
        """Refuse, in one line, a dataset that is not a per-movie feature of one of ``kinds``,
        or one written for other rows than the file's (a build that replaced the rows while
        the feature was computed, a file copied from another build)."""
        kind = self.kind(name)
        if kind not in kinds:
            what = {IDS: "the movie ids", LABELS: "the labels (genres)", IMAGES: "the poster pixels",
                    TABLE: "not one row per movie (e.g. a vocabulary)", SEQUENCE: "token sequences",
                    VECTOR: "a feature vector"}[kind]
            wanted = " or ".join({VECTOR: "a feature vector", SEQUENCE: "token sequences", IMAGES: "images"}[k] for k in kinds)
            hint = f"; the feature vectors are: {', '.join(self.vector_names()) or 'none yet (run `mmimdb build-features`)'}"
            raise UsageError(f"'{name}' in {self.hdf5_path} is {what}, not {wanted}{hint if VECTOR in kinds else ''}")
        if kind in (VECTOR, SEQUENCE):
            self._check_feature_rows(name)

    def _check_feature_rows(self, name: str) -> None:
        attrs = self._layout[3][name][2]
        expected = attrs.get("ids_sha256") or self.feature_entries.get(name, {}).get("ids_sha256")
        if expected is None:
            if self.manifest:
                raise MmimdbError(f"{self.hdf5_path}:/{name} has no record of the movies it was computed for; "
                                  f"rebuild it with `mmimdb build-features --force`")
            return  # a file from elsewhere (the release's own HDF5): its rows are its ids
        if isinstance(expected, bytes):
            expected = expected.decode()
        if expected != self.ids_sha256():
            raise MmimdbError(f"{self.hdf5_path}:/{name} was computed for other rows than this build's "
                              f"(its movies or their order differ); rebuild it with `mmimdb build-features --force`")

    def vectors(self, split: str | None, names: Sequence[str], kinds: Sequence[str] = (VECTOR, SEQUENCE)) -> dict[str, Any]:
        """The rows of ``split`` (all rows if None) of each feature in ``names``, checked
        (:meth:`check_feature`), dense ones as float32 (n, d) arrays with finite values only,
        sequences as a list of int arrays, images as int arrays."""
        for name in names:
            self.check_feature(name, kinds)
        start, stop = self.split_ranges[split] if split is not None else (0, self.n_rows)
        result: dict[str, Any] = {}
        with hdf5.opened(self.hdf5_path) as handle:
            for name in names:
                values = handle[name][start:stop]
                if self.kind(name) == SEQUENCE:
                    result[name] = list(values)
                    continue
                if self.kind(name) == VECTOR:
                    values = np.asarray(values, dtype=np.float32)
                    require_finite(values, f"{self.hdf5_path}:/{name}")
                result[name] = values
        return result

    def table_array(self, name: str) -> np.ndarray:
        """A dataset that is not one row per movie (``embeddings``), finite values checked."""
        if self.kind(name) != TABLE:
            raise UsageError(f"'{name}' in {self.hdf5_path} is one row per movie, not a shared table")
        with hdf5.opened(self.hdf5_path) as handle:
            values = np.asarray(handle[name][:])
        if np.issubdtype(values.dtype, np.floating):
            require_finite(values, f"{self.hdf5_path}:/{name}")
        return values

    def labels(self, split: str | None = None) -> np.ndarray:
        """The (n, 23) int32 multi-hot labels of ``split`` (all rows if None), from the HDF5."""
        start, stop = self.split_ranges[split] if split is not None else (0, self.n_rows)
        with hdf5.opened(self.hdf5_path) as handle:
            return np.asarray(handle[hdf5.GENRES_NAME][start:stop], dtype=np.int32)

    def reader(self) -> "hdf5.RowReader":
        """Rows of any dataset by position, read a batch at a time; safe across ``fork``
        (each process opens its own handle)."""
        return hdf5.RowReader(self.require_hdf5())

    # ---- missing-modality tables ---------------------------------------------------------
    def missing_codes(self, split: str, spec: Any, ids: Sequence[str] | None = None) -> np.ndarray:
        """The missing codes of ``split``'s rows under ``spec`` (a table of ``mmimdb missing``)."""
        from .missing import read_codes

        return read_codes(split, spec, self.root, list(ids) if ids is not None else self.parquet_ids(split))

    # ---- integrity -----------------------------------------------------------------------
    def verify(self, only: Sequence[str] | None = None, on_file: Any = None) -> list[str]:
        """One line per file that differs from the manifest, is missing, or lies in an output
        folder without being listed (see :func:`mmimdb.storage.manifest.verify`);
        ``on_file(path)`` is called before each file is hashed (progress)."""
        return manifests.verify(self.root, only=only, on_file=on_file)

    def check_digests(self, files: Sequence[Path | str]) -> None:
        """Raise :class:`MmimdbError` naming the first of ``files`` (under the root) whose
        bytes differ from the manifest. A file whose size and modification time equal those
        of its last successful check is not hashed again."""
        if not self.managed or not self.manifest:
            return
        listed = self.manifest.get(manifests.OUTPUTS, {})
        cache_path = self.root / _VERIFIED_NAME
        try:
            cache = json.loads(cache_path.read_text("utf-8")) if cache_path.is_file() else {}
            cache = cache if isinstance(cache, dict) else {}
        except (OSError, ValueError):
            cache = {}
        changed = False
        for file in files:
            path = Path(file) if Path(file).is_absolute() else self.root / file
            relative = str(path.relative_to(self.root))
            expected = listed.get(relative)
            if expected is None:
                raise MmimdbError(f"{path}: not in the manifest, so nothing to check it against; "
                                  "rebuild it with `mmimdb build` (and `mmimdb build-features`)")
            if not path.is_file():
                raise MmimdbError(f"{path}: missing (the manifest lists it); rebuild with `mmimdb build`")
            stat = path.stat()
            seen = [stat.st_size, stat.st_mtime_ns, expected.get("sha256")]
            if cache.get(relative) == seen:
                continue
            rebuild = f"rebuild {path} with `mmimdb build` (and `mmimdb build-features`)"
            if stat.st_size != expected.get("bytes"):
                raise MmimdbError(f"{relative}: {stat.st_size} bytes, the manifest says {expected.get('bytes')} (truncated "
                                  f"or changed after it was written); {rebuild}")
            if sha256_of(path) != expected.get("sha256"):
                raise MmimdbError(f"{relative}: sha256 differs from the manifest (changed or damaged after it was "
                                  f"written); {rebuild}")
            cache[relative], changed = seen, True
        if changed:
            try:
                atomic.remove_stale_temporaries(self.root)  # a killed reader's copy of the cache, say
                atomic.write_json(cache_path, cache)
            except OSError:  # a read-only root: the check stands, only its memory is lost
                pass


class PosterReader:
    """A poster's bytes by id from the split Parquet files. The row group that holds it is
    read (poster column only) and kept, so a worker that walks the rows in order, as the
    features stage's batches do, reads each group once. Pickles without open files."""

    def __init__(self, root: Path, ids_by_split: dict[str, list[str]]):
        self.root = root
        self.where = {imdb_id: (split, position) for split, ids in ids_by_split.items() for position, imdb_id in enumerate(ids)}
        self._files: dict[str, Any] = {}
        self._group: tuple[str, int, int, Any] | None = None  # split, group, first row, posters

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_files": {}, "_group": None}

    def __call__(self, imdb_id: str) -> bytes:
        import pyarrow.parquet as pq

        split, position = self.where[imdb_id]
        path = paths.parquet_path(self.root, split)
        with parquet.reading(path):
            if split not in self._files:
                handle = pq.ParquetFile(str(path))
                starts = np.cumsum([0] + [handle.metadata.row_group(g).num_rows for g in range(handle.num_row_groups)])
                self._files[split] = (handle, starts)
            handle, starts = self._files[split]
            group = int(np.searchsorted(starts, position, side="right") - 1)
            if self._group is None or self._group[:2] != (split, group):
                posters = handle.read_row_group(group, columns=["poster"]).column("poster").combine_chunks().field("bytes")
                self._group = (split, group, int(starts[group]), posters)
            data = self._group[3][position - self._group[2]].as_py()
        if data is None:
            raise OSError(f"{imdb_id}: no poster in {path}")
        return data


@contextmanager
def _arrow_pool() -> Iterator[None]:
    """Arrow allocations inside the block from jemalloc where pyarrow has it: reading every
    poster of a split through mimalloc (Arrow's default) peaked 1.5x higher (measured by
    benchmarks/load_memory.py's method on 479 movies: 202 against 137 MiB for an 82 MiB file).
    Arrays keep the pool they came from, so switching back is safe."""
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def require_finite(values: np.ndarray, what: str) -> None:
    """One line naming ``what`` when ``values`` hold NaN or infinity (a damaged file)."""
    if values.size and not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise MmimdbError(f"{what}: {bad} value(s) are NaN or infinite (a damaged file?); "
                          "rebuild it with `mmimdb build-features --force`")
