"""Read the benchmark inputs from ``multimodal_imdb.hdf5`` by dataset name and split.

The file layout is the original release's (:mod:`mmimdb.dataset.hdf5`), so the same reader works on the
HDF5 that ``mmimdb build`` + ``mmimdb build-features`` write and on the original file:

=================  ==========================  =============================================
dataset            shape                       what it is
=================  ==========================  =============================================
``imdb_ids``       (N,)                        ids, ``'0114709'`` or ``'tt0114709'``
``genres``         (N, 23) int32               multi-hot labels (attr ``target_names``)
``features``       (N, d) float32              text vector (mean of word vectors)
``vgg_features``   (N, d) float32              image vector (VGG16 fc7 in the paper)
``three_grams``    (N, V) float32              char-3-gram TF-IDF
``word_grams``     (N, V) float32              word TF-IDF
``sequences``      (N,) vlen int32             token ids, 0 = unknown word
``images``         (N, 3, H, W) int32          BGR minus the Caffe means (H, W = 256, 160)
``embeddings``     (V, d) float32, optional    word vectors of the ``sequences`` ids
=================  ==========================  =============================================

The file attribute ``split`` is JSON ``{"train": [0, a], "dev": [a, b], "test": [b, N]}``;
the original file may lack it, and then its published row ranges are used.

>>> data = BenchmarkData.open("~/.cache/mmimdb")          # doctest: +SKIP
>>> data.split("train", ("features",)).labels.shape       # doctest: +SKIP
(15552, 23)
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import paths
from ..dataset import built, hdf5
from ..dataset.built import BuiltDataset
from ..records.record import file_id
from ..errors import UsageError
#: Row-wise inputs a model can ask for, and which command writes each.
ROW_DATASETS: dict[str, str] = {
    hdf5.TEXT_FEATURES: "mmimdb build-features",
    hdf5.IMAGE_FEATURES: "mmimdb build-features",
    hdf5.THREE_GRAMS: "mmimdb build-features",
    hdf5.WORD_GRAMS: "mmimdb build-features",
    hdf5.SEQUENCES: "mmimdb build-features",
    hdf5.IMAGES: "mmimdb build",
}
#: Inputs shared by all rows (not split), e.g. the word vectors of the sequence ids.
SHARED_DATASETS: dict[str, str] = {hdf5.EMBEDDINGS: "mmimdb build-features"}
#: What a model input must be when another dataset serves it (``--text-features X``).
_KINDS: dict[str, tuple[str, ...]] = {hdf5.IMAGES: (built.IMAGES,), hdf5.SEQUENCES: (built.SEQUENCE,),
                                      hdf5.EMBEDDINGS: (built.TABLE,)}

#: Images of a split up to this many bytes (as int16) are held in memory; larger ones are read
#: batch by batch. The stored pixels (0..255 minus the Caffe means) fit in int16 exactly.
IMAGES_IN_MEMORY_BYTES = 16 * 1024**3
_IMAGE_CHUNK_ROWS = 512

#: sha256 of ``json.dumps({split: sorted 7-digit ids}, sort_keys=True)`` of the original
#: ``split.json``: tells whether a file is the original split (so the paper's numbers apply).
ORIGINAL_SPLIT_SHA256 = "c50fcf958c479044a80528727c06c1b2f513f4ee884b453e4f74d067db0046a3"


@dataclass
class Split:
    """The rows of one split: model inputs by dataset name, labels (n, 23), ids."""

    name: str
    inputs: dict[str, Any]
    labels: np.ndarray
    ids: list[str]
    shared: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


class LazyRows:
    """Rows of a large HDF5 dataset (the images) read only when a batch asks for them,
    through the batched path (:meth:`mmimdb.dataset.hdf5.RowReader.take`)."""

    def __init__(self, reader: hdf5.RowReader, name: str, start: int, stop: int):
        self.reader, self.name, self.start, self.stop = reader, name, start, stop
        self.row_shape = reader.row_shape(name)

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        return self.reader.take(self.name, np.asarray(index, dtype=np.int64) + self.start)


def _read_images(reader: hdf5.RowReader, name: str, start: int, stop: int) -> np.ndarray | None:
    """Rows start:stop as int16 in memory, read in chunks; None if too large for memory."""
    shape = reader.row_shape(name)
    if (stop - start) * int(np.prod(shape)) * 2 > IMAGES_IN_MEMORY_BYTES:
        return None
    out = np.empty((stop - start, *shape), dtype=np.int16)
    for first in range(start, stop, _IMAGE_CHUNK_ROWS):
        last = min(first + _IMAGE_CHUNK_ROWS, stop)
        out[first - start : last - start] = reader.take(name, np.arange(first, last))
    return out


class BenchmarkData:
    """One ``multimodal_imdb.hdf5``: which inputs it has, and its rows by split, read through
    :class:`mmimdb.dataset.built.BuiltDataset` (every feature checked to be a per-movie
    vector of these rows, with finite values; a built root's file checked against the
    manifest's sha256 before any training).

    ``aliases`` maps an input name the models ask for to the dataset that serves it, e.g.
    ``{"features": "glove_features", "vgg_features": "efficientnet_features"}`` to run the
    paper's text and image models on the offline encoders' features.
    """

    def __init__(self, path: str | os.PathLike, aliases: dict[str, str] | None = None):
        self.path = Path(path).expanduser()
        self.aliases = dict(aliases or {})
        if not self.path.is_file():
            raise UsageError(f"no dataset at {self.path}: build it with `mmimdb build` then `mmimdb build-features`")
        self.data = BuiltDataset.from_hdf5(self.path)
        stored = set(self.data.datasets())
        for wanted, actual in self.aliases.items():
            if actual not in stored:
                raise UsageError(f"{self.path} has no dataset '{actual}' (asked to serve '{wanted}'); "
                                 f"it has: {', '.join(sorted(stored))}")
            self.data.check_feature(actual, _KINDS.get(wanted, (built.VECTOR,)))
        # What the models may ask for: the file's datasets, with an aliased name served by its alias.
        self.available = (stored - set(self.aliases)) | set(self.aliases)
        self.target_names = self.data.target_names
        self.ids = self.data.ids
        self.n_rows = self.data.n_rows
        self.rows = self.data.split_ranges
        self._genres = self.data.labels().astype(np.float32)
        if self._genres.shape[1] != len(self.target_names):
            raise UsageError(f"{self.path}: 'genres' has {self._genres.shape[1]} columns but {len(self.target_names)} target names")
        # Training on bytes that changed since they were written gives numbers, not an error.
        self.data.check_digests([self.path])

    @classmethod
    def open(cls, root: str | os.PathLike | None = None, aliases: dict[str, str] | None = None) -> "BenchmarkData":
        """The dataset under the data root (``root/multimodal_imdb.hdf5``)."""
        return cls(paths.hdf5_path(paths.data_root(root)), aliases)

    def stored_name(self, name: str) -> str:
        """The dataset in the file that serves the input ``name``."""
        return self.aliases.get(name, name)

    def missing(self, names: tuple[str, ...]) -> list[str]:
        """The datasets among ``names`` that this file lacks."""
        return [name for name in names if name not in self.available]

    def build_command(self, name: str) -> str:
        return {**ROW_DATASETS, **SHARED_DATASETS}.get(name, "mmimdb build-features")

    def is_original_split(self) -> bool:
        """True when the rows are the original release's 25,959 movies in its split."""
        if self.n_rows != hdf5.ORIGINAL_ROWS:
            return False
        split_ids = {name: sorted(file_id(i) for i in self.ids[a:b]) for name, (a, b) in self.rows.items()}
        digest = hashlib.sha256(json.dumps(split_ids, sort_keys=True).encode()).hexdigest()
        return digest == ORIGINAL_SPLIT_SHA256

    def split(self, name: str, inputs: tuple[str, ...] = (), shared: tuple[str, ...] = ()) -> Split:
        """The rows of split ``name`` with the datasets ``inputs`` (dense ones read into memory)."""
        start, stop = self.rows[name]
        missing = self.missing(tuple(inputs) + tuple(shared))
        if missing:
            raise UsageError(f"{self.path} has no {', '.join(repr(m) for m in missing)}: run `{self.build_command(missing[0])}`")
        loaded: dict[str, Any] = {}
        for dataset in inputs:
            stored = self.stored_name(dataset)
            if dataset == hdf5.IMAGES:
                self.data.check_feature(stored, (built.IMAGES,))
                reader = self.data.reader()
                in_memory = _read_images(reader, stored, start, stop)
                loaded[dataset] = in_memory if in_memory is not None else LazyRows(reader, stored, start, stop)
            elif dataset == hdf5.SEQUENCES:
                rows = self.data.vectors(name, [stored], kinds=(built.SEQUENCE,))[stored]
                loaded[dataset] = [np.asarray(row, dtype=np.int64) for row in rows]
            else:
                loaded[dataset] = self.data.vectors(name, [stored], kinds=(built.VECTOR,))[stored]
        shared_arrays = {name_: np.asarray(self.data.table_array(self.stored_name(name_)), dtype=np.float32) for name_ in shared}
        return Split(name, loaded, self._genres[start:stop], self.ids[start:stop], shared_arrays)

    def describe(self) -> dict[str, Any]:
        """Facts for reports: path, rows per split, datasets, original split or not."""
        return {
            "path": str(self.path),
            "rows": self.n_rows,
            "split_rows": {name: b - a for name, (a, b) in self.rows.items()},
            "datasets": sorted(self.available),
            "aliases": self.aliases,
            "target_names": self.target_names,
            "original_split": self.is_original_split(),
        }
