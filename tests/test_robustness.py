"""``benchmark --robustness``: MultiBench's curves, relative and effective robustness, and the
train-test mismatch, on the model-test data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from model_test_data import IMAGE, open_data, private_hdf5_copy, use_one_thread

pytest.importorskip("torch")
use_one_thread()

from torch import nn  # noqa: E402

from mmimdb.benchmark import models  # noqa: E402
from mmimdb.benchmark.models.base import NeuralClassifier, classifier_head  # noqa: E402
from mmimdb.benchmark.robustness import (LEVELS, effective_robustness, relative_robustness,  # noqa: E402
                                         run_robustness)
from mmimdb.benchmark.runner import RunSettings  # noqa: E402


class _PlotOnly(nn.Module):
    def __init__(self, dims, hidden, dropout):
        super().__init__()
        self.classifier = classifier_head(dims["features"], hidden, dropout)

    def forward(self, batch):
        return self.classifier(batch["features"])  # the poster is read, and ignored


class PosterBlind(NeuralClassifier):
    def build(self, dims):
        return _PlotOnly(dims, self.hidden, self.dropout)


@pytest.fixture()
def poster_blind():
    models.register("Poster_blind", inputs=("vgg_features", "features"), modality="Multimodal", cls=PosterBlind)
    yield "Poster_blind"
    del models.MODELS["Poster_blind"]


def test_relative_and_effective_robustness_as_multibench_defines_them():
    flat, falling = [0.5] * 11, [0.5 - 0.04 * k for k in range(11)]
    assert relative_robustness(flat) == pytest.approx(0.5)
    assert relative_robustness(falling) == pytest.approx(0.5 - 0.2)
    assert effective_robustness(falling, falling) == pytest.approx(0.0, abs=1e-12)
    # A curve that starts higher but falls as the reference does is not more robust.
    assert effective_robustness([f + 0.1 for f in falling], falling) == pytest.approx(0.0)
    assert effective_robustness(flat, falling) == pytest.approx(sum(0.04 * k for k in range(11)))


@pytest.mark.slow
def test_a_model_that_ignores_the_poster_has_flat_image_curves(model_test_root, poster_blind):
    data = open_data(model_test_root)
    settings = RunSettings(epochs=3, patience=3, device="cpu")
    results = run_robustness(data, [poster_blind, "GMU"], settings)
    assert list(results["models"]) == [poster_blind, "GMU", "MultiBench_LF"]  # the reference joins
    blind = results["models"][poster_blind]
    for kind in ("missing", "noise"):
        for average in ("macro", "micro"):
            curve = blind["curves"][kind]["image"][average]
            assert len(curve) == len(LEVELS) and max(curve) - min(curve) < 1e-9, (kind, average, curve)
    text = blind["curves"]["missing"]["text"]["macro"]
    assert text[-1] < text[0] - 0.05  # but its plot matters: dropping it costs
    assert blind["relative_robustness"]["missing"]["image"] == pytest.approx(blind["complete"]["macro"])
    assert results["models"]["MultiBench_LF"]["effective_robustness"]["noise"]["text"] == pytest.approx(0.0, abs=1e-12)
    gmu = results["models"]["GMU"]
    assert gmu["curves"]["missing"]["image"]["macro"][0] == pytest.approx(gmu["complete"]["macro"])
    for key in ("trained_complete_tested_missing", "trained_missing_tested_missing"):
        assert 0 < gmu["mismatch"][key]["macro"] <= 1
    # Seeds and tables fixed: a rerun gives the same numbers.
    again = run_robustness(data, ["GMU"], settings)
    assert again["models"]["GMU"]["curves"] == gmu["curves"]
    assert again["models"]["GMU"]["mismatch"] == gmu["mismatch"]


@pytest.mark.slow
def test_robustness_from_the_command_line(model_test_root, tmp_path):
    from mmimdb_cli.main import cli

    root = private_hdf5_copy(model_test_root, tmp_path)
    result = CliRunner().invoke(cli, ["benchmark", "--robustness", "--model", "MultiBench_EF", "--root", str(root),
                                      "--epochs", "2", "--device", "cpu", *IMAGE], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = root / "benchmark" / "robustness"
    results = json.loads((out / "robustness.json").read_text())
    assert set(results["models"]) == {"MultiBench_EF", "MultiBench_LF"}
    table = (out / "robustness.md").read_text()
    assert "| Model | complete macro-F1 | RR missing text |" in table and "Macro-F1, image noise" in table
    assert (out / "robustness.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(cli, ["benchmark", "--robustness", "--model", "MaxoutMLP_w2v", "--root", str(root), *IMAGE])
    assert bad.exit_code != 0 and "does not read a plot vector and a poster vector" in bad.output
