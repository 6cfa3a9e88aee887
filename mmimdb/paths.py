"""Where mmimdb keeps its data.

The data root is ``$MMIMDB_HOME`` if set, else ``~/.cache/mmimdb``. Its layout mirrors the
original release (``dataset/`` + ``split.json``) so that the original tools read it::

    <root>/dataset/<7-digit id>.json   movie records (IMDbPY key names)
    <root>/dataset/<7-digit id>.jpeg   posters
    <root>/split.json                  {"train": [...], "dev": [...], "test": [...]} of the build
    <root>/release-split.json          the original release's split.json, when imported
    <root>/downloads/                  downloaded archives and lists (resumable)
    <root>/multimodal_imdb.hdf5        the original HDF5 layout (``mmimdb build``)
    <root>/parquet/<split>.parquet     one Parquet file per split (``mmimdb build``)
    <root>/split-report.md, .json      per-genre counts of the split (``mmimdb build``)
    <root>/features/<name>.parquet     features of ``mmimdb build-features``, aligned by imdb_id
    <root>/features/cache/             encoder caches (the word2vec vocabulary)
    <root>/huggingface/                the cache of ``mmimdb.load(format="hf")``
    <root>/manifest.json               what was built, with the sha256 of every output
    <root>/exports/<format>/           peers' formats (``mmimdb export``)
    <root>/missing/seed-<N>/           missing-modality tables (``mmimdb missing``)
    <root>/README.md, croissant.json   dataset card and Croissant metadata (``mmimdb card``)
    <root>/figures/                    the card's figures
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "MMIMDB_HOME"
DEFAULT_HOME = Path("~/.cache/mmimdb")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$MMIMDB_HOME``, else ``~/.cache/mmimdb``;
    absolute (a relative ``--root built`` made the build's paths relative to the working
    folder, which the manifest check then joined to the root a second time)."""
    if root is not None:
        return Path(root).expanduser().absolute()
    return Path(os.environ.get(ENV_HOME) or DEFAULT_HOME).expanduser().absolute()


def dataset_dir(root: Path) -> Path:
    return root / "dataset"


def split_path(root: Path) -> Path:
    return root / "split.json"


def release_split_path(root: Path) -> Path:
    """The original release's ``split.json``, as imported by ``mmimdb fetch --from-archive``
    (kept apart from ``split.json``, which ``mmimdb build`` writes)."""
    return root / "release-split.json"


def downloads_dir(root: Path) -> Path:
    return root / "downloads"


def hdf5_path(root: Path) -> Path:
    """The HDF5 file in the original layout (see :mod:`mmimdb.dataset.hdf5`)."""
    from .dataset.hdf5 import FILE_NAME  # the layout module owns the file name

    return root / FILE_NAME


def parquet_dir(root: Path) -> Path:
    return root / "parquet"


def parquet_path(root: Path, split: str) -> Path:
    """``root/parquet/<split>.parquet`` for ``split`` in train, dev, test."""
    return parquet_dir(root) / f"{split}.parquet"


def features_dir(root: Path) -> Path:
    """``root/features``: feature Parquet files, vocabularies and resumable partial results."""
    return root / "features"


def features_cache_dir(root: Path) -> Path:
    """``root/features/cache``: what encoders keep between runs (the word2vec vocabulary)."""
    return features_dir(root) / "cache"


def huggingface_cache_dir(root: Path) -> Path:
    """``root/huggingface``: the cache of ``mmimdb.load(format="hf")`` (Arrow files, locks)."""
    return root / "huggingface"


def manifest_path(root: Path) -> Path:
    return root / "manifest.json"


def split_report_md_path(root: Path) -> Path:
    return root / "split-report.md"


def split_report_json_path(root: Path) -> Path:
    return root / "split-report.json"


def exports_dir(root: Path) -> Path:
    """Where ``mmimdb export`` writes each format by default (``<root>/exports/<format>``)."""
    return root / "exports"


def missing_dir(root: Path) -> Path:
    """Where ``mmimdb missing`` writes its tables (one folder per seed)."""
    return root / "missing"


def card_path(root: Path) -> Path:
    return root / "README.md"


def croissant_path(root: Path) -> Path:
    return root / "croissant.json"


def figures_dir(root: Path) -> Path:
    return root / "figures"
