"""Built data roots for the dataset tests: each built once per session, then read-only.

The build writes into its data root, so each root gets its own ``dataset`` folder: a
symlink to the greatest-films records (full builds) or a copy of a few of them (roots that
a test changes).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from mmimdb.dataset.build import build
from mmimdb.records.store import RecordStore

_BUILT: dict[str, Path] = {}


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


def built_root(method: str, tmp_path_factory, greatest_films_root: Path) -> Path:
    """The 1,222 greatest films built by ``method`` (original or iterative), once a session."""
    if method not in _BUILT:
        root = linked_root(tmp_path_factory.mktemp(f"built-{method}"), greatest_films_root)
        build(root, method=method, workers=2)
        _BUILT[method] = root
    return _BUILT[method]


def private_copy(kind: str, tmp_path_factory, name: str, greatest_films_root: Path | None = None) -> Path:
    """A private copy of a built root a test may change: ``generated`` (the small generated
    dataset of :mod:`generated_dataset`, runs without ../shared) or ``greatest-films``
    (the original build of the real films; needs ``greatest_films_root``)."""
    import generated_dataset

    if kind == "generated":
        source = generated_dataset.built_root(tmp_path_factory)
    else:
        source = built_root("original", tmp_path_factory, greatest_films_root)
    copy = tmp_path_factory.mktemp(name) / "root"
    shutil.copytree(source, copy, symlinks=True)
    return copy
