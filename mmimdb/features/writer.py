"""The one output writer of the features stage: a feature lands in the HDF5 (under its
dataset name), in ``<root>/features/<name>.parquet`` (one row per movie, aligned by
``imdb_id``) and in the manifest (what made it, and the sha256 of every file it changed),
always together.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import paths
from ..dataset import hdf5
from ..storage import atomic, manifest
from .rows import Rows

#: Rows per block when a feature is streamed to the HDF5 and Parquet files.
DEFAULT_CHUNK_ROWS = 1024

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    """Print a line without breaking a progress bar."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def relative_parquet(name: str) -> str:
    """Where feature ``name``'s Parquet file lives, relative to the data root."""
    return str(paths.features_dir(Path(".")) / f"{name}.parquet")


def write_parquet(path: Path, ids: Sequence[str], columns: Iterator[dict[str, Any]], metadata: dict[str, Any]) -> None:
    """Stream column batches (dicts of pyarrow arrays, row-aligned with ``ids``) to Parquet, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    start = 0
    with atomic.atomic_open(path, "wb") as handle:
        for batch in columns:
            count = len(next(iter(batch.values())))
            table = pa.table({"imdb_id": pa.array(ids[start:start + count], pa.string()), **batch})
            if writer is None:
                schema = table.schema.with_metadata({"mmimdb": json.dumps(metadata)})
                writer = pq.ParquetWriter(handle, schema, compression="zstd")
            writer.write_table(table.cast(writer.schema))
            start += count
        if writer is not None:
            writer.close()


def dense_columns(chunks: Iterable[np.ndarray], ok: Sequence[np.ndarray] | None = None) -> Iterator[dict[str, Any]]:
    """Parquet batches of a dense feature: ``features`` (fixed-size lists), optionally ``ok``."""
    import pyarrow as pa

    for index, chunk in enumerate(chunks):
        flat = pa.array(np.ascontiguousarray(chunk, dtype=np.float32).reshape(-1))
        batch = {"features": pa.FixedSizeListArray.from_arrays(flat, chunk.shape[1])}
        if ok is not None:
            batch["ok"] = pa.array(ok[index])
        yield batch


def row_chunks(array: Any, rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[np.ndarray]:
    """Blocks of ``rows`` rows of a dense or scipy-sparse matrix, as float32 arrays."""
    for start in range(0, array.shape[0], rows):
        part = array[start:start + rows]
        yield np.asarray(part.toarray() if hasattr(part, "toarray") else part, dtype=np.float32)


def _hdf5_attrs(entry: dict[str, Any]) -> dict[str, Any]:
    # The build time changes on every run; the file's attributes stay reproducible.
    return {key: value for key, value in entry.items() if key != "built"}


def save_rows(root: Path, rows: Rows, name: str, entry: dict[str, Any], hdf5_blocks: Iterable[np.ndarray] | np.ndarray,
              parquet_batches: Iterator[dict[str, Any]], extra_files: Sequence[str] = (), dtype: Any = None,
              compression: str | None = None) -> dict[str, Any]:
    """Write the row-aligned feature ``name`` to the HDF5, to Parquet and to the manifest.

    ``entry`` is what the manifest says about it; this adds where it lives, the ids it is
    aligned with and when it was built. ``extra_files`` (relative to ``root``: a
    vocabulary) were written beside it and get their checksums recorded too.
    """
    root = Path(root)
    entry = {**entry, "hdf5": f"{hdf5.FILE_NAME}:/{name}", "parquet": relative_parquet(name),
             "ids_sha256": rows.ids_sha256(), "built": now()}
    try:
        hdf5.add_dataset(paths.hdf5_path(root), name, hdf5_blocks, attrs=_hdf5_attrs(entry), dtype=dtype,
                         compression=compression)
        write_parquet(root / relative_parquet(name), rows.ids, parquet_batches, entry)
        manifest.update(root, outputs=[hdf5.FILE_NAME, relative_parquet(name), *extra_files], features={name: entry})
    except BaseException:
        # A full disk or Ctrl-C halfway: no file of this feature stays that the manifest does not list.
        listed = manifest.read_manifest(root).get(manifest.OUTPUTS, {})
        for relative in (relative_parquet(name), *extra_files):
            if relative not in listed:
                (root / relative).unlink(missing_ok=True)
        raise
    return entry


def save_dense(root: Path, rows: Rows, name: str, chunks: Callable[[], Iterable[np.ndarray]], dim: int,
               entry: dict[str, Any], ok: list[np.ndarray] | None = None) -> dict[str, Any]:
    """A dense float32 feature (n, dim), given as a function that yields its row blocks
    (called twice: once for the HDF5, once for Parquet); ``ok`` flags rows that failed."""
    entry = {**entry, "dims": [len(rows.ids), dim], "dtype": "float32"}
    if ok is not None:
        entry["failed_ids"] = [rows.ids[i] for i in np.flatnonzero(~np.concatenate(ok))]
    return save_rows(root, rows, name, entry, chunks(), dense_columns(chunks(), ok))


def save_array(root: Path, name: str, array: np.ndarray, entry: dict[str, Any]) -> dict[str, Any]:
    """A dataset that is not one row per movie (``embeddings``): HDF5 and manifest."""
    root = Path(root)
    entry = {**entry, "hdf5": f"{hdf5.FILE_NAME}:/{name}", "built": now()}
    hdf5.add_array(paths.hdf5_path(root), name, array, attrs=_hdf5_attrs(entry))
    manifest.update(root, outputs=[hdf5.FILE_NAME], features={name: entry})
    return entry
