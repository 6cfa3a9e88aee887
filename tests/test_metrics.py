"""The metrics equal scikit-learn's on random multi-label predictions."""
from __future__ import annotations

import numpy as np
import pytest

from mmimdb.records.genres import GENRES
from mmimdb.benchmark.metrics import (AVERAGES, average_precision, binarize, evaluate, f1_scores, macro_f1, per_label,
                                    ranking_scores, tune_thresholds)

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


def _random_case(seed: int, rows: int = 300):
    rng = np.random.default_rng(seed)
    y_true = (rng.uniform(size=(rows, 23)) < rng.uniform(0.02, 0.5, size=23)).astype(int)
    # Rounded scores: ties, which scikit-learn's curves handle by distinct thresholds.
    scores = np.round(rng.uniform(size=(rows, 23)) * 0.6 + y_true * rng.uniform(0, 0.5, size=23), 2)
    return y_true, scores


@pytest.mark.parametrize("seed", range(4))
def test_map_and_auroc_equal_scikit_learn(seed):
    y_true, scores = _random_case(seed)
    ours = ranking_scores(y_true, scores)
    assert ours["map"] == pytest.approx(sklearn_metrics.average_precision_score(y_true, scores, average="macro"), abs=1e-12)
    assert ours["auroc_macro"] == pytest.approx(sklearn_metrics.roc_auc_score(y_true, scores, average="macro"), abs=1e-12)
    assert ours["auroc_micro"] == pytest.approx(sklearn_metrics.roc_auc_score(y_true, scores, average="micro"), abs=1e-12)
    for i in range(3):
        assert average_precision(y_true[:, i], scores[:, i]) == pytest.approx(
            sklearn_metrics.average_precision_score(y_true[:, i], scores[:, i]), abs=1e-12)


def test_map_of_perfect_scores_is_one_and_of_reversed_scores_low():
    y_true, _ = _random_case(11)
    perfect = y_true + np.random.default_rng(0).uniform(0, 0.5, size=y_true.shape)
    assert ranking_scores(y_true, perfect) == {"map": 1.0, "auroc_macro": 1.0, "auroc_micro": 1.0}
    reversed_scores = ranking_scores(y_true, -perfect)
    # Reversed, AP falls to about the positive share of each genre, AUROC to 0.
    assert reversed_scores["map"] < 0.5 * y_true.mean(axis=0).max() + 0.1
    assert reversed_scores["auroc_macro"] == 0.0


def test_a_genre_without_positives_is_left_out_of_the_ranking_means():
    y_true = np.array([[1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    assert ranking_scores(y_true, scores)["map"] == 1.0  # genre 1 has no positive: not a 0 in the mean


@pytest.mark.parametrize("seed", range(4))
def test_tuned_thresholds_are_never_worse_on_dev_than_one_half(seed):
    y_true, scores = _random_case(seed)
    scores = scores * np.random.default_rng(seed).uniform(0.3, 1.2, size=23)  # miscalibrated genres
    thresholds = tune_thresholds(y_true, scores)
    tuned, paper = per_label(y_true, binarize(scores, thresholds))["f1"], per_label(y_true, binarize(scores))["f1"]
    assert np.all(tuned >= paper - 1e-12)
    assert tuned.mean() > paper.mean()  # and miscalibrated scores gain
    # Each tuned threshold is the best cut for its genre: no other candidate does better.
    for i in range(5):
        best = max(per_label(y_true[:, [i]], binarize(scores[:, [i]], t))["f1"][0] for t in np.unique(scores[:, i]))
        assert tuned[i] == pytest.approx(best)
