"""The ViLT / missing-aware-prompts Arrow files: ``mmimdb_{train,dev,test}.arrow``.

Columns (``vilt/utils/write_mmimdb.py`` writes them, ``vilt/datasets/mmimdb_dataset.py``
reads them): ``image`` (the poster file's bytes), ``plots`` (list of strings; the reader makes
one sample per plot), ``label`` (23 ints), ``genres``, ``image_id``, ``split``. Copies on the
Hub also come as Arrow *streams* (what Hugging Face ``datasets`` saves) and with one row per
plot; both are read here. A truncated file gives the rows of its whole record batches.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from ...records import posters as images
from ...records.genres import GENRES
from .samples import PosterTooLarge, Problems, Sample, copy_id, find_files, genre_names, plot_list, split_name

NAME = "vilt-arrow"
DESCRIPTION = "ViLT / missing-aware-prompts Arrow files (mmimdb_{train,dev,test}.arrow)"
_FILE = re.compile(r"^mmimdb_(train|dev|val|test)\.arrow$")
#: An Arrow file begins with this magic (then padding to 8 bytes, then a stream).
_MAGIC = b"ARROW1"


def files(folder: Path) -> list[Path]:
    return [path for path in find_files(folder, "mmimdb_*.arrow") if _FILE.match(path.name)]


def detect(folder: Path) -> bool:
    return bool(files(folder))


def _batches(path: Path, problems: Problems) -> Iterator[Any]:
    """Record batches of an Arrow file or stream; after damage, the whole batches before it.

    Each batch is validated in full before a value of it is read: Arrow trusts the offsets
    an IPC file gives, and a damaged one made ``to_pylist`` read outside its buffers (a
    segmentation fault, found by tests/fuzzing.py)."""
    import pyarrow as pa

    source = pa.memory_map(str(path))
    try:
        reader = pa.ipc.open_file(source)
    except (pa.ArrowInvalid, OSError):
        reader = None
    rows = 0
    try:
        if reader is not None:
            batches: Iterator[Any] = (reader.get_batch(index) for index in range(reader.num_record_batches))
        else:
            buffer = source.read_buffer()
            offset = 8 if buffer.size >= 8 and buffer.to_pybytes()[:6] == _MAGIC else 0
            batches = iter(pa.ipc.open_stream(buffer.slice(offset)))
        for batch in batches:
            batch.validate(full=True)
            rows += batch.num_rows
            yield batch
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, EOFError) as error:
        first = (str(error).splitlines() or [type(error).__name__])[0][:160]
        problems.damaged(f"{path.name}: truncated or damaged Arrow file ({first}); kept the {rows} rows before the damage")


def samples(folder: Path, problems: Problems) -> Iterator[Sample]:
    import pyarrow.compute as pc

    for path in files(folder):
        file_split = split_name(_FILE.match(path.name).group(1))
        row_number = 0
        for batch in _batches(path, problems):
            columns = set(batch.schema.names)
            images_column = batch.column("image") if "image" in columns else None
            lengths = pc.binary_length(images_column).to_pylist() if images_column is not None else None
            others = {name: batch.column(name).to_pylist() for name in ("plots", "label", "genres", "image_id", "split")
                      if name in columns}
            for index in range(batch.num_rows):
                row_number += 1
                where = f"{path.name}:row {row_number}"
                file_id = copy_id(others.get("image_id", [None] * batch.num_rows)[index])
                if file_id is None:
                    problems.skip(where, "no IMDb id", f"{where}: image_id is not an IMDb id; skipped")
                    continue
                label = (others.get("label") or [None] * batch.num_rows)[index]
                genres = genre_names((others.get("genres") or [None] * batch.num_rows)[index])
                if not genres and isinstance(label, list) and len(label) == len(GENRES):
                    genres = [name for name, on in zip(GENRES, label) if on]
                sample = Sample(file_id, where, split_name((others.get("split") or [None] * batch.num_rows)[index]) or file_split,
                                plot_list((others.get("plots") or [None] * batch.num_rows)[index]), genres,
                                label_width=len(label) if isinstance(label, list) else None)
                length = lengths[index] if lengths is not None else None
                if length is None or length == 0:
                    sample.poster_problem = "no image in the row"
                elif length > images.MAX_POSTER_BYTES:
                    sample.poster_problem = f"image is {length} bytes, over the {images.MAX_POSTER_BYTES}-byte cap"
                else:
                    sample.poster = (lambda column=images_column, i=index: column[i].as_py())
                yield sample


__all__ = ["NAME", "DESCRIPTION", "detect", "samples", "PosterTooLarge"]
