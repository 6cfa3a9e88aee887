"""Arrow files for the ViLT-based missing-modality readers (missing_aware_prompts, Ma et al.).

``OUT/mmimdb_{train,dev,test}.arrow`` in Arrow's *file* format (what
``pa.ipc.RecordBatchFileReader`` opens), one row per movie, with the columns those readers
use (``vilt/datasets/mmimdb_dataset.py``, ``base_dataset.py``):

========  ==============  ===================================================
column    type            what
========  ==============  ===================================================
image     binary          the poster file's bytes (JPEG)
plots     list<string>    the texts: every plot with ``--text all`` (one sample
                          per plot), else the one chosen text
label     list<int64>     the 23-entry multi-hot vector, GMU order
genres    list<string>    the movie's genre names (per ``--genres``)
image_id  string          the release's 7-digit id
split     string          train, dev or test
========  ==============  ===================================================

The readers pair each split with a missing table of one entry per row (``mmimdb missing``).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..records.split_file import SPLITS
from .rows import BATCH_ROWS, Choices, movies, split_size


def file_name(split: str) -> str:
    """``mmimdb_<split>.arrow``: the name the ViLT readers open (they call dev ``mmimdb_dev``)."""
    return f"mmimdb_{split}.arrow"


def schema():
    import pyarrow as pa

    return pa.schema([("image", pa.binary()), ("plots", pa.list_(pa.string())), ("label", pa.list_(pa.int64())),
                      ("genres", pa.list_(pa.string())), ("image_id", pa.string()), ("split", pa.string())])


def write(root: Path, staging: Path, choices: Choices, progress: bool = False) -> dict[str, Any]:
    """Write the three Arrow files into ``staging``; return counts."""
    import pyarrow as pa
    from tqdm import tqdm

    target = schema()
    summary: dict[str, Any] = {"movies": {}, "samples": {}, "warnings": []}
    tally: Counter[str] = Counter()
    for split in SPLITS:
        count = samples = 0
        with pa.OSFile(str(staging / file_name(split)), "wb") as sink, pa.ipc.new_file(sink, target) as writer:
            batch: list[dict[str, Any]] = []
            for movie in tqdm(movies(root, split, choices, tally), total=split_size(root, split), desc=f"arrow {split}",
                              unit="movie", disable=not progress, leave=False):
                batch.append({"image": movie.poster, "plots": movie.texts, "label": movie.labels,
                              "genres": movie.genres, "image_id": movie.file_id, "split": split})
                count += 1
                samples += len(movie.texts)
                if len(batch) == BATCH_ROWS:
                    writer.write_table(pa.Table.from_pylist(batch, schema=target))
                    batch = []
            if batch or count == 0:
                writer.write_table(pa.Table.from_pylist(batch, schema=target))
        summary["movies"][split], summary["samples"][split] = count, samples
    if choices.text == "outline":
        summary["outline_fallbacks"] = tally["outline_fallbacks"]
    return summary
