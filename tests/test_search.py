"""`mmimdb benchmark --search N`: the paper's random search (Arevalo et al. 2017):
hidden in {64, 128, 256, 512}, dropout U(0.3, 0.7), learning rate and initialisation range
10^U(-3, -1), max-norm U(5, 20) half the time; the best trial on dev macro-F1 is kept."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from model_test_data import open_data, use_one_thread
from mmimdb.records.genres import GENRES
from mmimdb_cli.main import cli

torch = pytest.importorskip("torch")

from mmimdb.benchmark import models  # noqa: E402
from mmimdb.benchmark.runner import RunSettings, train_model  # noqa: E402
from mmimdb.benchmark import training  # noqa: E402
from mmimdb.benchmark.training import sample_params  # noqa: E402

use_one_thread()
DRAWS = 4000


def test_trials_are_drawn_from_the_papers_ranges_and_distributions():
    rng = np.random.default_rng(0)
    trials = [sample_params(rng) for _ in range(DRAWS)]
    hidden = np.array([t["hidden"] for t in trials])
    assert set(hidden) == {64, 128, 256, 512}
    assert all(abs((hidden == h).mean() - 0.25) < 0.03 for h in (64, 128, 256, 512))

    dropout = np.array([t["dropout"] for t in trials])
    assert 0.3 <= dropout.min() < 0.31 and 0.69 < dropout.max() <= 0.7
    assert abs((dropout < 0.4).mean() - 0.25) < 0.03  # uniform, not clustered

    for key in ("lr", "init_range"):
        exponent = np.log10([t[key] for t in trials])
        assert -3 <= exponent.min() < -2.98 and -1.02 < exponent.max() <= -1, key
        assert abs(exponent.mean() + 2) < 0.03 and abs((exponent < -2.5).mean() - 0.25) < 0.03, key  # log-uniform
    assert not np.allclose([t["lr"] for t in trials], [t["init_range"] for t in trials])  # drawn apart

    max_norm = [t["max_norm"] for t in trials]
    assert abs(sum(m is None for m in max_norm) / DRAWS - 0.5) < 0.03
    given = np.array([m for m in max_norm if m is not None])
    assert 5 <= given.min() < 5.1 and 19.9 < given.max() <= 20 and abs(given.mean() - 12.5) < 0.3


@pytest.fixture(scope="module")
def root(model_test_root):
    return model_test_root


@pytest.fixture(scope="module")
def splits(root):
    data = open_data(root)
    return {name: data.split(name, ("vgg_features", "features")) for name in ("train", "dev", "test")}


def test_a_trials_init_range_reaches_the_weights(splits):
    data = splits
    # A learning rate too small to move the weights: what is left is the initialisation.
    model = models.get("GMU").create(hidden=64, init_range=0.002, lr=1e-12, epochs=1, device="cpu").fit(data["train"], data["dev"])
    linear = [m for m in model.network_.modules() if isinstance(m, torch.nn.Linear)]
    assert linear and all(m.weight.abs().max().item() <= 0.002 + 1e-6 for m in linear)
    # Biases are zeroed, except the output layer's, which starts at the genre prior (training.start_at_prior).
    hidden = [m for m in linear if m.out_features != len(GENRES)]
    assert hidden and all(m.bias is None or m.bias.abs().max().item() < 1e-9 for m in hidden)
    default = models.get("GMU").create(hidden=64, lr=1e-12, epochs=1, device="cpu").fit(data["train"], data["dev"])
    assert max(m.weight.abs().max().item() for m in default.network_.modules() if isinstance(m, torch.nn.Linear)) > 0.002


def test_search_draws_its_trials_with_the_papers_sampler(splits):
    result, _ = train_model("Logistic_w2v", splits, RunSettings(search=3, epochs=2, patience=2, seed=5), list(GENRES))
    rng = np.random.default_rng(5)
    # The logistic regressions have no hidden layer and no dropout: their trials keep the rest of each draw.
    drawn = [sample_params(rng) for _ in range(3)]
    assert [trial["params"] for trial in result["search"]] == [
        {key: value for key, value in draw.items() if key not in ("hidden", "dropout")} for draw in drawn]
    assert result["params"] == max(result["search"], key=lambda trial: trial["dev_macro_f1"])["params"]


def test_search_keeps_the_best_trial_on_dev(splits, monkeypatch):
    # Four trials whose winner is known: only the second can learn (the others' steps are nil).
    still = {"hidden": 64, "dropout": 0.3, "lr": 1e-12, "init_range": None, "max_norm": None}
    planted = iter([still, {**still, "lr": 0.01}, {**still, "hidden": 128}, {**still, "dropout": 0.5}])
    monkeypatch.setattr(training, "sample_params", lambda rng: dict(next(planted)))
    result, _ = train_model("Logistic_w2v", splits, RunSettings(search=4, epochs=5, patience=5, seed=5), list(GENRES))
    scores = [trial["dev_macro_f1"] for trial in result["search"]]
    assert len(scores) == 4 and scores[1] > max(scores[0], scores[2], scores[3])
    assert result["params"]["lr"] == 0.01
    assert result["dev"]["f1"]["macro"]["mean"] == pytest.approx(scores[1])  # the winner is the model reported
    assert result["seeds"] == [5]


def test_search_from_the_command_line(root, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["benchmark", "--root", str(root), "--out", str(out), "--model", "Logistic_w2v,Most_frequent", "--search", "3",
                                      "--epochs", "2", "--device", "cpu"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["search"] == 3
    trials = results["models"]["Logistic_w2v"]["search"]
    assert len(trials) == 3 and all(1e-3 <= t["params"]["lr"] <= 0.1 and 1e-3 <= t["params"]["init_range"] <= 0.1
                                    for t in trials)
    assert results["models"]["Most_frequent"]["search"] == []  # nothing to search
