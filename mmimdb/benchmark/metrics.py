"""Multi-label metrics of the paper's Table 2 and Table 3, as scikit-learn defines them, and
the threshold-free ranking metrics reviewers ask for today (mAP, AUROC).

F1 ``weighted`` / ``samples`` / ``micro`` / ``macro`` equal
``sklearn.metrics.f1_score(y_true, y_pred, average=...)`` (an undefined ratio counts as 0,
scikit-learn's default); computed here with numpy so that reports need no scikit-learn.

>>> y = np.array([[1, 0], [1, 1]]); p = np.array([[0.9, 0.2], [0.4, 0.7]])
>>> round(f1_scores(y, p)["macro"], 3)
0.833

Ranking metrics equal scikit-learn's ``average_precision_score`` (mAP: the mean over genres)
and ``roc_auc_score`` (macro: the mean over genres; micro: every (movie, genre) pair as one
binary problem); a genre without positives (or, for AUROC, without negatives) in the split
is left out of the macro means, where scikit-learn would fail or warn.
A threshold per genre can be tuned on dev (:func:`tune_thresholds`), the alternative to the
paper's 0.5 that the tables report beside it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: The averages of Table 2, in the paper's column order.
AVERAGES = ("weighted", "samples", "micro", "macro")
THRESHOLD = 0.5
#: The ranking metrics, in the tables' column order.
RANKING = ("map", "auroc_macro", "auroc_micro")
#: A threshold: the paper's one number, or one per genre (tuned on dev).


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def binarize(scores: np.ndarray, threshold: float | np.ndarray = THRESHOLD) -> np.ndarray:
    """Predicted labels: probabilities at or above ``threshold`` (0.5 in the paper; or an
    array of one threshold per genre)."""
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


def f1_scores(y_true: np.ndarray, scores: np.ndarray, threshold: float | np.ndarray = THRESHOLD) -> dict[str, float]:
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


def macro_f1(y_true: np.ndarray, scores: np.ndarray, threshold: float | np.ndarray = THRESHOLD) -> float:
    """Macro F1 at ``threshold``: the early-stopping and model-selection criterion."""
    return float(per_label(y_true, binarize(scores, threshold))["f1"].mean())


def evaluate(y_true: np.ndarray, scores: np.ndarray, target_names: Sequence[str],
             threshold: float | np.ndarray = THRESHOLD) -> dict:
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


def _binary_curve(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives at each distinct score, highest first (scikit-learn's
    ``_binary_clf_curve``): predicting positive every movie scored at or above it."""
    order = np.argsort(-scores, kind="mergesort")
    scores, truth = scores[order], truth[order].astype(np.float64)
    last_of_value = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(truth)[last_of_value]
    return tps, (last_of_value + 1) - tps, scores[last_of_value]


def average_precision(truth: np.ndarray, scores: np.ndarray) -> float | None:
    """Average precision of one genre (``sklearn.metrics.average_precision_score``); None
    when the split has no positive."""
    truth, scores = np.asarray(truth).astype(bool), np.asarray(scores, dtype=np.float64)
    if not truth.any():
        return None
    tps, fps, _ = _binary_curve(truth, scores)
    precision, recall = tps / (tps + fps), tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def auroc(truth: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``, ties counted half) by the
    rank sum; None when the split has no positive or no negative."""
    truth, scores = np.asarray(truth).astype(bool).ravel(), np.asarray(scores, dtype=np.float64).ravel()
    positives = int(truth.sum())
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based, ties share their mean rank
    rank_sum = average_rank[inverse][truth].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def ranking_scores(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Threshold-free metrics: ``map`` (mean over genres of average precision),
    ``auroc_macro`` (mean over genres of AUROC), ``auroc_micro`` (AUROC of every (movie,
    genre) pair). Genres where a metric is undefined are left out of its mean."""
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    per_genre_ap = [average_precision(y_true[:, i], scores[:, i]) for i in range(y_true.shape[1])]
    per_genre_auc = [auroc(y_true[:, i], scores[:, i]) for i in range(y_true.shape[1])]
    mean = lambda values: float(np.mean([v for v in values if v is not None])) if any(v is not None for v in values) else 0.0
    micro = auroc(y_true, scores)
    return {"map": mean(per_genre_ap), "auroc_macro": mean(per_genre_auc),
            "auroc_micro": float(micro) if micro is not None else 0.0}


def tune_thresholds(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One threshold per genre: the one that maximises that genre's F1 on these rows (dev).

    Candidates are the paper's 0.5 and the midpoints between consecutive distinct scores (a
    cut between two movies, not on one); 0.5 is kept unless a cut is strictly better, so the
    tuned macro-F1 on these rows is never below the macro-F1 at 0.5.
    """
    y_true, scores = np.asarray(y_true).astype(bool), np.asarray(scores, dtype=np.float64)
    thresholds = np.full(y_true.shape[1], THRESHOLD)
    for i in range(y_true.shape[1]):
        truth, column = y_true[:, i], scores[:, i]
        positives = int(truth.sum())
        if positives == 0:
            continue  # every threshold scores 0 here: keep the paper's
        tps, fps, values = _binary_curve(truth, column)
        f1 = 2 * tps / (tps + fps + positives)
        best = int(np.argmax(f1))
        at_half = per_label(truth[:, None], binarize(column[:, None]))["f1"][0]
        if f1[best] > at_half:
            below = values[best + 1] if best + 1 < len(values) else values[best] - 1.0
            thresholds[i] = (values[best] + below) / 2.0
    return thresholds
