"""Built datasets for the features tests, made by the real `mmimdb build` (iterative split).

Each root gets its own ``dataset`` folder: a symlink to the read-only greatest-films records
when all of them are used, else copies of the chosen records.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dataset_builds import copy_records, linked_root
from mmimdb.dataset.build import build


def built_dataset(records_root: Path, root: Path, ids: Sequence[str] | None = None) -> Path:
    """``root`` built over the records of ``records_root`` (all, or only ``ids``)."""
    if ids is None:
        linked_root(root, records_root)
    else:
        copy_records(root, records_root, ids)
    build(root, method="iterative", workers=2)
    return root
