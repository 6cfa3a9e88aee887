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
from ..dataset import hdf5
from ..records.genres import GENRES
from ..records.split_file import SPLITS
from ..errors import MmimdbError, UsageError
#: Row-wise inputs a model can ask for, and which command writes each.
ROW_DATASETS: dict[str, str] = {
    "features": "mmimdb build-features",
    "vgg_features": "mmimdb build-features",
    "three_grams": "mmimdb build-features",
    "word_grams": "mmimdb build-features",
    "sequences": "mmimdb build-features",
    "images": "mmimdb build",
}
#: Inputs shared by all rows (not split), e.g. the word vectors of the sequence ids.
SHARED_DATASETS: dict[str, str] = {"embeddings": "mmimdb build-features"}

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
    """Rows of a large HDF5 dataset (the images) read only when a batch asks for them."""

    def __init__(self, path: Path, name: str, start: int, stop: int):
        self.path, self.name, self.start, self.stop = path, name, start, stop
        self._file = None
        with _h5py().File(path, "r") as handle:
            self.row_shape = tuple(handle[name].shape[1:])

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index)
        if self._file is None:
            self._file = _h5py().File(self.path, "r")
        # h5py wants increasing indices: read sorted, then restore the batch order.
        order = np.argsort(index)
        with hdf5.reading(self.path):
            rows = self._file[self.name][np.sort(index) + self.start]
        out = np.empty_like(rows)
        out[order] = rows
        return out

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None}


def _h5py():
    import h5py

    return h5py


def _read_images(images: Any, start: int, stop: int) -> np.ndarray | None:
    """Rows start:stop as int16 in memory, read in chunks; None if too large for memory."""
    if (stop - start) * int(np.prod(images.shape[1:])) * 2 > IMAGES_IN_MEMORY_BYTES:
        return None
    out = np.empty((stop - start, *images.shape[1:]), dtype=np.int16)
    for first in range(start, stop, _IMAGE_CHUNK_ROWS):
        last = min(first + _IMAGE_CHUNK_ROWS, stop)
        out[first - start : last - start] = images[first:last]
    return out


def _text_ids(values: np.ndarray) -> list[str]:
    ids = []
    for value in values:
        text = value.decode() if isinstance(value, bytes) else str(value)
        ids.append(text[2:] if text.startswith("tt") else text)
    return ids


class BenchmarkData:
    """One ``multimodal_imdb.hdf5``: which inputs it has, and its rows by split.

    ``aliases`` maps an input name the models ask for to the dataset that serves it, e.g.
    ``{"features": "glove_features", "vgg_features": "efficientnet_features"}`` to run the
    paper's text and image models on the offline encoders' features.
    """

    def __init__(self, path: str | os.PathLike, aliases: dict[str, str] | None = None):
        self.path = Path(path).expanduser()
        self.aliases = dict(aliases or {})
        if not self.path.is_file():
            raise UsageError(f"no dataset at {self.path}: build it with `mmimdb build` then `mmimdb build-features`")
        h5py = _h5py()
        try:
            handle = h5py.File(self.path, "r")
        except OSError as error:
            # damaged data (exit 1), as for build-features and export
            raise MmimdbError(f"{self.path} is not a readable HDF5 file ({error}); rebuild it with `mmimdb build`") from None
        with handle, hdf5.reading(self.path):
            if "genres" not in handle:
                raise UsageError(f"{self.path} has no 'genres' dataset: rebuild it with `mmimdb build`")
            self.n_rows = int(handle["genres"].shape[0])
            stored = {name for name in handle.keys() if isinstance(handle[name], h5py.Dataset)}
            for wanted, actual in self.aliases.items():
                if actual not in stored:
                    raise UsageError(f"{self.path} has no dataset '{actual}' (asked to serve '{wanted}'); "
                                     f"it has: {', '.join(sorted(stored))}")
            self.available = (stored - set(self.aliases)) | set(self.aliases)
            names = handle["genres"].attrs.get("target_names")
            self.target_names = list(json.loads(names)) if isinstance(names, (str, bytes)) else (
                [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names is not None else list(GENRES))
            self.ids = _text_ids(handle["imdb_ids"][:]) if "imdb_ids" in handle else [str(i) for i in range(self.n_rows)]
            try:
                self.rows = hdf5.split_ranges(handle, self.path)
            except MmimdbError as error:
                raise UsageError(str(error)) from None
            self._genres = np.asarray(handle["genres"][:], dtype=np.float32)
        if self._genres.shape[1] != len(self.target_names):
            raise UsageError(f"{self.path}: 'genres' has {self._genres.shape[1]} columns but {len(self.target_names)} target names")

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
        split_ids = {name: sorted(self.ids[a:b]) for name, (a, b) in self.rows.items()}
        digest = hashlib.sha256(json.dumps(split_ids, sort_keys=True).encode()).hexdigest()
        return digest == ORIGINAL_SPLIT_SHA256

    def split(self, name: str, inputs: tuple[str, ...] = (), shared: tuple[str, ...] = ()) -> Split:
        """The rows of split ``name`` with the datasets ``inputs`` (dense ones read into memory)."""
        start, stop = self.rows[name]
        missing = self.missing(tuple(inputs) + tuple(shared))
        if missing:
            raise UsageError(f"{self.path} has no {', '.join(repr(m) for m in missing)}: run `{self.build_command(missing[0])}`")
        loaded: dict[str, Any] = {}
        with _h5py().File(self.path, "r") as handle, hdf5.reading(self.path):
            for dataset in inputs:
                stored = self.stored_name(dataset)
                if dataset == "images":
                    in_memory = _read_images(handle[stored], start, stop)
                    loaded[dataset] = in_memory if in_memory is not None else LazyRows(self.path, stored, start, stop)
                elif dataset == "sequences":
                    loaded[dataset] = [np.asarray(row, dtype=np.int64) for row in handle[stored][start:stop]]
                else:
                    loaded[dataset] = np.asarray(handle[stored][start:stop], dtype=np.float32)
            shared_arrays = {name_: np.asarray(handle[self.stored_name(name_)][:], dtype=np.float32) for name_ in shared}
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
