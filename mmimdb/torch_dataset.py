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

from .dataset import built, hdf5, images, parquet
from .dataset.built import BuiltDataset
from .dataset.missing import COMPLETE, IMAGE_MISSING, TEXT_COLUMNS, TEXT_MISSING

#: Columns of an item when none are asked for.
DEFAULT_COLUMNS: tuple[str, ...] = ("imdb_id", "plot", "labels", "poster")
#: Columns of an item when ``features`` are asked for and no columns.
FEATURE_COLUMNS: tuple[str, ...] = ("imdb_id", "labels")


class MovieDataset(Dataset):
    """One split as items ``{"imdb_id", "plot", "labels", "image", <features>...}``.

    ``labels`` is a float32 tensor (23,), ready for a BCE loss. The poster bytes stay in
    memory and decode in the DataLoader's workers into ``image``: by default the
    (3, 256, 160) float32 tensor of the original preprocessing
    (:func:`mmimdb.dataset.images.preprocess_poster`), else ``transform(PIL image)``. HDF5
    ``features`` are read through a file handle opened in each worker process.
    With ``features`` and no ``columns``, items are ``imdb_id``, ``labels`` and the
    features (no poster is decoded unless ``poster`` is among ``columns``).
    With ``missing`` (a table of ``mmimdb missing``), items get ``missing`` (0, 1, 2), an empty
    ``plot`` where the text is missing and ``image`` None where the poster is.
    With ``protocol`` (a preset of :mod:`mmimdb.protocols`), the items are that lineage's
    samples: its movies only, one item per sample, its text in ``plot`` and its genres in
    ``genres`` (the rows ``mmimdb.load(..., protocol=...)`` gives in pandas).

    A DataLoader asks for whole batches (``__getitems__``): each HDF5 feature is read once
    per batch (:func:`mmimdb.dataset.hdf5.take_rows`: sorted, runs of rows as slices, image
    chunks inflated in the worker that asks), and the items come back in exactly the order
    the sampler chose, so ``shuffle=True`` is a true shuffle of rows, not of chunks.

    >>> loader = torch.utils.data.DataLoader(mmimdb.load("train", format="torch"), batch_size=32, num_workers=2)  # doctest: +SKIP
    """

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None,
                 columns: Sequence[str] | None = None, features: Sequence[str] = (),
                 transform: Callable[[Any], Any] | None = None, missing: Any = None, protocol: str | None = None):
        data = BuiltDataset(root)
        data.require_split(split)
        self.split = split
        self.features = list(features)
        # Only what is asked for is read: with features and no columns, an item is the
        # vectors and labels, not a poster decoded for nothing.
        self.columns = list(columns) if columns is not None else list(FEATURE_COLUMNS if self.features else DEFAULT_COLUMNS)
        needed = list(dict.fromkeys([*self.columns, "imdb_id"]))
        table = data.table(split, needed)
        built_ids: list[str] = table.column("imdb_id").to_pylist()
        # The build's row of each item: itself, or under a protocol preset the row of each of
        # its samples (mmimdb.protocols: its movies only, a per-plot preset repeats a row).
        self._source_rows = np.arange(len(built_ids), dtype=np.int64)
        if protocol is not None:
            from .protocols.prepare import prepare, select_rows

            table, arrays = select_rows(prepare(root, protocol), split, table, {"row": self._source_rows})
            self._source_rows = arrays["row"]
        self.imdb_ids: list[str] = table.column("imdb_id").to_pylist()
        self._values = {name: table.column(name).to_pylist() for name in self.columns if name not in ("poster", "labels")}
        self._labels = parquet.labels_matrix(table).astype(np.float32) if "labels" in self.columns else None
        # Posters stay one Arrow array (no Python bytes object per poster); a worker reads
        # the bytes of the rows it decodes.
        self._posters = parquet.poster_bytes(table) if "poster" in self.columns else None
        self.transform = transform
        # A missing-modality table (mmimdb.dataset.missing): codes per row, 1 = no text, 2 = no poster.
        self._missing = data.missing_codes(split, missing, built_ids)[self._source_rows] if missing is not None else None
        self._rows: hdf5.RowReader | None = None
        if self.features:
            data.check_parquet_rows(split, built_ids)
            for name in self.features:
                data.check_feature(name, built.LOADABLE)
            self._rows = data.reader()
            self._start = data.split_ranges[split][0]

    def __len__(self) -> int:
        return len(self.imdb_ids)

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
            item["image"] = None if code == IMAGE_MISSING else self._image(self._posters[index].as_py(), self.imdb_ids[index])
        for name in self.features:
            item[name] = torch.as_tensor(self._rows.row(name, self._start + int(self._source_rows[index])))
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
            columns["image"] = [None if code == IMAGE_MISSING else self._image(self._posters[i].as_py(), self.imdb_ids[i])
                                for i, code in zip(listed, codes)]
        for name in self.features:
            rows = self._rows.take(name, self._source_rows[positions] + self._start)
            columns[name] = [torch.as_tensor(row) for row in rows] if rows.dtype == object else torch.from_numpy(rows).unbind(0)
        names = list(columns)
        return [dict(zip(names, row)) for row in zip(*columns.values())] if names else [{} for _ in listed]

    def _image(self, poster: bytes, imdb_id: str) -> Any:
        if self.transform is None:
            return torch.from_numpy(images.preprocess_poster(poster, imdb_id).astype(np.float32))
        from PIL import Image

        with Image.open(io.BytesIO(poster)) as image:
            return self.transform(image.convert("RGB"))
