"""The card's figures (PNG, matplotlib's Agg backend): genres per split, genre
co-occurrence, labels per movie, plot length, poster sizes."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..storage.atomic import write_bytes
from ..records.genres import GENRES
from ..benchmark.reports import _pyplot
from ..records.split_file import SPLITS
from .stats import DatasetStats

#: File name -> (caption, drawing function); the card references them in this order.
FIGURES: dict[str, str] = {
    "genres_per_split.png": "Movies per genre in each split (the paper's Table 1 as bars)",
    "genre_cooccurrence.png": "How often two genres label the same movie",
    "labels_per_movie.png": "Number of genres per movie",
    "plot_length.png": "Length of the plot text used (words)",
    "poster_sizes.png": "Poster sizes (pixels) before preprocessing",
}


def _save(figure, path: Path) -> None:
    buffer = io.BytesIO()
    # No timestamp in the PNG, so the same dataset draws the same bytes.
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(figure)
    write_bytes(path, buffer.getvalue())


def genres_per_split(stats: DatasetStats, path: Path) -> None:
    plt = _pyplot()
    counts = stats.genre_counts()
    figure, axis = plt.subplots(figsize=(8, 7))
    left = np.zeros(len(GENRES))
    for split in SPLITS:
        values = np.asarray([counts[genre][split] for genre in GENRES])
        axis.barh(GENRES, values, left=left, label=f"{split} ({stats.count(split)} movies)")
        left += values
    axis.invert_yaxis()
    axis.set(xlabel="movies", title="Movies per genre and split")
    axis.legend()
    _save(figure, path)


def genre_cooccurrence(stats: DatasetStats, path: Path) -> None:
    plt = _pyplot()
    labels = stats.all_labels().astype(np.int64)
    matrix = labels.T @ labels
    figure, axis = plt.subplots(figsize=(8.5, 7.5))
    image = axis.imshow(np.log10(1 + matrix), cmap="viridis")
    axis.set_xticks(range(len(GENRES)), GENRES, rotation=90)
    axis.set_yticks(range(len(GENRES)), GENRES)
    figure.colorbar(image, ax=axis, label="log10(1 + movies with both genres)")
    axis.set_title("Genre co-occurrence (diagonal: movies per genre)")
    _save(figure, path)


def labels_per_movie(stats: DatasetStats, path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4))
    per_movie = [stats.labels[split].sum(axis=1) for split in SPLITS]
    top = max((int(values.max()) for values in per_movie if len(values)), default=1)
    axis.hist(per_movie, bins=np.arange(0.5, top + 1.5), label=list(SPLITS), stacked=True)
    axis.set(xlabel="genres per movie (of the 23)", ylabel="movies", title="Labels per movie")
    axis.legend()
    _save(figure, path)


def plot_length(stats: DatasetStats, path: Path) -> Any:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4))
    from matplotlib.ticker import MaxNLocator

    words = np.concatenate([stats.plot_words[split] for split in SPLITS])
    axis.hist(words, bins=length_bins(words))
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of movies: whole numbers
    axis.set(xlabel="words in the plot (whitespace-separated)", ylabel="movies",
             title=f"Plot length (median {int(np.median(words)) if len(words) else 0} words)")
    _save(figure, path)
    return figure


def length_bins(words: np.ndarray, most: int = 50) -> np.ndarray:
    """Bin edges for word counts: a whole number of words wide each, centred on whole numbers,
    so that no bin is empty merely because no integer falls in it (50 bins over 9-30 words
    left every other one empty)."""
    if not len(words):
        return np.arange(-0.5, 1.5)
    low, high = int(words.min()), int(words.max())
    width = max(1, -(-(high - low + 1) // most))
    return np.arange(low - 0.5, high + width + 0.5, width)


def poster_sizes(stats: DatasetStats, path: Path) -> Any:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 5))
    sizes = np.concatenate([stats.poster_sizes[split] for split in SPLITS]).reshape(-1, 2)
    # A 2-D histogram: most posters share a few sizes (300 px wide), which a scatter stacks on one dot.
    counts, x_edges, y_edges, image = axis.hist2d(sizes[:, 0], sizes[:, 1], bins=POSTER_SIZE_BINS, cmin=1, cmap="viridis")
    figure.colorbar(image, ax=axis, label="posters")
    axis.set(xlabel="width (px)", ylabel="height (px)", title="Poster sizes (the build crops to 160:256)")
    _save(figure, path)
    return figure


#: Bins of the poster-size histogram per axis.
POSTER_SIZE_BINS = 40


_DRAW: dict[str, Callable[[DatasetStats, Path], Any]] = {
    "genres_per_split.png": genres_per_split, "genre_cooccurrence.png": genre_cooccurrence,
    "labels_per_movie.png": labels_per_movie, "plot_length.png": plot_length, "poster_sizes.png": poster_sizes,
}


def draw_all(stats: DatasetStats, folder: Path) -> list[Path]:
    """Draw every figure of :data:`FIGURES` into ``folder``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FIGURES:
        _DRAW[name](stats, folder / name)
        written.append(folder / name)
    return written
