"""Helpers that make data roots for the tests out of the greatest-films records.

The session-scoped roots built from them (built once, then read-only) are fixtures in
``conftest.py``; these helpers make the small and private roots a test changes. A build
writes into its data root, so each root gets its own ``dataset`` folder: a symlink to the
greatest-films records (full builds) or a copy of a few of them.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from mmimdb import paths
from mmimdb.dataset.build import build
from mmimdb.records.store import RecordStore


def linked_root(directory: Path, greatest_films_root: Path) -> Path:
    """A new data root whose ``dataset`` is the (read-only) greatest-films records."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dataset").symlink_to(greatest_films_root / "dataset", target_is_directory=True)
    return directory


def copy_records(directory: Path, greatest_films_root: Path, ids) -> Path:
    """A new data root holding copies of the greatest films ``ids`` (records + posters)."""
    source = RecordStore(greatest_films_root / "dataset")
    target = directory / "dataset"
    target.mkdir(parents=True)
    for imdb_id in ids:
        shutil.copy(source.json_path(imdb_id), target)
        shutil.copy(source.poster_path(imdb_id), target)
    return directory


def small_root(directory: Path, greatest_films_root: Path, count: int, start: int = 0) -> Path:
    """A new data root holding copies of ``count`` greatest films (records + posters)."""
    ids = RecordStore(greatest_films_root / "dataset").ids()[start:start + count]
    return copy_records(directory, greatest_films_root, ids)


def built_dataset(records_root: Path, root: Path, ids: Sequence[str] | None = None,
                  method: str = "iterative") -> Path:
    """``root`` built by the real ``mmimdb build`` over the records of ``records_root`` (all,
    linked, or copies of only ``ids``)."""
    if ids is None:
        linked_root(root, records_root)
    else:
        copy_records(root, records_root, ids)
    build(root, method=method, workers=2)
    return root


def first_films(records_root: Path, root: Path, count: int) -> Path:
    """``root`` built over copies of the first ``count`` films of ``records_root`` (sorted id)."""
    return built_dataset(records_root, root, RecordStore(paths.dataset_dir(records_root)).ids()[:count])


def private_copy(source: Path, directory: Path) -> Path:
    """A copy of the built root ``source`` in ``directory/root`` that a test may change (the
    records stay linked, not copied)."""
    copy = directory / "root"
    shutil.copytree(source, copy, symlinks=True)
    return copy


def parquet_copy(source: Path, target: Path) -> Path:
    """A root of its own in ``target`` with the build's records (linked) and Parquet files
    (copied), not its large HDF5, for a command that reads the Parquet files and writes its
    own files or the manifest there (``mmimdb missing``, ``report``, ``export``)."""
    target.mkdir(parents=True)
    (target / "dataset").symlink_to(source / "dataset", target_is_directory=True)
    shutil.copytree(source / "parquet", target / "parquet")
    for name in ("manifest.json", "split.json"):
        if (source / name).is_file():
            shutil.copy(source / name, target / name)
    return target
