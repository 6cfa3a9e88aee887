"""The metrics equal scikit-learn's on random multi-label predictions."""
from __future__ import annotations

import numpy as np
import pytest

from mmimdb.records.genres import GENRES
from mmimdb.benchmark.metrics import AVERAGES, evaluate, f1_scores, macro_f1

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", range(5))
def test_f1_averages_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y_true = (rng.uniform(size=(300, 23)) < rng.uniform(0.01, 0.5, size=23)).astype(int)
    y_true[:5] = 0  # movies without a label: 'samples' F1 must treat 0/0 as scikit-learn does
    y_true[:, -1] = 0  # a genre absent from this split
    scores = rng.uniform(size=(300, 23)) * rng.uniform(0.5, 1.5, size=23)
    y_pred = (scores >= 0.5).astype(int)
    ours = f1_scores(y_true, scores)
    for average in AVERAGES:
        expected = sklearn_metrics.f1_score(y_true, y_pred, average=average, zero_division=0)
        assert ours[average] == pytest.approx(expected, abs=1e-12), average
    assert macro_f1(y_true, scores) == pytest.approx(ours["macro"])


def test_per_genre_precision_recall_f1_equal_scikit_learn():
    rng = np.random.default_rng(7)
    y_true = (rng.uniform(size=(200, 23)) < 0.3).astype(int)
    scores = rng.uniform(size=(200, 23))
    y_pred = (scores >= 0.5).astype(int)
    report = evaluate(y_true, scores, GENRES)
    precision, recall, f1, support = sklearn_metrics.precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    for i, genre in enumerate(GENRES):
        assert report["per_genre"][genre]["f1"] == pytest.approx(f1[i])
        assert report["per_genre"][genre]["precision"] == pytest.approx(precision[i])
        assert report["per_genre"][genre]["recall"] == pytest.approx(recall[i])
        assert report["per_genre"][genre]["support"] == support[i]
    for average in ("micro", "macro"):
        assert report["precision"][average] == pytest.approx(sklearn_metrics.precision_score(y_true, y_pred, average=average, zero_division=0))
        assert report["recall"][average] == pytest.approx(sklearn_metrics.recall_score(y_true, y_pred, average=average, zero_division=0))


def test_threshold_is_inclusive_at_one_half():
    y_true = np.array([[1, 0]])
    assert f1_scores(y_true, np.array([[0.5, 0.49]]))["micro"] == 1.0
