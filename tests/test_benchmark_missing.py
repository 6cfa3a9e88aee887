"""``mmimdb benchmark --missing-rate``: the GMU and fusion baselines trained and tested with the
absent modality zeroed per the missing tables, macro-F1 reported against the rate."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from model_test_data import ALIASES, IMAGE, private_hdf5_copy, use_one_thread
from mmimdb.benchmark.data import BenchmarkData
from mmimdb.benchmark.missing import MaskedBenchmarkData, missing_table
from mmimdb.dataset.missing import IMAGE_MISSING, TEXT_MISSING, MissingSpec, draw
from mmimdb_cli.main import cli

pytest.importorskip("torch")
use_one_thread()



@pytest.fixture()
def root(model_test_root, tmp_path) -> Path:
    return private_hdf5_copy(model_test_root, tmp_path)


def test_the_absent_modality_is_zeroed_per_the_table(root):
    path = root / "multimodal_imdb.hdf5"
    spec = MissingSpec(0.5, "both", seed=3)
    plain, masked = BenchmarkData(path, ALIASES), MaskedBenchmarkData(path, ALIASES, spec)
    inputs = ("features", "vgg_features", "images", "sequences")
    for split in ("train", "test"):
        before, after = plain.split(split, inputs), masked.split(split, inputs)
        codes = draw(len(before), spec, split)
        text, image = codes == TEXT_MISSING, codes == IMAGE_MISSING
        assert text.any() and image.any()
        assert not after.inputs["features"][text].any() and not after.inputs["vgg_features"][image].any()
        assert np.array_equal(after.inputs["features"][~text], before.inputs["features"][~text])
        assert np.array_equal(after.inputs["vgg_features"][~image], before.inputs["vgg_features"][~image])
        assert not np.asarray(after.inputs["images"])[image].any()
        assert all(len(row) == 0 for row, gone in zip(after.inputs["sequences"], text) if gone)
        assert np.array_equal(after.labels, before.labels) and after.ids == before.ids


@pytest.mark.slow
def test_gmu_and_fusion_baselines_against_three_rates(root):
    result = CliRunner().invoke(cli, ["benchmark", "--model", "GMU,Concatenate", "--root", str(root), "--epochs", "2",
                                      "--device", "cpu", "--missing-rate", "0.1,0.5,0.9", "--missing-type", "both", *IMAGE],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = root / "benchmark" / "missing-both"
    results = json.loads((out / "missing.json").read_text())
    assert list(results["rates"]) == ["0.1", "0.5", "0.9"]
    table = missing_table(results)
    labels = {name: results["rates"]["0.1"]["models"][name]["label"] for name in ("GMU", "Concatenate")}
    assert set(table) == set(labels.values()) and all(label.startswith(name) for name, label in labels.items())
    assert all(0 <= f1 <= 1 for values in table.values() for f1 in values.values())
    # Same seed and settings at every rate: only the masking can make the scores differ.
    assert all(len(set(values.values())) > 1 for values in table.values())
    assert results["rates"]["0.5"]["dataset"]["missing"] == {"rate": 0.5, "type": "both", "both_ratio": 0.5, "seed": 0}
    markdown = (out / "missing_f1.md").read_text()
    assert "| Model | rate 0.1 | rate 0.5 | rate 0.9 |" in markdown and f"| {labels['GMU']} |" in markdown
    # It says what it compares: the features (encoder, dimension), the split, the seeds, the masking.
    compared = markdown.split("| Model |")[0]
    assert "`efficientnet_features` for `vgg_features`: efficientnet-lite0 1280-d" in compared, compared
    assert "Split: " in compared and "Seeds: one run per model, seed 0" in compared
    assert "tables of `mmimdb missing`, seed 0" in compared
    assert (out / "missing_f1.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("options, message", [
    (["--missing-rate", "0.5,1.2"], "--missing-rate 1.2 is outside [0, 1]"),
    (["--missing-rate", "0.5", "--missing-type", "audio"], "unknown missing type 'audio'"),
    (["--missing-rate", "0.5", "--model", "Most_frequent"], "no text or image input to drop"),
])
def test_bad_missing_options(root, options, message):
    result = CliRunner().invoke(cli, ["benchmark", "--root", str(root), "--epochs", "1", "--device", "cpu", *IMAGE, *options])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and message in lines[0], result.output
