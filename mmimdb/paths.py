"""Where mmimdb keeps its data.

The data root is ``$MMIMDB_HOME`` if set, else ``~/.cache/mmimdb``. Its layout mirrors the
original release (``dataset/`` + ``split.json``) so that the original tools read it::

    <root>/dataset/<7-digit id>.json   movie records (IMDbPY key names)
    <root>/dataset/<7-digit id>.jpeg   posters
    <root>/split.json                  {"train": [...], "dev": [...], "test": [...]}
    <root>/downloads/                  downloaded archives and lists (resumable)
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "MMIMDB_HOME"
DEFAULT_HOME = Path("~/.cache/mmimdb")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$MMIMDB_HOME``, else ``~/.cache/mmimdb``."""
    if root is not None:
        return Path(root).expanduser()
    return Path(os.environ.get(ENV_HOME) or DEFAULT_HOME).expanduser()


def dataset_dir(root: Path) -> Path:
    return root / "dataset"


def split_path(root: Path) -> Path:
    return root / "split.json"


def downloads_dir(root: Path) -> Path:
    return root / "downloads"
