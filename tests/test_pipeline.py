"""The whole job on real data, through the command line: build -> build-features with the
offline encoders -> benchmark the GMU on those features -> load."""
from __future__ import annotations

import json

from click.testing import CliRunner

import mmimdb
from dataset_builds import linked_root
from mmimdb_cli.main import cli


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_build_features_and_gmu_benchmark_on_the_offline_encoders(greatest_films_root, tmp_path):
    root = str(linked_root(tmp_path / "root", greatest_films_root))
    run("build", "--split", "iterative", "--root", root, "--workers", "2")
    run("build-features", "--root", root, "--text", "glove-50", "--image", "efficientnet-lite0",
        "--image-size", "64", "--only", "text,image,sequences", "--no-progress")
    run("benchmark", "--root", root, "--model", "gmu", "--epochs", "8", "--device", "cpu",
        "--text-features", "glove_features", "--image-features", "efficientnet_features")
    results = json.loads((tmp_path / "root" / "benchmark" / "results.json").read_text())
    text = json.dumps(results)
    assert "GMU" in text and "glove_features" in text  # the aliases are part of the record
    assert (tmp_path / "root" / "benchmark" / "table2.md").read_text().count("GMU") >= 1
    dev = mmimdb.load("dev", root=root, format="numpy", features=["glove_features", "efficientnet_features"])
    assert dev["glove_features"].shape == (len(dev["labels"]), 50)
    assert dev["efficientnet_features"].shape == (len(dev["labels"]), 1280)


def test_benchmark_refuses_a_feature_alias_that_is_not_built(greatest_films_root, tmp_path):
    root = str(linked_root(tmp_path / "root", greatest_films_root))
    run("build", "--split", "iterative", "--root", root, "--workers", "2")
    result = CliRunner().invoke(cli, ["benchmark", "--root", root, "--model", "gmu", "--text-features", "glove_features"])
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and "no dataset 'glove_features' (asked to serve 'features')" in last
