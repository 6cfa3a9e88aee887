"""The batched random search: every trial gives the numbers it gives when trained alone."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("torch")

import torch  # noqa: E402

from model_test_data import use_one_thread  # noqa: E402
from mmimdb.benchmark import models, runner, search  # noqa: E402
from mmimdb.benchmark.data import Split  # noqa: E402

use_one_thread()

# Trials as a search draws them: two hidden sizes (two groups), each its own dropout,
# learning rate, init range and max-norm (0.6 binds on these small layers: it rescales units
# every step). Learning rates at most 0.005 and init ranges at least 0.05: on 600 rows, larger
# steps or tiny weights let Adam, which divides each gradient by its own size, turn float
# rounding into visible differences (a lone run on 1 thread and on 2 differs as much).
TRIALS = [
    {"hidden": 16, "dropout": 0.35, "lr": 0.004, "init_range": 0.05, "max_norm": None},
    {"hidden": 16, "dropout": 0.65, "lr": 0.001, "init_range": 0.2, "max_norm": 0.6},
    {"hidden": 32, "dropout": 0.5, "lr": 0.002, "init_range": 0.06, "max_norm": None},
    {"hidden": 16, "dropout": 0.45, "lr": 0.005, "init_range": 0.1, "max_norm": 0.6},
]
FIXED = {"epochs": 8, "patience": 2, "device": "cpu"}
DIMS = {"vgg_features": 48, "features": 16, "three_grams": 24}


def _split(name: str, rows: int, seed: int) -> Split:
    """Labels with a planted signal in every input (so that the trials learn and stop apart)."""
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(99)
    labels = (rng.uniform(size=(rows, 23)) < np.linspace(0.5, 0.08, 23)).astype(np.float32)
    inputs = {key: (rng.normal(size=(rows, dim)) + labels @ mixing.normal(size=(23, dim))).astype(np.float32)
              for key, dim in DIMS.items()}
    return Split(name, inputs, labels, [str(i) for i in range(rows)])


@pytest.fixture(scope="module")
def data():
    return _split("train", 600, 1), _split("dev", 90, 2)


def _compare(batched, alone, dev) -> None:
    for trial, (b, a) in enumerate(zip(batched, alone)):
        assert len(b.history_["dev_macro_f1"]) == len(a.history_["dev_macro_f1"]), f"trial {trial}: epochs differ"
        assert b.history_["best_epoch"] == a.history_["best_epoch"], f"trial {trial}"
        np.testing.assert_allclose(b.history_["dev_macro_f1"], a.history_["dev_macro_f1"], atol=1e-6, err_msg=f"trial {trial}")
        np.testing.assert_allclose(b.history_["train_loss"], a.history_["train_loss"], rtol=1e-5, err_msg=f"trial {trial}")
        # Predictions after the last epoch: a difference of float rounding (1e-7 after 5 epochs of
        # Linear_sum's trial 2) can pick the other piece of a maxout unit whose two pieces are
        # level, and the trial then moves on ~1e-4 apart (1e-3 by epoch 8). Different dropout
        # masks part the histories above from the first epoch (dev macro-F1 in every epoch).
        np.testing.assert_allclose(b.predict_proba(dev.inputs), a.predict_proba(dev.inputs), atol=2e-3, err_msg=f"trial {trial}")


@pytest.mark.parametrize("name", ["GMU", "MoE_MaxoutMLP", "Linear_sum", "Logistic_3grams"])
def test_batched_trials_match_lone_runs_trial_by_trial(data, name):
    train, dev = data
    spec = models.get(name)
    batched = search.fit_batched(spec, TRIALS, train, dev, FIXED, seed=3)
    alone = [spec.create(**params, **FIXED, seed=3).fit(train, dev) for params in TRIALS]
    _compare(batched, alone, dev)
    epochs = {len(b.history_["dev_macro_f1"]) for b in batched}
    if name == "GMU":  # the stack shrank as trials stopped early, and some went on
        assert min(epochs) < FIXED["epochs"] and len(epochs) > 1
    assert all(b.history_["batched_trials"] >= 1 for b in batched)


def test_trials_that_share_only_the_seed_still_differ(data):
    """Each trial keeps its own hyper-parameters: same seed, different results."""
    train, dev = data
    batched = search.fit_batched(models.get("GMU"), TRIALS, train, dev, FIXED, seed=3)
    scores = [b.predict_proba(dev.inputs) for b in batched]
    assert all(np.abs(scores[0] - other).max() > 0.05 for other in scores[1:])


def test_runner_search_gives_the_trials_of_the_sequential_search(data, monkeypatch):
    from mmimdb.benchmark import training

    train, dev = data
    splits = {"train": train, "dev": dev, "test": dev}
    drawn = iter(TRIALS * 2)
    monkeypatch.setattr(training, "sample_params", lambda rng: dict(next(drawn)))  # stable trials (see TRIALS)
    settings = runner.RunSettings(search=4, seeds=2, epochs=5, patience=2)
    batched = runner.train_model("GMU", splits, settings, [str(i) for i in range(23)])[0]  # fit_locally: batched search
    alone = runner.train_model("GMU", splits, settings, [str(i) for i in range(23)], fit=runner.fit_one_by_one)[0]
    assert [t["params"] for t in batched["search"]] == [t["params"] for t in alone["search"]] == TRIALS
    np.testing.assert_allclose([t["dev_macro_f1"] for t in batched["search"]],
                               [t["dev_macro_f1"] for t in alone["search"]], atol=1e-6)
    assert batched["params"] == alone["params"]
    assert batched["runs"][0]["history"]["batched_trials"] >= 1  # the winner came from the batched run
    assert "batched_trials" not in alone["runs"][0]["history"]
    # The second seed trains alone in both: the same numbers exactly.
    assert "batched_trials" not in batched["runs"][1]["history"]
    assert batched["runs"][1]["history"]["dev_macro_f1"] == alone["runs"][1]["history"]["dev_macro_f1"]


def test_which_models_batch():
    assert search.can_batch(models.get("GMU")) and search.can_batch(models.get("MoE_Logistic_tied"))
    for name in ("RNN_end2end", "CNN_end2end", "AVG_probs", "Most_frequent"):
        assert not search.can_batch(models.get(name)), name


def test_a_model_drawing_outside_dropout_modules_trains_one_trial_at_a_time(data):
    """Functional dropout would give every trial the same mask: such a model is not batched."""
    from torch import nn

    from mmimdb.benchmark.models.base import NeuralClassifier

    class Functional(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.linear = nn.Linear(dim, 23)

        def forward(self, batch):
            return self.linear(torch.nn.functional.dropout(batch["features"], 0.5, self.training))

    class FunctionalDropout(NeuralClassifier):
        def build(self, dims):
            return Functional(dims["features"])

    spec = models.ModelSpec("FunctionalDropout", FunctionalDropout, ("features",), "Text")
    train, dev = data
    with pytest.raises(search.NotBatchable, match="outside nn.Dropout"):
        search.fit_batched(spec, TRIALS[:2], train, dev, FIXED, seed=0)
    jobs = [runner.FitJob(spec, params, FIXED, 0) for params in TRIALS[:2]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = runner.fit_locally(jobs, train, dev)
    assert "train one after another" in str(caught[0].message)
    assert [f.history_["dev_macro_f1"] for f in fitted] == [f.history_["dev_macro_f1"] for f in runner.fit_one_by_one(jobs, train, dev)]


def test_a_batch_norm_without_a_group_form_trains_one_trial_at_a_time(data):
    from torch import nn

    from mmimdb.benchmark.models.base import NeuralClassifier

    class Plain(NeuralClassifier):
        def build(self, dims):
            class Network(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.norm, self.linear = nn.BatchNorm1d(dims["features"], affine=False), nn.Linear(dims["features"], 23)

                def forward(self, batch):
                    return self.linear(self.norm(batch["features"]))

            return Network()

    train, dev = data
    with pytest.raises(search.NotBatchable, match="batch norm without a group form"):
        search.fit_batched(models.ModelSpec("Plain", Plain, ("features",), "Text"), TRIALS[:2], train, dev, FIXED, seed=0)


@pytest.mark.parametrize("fused", [True, False])
def test_one_adam_steps_each_lane_as_torch_adam_steps_it_alone(fused):
    """The Adam of the lone fit and of the batched search: lane t, with its own learning rate,
    takes the steps torch.optim.Adam takes on that lane's tensors alone (fused kernel or, where
    there is none, the per-tensor formula)."""
    from mmimdb.benchmark.training import Adam, fused_adam_available

    if fused and not fused_adam_available("cpu"):
        pytest.skip("this torch has no fused Adam kernel on the CPU")
    generator = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (3,)]
    lrs = [0.01, 0.003, 0.05]
    stacked = [torch.randn(len(lrs), *shape, generator=generator) for shape in shapes]
    alone = [[p[t].clone().requires_grad_() for p in stacked] for t in range(len(lrs))]
    references = [torch.optim.Adam(params, lr=lr, foreach=False) for params, lr in zip(alone, lrs)]
    ours = Adam([[p[t] for p in stacked] for t in range(len(lrs))], lrs)
    ours.fused = fused
    for _ in range(6):
        grads = [torch.randn(len(lrs), *shape, generator=generator) for shape in shapes]
        ours.step([[g[t] for g in grads] for t in range(len(lrs))])
        for t, (params, reference) in enumerate(zip(alone, references)):
            for param, grad in zip(params, grads):
                param.grad = grad[t].clone()
            reference.step()
    for t, params in enumerate(alone):
        for param, mine in zip(params, stacked):
            torch.testing.assert_close(mine[t], param.detach(), rtol=1e-6, atol=1e-7)


def test_a_run_without_a_search_trains_without_the_search_module(data, monkeypatch):
    """Seeds alone (no --search) go runner -> training, never through search.py (whose import
    is made to fail here), and give what fitting each seed alone gives."""
    import sys

    train, dev = data
    monkeypatch.setitem(sys.modules, "mmimdb.benchmark.search", None)  # importing it now raises ImportError
    spec = models.get("GMU")
    jobs = [runner.FitJob(spec, TRIALS[0], FIXED, seed) for seed in (0, 1)]
    fitted = runner.fit_locally(jobs, train, dev)
    alone = [spec.create(**TRIALS[0], **FIXED, seed=seed).fit(train, dev) for seed in (0, 1)]
    assert [f.history_["dev_macro_f1"] for f in fitted] == [a.history_["dev_macro_f1"] for a in alone]
    assert all("batched_trials" not in f.history_ for f in fitted)
