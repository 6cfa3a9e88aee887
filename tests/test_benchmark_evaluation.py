"""What the benchmark reports besides the paper's F1s at 0.5: ranking metrics, thresholds
tuned on dev, the paired bootstrap against the GMU, and each model's cost."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from model_test_data import IMAGE, private_hdf5_copy, use_one_thread
from mmimdb.benchmark.significance import paired_bootstrap

pytest.importorskip("torch")
use_one_thread()


def _labels_and_scores(seed: int = 0, rows: int = 400):
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=(rows, 23)) < 0.25).astype(int)
    good = np.clip(0.35 * y + rng.uniform(0.0, 0.6, size=y.shape), 0, 1)  # mostly right at 0.5
    coin = rng.uniform(size=y.shape)
    return y, good, coin


def test_a_model_against_itself_never_flips_order():
    y, good, _ = _labels_and_scores()
    outcome = paired_bootstrap(y, [good], [good], resamples=200)
    for average in ("macro", "micro"):
        assert outcome[average]["difference"] == 0.0
        assert outcome[average]["flips"] == 0.0
        assert outcome[average]["interval"] == [0.0, 0.0]


def test_a_clearly_better_model_flips_rarely_and_a_rerun_gives_the_same_numbers():
    y, good, coin = _labels_and_scores()
    outcome = paired_bootstrap(y, [good], [coin], resamples=200, seed=3)
    for average in ("macro", "micro"):
        assert outcome[average]["difference"] > 0.1
        assert outcome[average]["flips"] < 0.01 and not outcome[average]["inside_noise"]
        assert outcome[average]["interval"][0] > 0
    assert paired_bootstrap(y, [good], [coin], resamples=200, seed=3) == outcome


def test_two_near_equal_models_are_inside_the_noise():
    y, good, _ = _labels_and_scores()
    rng = np.random.default_rng(9)
    nudged = np.clip(good + rng.normal(0, 0.02, size=good.shape), 0, 1)
    outcome = paired_bootstrap(y, [good], [nudged], resamples=300)
    assert outcome["macro"]["inside_noise"] and 0.05 < outcome["macro"]["flips"] < 0.95


def test_parameter_counts_and_peak_memory():
    import torch

    from mmimdb.benchmark.cost import PeakMemory, parameter_counts

    class Fitted:
        network_ = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.BatchNorm1d(4))

    Fitted.network_[1].weight.requires_grad_(False)
    assert parameter_counts(Fitted()) == {"parameters": 44 + 8, "trainable_parameters": 44 + 4}
    with PeakMemory("cpu") as peak:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB touched
        block.sum()
    assert peak.result()["peak_bytes"] >= 64 * 2**20
    assert "RSS" in peak.result()["kind"]


@pytest.fixture()
def root(model_test_root, tmp_path) -> Path:
    return private_hdf5_copy(model_test_root, tmp_path)


def _run(*args: str):
    from mmimdb_cli.main import cli

    return CliRunner().invoke(cli, ["benchmark", *args], catch_exceptions=False)


def test_tuned_thresholds_ranking_bootstrap_and_cost_end_to_end(root):
    result = _run("--model", "GMU,Logistic_w2v", "--seeds", "2", "--threshold", "dev", "--root", str(root),
                  "--epochs", "2", "--device", "cpu", *IMAGE)
    assert result.exit_code == 0, result.output
    out = root / "benchmark"
    results = json.loads((out / "results.json").read_text())
    gmu = results["models"]["GMU"]
    for split in ("dev", "test"):
        assert set(gmu["ranking"][split]) == {"map", "auroc_macro", "auroc_micro"}
        assert 0 < gmu["ranking"][split]["map"]["mean"] <= 1
    tuned = gmu["tuned_threshold"]
    assert len(tuned["thresholds"]) == 2 and set(tuned["thresholds"][0]) == set(results["dataset"]["target_names"])
    assert tuned["dev"]["f1"]["macro"]["mean"] >= gmu["dev"]["f1"]["macro"]["mean"]  # tuned on dev: never worse there
    (comparison,) = results["significance"]
    assert (comparison["a"], comparison["b"]) == ("Logistic_w2v", "GMU")
    assert 0 <= comparison["macro"]["flips"] <= 1
    cost = gmu["cost"]
    assert cost["parameters"] >= cost["trainable_parameters"] > 1000
    assert cost["peak_memory"]["peak_bytes"] > 0 and cost["train_seconds"] > 0
    assert cost["inference_seconds_per_1000"] > 0 and len(cost["best_epoch"]) == 2
    assert cost["device"] == "cpu" and cost["threads"] >= 1
    table2 = (out / "table2.md").read_text()
    assert "Threshold: a genre is predicted at probability ≥ 0.5" in table2 and "tuned on dev" in table2
    assert "| Model | mAP | AUROC macro | AUROC micro |" in table2
    assert "inside the noise" in table2 and "compared with" in table2
    cost_md = (out / "cost.md").read_text()
    assert f"| {gmu['label']} | {cost['parameters']:,} |" in cost_md and "RSS" in cost_md
    # Reused from the saved run, a report with another threshold policy needs no training.
    again = _run("--model", "GMU,Logistic_w2v", "--seeds", "2", "--root", str(root), "--epochs", "2",
                 "--device", "cpu", "--compare", "GMU,GMU", *IMAGE)
    assert again.exit_code == 0, again.output
    results = json.loads((out / "results.json").read_text())
    assert results["models"]["GMU"]["reused"] is True and "tuned_threshold" not in results["models"]["GMU"]
    (itself,) = results["significance"]
    assert itself["macro"]["flips"] == 0.0 and itself["micro"]["flips"] == 0.0


def test_compare_names_a_model_that_does_not_run(root):
    from mmimdb_cli.main import cli

    result = CliRunner().invoke(cli, ["benchmark", "--model", "GMU", "--compare", "GMU,Concatenate",
                                      "--root", str(root), *IMAGE])
    assert result.exit_code != 0
    assert "Concatenate is not among the models run" in result.output
