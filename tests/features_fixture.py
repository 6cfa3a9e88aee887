"""Built datasets for the features tests, made by the real `mmimdb build` (iterative split).

Each root gets its own ``dataset`` folder: a symlink to the read-only greatest-films records
when all of them are used, else copies of the chosen records.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dataset_builds import copy_records, linked_root
from mmimdb import paths
from mmimdb.dataset.build import build
from mmimdb.records.store import RecordStore


def built_dataset(records_root: Path, root: Path, ids: Sequence[str] | None = None) -> Path:
    """``root`` built over the records of ``records_root`` (all, or only ``ids``)."""
    if ids is None:
        linked_root(root, records_root)
    else:
        copy_records(root, records_root, ids)
    build(root, method="iterative", workers=2)
    return root


def first_films(records_root: Path, root: Path, count: int) -> Path:
    """``root`` built over copies of the first ``count`` films of ``records_root`` (sorted id)."""
    return built_dataset(records_root, root, RecordStore(paths.dataset_dir(records_root)).ids()[:count])


def one_line_error(result) -> str:
    """The one ``error:`` line of a CliRunner result that ended as a user error, not a traceback."""
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return lines[0]
