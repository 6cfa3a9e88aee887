"""Multi-label metrics of the paper's Table 2 and Table 3, as scikit-learn defines them.

F1 ``weighted`` / ``samples`` / ``micro`` / ``macro`` equal
``sklearn.metrics.f1_score(y_true, y_pred, average=...)`` (an undefined ratio counts as 0,
scikit-learn's default); computed here with numpy so that reports need no scikit-learn.

>>> y = np.array([[1, 0], [1, 1]]); p = np.array([[0.9, 0.2], [0.4, 0.7]])
>>> round(f1_scores(y, p)["macro"], 3)
0.833
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: The averages of Table 2, in the paper's column order.
AVERAGES = ("weighted", "samples", "micro", "macro")
THRESHOLD = 0.5


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def binarize(scores: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """Predicted labels: probabilities at or above ``threshold`` (0.5 in the paper)."""
    return (np.asarray(scores) >= threshold).astype(np.int8)


def _counts(y_true: np.ndarray, y_pred: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    truth, pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp = (truth & pred).sum(axis=axis)
    fp = (~truth & pred).sum(axis=axis)
    fn = (truth & ~pred).sum(axis=axis)
    return tp, fp, fn


def per_label(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per-label precision, recall, F1 and support (each an array of n_labels)."""
    tp, fp, fn = _counts(y_true, y_pred, axis=0)
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "support": tp + fn,
    }


def f1_scores(y_true: np.ndarray, scores: np.ndarray, threshold: float = THRESHOLD) -> dict[str, float]:
    """F1 weighted / samples / micro / macro of probabilities ``scores`` at ``threshold``."""
    y_pred = binarize(scores, threshold)
    labels = per_label(y_true, y_pred)
    support = labels["support"]
    tp, fp, fn = (count.sum() for count in _counts(y_true, y_pred, axis=0))
    stp, sfp, sfn = _counts(y_true, y_pred, axis=1)
    return {
        "weighted": float((labels["f1"] * support).sum() / support.sum()) if support.sum() else 0.0,
        "samples": float(_ratio(2 * stp, 2 * stp + sfp + sfn).mean()),
        "micro": float(_ratio(2 * tp, 2 * tp + fp + fn)),
        "macro": float(labels["f1"].mean()),
    }


def macro_f1(y_true: np.ndarray, scores: np.ndarray, threshold: float = THRESHOLD) -> float:
    """Macro F1 at ``threshold``: the early-stopping and model-selection criterion."""
    return float(per_label(y_true, binarize(scores, threshold))["f1"].mean())


def evaluate(y_true: np.ndarray, scores: np.ndarray, target_names: Sequence[str], threshold: float = THRESHOLD) -> dict:
    """Everything the reports show for one model on one split.

    Returns ``{"f1": {weighted, samples, micro, macro}, "precision": {micro, macro},
    "recall": {micro, macro}, "per_genre": {genre: {f1, precision, recall, support}}}``.
    """
    y_pred = binarize(scores, threshold)
    labels = per_label(y_true, y_pred)
    tp, fp, fn = (count.sum() for count in _counts(y_true, y_pred, axis=0))
    return {
        "f1": f1_scores(y_true, scores, threshold),
        "precision": {"micro": float(_ratio(tp, tp + fp)), "macro": float(labels["precision"].mean())},
        "recall": {"micro": float(_ratio(tp, tp + fn)), "macro": float(labels["recall"].mean())},
        "per_genre": {
            name: {key: (int(labels[key][i]) if key == "support" else float(labels[key][i])) for key in ("f1", "precision", "recall", "support")}
            for i, name in enumerate(target_names)
        },
    }
