"""The rows of the built dataset that every feature is aligned with, and the paper's text input.

Rows follow the built HDF5 (ordered train, dev, test); plots are the build's ``plot`` column
(the plot ``mmimdb build --text`` chose), read from its Parquet files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..dataset.built import BuiltDataset, ids_sha256
from .tokenize import tokenize


@dataclass(frozen=True)
class Rows:
    """The dataset's rows in HDF5 order (``tt`` ids) and the split's row ranges."""

    ids: list[str]
    split: dict[str, tuple[int, int]]

    def indices(self, name: str) -> np.ndarray:
        start, stop = self.split[name]
        return np.arange(start, stop)

    def ids_sha256(self) -> str:
        return ids_sha256(self.ids)


def dataset_rows(root: str | os.PathLike) -> Rows:
    """Ids and split ranges of the built dataset; :class:`UsageError` if it is not built."""
    data = BuiltDataset(root)
    return Rows(data.ids, data.split_ranges)


def plot_texts(root: Path, ids: Sequence[str]) -> list[str]:
    """Each movie's plot as the build chose it (the ``plot`` column), in the order of ``ids``
    (what transformer encoders read)."""
    return BuiltDataset(root).plots(ids)


def plot_tokens(root: Path, ids: Sequence[str], texts: Sequence[str] | None = None) -> list[list[str]]:
    """Tokens of each movie's plot (the build's choice; the paper's: the longest), in row order; from
    ``texts`` (:func:`plot_texts`) when they were read already."""
    return [tokenize(text) for text in (texts if texts is not None else plot_texts(root, ids))]
