"""The shallow baselines train as well as a textbook fit: each comes within 0.05 macro-F1 of
scikit-learn's fit of the same model on the same features and split.

Two datasets: a small matrix with planted signal and MM-IMDb's genre frequencies (rare
genres are what made a badly started or over-regularised model look fine on micro-F1 and
fail on macro-F1), and, where ../shared/data exists, the greatest films through the real
``mmimdb build`` + ``mmimdb build-features --text glove-50``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from mmimdb.benchmark import models  # noqa: E402
from mmimdb.benchmark.data import BenchmarkData, Split  # noqa: E402
from mmimdb.benchmark.metrics import macro_f1  # noqa: E402
from mmimdb.benchmark.sklearn_reference import sklearn_reference  # noqa: E402
from mmimdb.records.genres import GENRES, ORIGINAL_COUNTS  # noqa: E402

MARGIN = 0.05
#: Every linear or one-hidden-layer model of Table 2 and the scikit-learn model it is held to.
SHALLOW = ("Logistic_w2v", "Logistic_3grams", "MaxoutMLP_w2v_1_hidden", "MoE_Logistic", "MoE_Logistic_tied")
#: Seeds averaged per model: the maxout MLP trains with dropout, and one seed's test macro-F1
#: moves by +-0.03 on the planted signal (seeds 0-4: .548 to .591), more than half the margin;
#: the others have no dropout and move by far less.
SEEDS = {"MaxoutMLP_w2v_1_hidden": (0, 1, 2)}


def planted_splits(seed: int = 0) -> dict[str, Split]:
    """Labels with MM-IMDb's genre frequencies; each input is a noisy linear view of them.

    ``features`` (40-d) and ``three_grams`` (120-d, mostly noise columns) tell the labels
    through different random projections; ``vgg_features`` (60-d) more weakly.
    """
    rng = np.random.default_rng(seed)
    frequency = np.array([ORIGINAL_COUNTS[g] for g in GENRES]) / 25959
    sizes = {"train": 900, "dev": 300, "test": 600}
    projections = {"features": (40, 1.0), "three_grams": (120, 1.0), "vgg_features": (60, 0.5)}
    maps = {name: rng.normal(0, 1, (len(GENRES), dim)) for name, (dim, _) in projections.items()}
    out = {}
    for split, n in sizes.items():
        labels = (rng.uniform(size=(n, len(GENRES))) < frequency).astype(np.float32)
        inputs = {}
        for name, (dim, strength) in projections.items():
            signal = strength * labels @ maps[name]
            inputs[name] = (signal + rng.normal(0, 2.0, (n, dim)) + 3.0).astype(np.float32)  # not centred: scaling matters
        out[split] = Split(split, inputs, labels, [str(i) for i in range(n)])
    return out


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One thread for torch and for scikit-learn's BLAS: on a shared two-core machine more
    threads only wait on each other (scikit-learn's MLP ran 20x slower)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def planted() -> dict[str, Split]:
    return planted_splits()


def _ours_and_reference(name: str, splits: dict[str, Split], **params) -> tuple[float, float, str]:
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    scores = [macro_f1(test.labels, models.get(name).create(seed=seed, **params).fit(train, dev).predict_proba(test.inputs))
              for seed in SEEDS.get(name, (0,))]
    predict, what = sklearn_reference(name, train)
    return float(np.mean(scores)), macro_f1(test.labels, predict(test.inputs)), what


@pytest.mark.parametrize("name", SHALLOW)
def test_shallow_baseline_comes_within_005_of_scikit_learn_on_planted_signal(name, planted):
    ours, reference, what = _ours_and_reference(name, planted)
    # Beating the yardstick is fine; falling more than MARGIN below it is a training defect.
    assert ours >= reference - MARGIN, \
        f"{name}: test macro-F1 {ours:.3f} (seeds {SEEDS.get(name, (0,))}), {what}: {reference:.3f}"


@pytest.mark.parametrize("lr", [0.001, 0.1])
def test_logistic_regression_reaches_scikit_learn_across_the_searched_learning_rates(lr, planted):
    """At the slow end of the paper's range (10^-3), a network whose outputs start at 0.5
    scores like predicting every genre at first, dips below that while its biases drift to
    the genre frequencies, and early stopping kept the first epochs (test macro-F1 .32
    against .62): outputs now start at the genre frequencies."""
    ours, reference, what = _ours_and_reference("Logistic_w2v", planted, lr=lr)
    assert ours >= reference - MARGIN, f"lr {lr}: test macro-F1 {ours:.3f}, {what}: {reference:.3f}"


def test_the_planted_task_is_not_solved_by_coin_flips_or_all_ones(planted):
    """The yardstick is hard to reach by accident: far above predicting every genre."""
    test = planted["test"]
    reference = sklearn_reference("Logistic_w2v", planted["train"])[0](test.inputs)
    all_ones = macro_f1(test.labels, np.ones_like(test.labels))
    coin = macro_f1(test.labels, np.random.default_rng(0).uniform(size=test.labels.shape))
    assert macro_f1(test.labels, reference) > max(all_ones, coin) + 0.2


@pytest.fixture(scope="module")
def glove_splits(greatest_films_glove) -> dict[str, Split]:
    """The greatest films (iterative split) with text vectors from glove-50."""
    data = BenchmarkData(Path(greatest_films_glove) / "multimodal_imdb.hdf5", {"features": "glove_features"})
    return {split: data.split(split, ("features",)) for split in ("train", "dev", "test")}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Logistic_w2v", "MaxoutMLP_w2v_1_hidden"])
def test_text_baseline_comes_within_005_of_scikit_learn_on_the_greatest_films(name, glove_splits):
    ours, reference, what = _ours_and_reference(name, glove_splits)
    assert ours >= reference - MARGIN, \
        f"{name}: test macro-F1 {ours:.3f} (seeds {SEEDS.get(name, (0,))}), {what}: {reference:.3f}"
