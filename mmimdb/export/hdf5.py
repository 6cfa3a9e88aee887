"""The original release's ``multimodal_imdb.hdf5``, as ``mmimdb build`` (and
``build-features``) wrote it, copied to ``OUT`` for readers that take a file path
(MultiBench's ``datasets/imdb/get_data.py``). The layout is :mod:`mmimdb.dataset.hdf5`'s.

The file has the 23-genre label matrix and features of the longest plot, so only the
default choices apply.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..dataset import built, hdf5 as layout
from ..dataset.built import BuiltDataset
from ..errors import UsageError
from .rows import Choices


def write(root: Path, staging: Path, choices: Choices, progress: bool = False) -> dict[str, Any]:
    """Copy the HDF5 file into ``staging``; return its row counts per split."""
    if choices != Choices():
        raise UsageError("--format hdf5 copies the built file: its labels are the 23 genres and its text features come "
                         "from the longest plot (drop --text/--genres)")
    data = BuiltDataset(root)
    source = data.require_hdf5()
    data.check_digests([source])  # a copy of damaged bytes would be published as the dataset
    for name in data.datasets():  # every feature belongs to these rows
        if data.kind(name) in (built.VECTOR, built.SEQUENCE):
            data.check_feature(name)
    shutil.copyfile(source, staging / layout.FILE_NAME)
    rows = {split: stop - start for split, (start, stop) in data.split_ranges.items()}
    return {"movies": rows, "samples": dict(rows), "warnings": [], "datasets": data.datasets()}
