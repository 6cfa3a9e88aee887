"""The rows of the built dataset that every feature is aligned with, and the paper's text input.

Rows follow the built HDF5 (``imdb_ids``, ordered train, dev, test); plots come from the
records store.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import paths
from ..dataset import hdf5
from ..dataset.build import text_choice
from ..records.record import chosen_plot, normalize_id
from ..records.store import RecordStore
from .tokenize import tokenize


@dataclass(frozen=True)
class Rows:
    """The dataset's rows in HDF5 order and the split's row ranges."""

    ids: list[str]
    split: dict[str, tuple[int, int]]

    def indices(self, name: str) -> np.ndarray:
        start, stop = self.split[name]
        return np.arange(start, stop)

    def ids_sha256(self) -> str:
        return hashlib.sha256("\n".join(self.ids).encode()).hexdigest()



def dataset_rows(root: str | os.PathLike) -> Rows:
    """Ids and split ranges of the built dataset; :class:`UsageError` if it is not built."""
    path = paths.hdf5_path(Path(root).expanduser())
    raw_ids = hdf5.read_rows(path, hdf5.IMDB_IDS, 0, None)
    ids = [normalize_id(value.decode() if isinstance(value, bytes) else str(value)) for value in raw_ids]
    return Rows(ids, hdf5.read_split_ranges(path))


def plot_texts(root: Path, ids: Sequence[str]) -> list[str]:
    """Each movie's plot as written, the one the build chose (the ``plot`` column), in row
    order (what transformer encoders read)."""
    store = RecordStore(paths.dataset_dir(Path(root).expanduser()))
    choice = text_choice(root)
    return [chosen_plot(store.read(imdb_id, validate=False), choice) for imdb_id in ids]


def plot_tokens(root: Path, ids: Sequence[str], texts: Sequence[str] | None = None) -> list[list[str]]:
    """Tokens of each movie's plot (the build's choice; the paper's: the longest), in row order; from
    ``texts`` (:func:`plot_texts`) when they were read already."""
    return [tokenize(text) for text in (texts if texts is not None else plot_texts(root, ids))]

