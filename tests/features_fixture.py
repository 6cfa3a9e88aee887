"""STAND-IN for `mmimdb build` (issue 3) in the features tests.

Writes the minimal built dataset that the features code reads, in the dataset build's
contract layout: ``<root>/multimodal_imdb.hdf5`` with ``imdb_ids`` (N,) S7, ``genres``
(N, 23) int32 and the file attribute ``split`` (JSON row ranges, rows ordered train, dev,
test), ``<root>/split.json``, ``<root>/manifest.json``, and ``<root>/dataset`` (a symlink
to the records store). The split here is a deterministic 60/10/30 cut of the sorted ids,
not the paper's procedure. Replace with the real build once it is merged.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from mmimdb import genres, paths, record
from mmimdb.store import RecordStore


def build_standin_dataset(records_root: Path, root: Path, ids: Sequence[str] | None = None) -> Path:
    """A built-dataset root under ``root`` over the records of ``records_root`` (optionally a subset)."""
    import h5py

    root.mkdir(parents=True, exist_ok=True)
    store = RecordStore(paths.dataset_dir(records_root))
    chosen = sorted(ids) if ids is not None else store.ids()
    train_end = math.floor(len(chosen) * 0.6)
    dev_end = train_end + math.floor(len(chosen) * 0.1)
    split = {"train": [0, train_end], "dev": [train_end, dev_end], "test": [dev_end, len(chosen)]}
    if not paths.dataset_dir(root).exists():
        paths.dataset_dir(root).symlink_to(paths.dataset_dir(records_root).resolve(), target_is_directory=True)
    labels = genres.encode_many(store.read(imdb_id).get("genres", []) for imdb_id in chosen)
    with h5py.File(root / "multimodal_imdb.hdf5", "w") as handle:
        handle.create_dataset("imdb_ids", data=np.array([record.file_id(i) for i in chosen], dtype="S7"))
        handle.create_dataset("genres", data=labels).attrs["target_names"] = json.dumps(list(genres.GENRES))
        handle.attrs["split"] = json.dumps(split)
    (root / "split.json").write_text(json.dumps({name: [record.file_id(i) for i in chosen[a:b]] for name, (a, b) in split.items()}))
    (root / "manifest.json").write_text(json.dumps({"rows": len(chosen)}))
    return root
