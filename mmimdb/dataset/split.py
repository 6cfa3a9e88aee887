"""Train/dev/test splits (60/10/30) of a label matrix, and the per-genre split report.

Three methods, each deterministic for a given seed:

* :func:`original_split`: the original procedure as published in the release's code (not
  checked here against the paper's Table 1): labels from the rarest to the most frequent; for each, the movies carrying it that are not yet assigned
  are shuffled with ``numpy.random.RandomState([2014, 8, 6])``, ``ceil(30%)`` go to test,
  ``ceil(10%)`` to dev, the rest to train.
* :func:`iterative_split`: multilabel iterative stratification (Sechidis et al. 2011) from
  the ``iterative-stratification`` package, in one three-way pass.
* :func:`file_split`: a given ``split.json`` (the original one, or any other; read by
  :mod:`mmimdb.records.split_file`).

Functions take and return row indices into the label matrix (N, 23); ids are mapped by the
caller. A genre with one or two movies cannot appear in all three splits: ``original`` puts
its first (still unassigned) movie in test and the second in dev (``ceil`` of 30% and 10%),
``iterative`` puts them where the per-genre deficit is largest (test first); the report lists
such genres under ``small_genres``.

>>> import numpy as np
>>> labels = np.zeros((10, 23), dtype=np.int32); labels[:, 0] = 1
>>> {name: len(rows) for name, rows in original_split(labels).items()}
{'train': 6, 'dev': 1, 'test': 3}
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..records.genres import GENRES
from ..records.split_file import SPLITS, SplitFile

#: Target fraction of each split.
FRACTIONS: dict[str, float] = {"train": 0.6, "dev": 0.1, "test": 0.3}
#: Seed of the original release (``numpy.random.RandomState([2014, 8, 6])``).
ORIGINAL_SEED: tuple[int, ...] = (2014, 8, 6)
#: Seed of the iterative split when none is given.
DEFAULT_ITERATIVE_SEED = 20140806
#: Movies listed by name in the Markdown report (the JSON report lists them all).
REPORT_LIST_LIMIT = 50
#: Split methods, as the command line names them.
METHODS: tuple[str, ...] = ("original", "iterative", "file")

Assignment = dict[str, np.ndarray]


def _empty_assignment() -> Assignment:
    return {name: np.zeros(0, dtype=np.int64) for name in SPLITS}


def _check_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != len(GENRES):
        raise ValueError(f"expected a label matrix (N, {len(GENRES)}), got shape {labels.shape}")
    return labels


def rarest_first(labels: np.ndarray) -> list[int]:
    """Label columns present in ``labels``, from the rarest to the most frequent.

    As the original, the order is the collection's own frequency order (ties keep the
    original label order before being reversed with it); absent labels are skipped.
    """
    counts = _check_labels(labels).astype(bool).sum(axis=0)
    most_frequent_first = sorted(range(len(GENRES)), key=lambda column: -counts[column])  # stable
    return [column for column in reversed(most_frequent_first) if counts[column] > 0]


def original_split(labels: np.ndarray, seed: int | Sequence[int] | None = None) -> Assignment:
    """The original release's split of ``labels`` (N, 23): row indices per split.

    Rows are listed in the order the original procedure appends them. Rows without any of
    the 23 labels are never assigned (as in the original). ``seed`` defaults to
    ``[2014, 8, 6]``.
    """
    labels = _check_labels(labels)
    remaining = labels.astype(bool).copy()
    rng = np.random.RandomState(list(ORIGINAL_SEED) if seed is None else seed)
    rows: dict[str, list[int]] = {name: [] for name in SPLITS}
    for column in rarest_first(labels):
        carrying = rng.permutation(remaining[:, column].nonzero()[0])
        n_test = int(math.ceil(len(carrying) * FRACTIONS["test"]))
        n_dev = int(math.ceil(len(carrying) * FRACTIONS["dev"]))
        rows["test"].extend(carrying[:n_test].tolist())
        rows["dev"].extend(carrying[n_test:n_test + n_dev].tolist())
        rows["train"].extend(carrying[n_test + n_dev:].tolist())
        remaining[carrying, :] = False
    return {name: np.asarray(rows[name], dtype=np.int64) for name in SPLITS}


def iterative_split(labels: np.ndarray, seed: int | None = None) -> Assignment:
    """Iterative stratification of ``labels`` (N, 23) into 60/10/30: row indices per split.

    Each split's rows are sorted. ``seed`` defaults to :data:`DEFAULT_ITERATIVE_SEED`.
    """
    from iterstrat.ml_stratifiers import IterativeStratification

    labels = _check_labels(labels)
    if len(labels) == 0:
        return _empty_assignment()
    rng = np.random.RandomState(DEFAULT_ITERATIVE_SEED if seed is None else seed)
    # As the package's own shuffle-split does: shuffle rows first so that ties do not
    # follow the input order. The labels must be bool: with ints the package indexes
    # columns by value (0/1) and silently gets the per-fold sizes wrong.
    order = rng.permutation(len(labels))
    ratios = np.array([FRACTIONS[name] for name in SPLITS])
    folds = IterativeStratification(labels=labels[order].astype(bool), r=ratios, random_state=rng)
    fold_of_row = np.empty(len(labels), dtype=np.int64)
    fold_of_row[order] = folds
    return {name: np.flatnonzero(fold_of_row == index) for index, name in enumerate(SPLITS)}


@dataclass
class FileAssignment:
    """A split file mapped onto the records: row indices, and the ids that did not match."""

    rows: Assignment
    #: Ids of the file that are not among the records (reported, left out).
    unknown_ids: list[str] = field(default_factory=list)
    #: Row indices of records that the file does not list (reported, left out).
    unlisted_rows: list[int] = field(default_factory=list)


def file_split(ids: Sequence[str], split: SplitFile) -> FileAssignment:
    """Map ``split`` onto the records ``ids`` (``tt...``, one per label row), in file order."""
    row_of = {imdb_id: row for row, imdb_id in enumerate(ids)}
    rows: dict[str, list[int]] = {name: [] for name in SPLITS}
    unknown: list[str] = []
    for name in SPLITS:
        for imdb_id in split.ids[name]:
            if imdb_id in row_of:
                rows[name].append(row_of[imdb_id])
            else:
                unknown.append(imdb_id)
    listed = {row for name in SPLITS for row in rows[name]}
    return FileAssignment(
        {name: np.asarray(rows[name], dtype=np.int64) for name in SPLITS},
        unknown,
        [row for row in range(len(ids)) if row not in listed],
    )


def genre_table(labels: np.ndarray, rows: Assignment) -> dict[str, Any]:
    """Table-1-style counts: per genre, the movies in each split, fractions, deviation.

    ``deviation`` is the largest absolute difference, in percentage points, between a
    split's fraction of the genre and its target (60/10/30). ``largest_deviation`` is over
    all genres; ``largest_deviation_20`` only over genres with at least 20 movies.
    """
    labels = _check_labels(labels).astype(bool)
    genres = []
    for column, name in enumerate(GENRES):
        counts = {split: int(labels[rows[split], column].sum()) for split in SPLITS}
        total = sum(counts.values())
        fractions = {split: (counts[split] / total if total else 0.0) for split in SPLITS}
        deviation = max(abs(fractions[split] - FRACTIONS[split]) * 100 for split in SPLITS) if total else 0.0
        genres.append({"genre": name, **counts, "total": total,
                       "fractions": {s: round(f, 4) for s, f in fractions.items()},
                       "deviation": round(deviation, 2)})
    sizes = {split: int(len(rows[split])) for split in SPLITS}
    total_movies = sum(sizes.values())

    def largest(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
        present = [g for g in candidates if g["total"]]
        if not present:
            return None
        worst = max(present, key=lambda g: g["deviation"])
        return {"genre": worst["genre"], "points": worst["deviation"]}

    return {
        "movies": {**sizes, "total": total_movies},
        "fractions": {s: round(sizes[s] / total_movies, 4) if total_movies else 0.0 for s in SPLITS},
        "genres": genres,
        "largest_deviation": largest(genres),
        "largest_deviation_20": largest([g for g in genres if g["total"] >= 20]),
        "small_genres": [g["genre"] for g in genres if 0 < g["total"] < 3],
    }


def report_markdown(report: dict[str, Any]) -> str:
    """The split report as a Markdown page (the table of the paper's Table 1, and notes)."""
    movies = report["movies"]
    seed = report.get("seed")
    lines = [
        "# MM-IMDb split report",
        "",
        f"Method: `{report.get('method')}`" + (f", seed {json.dumps(seed)}" if seed is not None else "")
        + (f", file `{report['split_file']}`" if report.get("split_file") else "") + ".",
        f"Movies: {movies['total']} = train {movies['train']} / dev {movies['dev']} / test {movies['test']}"
        + (" (" + " / ".join(f"{report['fractions'][s] * 100:.1f}%" for s in SPLITS) + ")" if movies["total"] else "") + ".",
        "",
        "| Genre | Train | Dev | Test | Total | Train % | Dev % | Test % | Max deviation (points) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in report["genres"]:
        percents = " | ".join(f"{g['fractions'][s] * 100:.1f}" for s in SPLITS) if g["total"] else "- | - | -"
        lines.append(f"| {g['genre']} | {g['train']} | {g['dev']} | {g['test']} | {g['total']} | {percents} | {g['deviation']:.2f} |")
    lines.append("")
    for key, label in (("largest_deviation", "every genre"), ("largest_deviation_20", "genres with at least 20 movies")):
        worst = report.get(key)
        if worst:
            lines.append(f"Largest deviation from 60/10/30 over {label}: {worst['points']:.2f} points ({worst['genre']}).")
    if report.get("small_genres"):
        lines.append(f"Genres with fewer than 3 movies (cannot be in all three splits): {', '.join(report['small_genres'])}.")
    for key, label in (("excluded", "Left out"), ("unknown_ids", "Ids of the split file that are not among the records")):
        entries = report.get(key) or []
        if entries:
            lines += ["", f"## {label} ({len(entries)})", ""]
            for entry in entries[:REPORT_LIST_LIMIT]:
                lines.append(f"- {entry['imdb_id']}: {entry['reason']}" if isinstance(entry, dict) else f"- {entry}")
            if len(entries) > REPORT_LIST_LIMIT:
                lines.append(f"- ... and {len(entries) - REPORT_LIST_LIMIT} more (all of them are in split-report.json)")
    return "\n".join(lines) + "\n"


def ids_by_split(ids: Sequence[str], rows: Assignment) -> dict[str, list[str]]:
    """The ids (``tt...``) of each split, in row order."""
    return {name: [ids[row] for row in rows[name]] for name in SPLITS}


def concatenated(rows: Assignment) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """All rows ordered train, dev, test, and each split's ``[start, stop)`` in that order."""
    order = np.concatenate([np.asarray(rows[name], dtype=np.int64) for name in SPLITS])
    ranges, start = {}, 0
    for name in SPLITS:
        ranges[name] = (start, start + len(rows[name]))
        start += len(rows[name])
    return order, ranges

