"""Every registered model trains on the greatest-films features and beats the most-frequent genre."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark_fixture import benchmark_root, use_one_thread
from mmimdb.errors import UsageError
from mmimdb.benchmark.metrics import macro_f1

pytest.importorskip("torch")

from mmimdb.benchmark import models  # noqa: E402
from mmimdb.benchmark.data import BenchmarkData  # noqa: E402

use_one_thread()

# Small and short: enough to learn something, fast on two cores. The learning rates are in
# the paper's search range; the default 0.01 suits 15,552 training movies, not 733.
QUICK = {"hidden": 64, "lr": 0.001, "epochs": 10, "patience": 10, "device": "cpu"}
OVERRIDES = {
    # Adam moves all 4,681 batch-normalised TF-IDF weights at once: a smaller step.
    "Logistic_3grams": {"lr": 0.0001},
    "CNN_end2end": {"epochs": 4},  # the slowest on CPU; its first epochs already learn
}


@pytest.fixture(scope="module")
def splits(greatest_films_root, tmp_path_factory):
    data = BenchmarkData.open(benchmark_root(greatest_films_root, tmp_path_factory))
    inputs = tuple(sorted({i for spec in models.MODELS.values() for i in spec.inputs}))
    return {name: data.split(name, inputs, ("embeddings",)) for name in ("train", "dev")}


def _dev_macro_f1(estimator, dev) -> float:
    scores = estimator.predict_proba(dev.inputs) if estimator.inputs else estimator.predict_proba({}, n_rows=len(dev))
    return macro_f1(dev.labels, scores)


@pytest.fixture(scope="module")
def most_frequent_f1(splits) -> float:
    baseline = models.get("Most_frequent").create().fit(splits["train"], splits["dev"])
    return _dev_macro_f1(baseline, splits["dev"])


@pytest.mark.parametrize("name", [n for n in models.MODELS if n != "Most_frequent"])
def test_model_beats_most_frequent_genre_on_dev(name, splits, most_frequent_f1):
    estimator = models.get(name).create(**{**QUICK, **OVERRIDES.get(name, {})}, seed=0).fit(splits["train"], splits["dev"])
    scores = estimator.predict_proba(splits["dev"].inputs)
    assert scores.shape == (len(splits["dev"]), 23)
    assert np.all((scores >= 0) & (scores <= 1))
    assert _dev_macro_f1(estimator, splits["dev"]) > most_frequent_f1
    assert estimator.history_["best_epoch"] >= 1


def test_same_seed_same_numbers_on_cpu(splits):
    runs = [models.get("GMU").create(**QUICK, seed=3).fit(splits["train"], splits["dev"]) for _ in range(2)]
    first, second = (run.predict_proba(splits["dev"].inputs) for run in runs)
    np.testing.assert_array_equal(first, second)
    assert runs[0].history_["dev_macro_f1"] == runs[1].history_["dev_macro_f1"]


def test_gmu_gates_are_probabilities_one_per_hidden_unit(splits):
    gmu = models.get("GMU").create(**{**QUICK, "epochs": 2}).fit(splits["train"], splits["dev"])
    gates = gmu.gates(splits["dev"].inputs)
    assert gates.shape == (len(splits["dev"]), QUICK["hidden"])
    assert np.all((gates > 0) & (gates < 1))
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
