"""Parquet files of the dataset, one per split, with the poster bytes embedded.

The schema (:data:`SCHEMA`) is fixed, so every split file has the same columns even when a
split is empty. The ``poster`` column is a struct ``{bytes, path}`` and the schema metadata
tells Hugging Face ``datasets`` that it is an ``Image`` feature, so
``datasets.load_dataset("parquet", data_files=...)`` returns PIL images, and ``genres`` is a
``list<string>`` (a list of strings there too); no dependency on ``datasets`` is needed to
write it. Rows go in row groups of :data:`ROW_GROUP_ROWS` so that readers can stream.
Writing the same rows twice gives byte-identical files.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..errors import MmimdbError
from ..records.genres import GENRES, chosen_genres, encode, labels_of
from ..records.record import chosen_plot, file_id

#: Rows per row group: posters are about 30 kB, so a group is a few MB.
ROW_GROUP_ROWS = 256
#: Metadata key that Hugging Face ``datasets`` reads its features from.
HF_METADATA_KEY = b"huggingface"
#: Column -> (arrow type name, what it holds). The one description of the columns.
COLUMNS: dict[str, tuple[str, str]] = {
    "imdb_id": ("string", "IMDb title id, 'tt' + 7 or more digits"),
    "title": ("string", "primary title"),
    "year": ("int32", "year of first release"),
    "kind": ("string", "IMDb kind (movie, tv movie, ...)"),
    "genres": ("list<string>", "the movie's genres: the 23 in label order (build --genres all: then the others)"),
    "labels": ("list<int8>", "multi-hot vector of the 23 genres, in mmimdb.records.genres.GENRES order"),
    "plot": ("string", "the plot the build chose (--text; default the longest, what the paper used)"),
    "plot_outline": ("string", "one-paragraph outline"),
    "directors": ("list<string>", "director names"),
    "writers": ("list<string>", "writer names"),
    "cast": ("list<string>", "cast names in billing order"),
    "countries": ("list<string>", "countries"),
    "languages": ("list<string>", "languages"),
    "runtimes": ("list<string>", "runtimes in minutes, as text"),
    "certificates": ("list<string>", "'Country:Rating' entries"),
    "rating": ("float64", "IMDb user rating"),
    "votes": ("int64", "IMDb user votes"),
    "poster": ("struct<bytes: binary, path: string>", "poster file (JPEG bytes) and its name"),
    "poster_sha256": ("string", "sha256 of the poster bytes"),
}
_PEOPLE = ("directors", "writers", "cast")
_STRING_LISTS = ("countries", "languages", "runtimes", "certificates")


def schema():
    """The Arrow schema of every split file, with the Hugging Face features metadata."""
    import pyarrow as pa

    types = {
        "string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
        "list<string>": pa.list_(pa.string()), "list<int8>": pa.list_(pa.int8()),
        "struct<bytes: binary, path: string>": pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    }
    # Only the poster needs telling: datasets infers the other columns from their types.
    features = {"poster": {"_type": "Image"}}
    metadata = {HF_METADATA_KEY: json.dumps({"info": {"features": features}}).encode()}
    return pa.schema([(name, types[kind]) for name, (kind, _) in COLUMNS.items()], metadata=metadata)


def record_row(record: dict[str, Any], poster: bytes, poster_sha256: str, text: str = "longest",
               genres_choice: str = "23") -> dict[str, Any]:
    """One Parquet row (a dict of :data:`COLUMNS`) from a normalized record and its poster;
    ``plot`` follows the text choice, ``genres`` the genre choice (``labels`` are the 23)."""
    labels = labels_of(record.get("genres") or [])
    row: dict[str, Any] = {
        "imdb_id": record["imdb_id"],
        "title": record.get("title"),
        "year": record.get("year"),
        "kind": record.get("kind"),
        "genres": chosen_genres(record.get("genres") or [], genres_choice),
        "labels": encode(labels).astype(np.int8).tolist(),
        "plot": chosen_plot(record, text),
        "plot_outline": record.get("plot_outline"),
        "rating": record.get("rating"),
        "votes": record.get("votes"),
        "poster": {"bytes": poster, "path": f"{file_id(record['imdb_id'])}.jpeg"},
        "poster_sha256": poster_sha256,
    }
    for column in _PEOPLE:
        row[column] = [person.get("name") for person in record.get(column) or [] if person.get("name")]
    for column in _STRING_LISTS:
        row[column] = list(record.get(column) or [])
    return row


def write_split(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> int:
    """Write ``rows`` (from :func:`record_row`) to ``path`` in row groups; return the count.

    Not atomic by itself: the build writes into a staging folder and renames.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = schema()
    count = 0
    # zstd for the text; the poster bytes are JPEG already, compressing them again only costs.
    compression = {column: "zstd" for column in _leaf_paths(target)}
    compression["poster.bytes"] = "none"
    with pq.ParquetWriter(str(path), target, compression=compression, write_statistics=["imdb_id", "year"]) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_pylist(batch, schema=target), row_group_size=ROW_GROUP_ROWS)
                count += len(batch)
                batch = []
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=target), row_group_size=ROW_GROUP_ROWS)
            count += len(batch)
    return count



def _leaf_paths(arrow_schema) -> list[str]:
    """Parquet column paths of the leaves (``genres.list.element``, ``poster.bytes``, ...)."""
    import pyarrow as pa

    paths = []
    for field in arrow_schema:
        if pa.types.is_list(field.type):
            paths.append(f"{field.name}.list.element")
        elif pa.types.is_struct(field.type):
            paths.extend(f"{field.name}.{child.name}" for child in field.type)
        else:
            paths.append(field.name)
    return paths


@contextmanager
def reading(path: str | os.PathLike) -> Iterator[None]:
    """Reads of the Parquet file ``path`` inside the block end, when the file is truncated or
    damaged, in a one-line :class:`MmimdbError` that says to rebuild it."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, OSError) as error:
        reason = " ".join(str(error).split())  # pyarrow's messages hold newlines: one line
        raise MmimdbError(f"{path}: not a readable Parquet file ({reason}); rebuild it with `mmimdb build`") from None


def read_table(path: str | os.PathLike, columns: Sequence[str] | None = None):
    """The split file as a ``pyarrow.Table`` (only ``columns`` if given)."""
    import pyarrow.parquet as pq

    path = Path(path).expanduser()
    with reading(path):
        return pq.read_table(str(path), columns=list(columns) if columns is not None else None)


def check_readable(path: str | os.PathLike) -> None:
    """Read the file's footer (what a truncated file lacks); the error of :func:`reading` if it fails."""
    import pyarrow.parquet as pq

    path = Path(path).expanduser()
    with reading(path):
        pq.read_metadata(str(path))


def poster_bytes(table):
    """The ``poster`` column's JPEG bytes as a ``pyarrow.ChunkedArray``, chunk by chunk: no
    copy, and no Python ``bytes`` object per poster (which held every poster twice)."""
    import pyarrow as pa

    column = table.column("poster")
    return pa.chunked_array([chunk.field("bytes") for chunk in column.chunks], type=column.type.field("bytes").type)


def labels_matrix(table) -> np.ndarray:
    """The ``labels`` column of a ``pyarrow.Table`` or ``RecordBatch`` as an (N, 23) int32 array."""
    column = table.column("labels")
    values = (column.combine_chunks() if hasattr(column, "combine_chunks") else column).flatten().to_numpy(zero_copy_only=False)
    return values.astype(np.int32).reshape(-1, len(GENRES))
