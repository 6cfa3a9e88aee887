"""A ``torch.utils.data.Dataset`` over one split (what ``mmimdb.load(format="torch")`` gives).

Imports torch: import it only where torch is wanted.
"""
from __future__ import annotations

import io
import os
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .dataset import hdf5, images, parquet
from . import paths
from .api import split_features, split_file
from .dataset.missing import COMPLETE, IMAGE_MISSING, TEXT_COLUMNS, TEXT_MISSING

#: Columns of an item when none are asked for.
DEFAULT_COLUMNS: tuple[str, ...] = ("imdb_id", "plot", "labels", "poster")


class MovieDataset(Dataset):
    """One split as items ``{"imdb_id", "plot", "labels", "image", <features>...}``.

    ``labels`` is a float32 tensor (23,), ready for a BCE loss. The poster bytes stay in
    memory and decode in the DataLoader's workers into ``image``: by default the
    (3, 256, 160) float32 tensor of the original preprocessing
    (:func:`mmimdb.dataset.images.preprocess_poster`), else ``transform(PIL image)``. HDF5
    ``features`` are read through a file handle opened in each worker process.
    With ``missing`` (a table of ``mmimdb missing``), items get ``missing`` (0, 1, 2), an empty
    ``plot`` where the text is missing and ``image`` None where the poster is.

    A DataLoader asks for whole batches (``__getitems__``): each HDF5 feature is read once
    per batch (:func:`mmimdb.dataset.hdf5.take_rows`: sorted, runs of rows as slices, image
    chunks inflated in the worker that asks), and the items come back in exactly the order
    the sampler chose, so ``shuffle=True`` is a true shuffle of rows, not of chunks.

    >>> loader = torch.utils.data.DataLoader(mmimdb.load("train", format="torch"), batch_size=32, num_workers=2)  # doctest: +SKIP
    """

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 columns: Sequence[str] | None = None, features: Sequence[str] = (),
                 transform: Callable[[Any], Any] | None = None, missing: Any = None):
        path = split_file(split, root)
        self.split = split
        self.columns = list(columns) if columns is not None else list(DEFAULT_COLUMNS)
        needed = list(dict.fromkeys([*self.columns, "imdb_id"]))
        table = parquet.read_table(path, needed)
        self.imdb_ids: list[str] = table.column("imdb_id").to_pylist()
        self._values = {name: table.column(name).to_pylist() for name in self.columns if name not in ("poster", "labels")}
        self._labels = parquet.labels_matrix(table).astype(np.float32) if "labels" in self.columns else None
        self._posters = table.column("poster").combine_chunks().field("bytes").to_pylist() if "poster" in self.columns else None
        self.transform = transform
        # A missing-modality table (mmimdb.dataset.missing): codes per row, 1 = no text, 2 = no poster.
        self._missing = None
        if missing is not None:
            from .api import missing_codes

            self._missing = missing_codes(split, missing, root, self.imdb_ids)
        self.features = list(features)
        if self.features:
            split_features(split, [], root, self.imdb_ids)  # checks the HDF5 matches the Parquet
            self._hdf5_path = str(paths.hdf5_path(paths.data_root(root)))
            self._start = hdf5.read_split_ranges(self._hdf5_path)[split][0]
        self._handle = None
        self._handle_pid: int | None = None
        self._datasets: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.imdb_ids)

    def _file(self):
        # h5py handles must not cross a fork: each process opens its own.
        if self._handle is None or self._handle_pid != os.getpid():
            import h5py

            self._handle = h5py.File(self._hdf5_path, "r")
            self._handle_pid = os.getpid()
            self._datasets = {}
        return self._handle

    def _dataset(self, name: str):
        """The h5py dataset ``name`` of this process's handle (looked up once: h5py's lookup
        costs as much as reading a batch of small rows)."""
        handle = self._file()
        if name not in self._datasets:
            self._datasets[name] = handle[name]
        return self._datasets[name]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handle"] = None
        state["_handle_pid"] = None
        state["_datasets"] = {}
        return state

    def _position(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} movies")
        return int(index) % len(self)

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = self._position(index)
        item: dict[str, Any] = {name: values[index] for name, values in self._values.items()}
        if self._labels is not None:
            item["labels"] = torch.from_numpy(self._labels[index])
        code = int(self._missing[index]) if self._missing is not None else COMPLETE
        if self._missing is not None:
            item["missing"] = code
            if code == TEXT_MISSING:
                item.update({name: "" for name in TEXT_COLUMNS if name in item})
        if self._posters is not None:
            # An absent poster is None: a collate_fn must handle it (default_collate cannot).
            item["image"] = None if code == IMAGE_MISSING else self._image(self._posters[index], self.imdb_ids[index])
        for name in self.features:
            with hdf5.reading(self._hdf5_path):
                item[name] = torch.as_tensor(self._dataset(name)[self._start + index])
        return item

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """The items at ``indices``, in that order (what a DataLoader asks for per batch),
        equal to ``[self[i] for i in indices]`` with each HDF5 feature read once per batch."""
        positions = np.asarray(indices, dtype=np.int64).reshape(-1)
        outside = (positions < -len(self)) | (positions >= len(self))
        if outside.any():
            raise IndexError(f"index {int(positions[outside][0])} out of range for {len(self)} movies")
        positions %= max(len(self), 1)
        listed = positions.tolist()
        columns: dict[str, Sequence[Any]] = {name: [values[i] for i in listed] for name, values in self._values.items()}
        if self._labels is not None:
            columns["labels"] = torch.from_numpy(self._labels[positions]).unbind(0)
        codes = self._missing[positions].tolist() if self._missing is not None else [COMPLETE] * len(listed)
        if self._missing is not None:
            columns["missing"] = [int(code) for code in codes]
            for name in TEXT_COLUMNS:
                if name in columns:
                    columns[name] = ["" if code == TEXT_MISSING else value for value, code in zip(columns[name], codes)]
        if self._posters is not None:
            columns["image"] = [None if code == IMAGE_MISSING else self._image(self._posters[i], self.imdb_ids[i])
                                for i, code in zip(listed, codes)]
        for name in self.features:
            with hdf5.reading(self._hdf5_path):
                rows = hdf5.take_rows(self._dataset(name), positions + self._start)
            columns[name] = [torch.as_tensor(row) for row in rows] if rows.dtype == object else torch.from_numpy(rows).unbind(0)
        names = list(columns)
        return [dict(zip(names, row)) for row in zip(*columns.values())] if names else [{} for _ in listed]

    def _image(self, poster: bytes, imdb_id: str) -> Any:
        if self.transform is None:
            return torch.from_numpy(images.preprocess_poster(poster, imdb_id).astype(np.float32))
        from PIL import Image

        with Image.open(io.BytesIO(poster)) as image:
            return self.transform(image.convert("RGB"))
