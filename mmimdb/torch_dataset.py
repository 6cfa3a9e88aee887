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

from .dataset import hdf5, parquet, posters
from . import paths
from .api import split_features, split_file
from .dataset.missing import COMPLETE, IMAGE_MISSING, TEXT_COLUMNS, TEXT_MISSING

#: Columns of an item when none are asked for.
DEFAULT_COLUMNS: tuple[str, ...] = ("imdb_id", "plot", "labels", "poster")


class MovieDataset(Dataset):
    """One split as items ``{"imdb_id", "plot", "labels", "image", <features>...}``.

    ``labels`` is a float32 tensor (23,), ready for a BCE loss. The poster bytes stay in
    memory and decode in ``__getitem__`` (so in the DataLoader's workers) into ``image``:
    by default the (3, 256, 160) float32 tensor of the original preprocessing
    (:func:`mmimdb.posters.preprocess_poster`), else ``transform(PIL image)``. HDF5
    ``features`` are read row by row through a file handle opened in each worker process.
    With ``missing`` (a table of ``mmimdb missing``), items get ``missing`` (0, 1, 2), an empty
    ``plot`` where the text is missing and ``image`` None where the poster is.

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

    def __len__(self) -> int:
        return len(self.imdb_ids)

    def _file(self):
        # h5py handles must not cross a fork: each process opens its own.
        if self._handle is None or self._handle_pid != os.getpid():
            import h5py

            self._handle = h5py.File(self._hdf5_path, "r")
            self._handle_pid = os.getpid()
        return self._handle

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handle"] = None
        state["_handle_pid"] = None
        return state

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} movies")
        index = index % len(self)
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
                item[name] = torch.as_tensor(self._file()[name][self._start + index])
        return item

    def _image(self, poster: bytes, imdb_id: str) -> Any:
        if self.transform is None:
            return torch.from_numpy(posters.preprocess_poster(poster, imdb_id).astype(np.float32))
        from PIL import Image

        with Image.open(io.BytesIO(poster)) as image:
            return self.transform(image.convert("RGB"))
