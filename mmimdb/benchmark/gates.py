"""What the GMU's gates listen to (the paper's Figure 8).

``z`` near 1 means a hidden unit takes the poster (x_v), near 0 the plot (x_t). Two views:

- :func:`visual_share` (this project's first view): per genre, the share of the test movies
  that *truly* carry it whose mean gate over every unit exceeds 0.5;
- :func:`paper_procedure` (the paper's): "the average gate activation of a subset of z gates
  of the test samples to which the model assigned such label", the units "chosen taking into
  account the mutual information between the predictions and the z activations". Here each
  unit's activation is cut into :data:`MI_BINS` quantile bins and its mutual information
  with each predicted genre (0/1) is summed over the genres; the :data:`PAPER_UNITS` units
  with the highest sum are kept, and per genre their gates are averaged over the movies the
  model assigned the genre (probability >= 0.5).

>>> gates = np.random.default_rng(0).uniform(size=(100, 8)); predicted = gates[:, :2] > 0.5
>>> sorted(paper_procedure(gates, predicted, ["A", "B"], units=2)["units"])
[0, 1]
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: Part of a saved run's key: a run saved before this analysis changed is trained again.
ANALYSIS_REVISION = 2
#: Quantile bins of a unit's activation when its mutual information is estimated.
MI_BINS = 10
#: How many gate units the paper's procedure keeps (the paper does not say how many).
PAPER_UNITS = 20


def _binned(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin index of each value by its column's quantiles (ties fall in one bin)."""
    edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1], axis=0)  # (bins - 1, units)
    return np.stack([np.searchsorted(edges[:, j], values[:, j], side="right") for j in range(values.shape[1])], axis=1)


def unit_information(gates: np.ndarray, predicted: np.ndarray, bins: int = MI_BINS) -> np.ndarray:
    """Per gate unit: the mutual information (nats) between its binned activation and each
    predicted genre, summed over the genres (``sklearn.metrics.mutual_info_score`` of each
    pair). ``gates`` (n, units), ``predicted`` (n, genres).

    Every (unit, genre) table is counted at once, as one product of the bins' one-hot matrix
    with the predictions: a pair at a time (np.unique and np.add.at per pair), the 512 x 23
    pairs of a paper-sized GMU took a minute of CPU after its training.
    """
    binned = _binned(np.asarray(gates, dtype=np.float64), bins)
    predicted = np.asarray(predicted).astype(bool)
    n, units = binned.shape
    positive = predicted.astype(np.float32)
    in_bin = np.empty((units, bins), dtype=np.float64)          # movies per (unit, bin)
    with_genre = np.empty((units, bins, predicted.shape[1]))     # ... that carry each predicted genre
    for first in range(0, units, 64):  # a one-hot block of 64 units at a time: n x 640, not n x units x bins
        block = binned[:, first:first + 64]
        one_hot = (block[:, :, None] == np.arange(bins)).reshape(n, -1).astype(np.float32)
        in_bin[first:first + block.shape[1]] = one_hot.sum(axis=0).reshape(-1, bins)
        # float32 sums of 0/1 are exact integers below 2**24 movies
        with_genre[first:first + block.shape[1]] = (one_hot.T @ positive).reshape(block.shape[1], bins, -1)
    genre_count = positive.sum(axis=0, dtype=np.float64)
    joint = np.stack([in_bin[:, :, None] - with_genre, with_genre], axis=-1)   # (units, bins, genres, 0/1)
    margins = in_bin[:, :, None, None] * np.stack([n - genre_count, genre_count], axis=-1)
    terms = np.zeros_like(joint)
    nonzero = joint > 0
    terms[nonzero] = joint[nonzero] / n * np.log(joint[nonzero] * n / margins[nonzero])
    return terms.sum(axis=(1, 2, 3))


def paper_procedure(gates: np.ndarray, predicted: np.ndarray, target_names: list[str],
                    units: int = PAPER_UNITS, bins: int = MI_BINS) -> dict[str, Any]:
    """Figure 8 as the paper made it: the ``units`` gates most informative of the predictions,
    averaged per genre over the movies the model assigned that genre."""
    gates = np.asarray(gates, dtype=np.float64)
    predicted = np.asarray(predicted).astype(bool)
    information = unit_information(gates, predicted, bins)
    # Highest information first; equal values keep the lower unit first (a stable order).
    chosen = [int(j) for j in np.argsort(-information, kind="stable")[:min(units, gates.shape[1])]]
    per_genre, per_unit, assigned = {}, {}, {}
    for g, genre in enumerate(target_names):
        rows = predicted[:, g]
        assigned[genre] = int(rows.sum())
        per_unit[genre] = [float(v) for v in gates[rows][:, chosen].mean(axis=0)] if rows.any() else None
        per_genre[genre] = float(gates[rows][:, chosen].mean()) if rows.any() else None
    return {"units": chosen, "unit_information": [float(information[j]) for j in chosen], "unit_count": len(chosen),
            "hidden": int(gates.shape[1]), "bins": bins, "assigned": assigned,
            "per_genre_mean_z": per_genre, "per_genre_unit_z": per_unit}


def visual_share(gates: np.ndarray, labels: np.ndarray, target_names: list[str]) -> dict[str, Any]:
    """Per genre, the share of movies truly carrying it whose mean gate z > 0.5 (the poster
    dominates)."""
    favours_poster = gates.reshape(len(gates), -1).mean(axis=1) > 0.5
    per_genre = {}
    for i, genre in enumerate(target_names):
        rows = labels[:, i] > 0
        per_genre[genre] = float(favours_poster[rows].mean()) if rows.any() else None
    return {"visual_share": float(favours_poster.mean()), "per_genre_visual_share": per_genre,
            "mean_gate": float(gates.mean())}


def gate_analysis(gates: np.ndarray, labels: np.ndarray, scores: np.ndarray, target_names: list[str],
                  units: int = PAPER_UNITS) -> dict[str, Any]:
    """Both views of the test gates, and each test movie's mean gate (in the split's row
    order, for per-movie reports)."""
    from .metrics import binarize

    flat = gates.reshape(len(gates), -1)
    return {**visual_share(gates, labels, target_names),
            "paper": paper_procedure(flat, binarize(scores), target_names, units),
            "per_movie_mean_z": [round(float(v), 4) for v in flat.mean(axis=1)]}
