"""Whether a difference between two models is larger than the noise of the test set: a paired
bootstrap over test movies of the macro- and micro-F1 difference.

Both models are scored on the same resamples of the test movies (drawn with replacement, the
same draw for every seed and both models), each model's F1 the mean over its seeds. The answer
is the observed difference, its 95% interval, and ``flips``: the share of resamples where the
order of the two models is not the observed one. A difference is inside the noise when the
interval contains 0.

>>> paired_bootstrap(labels, [scores_a], [scores_b])["macro"]["interval"]   # doctest: +SKIP
[-0.004, 0.012]
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .metrics import THRESHOLD, binarize

RESAMPLES = 1000
CHUNK = 100  # resamples weighed at once: (CHUNK, movies) floats in memory


def _movie_counts(y_true: np.ndarray, scores: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Per movie and genre, (true positive, false positive, false negative) as (3, n, genres)."""
    truth, predicted = np.asarray(y_true).astype(bool), binarize(scores, threshold).astype(bool)
    return np.stack([truth & predicted, ~truth & predicted, truth & ~predicted]).astype(np.float32)


def _f1s(weights: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Macro and micro F1 per resample, ``weights`` (resamples, n) = how often each movie is drawn."""
    tp, fp, fn = (weights @ counts[k] for k in range(3))  # (resamples, genres)
    denominator = 2 * tp + fp + fn
    per_genre = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    tp, fp, fn = tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)
    micro_denominator = 2 * tp + fp + fn
    micro = np.divide(2 * tp, micro_denominator, out=np.zeros_like(tp), where=micro_denominator > 0)
    return per_genre.mean(axis=1), micro


def paired_bootstrap(y_true: np.ndarray, scores_a: Sequence[np.ndarray], scores_b: Sequence[np.ndarray],
                     resamples: int = RESAMPLES, seed: int = 0,
                     threshold: float | np.ndarray = THRESHOLD) -> dict[str, Any]:
    """Model A minus model B, macro- and micro-F1 on ``y_true``'s movies: ``{"macro": {
    "difference", "interval": [2.5%, 97.5%], "flips", "inside_noise"}, "micro": ...,
    "resamples", "seed"}``. ``scores_a``/``scores_b``: each model's test probabilities, one
    array per seed."""
    y_true = np.asarray(y_true)
    n = len(y_true)
    counts_a = [_movie_counts(y_true, s, threshold) for s in scores_a]
    counts_b = [_movie_counts(y_true, s, threshold) for s in scores_b]
    everyone = np.ones((1, n), dtype=np.float32)

    def difference(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = [_f1s(weights, c) for c in counts_a]
        b = [_f1s(weights, c) for c in counts_b]
        return tuple(np.mean([x[k] for x in a], axis=0) - np.mean([x[k] for x in b], axis=0) for k in (0, 1))

    observed = difference(everyone)
    rng = np.random.default_rng(seed)
    drawn: list[tuple[np.ndarray, np.ndarray]] = []
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float32)
        drawn.append(difference(weights))
    out: dict[str, Any] = {"resamples": resamples, "seed": seed}
    for k, average in enumerate(("macro", "micro")):
        values = np.concatenate([d[k] for d in drawn])
        value = float(observed[k][0])
        low, high = (float(q) for q in np.percentile(values, [2.5, 97.5]))
        out[average] = {"difference": value, "interval": [low, high],
                        "flips": float(np.mean(np.sign(values) != np.sign(value))),
                        "inside_noise": bool(low <= 0.0 <= high)}
    return out
