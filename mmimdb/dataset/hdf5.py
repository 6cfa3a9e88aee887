"""The HDF5 file in the original layout (``multimodal_imdb.hdf5``): names, dtypes, writer.

This module is the one place that knows the layout. Rows are ordered train, dev, test; the
file attribute ``split`` is a JSON string ``{"train": [0, a], "dev": [a, b], "test": [b, N]}``
with each split's row range. Datasets written by ``mmimdb build``:

* ``imdb_ids`` (N,) fixed-length UTF-8 strings, the 7-digit ids without ``tt`` (the
  original's ``S7``; longer when an id has 8 digits);
* ``genres`` (N, 23) int32, multi-hot, attribute ``target_names`` = JSON list of the genres;
* ``images`` (N, 3, 256, 160) int32, each poster preprocessed as the original did (see
  :func:`mmimdb.dataset.images.preprocess_poster`), one image per chunk, shuffle + gzip.

The features step adds row-aligned datasets (``features``, ``vgg_features``, ``three_grams``,
``word_grams``, ``sequences``) to the same file with :func:`add_dataset`. A peer's loader
reads it with plain h5py::

    with h5py.File(path, "r") as f:
        train = slice(*json.loads(f.attrs["split"])["train"])
        x, y = f["images"][train], f["genres"][train]
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..errors import MmimdbError, UsageError
from ..records.genres import GENRES
from .images import IMAGE_SHAPE
from ..records.split_file import SPLITS
from ..storage import undo

try:  # ISA-L deflate: the same zlib stream as zlib.compress, about 5x faster (and inflate faster)
    from isal.isal_zlib import compress as _deflate, decompress as _inflate
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the portable fallback
    from zlib import compress as _deflate, decompress as _inflate

FILE_NAME = "multimodal_imdb.hdf5"
IMDB_IDS = "imdb_ids"
GENRES_NAME = "genres"
IMAGES = "images"
#: The release's feature datasets, by the names its readers (and the paper's models) use.
TEXT_FEATURES = "features"  # mean word2vec vector of the plot
IMAGE_FEATURES = "vgg_features"  # VGG16 fc7 of the poster
THREE_GRAMS = "three_grams"
WORD_GRAMS = "word_grams"
SEQUENCES = "sequences"
#: Not one row per movie: the word vectors of the ``sequences`` ids.
EMBEDDINGS = "embeddings"
#: Attribute of ``genres``: the genre names, as a JSON list.
TARGET_NAMES_ATTR = "target_names"
#: File attribute: the row range of each split, as a JSON object.
SPLIT_ATTR = "split"
#: gzip level of the image chunks: level 1 after byte shuffling compresses the small int32
#: values 3.5x at a fraction of level 6's cost; any HDF5 reader can decode it.
IMAGE_GZIP_LEVEL = 1
#: Row ranges of the original release's HDF5, which has no ``split`` attribute (its readers,
#: e.g. MultiBench, hard-code these published ranges).
ORIGINAL_ROWS = 25_959
ORIGINAL_SPLIT_ROWS: dict[str, tuple[int, int]] = {"train": (0, 15_552), "dev": (15_552, 18_160), "test": (18_160, 25_959)}
#: :func:`take_rows` reads one slice covering all the rows asked for when it is at most this
#: many bytes (HDF5 reads a slice far faster than it walks a selection of scattered rows);
#: else up to :data:`_SLICE_READS` runs of consecutive rows as slices, more in one selection.
_COVER_BYTES = 4 * 2**20
_SLICE_READS = 4
#: Suffix of a dataset being written by :func:`add_dataset` (removed if left behind).
PARTIAL_SUFFIX = ".partial"


def encode_image_chunk(image: np.ndarray) -> bytes:
    """One ``images`` chunk as HDF5 stores it: the shuffle filter, then deflate.

    Lets worker processes compress chunks that :meth:`Hdf5Writer.write_image_chunk` writes
    as they are (``write_direct_chunk``), so compression runs on every core.
    """
    element_bytes = np.ascontiguousarray(image, dtype="<i4").reshape(-1).view(np.uint8).reshape(-1, 4)
    shuffled = np.empty((4, len(element_bytes)), dtype=np.uint8)  # HDF5's byte shuffle:
    shuffled[:] = element_bytes.T  # all first bytes, then all second bytes, ...
    return _deflate(shuffled.tobytes(), IMAGE_GZIP_LEVEL)


def decode_image_chunk(chunk: bytes, shape: Sequence[int], out: np.ndarray | None = None) -> np.ndarray:
    """The int32 image of ``shape`` in an ``images`` chunk (:func:`encode_image_chunk`'s
    inverse), written into ``out`` when given (a C-contiguous int32 array of ``shape``)."""
    planes = np.frombuffer(_inflate(chunk), dtype=np.uint8).reshape(4, -1)  # byte k of every value
    out = np.empty(shape, dtype="<i4") if out is None else out
    value = out.reshape(-1).view("<u4")
    # Undo the byte shuffle with shifts: several times faster than a byte transpose.
    np.copyto(value, planes[3])
    for plane in (planes[2], planes[1], planes[0]):
        value <<= 8
        value |= plane
    return out


def reads_image_chunks(dataset: Any) -> bool:
    """Whether ``dataset`` stores one int32 image per chunk as :func:`encode_image_chunk`
    writes it (byte shuffle, then deflate, nothing else), so that :func:`decode_image_chunk`
    can read its raw chunks without HDF5's filter pipeline."""
    import h5py

    if dataset.chunks != (1, *dataset.shape[1:]) or dataset.dtype != np.dtype("<i4"):
        return False
    plist = dataset.id.get_create_plist()
    pipeline = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    return pipeline == [h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE]


def take_rows(dataset: Any, positions: Sequence[int] | np.ndarray) -> np.ndarray:
    """Rows ``positions`` of the h5py ``dataset``, in that order, read a batch at a time.

    Rows that lie within :data:`_COVER_BYTES` of each other come from one slice read; else
    each distinct row is read once, in file order: an ``images`` dataset in the layout of
    :func:`reads_image_chunks` from its raw chunks, inflated here (ISA-L), which is what
    bounds it; others a run of consecutive rows as one slice, scattered rows in one
    selection. Variable-length rows come back as an object array.
    """
    positions = np.asarray(positions, dtype=np.int64)
    shape, dtype = dataset.shape, dataset.dtype  # h5py computes these anew at every access
    if len(positions) == 0:
        return np.empty((0, *shape[1:]), dtype=dtype)
    row_bytes = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
    low, high = int(positions.min()), int(positions.max()) + 1
    if (high - low) * row_bytes <= _COVER_BYTES and dtype != object:
        return dataset[low:high][positions - low]  # one slice read covering them all
    if len(shape) == 4 and reads_image_chunks(dataset):
        rows = np.empty((len(positions), *shape[1:]), dtype=np.int32)
        first: dict[int, int] = {}
        for k in np.argsort(positions, kind="stable").tolist():  # file order, straight into place
            row = int(positions[k])
            if row in first:
                rows[k] = rows[first[row]]
                continue
            first[row] = k
            mask, chunk = dataset.id.read_direct_chunk((row, 0, 0, 0))
            if mask == 0:
                decode_image_chunk(chunk, shape[1:], out=rows[k])
            else:  # a filter was skipped for this chunk: let HDF5 read it
                rows[k] = dataset[row]
        return rows
    unique, inverse = np.unique(positions, return_inverse=True)
    breaks = np.flatnonzero(np.diff(unique) != 1) + 1
    starts, stops = unique[np.r_[0, breaks]], unique[np.r_[breaks - 1, len(unique) - 1]] + 1
    if len(starts) <= _SLICE_READS:
        rows = np.concatenate([dataset[a:b] for a, b in zip(starts.tolist(), stops.tolist())])
    else:
        rows = dataset[unique]  # one read of a sorted point selection
    return rows[inverse]


def _string_dtype(ids: Sequence[str]):
    import h5py

    return h5py.string_dtype("utf-8", _id_length(ids))


def _id_length(ids: Sequence[str]) -> int:
    return max(7, max((len(i.encode("utf-8")) for i in ids), default=7))


class Hdf5Writer:
    """Write a new HDF5 file in the original layout; images are added row by row.

    >>> with Hdf5Writer(path, file_ids, labels, ranges) as writer:  # doctest: +SKIP
    ...     for row, chunk in enumerate(chunks):
    ...         writer.write_image_chunk(row, chunk)
    """

    def __init__(self, path: str | os.PathLike, file_ids: Sequence[str], labels: np.ndarray,
                 ranges: dict[str, tuple[int, int]]):
        import h5py

        self.path = Path(path).expanduser()
        count = len(file_ids)
        if labels.shape != (count, len(GENRES)):
            raise ValueError(f"labels of shape {labels.shape} for {count} ids")
        self.file = h5py.File(self.path, "w", track_order=True)
        try:
            self.file.attrs[SPLIT_ATTR] = json.dumps({name: [int(a), int(b)] for name, (a, b) in ranges.items()})
            ids = self.file.create_dataset(IMDB_IDS, (count,), dtype=_string_dtype(file_ids), track_times=False)
            if count:
                # numpy has no UTF-8 fixed-length type: hand the bytes over as the file's type.
                encoded = np.asarray([i.encode("utf-8") for i in file_ids], dtype=f"S{_id_length(file_ids)}")
                ids.id.write(h5py.h5s.ALL, h5py.h5s.ALL, encoded, mtype=ids.id.get_type())
            genres = self.file.create_dataset(GENRES_NAME, data=np.asarray(labels, dtype=np.int32), track_times=False)
            genres.attrs[TARGET_NAMES_ATTR] = json.dumps(list(GENRES))
            self.images = self.file.create_dataset(
                IMAGES, (count, *IMAGE_SHAPE), dtype=np.int32, chunks=(1, *IMAGE_SHAPE),
                shuffle=True, compression="gzip", compression_opts=IMAGE_GZIP_LEVEL, track_times=False)
            for axis, label in enumerate(("batch", "channel", "height", "width")):
                self.images.dims[axis].label = label
        except BaseException:
            self.file.close()
            raise

    def write_image_chunk(self, row: int, chunk: bytes) -> None:
        """Store the image of ``row`` from :func:`encode_image_chunk`'s bytes."""
        self.images.id.write_direct_chunk((row, 0, 0, 0), chunk)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "Hdf5Writer":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def damaged(path: str | os.PathLike, error: BaseException) -> MmimdbError:
    """The one-line error for a file whose blocks do not read back (overwritten, bad disk)."""
    return MmimdbError(f"{path}: damaged HDF5 file, a read failed ({error}); rebuild it with `mmimdb build` "
                       "(then `mmimdb build-features`), or copy it again")


def unreadable(path: str | os.PathLike, error: BaseException) -> MmimdbError:
    """The one-line error for a file HDF5 cannot open (truncated, not HDF5): damaged data."""
    return MmimdbError(f"{path} is not a readable HDF5 file ({error}); rebuild it with `mmimdb build`")


@contextmanager
def reading(path: str | os.PathLike) -> Iterator[None]:
    """Reads of ``path`` inside the block end, when a block of the file is damaged, in
    :func:`damaged`'s one-line error instead of h5py's ``OSError`` traceback."""
    try:
        yield
    except OSError as error:
        raise damaged(path, error) from None


@contextmanager
def opened(path: str | os.PathLike, mode: str = "r") -> Iterator[Any]:
    """The file opened with h5py; a file that is missing, truncated or (in read mode) damaged
    gives a one-line error."""
    import h5py

    path = Path(path).expanduser()
    if not path.is_file():
        raise UsageError(f"{path}: no such HDF5 file; run `mmimdb build` first")
    if mode != "r":
        with _changed_in_place(path) as handle:
            yield handle
        return
    try:
        handle = h5py.File(path, mode)
    except OSError as error:
        raise unreadable(path, error) from None
    with handle, reading(path):
        yield handle


@contextmanager
def _changed_in_place(path: Path) -> Iterator[Any]:
    """``path`` opened ``r+`` through a rollback journal (:mod:`mmimdb.storage.undo`): the
    block's changes are kept when it ends, undone when it raises or the disk fills (HDF5
    itself would leave a half-closed file that crashes the interpreter at exit), and undone
    by the next writer when the process is killed."""
    import h5py

    file = undo.UndoableFile(path)
    try:
        try:
            handle = h5py.File(file, "r+")
        except OSError as error:
            raise unreadable(path, error) from None
        with handle:
            handle_files[handle.id.id] = file
            try:
                yield handle
            finally:
                handle_files.pop(handle.id.id, None)
    except BaseException:
        file.roll_back()
        if file.failure is not None:
            raise file.failure from None
        raise
    if file.failure is not None:  # the disk filled as HDF5 closed the file
        file.roll_back()
        raise file.failure
    file.commit()


#: The journaled file under each open ``r+`` handle (by HDF5 id), for :func:`stop_if_full`.
handle_files: dict[int, Any] = {}


def stop_if_full(handle: Any) -> None:
    """Raise the full disk's error as soon as a write of ``handle`` found no space (the
    journaled file then keeps HDF5's writes in memory until the change is undone)."""
    file = handle_files.get(handle.id.id)
    if file is not None and file.failure is not None:
        raise file.failure


def split_ranges(handle: Any, path: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """Each split's row range ``[start, stop)`` in an open file: its ``split`` attribute, or
    for the original release's file (25,959 rows, no attribute) the published ranges."""
    rows = int(handle[GENRES_NAME].shape[0]) if GENRES_NAME in handle else None
    attribute = handle.attrs.get(SPLIT_ATTR)
    if attribute is None:
        if rows == ORIGINAL_ROWS:
            return dict(ORIGINAL_SPLIT_ROWS)
        raise MmimdbError(f"{path}: no '{SPLIT_ATTR}' attribute; rerun `mmimdb build`")
    try:
        ranges = json.loads(attribute.decode() if isinstance(attribute, bytes) else attribute)
        result = {name: (int(ranges[name][0]), int(ranges[name][1])) for name in SPLITS}
    except (ValueError, TypeError, KeyError, IndexError):
        raise MmimdbError(f"{path}: bad '{SPLIT_ATTR}' attribute {attribute!r}: expected train/dev/test row ranges; "
                          "rerun `mmimdb build`") from None
    if rows is not None and any(not 0 <= a <= b <= rows for a, b in result.values()):
        raise MmimdbError(f"{path}: bad '{SPLIT_ATTR}' attribute {attribute!r}: ranges outside the {rows} rows; "
                          "rerun `mmimdb build`")
    return result


def read_split_ranges(path: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """Each split's row range ``[start, stop)`` (see :func:`split_ranges`)."""
    with opened(path) as handle:
        return split_ranges(handle, path)


def complete_datasets(handle: Any) -> list[str]:
    """The datasets of an open file, less those being written (:data:`PARTIAL_SUFFIX`)."""
    import h5py

    return [name for name in handle if not name.endswith(PARTIAL_SUFFIX) and isinstance(handle[name], h5py.Dataset)]


def dataset_names(path: str | os.PathLike) -> list[str]:
    """The datasets of the file (complete ones only, not those being written)."""
    with opened(path) as handle:
        return complete_datasets(handle)


def target_names(handle: Any) -> list[str]:
    """The genre names of an open file's ``genres`` (its ``target_names`` attribute; the 23
    of the release when it has none)."""
    names = handle[GENRES_NAME].attrs.get(TARGET_NAMES_ATTR)
    if names is None:
        return list(GENRES)
    if isinstance(names, (str, bytes)):
        return [str(name) for name in json.loads(names)]
    return [name.decode() if isinstance(name, bytes) else str(name) for name in names]


def ids_sha256(ids: Sequence[str]) -> str:
    """sha256 of movie ids (``tt`` ids in row order, one per line): what a per-movie feature
    records beside it (``ids_sha256``), naming the rows it was computed for."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def read_ids(handle: Any) -> list[str]:
    """An open file's movie ids as ``tt`` ids, in row order (the file keeps the release's 7 digits)."""
    from ..records.record import normalize_id

    return [normalize_id(v.decode() if isinstance(v, bytes) else str(v)) for v in handle[IMDB_IDS][:]]


def rows_sha256(handle: Any) -> str:
    """:func:`ids_sha256` of an open file's rows."""
    return ids_sha256(read_ids(handle))


def is_variable_length(dtype: Any) -> bool:
    """Whether ``dtype`` is a variable-length row type (the token ``sequences``)."""
    return _vlen_base(dtype) is not None


class RowReader:
    """Rows of the file's datasets by position, a batch at a time (:func:`take_rows`).

    The h5py handle is opened on first use in each process (handles must not cross a
    ``fork``: DataLoader workers each open their own), and pickles without it.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._handle: Any = None
        self._pid: int | None = None
        self._datasets: dict[str, Any] = {}

    def dataset(self, name: str) -> Any:
        """The h5py dataset ``name`` of this process's handle (looked up once: h5py's lookup
        costs as much as reading a batch of small rows)."""
        if self._handle is None or self._pid != os.getpid():
            import h5py

            try:
                self._handle = h5py.File(self.path, "r")
            except OSError as error:
                raise unreadable(self.path, error) from None
            self._pid, self._datasets = os.getpid(), {}
        if name not in self._datasets:
            self._datasets[name] = self._handle[name]
        return self._datasets[name]

    def take(self, name: str, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows ``positions`` (file rows) of ``name``, in that order."""
        with reading(self.path):
            return take_rows(self.dataset(name), positions)

    def row(self, name: str, position: int) -> np.ndarray:
        with reading(self.path):
            return self.dataset(name)[int(position)]

    def row_shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.dataset(name).shape[1:])

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_handle": None, "_pid": None, "_datasets": {}}


def read_rows(path: str | os.PathLike, name: str, start: int, stop: int) -> np.ndarray:
    """Rows ``[start, stop)`` of dataset ``name``."""
    with opened(path) as handle:
        if name not in handle or name.endswith(PARTIAL_SUFFIX):
            known = ", ".join(n for n in handle if not n.endswith(PARTIAL_SUFFIX))
            raise UsageError(f"{path}: no dataset '{name}' (it has: {known}); `mmimdb build-features` adds features")
        return handle[name][start:stop]


def _write_attrs(dataset: Any, attrs: dict[str, Any] | None) -> None:
    """Numbers, strings and arrays as they are; anything else as JSON text."""
    for key, value in (attrs or {}).items():
        dataset.attrs[key] = value if isinstance(value, (str, int, float, np.ndarray)) else json.dumps(value)


def add_array(path: str | os.PathLike, name: str, array: np.ndarray, attrs: dict[str, Any] | None = None) -> None:
    """Add (or replace) a dataset that is not one row per movie (e.g. ``embeddings``, the
    word vectors of the ``sequences`` ids). Written under a temporary name, then renamed."""
    if name in (IMDB_IDS, GENRES_NAME, IMAGES) or name.endswith(PARTIAL_SUFFIX) or "/" in name or not name:
        raise UsageError(f"cannot write a dataset named {name!r}")
    with opened(path, "r+") as handle:
        partial = name + PARTIAL_SUFFIX
        if partial in handle:
            del handle[partial]
        dataset = handle.create_dataset(partial, data=array, track_times=False)
        _write_attrs(dataset, attrs)
        if name in handle:
            del handle[name]
        handle.move(partial, name)


def _rows_in(data: np.ndarray | Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    if isinstance(data, np.ndarray):
        yield data
    else:
        yield from (np.asarray(chunk) if not isinstance(chunk, np.ndarray) else chunk for chunk in data)


def _vlen_base(dtype: Any) -> Any:
    """The element type of a variable-length numeric dtype (``h5py.vlen_dtype(np.int32)``), else None."""
    import h5py

    if dtype is None:
        return None
    base = h5py.check_vlen_dtype(np.dtype(dtype))
    return None if base in (None, str, bytes) else base


def _write_variable_rows(dataset: Any, start: int, block: Iterable[Any], base: Any) -> None:
    """Write variable-length rows ``block`` at row ``start``, whatever their lengths.

    ``dataset[a:b] = rows`` lets numpy turn rows of equal length (every plot with the same
    token count, or a single row) into a 2-D array that h5py then cannot broadcast; the
    rows are handed to HDF5 one element each instead.
    """
    import h5py

    rows = np.empty(len(block), dtype=dataset.dtype)  # type: ignore[arg-type]
    for index, row in enumerate(block):
        rows[index] = np.ascontiguousarray(row, dtype=base).reshape(-1)
    if not len(rows):
        return
    file_space = dataset.id.get_space()
    file_space.select_hyperslab((start,), (len(rows),))
    dataset.id.write(h5py.h5s.create_simple((len(rows),)), file_space, rows)


def add_dataset(path: str | os.PathLike, name: str, data: np.ndarray | Iterable[np.ndarray],
                attrs: dict[str, Any] | None = None, dtype: Any = None, compression: str | None = None) -> None:
    """Add (or replace) the row-aligned dataset ``name``: one row per movie, rows ordered as
    ``imdb_ids``.

    ``data`` is an array (N, ...) or an iterable of row blocks (n_i, ...) whose lengths sum
    to N (so large features need not fit in memory); ``compression`` is an h5py filter
    name (``"gzip"`` suits sparse TF-IDF rows). Variable-length rows (``sequences``)
    come as object arrays (or lists) of 1-D arrays with ``dtype=h5py.vlen_dtype(np.int32)``;
    their lengths may be anything, all equal included. Values of
    ``attrs`` that are not numbers or strings are stored as JSON. The new dataset is written
    under a temporary name and renamed at the end: an interrupted call leaves the old one.

    >>> add_dataset(path, "features", np.zeros((n, 300), np.float32))  # doctest: +SKIP
    """
    if name in (IMDB_IDS, GENRES_NAME) or name.endswith(PARTIAL_SUFFIX) or "/" in name or not name:
        raise UsageError(f"cannot write a dataset named {name!r}")
    variable = _vlen_base(dtype)
    with opened(path, "r+") as handle:
        count = handle[IMDB_IDS].shape[0]
        # The rows a feature belongs to travel with it (``ids_sha256``), so that a reader can
        # tell it from one computed for another build. A writer that states the rows it
        # computed for is refused when the file's rows changed meanwhile (a rebuild).
        rows = rows_sha256(handle)
        stated = (attrs or {}).get("ids_sha256")
        if stated is not None and stated != rows:
            raise MmimdbError(f"{path}: its movies changed while '{name}' was computed (rebuilt meanwhile?); "
                              "nothing was written: rerun `mmimdb build-features`")
        attrs = {**(attrs or {}), "ids_sha256": rows}
        partial = name + PARTIAL_SUFFIX
        for leftover in [n for n in handle if n.endswith(PARTIAL_SUFFIX)]:
            del handle[leftover]
        dataset = None
        written = 0
        for block in _rows_in(data):
            if dataset is None:
                # A variable-length row is one element, whatever shape numpy gave the block.
                row_shape = () if variable is not None else block.shape[1:]
                chunk_rows = max(1, min(count, (1 << 20) // max(1, int(np.prod(row_shape, dtype=np.int64)) * block.dtype.itemsize)))
                dataset = handle.create_dataset(partial, (count, *row_shape), dtype=dtype or block.dtype,
                                                chunks=(chunk_rows, *row_shape) if count else None,
                                                compression=compression if count else None, track_times=False)
            if written + len(block) > count:
                del handle[partial]
                raise UsageError(f"dataset {name!r} has more rows than the file's {count} movies")
            if variable is not None:
                _write_variable_rows(dataset, written, block, variable)
            else:
                dataset[written:written + len(block)] = block
            stop_if_full(handle)
            written += len(block)
        if dataset is None or written != count:
            if dataset is not None:
                del handle[partial]
            raise UsageError(f"dataset {name!r} has {written} rows; the file has {count} movies")
        _write_attrs(dataset, attrs)
        if name in handle:
            del handle[name]
        handle.move(partial, name)
