"""``mmimdb benchmark`` end to end on the model-test dataset (generated films through the
real `mmimdb build` + `build-features`: tests/model_test_data.py), and its bad input."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from model_test_data import IMAGE, private_hdf5_copy, use_one_thread
from mmimdb_cli.main import cli

pytest.importorskip("torch")
use_one_thread()



@pytest.fixture()
def root(model_test_root, tmp_path) -> Path:
    return private_hdf5_copy(model_test_root, tmp_path)


def _drop(root: Path, *names: str) -> None:
    with h5py.File(root / "multimodal_imdb.hdf5", "a") as handle:
        for name in names:
            del handle[name]


def _run(*args: str):
    return CliRunner().invoke(cli, ["benchmark", *args], catch_exceptions=False)


@pytest.mark.slow
def test_gmu_writes_tables_plots_and_results(root):
    result = _run("--model", "gmu", "--root", str(root), "--epochs", "3", "--device", "cpu", *IMAGE)
    assert result.exit_code == 0, result.output
    out = root / "benchmark"
    for name in ("results.json", "table2.md", "table3.md", "per_genre_f1.png", "gates.png", "training_curves.png"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    gmu = results["models"]["GMU"]
    assert gmu["status"] == "ok" and gmu["seeds"] == [0]
    assert 0 < gmu["test"]["f1"]["weighted"]["mean"] <= 1
    assert set(gmu["gates"]["per_genre_visual_share"]) == set(results["dataset"]["target_names"])
    table2 = (out / "table2.md").read_text()
    assert gmu["label"].startswith("GMU")  # "GMU on <features>" unless they are the paper's
    assert f"| Multimodal | {gmu['label']} |" in table2 and "paper weighted" not in table2  # not the original split
    assert (out / "gates.png").read_bytes()[:4] == b"\x89PNG"
    # A second identical run reuses the saved model instead of training again.
    again = _run("--model", "gmu", "--root", str(root), "--epochs", "3", "--device", "cpu", *IMAGE)
    assert again.exit_code == 0
    assert json.loads((out / "results.json").read_text())["models"]["GMU"]["reused"] is True


@pytest.mark.slow
def test_all_skips_models_whose_inputs_are_missing(root, tmp_path):
    _drop(root, "sequences", "embeddings", "images", "three_grams")
    out = tmp_path / "out"
    result = _run("--model", "all", "--root", str(root), "--epochs", "2", "--out", str(out), "--device", "cpu", *IMAGE)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())["models"]
    for name in ("RNN_transfer", "RNN_end2end", "CNN_end2end", "MaxoutMLP_3grams", "Logistic_3grams", "GMU_3"):
        assert results[name]["status"] == "skipped"
        assert "mmimdb build" in results[name]["reason"]
    ran = [name for name, r in results.items() if r["status"] == "ok"]
    assert {"GMU", "Linear_sum", "Concatenate", "AVG_probs", "MoE_MaxoutMLP", "MoE_Logistic_tied",
            "MaxoutMLP_w2v", "Logistic_w2v", "VGG_Transfer", "Most_frequent"} <= set(ran)
    table2 = (out / "table2.md").read_text()
    assert "| Text | RNN_end2end | skipped" in table2 and "- CNN_end2end: the dataset has no 'images'" in table2
    table3 = (out / "table3.md").read_text()
    label = {name: r["label"] for name, r in results.items()}
    assert (f"| Genre | support | Textual ({label['MaxoutMLP_w2v']}) | Visual ({label['VGG_Transfer']}) "
            f"| Multimodal ({label['GMU']}) |") in table3


def test_synthetic_from_the_command_line(tmp_path):
    from kill_harness import killed_writers_temporary

    left = killed_writers_temporary(tmp_path, "synthetic.png")  # a killed run's: the rerun removes it
    result = _run("--dataset", "synthetic", "--seeds", "4", "--epochs", "100", "--out", str(tmp_path), "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "synthetic, 4 seeds: GMU better" in result.output
    for name in ("synthetic.json", "synthetic.md", "synthetic.png"):
        assert (tmp_path / name).is_file()
    assert "| GMU better |" in (tmp_path / "synthetic.md").read_text()
    assert not left.exists()


def test_missing_dataset_names_the_command_that_builds_it(tmp_path):
    result = CliRunner().invoke(cli, ["benchmark", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: no dataset at {tmp_path / 'multimodal_imdb.hdf5'}: build it with `mmimdb build` then "
        "`mmimdb build-features` (or pass --hdf5 FILE)"]


def test_missing_features_for_a_named_model_is_a_usage_error(root):
    # The root has EfficientNet features but no 'vgg_features', and no --image-features says so.
    result = CliRunner().invoke(cli, ["benchmark", "--model", "GMU", "--root", str(root)])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: cannot run GMU: the dataset has no 'vgg_features'; the image vector can "
                                     "come from efficientnet_features (efficientnet-lite0 1280-d): pass "
                                     "`--image-features efficientnet_features` (or run `mmimdb build-features --image vgg16`)")


def test_unknown_model_is_a_usage_error(root):
    result = CliRunner().invoke(cli, ["benchmark", "--model", "gmu,transformer", "--root", str(root)])
    assert result.exit_code == 2
    assert result.output.startswith("error: unknown model 'transformer'; known models: GMU")
    assert len(result.output.strip().splitlines()) == 1


def test_not_an_hdf5_file_is_damaged_data(tmp_path):
    bad = tmp_path / "multimodal_imdb.hdf5"
    bad.write_bytes(b"not hdf5")
    result = CliRunner().invoke(cli, ["benchmark", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {bad} is not a readable HDF5 file")


def test_a_plugin_file_adds_a_model(root, tmp_path):
    plugin = tmp_path / "my_model.py"
    plugin.write_text(
        "from mmimdb.benchmark.models.base import NeuralClassifier\n"
        "from mmimdb.benchmark.models.mlp import SingleInput, logistic\n"
        "from mmimdb.benchmark.models.registry import register\n\n"
        "@register('Poster_logistic', inputs=('vgg_features',), modality='Visual')\n"
        "class PosterLogistic(NeuralClassifier):\n"
        "    def build(self, dims):\n"
        "        return SingleInput('vgg_features', logistic(dims['vgg_features'], self.dropout))\n")
    listed = _run("--plugin", str(plugin), "--list")
    assert "Poster_logistic" in listed.output
    result = _run("--plugin", str(plugin), "--model", "Poster_logistic", "--root", str(root), "--epochs", "2", "--device", "cpu", *IMAGE)
    assert result.exit_code == 0, result.output
    assert "| Visual | Poster_logistic on " in (root / "benchmark" / "table2.md").read_text()


def test_a_rerun_removes_what_a_killed_benchmark_left(root):
    from kill_harness import killed_writers_temporary

    out = root / "benchmark"
    left = [killed_writers_temporary(out, "table2.md"), killed_writers_temporary(out / "runs", "Logistic_w2v.json")]
    result = _run("--model", "Logistic_w2v", "--root", str(root), "--epochs", "1", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in left) and (out / "table2.md").is_file()


def test_seeds_give_mean_and_spread(root):
    result = _run("--model", "Logistic_w2v", "--seeds", "2", "--root", str(root), "--epochs", "2", "--device", "cpu")
    assert result.exit_code == 0, result.output
    model = json.loads((root / "benchmark" / "results.json").read_text())["models"]["Logistic_w2v"]
    assert model["seeds"] == [0, 1] and model["test"]["f1"]["macro"]["std"] >= 0
    assert f"| Text | {model['label']} | 0." in (root / "benchmark" / "table2.md").read_text()
    assert " ± " in (root / "benchmark" / "table2.md").read_text()


def test_original_release_layout_gets_the_papers_numbers(tmp_path):
    """An HDF5 in the original layout (no 'split' attribute, 25,959 rows in split order),
    whose 300-d ``features`` record no encoder: the original release's own."""
    import numpy as np
    from conftest import shared_path

    split = json.loads(shared_path("mmimdb-split.json").read_text())
    ids = split["train"] + split["dev"] + split["test"]
    rng = np.random.default_rng(0)
    labels = (rng.uniform(size=(len(ids), 23)) < 0.15).astype(np.int32)
    path = tmp_path / "multimodal_imdb.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("imdb_ids", data=np.array(ids, dtype="S7"))
        handle.create_dataset("genres", data=labels)
        signal = labels @ rng.normal(size=(23, 300))
        handle.create_dataset("features", data=(signal + rng.normal(0, 0.5, (len(ids), 300))).astype(np.float32))
    result = _run("--model", "Logistic_w2v", "--hdf5", str(path), "--epochs", "1", "--out", str(tmp_path / "out"), "--device", "cpu")
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["dataset"]["original_split"] is True
    assert results["dataset"]["split_rows"] == {"train": 15552, "dev": 2608, "test": 7799}
    row = next(line for line in (tmp_path / "out" / "table2.md").read_text().splitlines() if "Logistic_w2v" in line)
    assert row.endswith("| 0.530 | 0.540 | 0.550 | 0.420 |")


def test_missing_hdf5_file_says_no_such_file(tmp_path):
    missing = tmp_path / "multimodal_imdb.hdf5"
    result = CliRunner().invoke(cli, ["benchmark", "--hdf5", str(missing)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: --hdf5 {missing}: no such file"
