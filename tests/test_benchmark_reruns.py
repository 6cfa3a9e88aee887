"""A benchmark rerun says what it reuses, and results of an earlier build of the data are
flagged (by ``mmimdb info`` and by the next ``mmimdb benchmark``) instead of standing beside
the new data without a word."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from model_test_data import IMAGE, use_one_thread
from mmimdb_cli.main import cli

pytest.importorskip("torch")
use_one_thread()


def test_a_rerun_says_it_reuses_saved_models_and_a_rebuild_flags_old_results(model_test_root, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    for name in ("multimodal_imdb.hdf5", "manifest.json"):
        shutil.copy(model_test_root / name, root)
    args = ["benchmark", "--model", "gmu", "--root", str(root), "--epochs", "2", "--device", "cpu", *IMAGE]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "reused" not in first.output and "note:" not in first.output
    manifest = json.loads((root / "manifest.json").read_text())
    results = json.loads((root / "benchmark" / "results.json").read_text())
    assert results["dataset"]["hdf5_sha256"] == manifest["outputs"]["multimodal_imdb.hdf5"]["sha256"]

    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert f"reused 1 saved model(s) of an identical earlier run from {root / 'benchmark' / 'runs'} (GMU" in again.output
    assert "--fresh trains them again" in again.output
    assert "stale:" not in CliRunner().invoke(cli, ["info", "--root", str(root), "--no-checksums"]).output

    # results of an earlier build (another HDF5 digest) beside this one: what a rebuild leaves
    # (the benchmark refuses to train on an HDF5 whose bytes differ from the manifest)
    results["dataset"]["hdf5_sha256"] = "0" * 64
    (root / "benchmark" / "results.json").write_text(json.dumps(results))
    info = CliRunner().invoke(cli, ["info", "--root", str(root), "--no-checksums"])
    assert info.exit_code == 0, info.output
    assert (f"stale: {root / 'benchmark' / 'results.json'} is of an earlier build of the data: "
            f"{root / 'multimodal_imdb.hdf5'} changed since (rebuilt or new features); rerun `mmimdb benchmark`") in info.output
    rerun = CliRunner().invoke(cli, args)
    assert rerun.exit_code == 0, rerun.output
    assert "note: " in rerun.output and "is of an earlier build of the data" in rerun.output
    assert "this run replaces its tables and plots" in rerun.output
