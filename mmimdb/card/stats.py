"""The numbers a dataset card reports, read from the built dataset (not from the build's
own report, so the card describes the files as they are)."""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .. import paths
from ..dataset.built import BuiltDataset
from ..records.genres import GENRES
from ..dataset.parquet import labels_matrix
from ..records.split_file import SPLITS
from ..records.store import RecordStore

#: Record fields whose source the card names (what the dataset is made of).
SOURCE_FIELDS: tuple[str, ...] = ("genres", "plot", "poster")


@dataclass
class DatasetStats:
    """Per split: the label matrix, plot lengths (words), poster sizes, years."""

    labels: dict[str, np.ndarray] = field(default_factory=dict)
    plot_words: dict[str, np.ndarray] = field(default_factory=dict)
    poster_sizes: dict[str, np.ndarray] = field(default_factory=dict)  # (n, 2) width, height
    years: dict[str, list[int | None]] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)  # Parquet file size per split
    sources: dict[str, Counter[str]] = field(default_factory=dict)  # field -> source -> movies
    records_written: tuple[str, str] | None = None  # first and last record file dates (UTC)

    def count(self, split: str) -> int:
        return len(self.labels[split])

    @property
    def total(self) -> int:
        return sum(self.count(split) for split in SPLITS)

    def genre_counts(self) -> dict[str, dict[str, int]]:
        """Table 1: movies per genre per split (the 23 labels)."""
        return {genre: {split: int(self.labels[split][:, column].sum()) for split in SPLITS}
                for column, genre in enumerate(GENRES)}

    def all_labels(self) -> np.ndarray:
        return np.concatenate([self.labels[split] for split in SPLITS])


def _poster_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:  # reads the header only
        return image.size


def collect(root: Path, progress: bool = False) -> DatasetStats:
    """Read the numbers of the card from ``root``'s Parquet files (checked against the
    manifest: the card publishes their digests) one row group at a time, and its records
    store."""
    from tqdm import tqdm

    data = BuiltDataset(root)
    files = [data.require_split(split) for split in SPLITS]
    data.check_digests(files + ([data.hdf5_path] if data.hdf5_path.is_file() else []))
    stats = DatasetStats()
    ids: list[str] = []
    for split, path in zip(SPLITS, files):
        labels, words, sizes, years = [], [], [], []
        bar = tqdm(total=data.row_count(split), desc=f"poster sizes {split}", unit="poster", disable=not progress, leave=False)
        for batch in data.batches(split, ["imdb_id", "labels", "plot", "poster", "year"]):
            labels.append(labels_matrix(batch))
            words += [len(text.split()) for text in batch.column("plot").to_pylist()]
            sizes += [_poster_size(poster) for poster in batch.column("poster").field("bytes").to_pylist()]
            years += batch.column("year").to_pylist()
            ids += batch.column("imdb_id").to_pylist()
            bar.update(batch.num_rows)
        bar.close()
        stats.labels[split] = np.concatenate(labels) if labels else np.zeros((0, len(GENRES)), dtype=np.int32)
        stats.plot_words[split] = np.asarray(words, dtype=np.int64)
        stats.poster_sizes[split] = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
        stats.years[split] = years
        stats.bytes[split] = path.stat().st_size
    _collect_sources(root, ids, stats)
    return stats


def _collect_sources(root: Path, ids: list[str], stats: DatasetStats) -> None:
    """Which source gave each movie's genres, plot and poster, and when the records were
    written (the records store keeps both; a root without it leaves them unknown)."""
    store = RecordStore(paths.dataset_dir(root))
    stats.sources = {name: Counter() for name in SOURCE_FIELDS}
    times = []
    for imdb_id in ids:
        if imdb_id not in store:
            continue
        record = store.read(imdb_id, validate=False)
        for name in SOURCE_FIELDS:
            stats.sources[name][(record.get("sources") or {}).get(name, "not recorded")] += 1
        times.append(store.json_path(imdb_id).stat().st_mtime)
    if times:
        first, last = (datetime.fromtimestamp(t, timezone.utc).date().isoformat() for t in (min(times), max(times)))
        stats.records_written = (first, last)


def summary(stats: DatasetStats) -> dict[str, Any]:
    """Headline numbers (JSON-ready) for the card and the manifest."""
    labels = stats.all_labels()
    per_movie = labels.sum(axis=1)
    words = np.concatenate([stats.plot_words[split] for split in SPLITS])
    sizes = np.concatenate([stats.poster_sizes[split] for split in SPLITS])
    years = [year for split in SPLITS for year in stats.years[split] if year is not None]
    return {
        "movies": {**{split: stats.count(split) for split in SPLITS}, "total": stats.total},
        "labels_per_movie": round(float(per_movie.mean()), 3) if len(per_movie) else 0.0,
        "plot_words_median": int(np.median(words)) if len(words) else 0,
        "poster_median_size": [int(v) for v in np.median(sizes, axis=0)] if len(sizes) else [0, 0],
        "years": [min(years), max(years)] if years else None,
    }
