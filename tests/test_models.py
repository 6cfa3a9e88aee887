"""Every registered model learns the signal planted in generated films, trained on what the
real pipeline writes (`mmimdb build` + `mmimdb build-features`: tests/model_test_data.py).

The films (tests/generated_films.py) have genres told only by the plot's words, genres told
only by the poster's colours, and genres told by both. So on the test split:

- every model beats coin flips and all-ones (predict every genre) by :data:`MARGIN` F1 on
  the genres its inputs can tell (text models: the plot's; poster models: the poster's;
  multimodal models: all of them);
- every multimodal model ranks the plot-only genres *and* the poster-only genres well
  (ROC AUC), which no single input allows: it uses both inputs.

The controls at the end show that both checks fail for a model that learns nothing or
ignores an input.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import generated_films as films
from model_test_data import open_data, use_one_thread
from mmimdb.benchmark.data import Split
from mmimdb.benchmark.metrics import binarize, per_label
from mmimdb.records.genres import GENRES
from mmimdb.errors import UsageError

pytest.importorskip("torch")

from mmimdb.benchmark import models  # noqa: E402

use_one_thread()

#: F1 points a model must score above the better of coin flips and all-ones.
MARGIN = 0.2
#: How much a multimodal model's mean ROC AUC on the plot-only (poster-only) genres must fall
#: when every test movie gets another movie's plot (poster) inputs: a model that ignores an
#: input loses nothing.
USES_INPUT_AUC_DROP = 0.1
#: Which inputs come from the plot and which from the poster.
PLOT_INPUTS = {"features", "three_grams", "word_grams", "sequences"}
POSTER_INPUTS = {"vgg_features", "images"}

# Small and short; the learning rate and dropout are in the paper's search range.
QUICK = {"hidden": 64, "dropout": 0.3, "lr": 0.01, "epochs": 40, "patience": 40, "device": "cpu"}
OVERRIDES = {
    # The slowest on a CPU (5 convolutions per poster, see `splits`): fewer, gentler epochs.
    "CNN_end2end": {"epochs": 12, "lr": 0.003},
}
#: The CNN reads the built 256 x 160 posters averaged over 4 x 4 blocks (64 x 40): the same
#: pixels, 16 times fewer of them, so that it trains in seconds on a CPU.
CNN_POOL = 4
LEARNERS = [name for name in models.MODELS if name != "Most_frequent"]  # Most_frequent is the floor
#: A tied mixture of logistic experts weighs the two experts once per movie, for all its genres,
#: so it cannot take the plot-only genres from one and the poster-only ones from the other; on
#: this task it settles on the poster expert (plot AUC drop .01-.05 over seeds 0 and 1, before
#: and after the training changes of the baselines issue). Its F1 test above still holds.
ONE_EXPERT_PER_MOVIE = {"MoE_Logistic_tied"}
MULTIMODAL = [name for name in LEARNERS if models.get(name).modality == "Multimodal" and name not in ONE_EXPERT_PER_MOVIE]


def _pooled(split: Split) -> Split:
    images = split.inputs["images"]
    n, channels, height, width = images.shape
    pooled = images.reshape(n, channels, height // CNN_POOL, CNN_POOL, width // CNN_POOL, CNN_POOL).mean(axis=(3, 5))
    return Split(split.name, {**split.inputs, "images": pooled.astype(np.float32)}, split.labels, split.ids, split.shared)


@pytest.fixture(scope="module")
def splits(model_test_root) -> dict[str, Split]:
    data = open_data(model_test_root)
    inputs = tuple(sorted({i for spec in models.MODELS.values() for i in spec.inputs}))
    return {name: _pooled(data.split(name, inputs, ("embeddings",))) for name in ("train", "dev", "test")}


@pytest.fixture(scope="module")
def trained(splits) -> dict[str, Any]:
    """Models trained once per module, by name (the F1 and the both-inputs tests share them)."""
    cache: dict[str, Any] = {}

    def get(name: str):
        if name not in cache:
            params = {**QUICK, **OVERRIDES.get(name, {})}
            cache[name] = models.get(name).create(**params, seed=0).fit(splits["train"], splits["dev"])
        return cache[name]

    return get


def told_genres(inputs: tuple[str, ...]) -> tuple[str, ...]:
    """The planted genres that a model reading ``inputs`` can tell apart."""
    unknown = set(inputs) - PLOT_INPUTS - POSTER_INPUTS
    assert not unknown, f"say whether {unknown} come from the plot or the poster"
    seen = {"plot"} if PLOT_INPUTS & set(inputs) else set()
    seen |= {"poster"} if POSTER_INPUTS & set(inputs) else set()
    return tuple(genre for genre in films.USED_GENRES if seen & set(films.PLANTED[genre]))


def _columns(genres) -> list[int]:
    return [GENRES.index(genre) for genre in genres]


def genre_f1(labels: np.ndarray, scores: np.ndarray, genres) -> float:
    """Mean F1 over ``genres`` at the paper's threshold 0.5."""
    columns = _columns(genres)
    return float(per_label(labels[:, columns], binarize(scores[:, columns]))["f1"].mean())


def floor_f1(labels: np.ndarray, genres) -> dict[str, float]:
    """F1 over ``genres`` of fair coin flips (mean of 200 draws) and of predicting every genre."""
    rng = np.random.default_rng(0)
    coins = np.mean([genre_f1(labels, rng.uniform(size=labels.shape), genres) for _ in range(200)])
    return {"coin flips": float(coins), "all ones": genre_f1(labels, np.ones_like(labels), genres)}


def mean_auc(labels: np.ndarray, scores: np.ndarray, genres) -> float:
    from sklearn.metrics import roc_auc_score

    return float(np.mean([roc_auc_score(labels[:, c], scores[:, c]) for c in _columns(genres)]))


def assert_beats_the_floor(labels: np.ndarray, scores: np.ndarray, genres) -> None:
    floors = floor_f1(labels, genres)
    f1 = genre_f1(labels, scores, genres)
    assert f1 > max(floors.values()) + MARGIN, f"F1 {f1:.3f} on {genres} vs {floors}"


def shuffled(inputs: dict[str, Any], names: set[str], seed: int) -> dict[str, Any]:
    """``inputs`` with the rows of the datasets ``names`` permuted (one permutation for all)."""
    order = np.random.default_rng(seed).permutation(len(next(iter(inputs.values()))))
    return {name: ([value[i] for i in order] if isinstance(value, list) else value[order]) if name in names else value
            for name, value in inputs.items()}


def auc_drops(estimator: Any, split: Split) -> dict[str, float]:
    """Permutation importance of each modality: mean AUC on the genres only it tells, minus
    the same after giving each movie another movie's inputs of that modality (3 shuffles)."""
    drops = {}
    for modality, inputs, genres in (("plot", PLOT_INPUTS, films.PLOT_ONLY), ("poster", POSTER_INPUTS, films.POSTER_ONLY)):
        intact = mean_auc(split.labels, estimator.predict_proba(split.inputs), genres)
        mixed = [mean_auc(split.labels, estimator.predict_proba(shuffled(split.inputs, inputs, seed)), genres) for seed in range(3)]
        drops[modality] = intact - float(np.mean(mixed))
    return drops


def assert_uses_both_inputs(estimator: Any, split: Split) -> None:
    drops = auc_drops(estimator, split)
    assert min(drops.values()) >= USES_INPUT_AUC_DROP, drops


@pytest.mark.parametrize("name", LEARNERS)
def test_model_beats_coin_flips_and_all_ones_on_the_genres_it_can_tell(name, splits, trained):
    estimator = trained(name)
    test = splits["test"]
    scores = estimator.predict_proba(test.inputs)
    assert scores.shape == (len(test), 23) and np.all((scores >= 0) & (scores <= 1))
    assert estimator.history_["best_epoch"] >= 1
    assert_beats_the_floor(test.labels, scores, told_genres(models.get(name).inputs))


@pytest.mark.parametrize("name", MULTIMODAL)
def test_multimodal_model_uses_the_plot_and_the_poster(name, splits, trained):
    assert_uses_both_inputs(trained(name), splits["test"])


def test_the_checks_fail_for_a_model_that_learns_nothing_or_ignores_an_input(splits):
    test = splits["test"]
    floor = models.get("Most_frequent").create().fit(splits["train"], splits["dev"])
    with pytest.raises(AssertionError):
        assert_beats_the_floor(test.labels, floor.predict_proba({}, n_rows=len(test)), films.USED_GENRES)

    def without_text(split: Split) -> Split:
        return Split(split.name, {**split.inputs, "features": np.zeros_like(split.inputs["features"])}, split.labels, split.ids)

    blind = models.get("GMU").create(**QUICK, seed=0).fit(without_text(splits["train"]), without_text(splits["dev"]))
    with pytest.raises(AssertionError):
        assert_uses_both_inputs(blind, without_text(test))
    with pytest.raises(AssertionError):
        assert_beats_the_floor(test.labels, blind.predict_proba(without_text(test).inputs), films.PLOT_ONLY)


def test_same_seed_same_numbers_on_cpu(splits):
    quick = {**QUICK, "epochs": 5}
    runs = [models.get("GMU").create(**quick, seed=3).fit(splits["train"], splits["dev"]) for _ in range(2)]
    first, second = (run.predict_proba(splits["dev"].inputs) for run in runs)
    np.testing.assert_array_equal(first, second)
    assert runs[0].history_["dev_macro_f1"] == runs[1].history_["dev_macro_f1"]


def test_gmu_gates_are_probabilities_one_per_hidden_unit(splits):
    gmu = models.get("GMU").create(**{**QUICK, "epochs": 2}).fit(splits["train"], splits["dev"])
    gates = gmu.gates(splits["dev"].inputs)
    assert gates.shape == (len(splits["dev"]), QUICK["hidden"])
    # Probabilities; on this clear-cut task many gates saturate to exactly 0 or 1 in float32.
    assert np.all((gates >= 0) & (gates <= 1)) and 0 < gates.mean() < 1
    multi = models.get("GMU_3").create(**{**QUICK, "epochs": 2}).fit(splits["train"], splits["dev"])
    assert multi.gates(splits["dev"].inputs).shape == (len(splits["dev"]), 3, QUICK["hidden"])


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(UsageError, match="unknown model 'gmu2'.*GMU"):
        models.get("gmu2")
    assert models.get("gmu").name == "GMU"


def test_max_norm_caps_every_unit(splits):
    gmu = models.get("GMU").create(**{**QUICK, "epochs": 2, "lr": 0.05}, max_norm=0.5).fit(splits["train"], splits["dev"])
    import torch

    norms = [m.weight.norm(dim=1).max().item() for m in gmu.network_.modules() if isinstance(m, torch.nn.Linear)]
    assert max(norms) <= 0.5 + 1e-5
