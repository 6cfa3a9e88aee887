"""``mmimdb export --format fiftyone``: the dataset read back through FiftyOne's own API
(``fiftyone.load_dataset``) and compared with the build and the benchmark run it came from.

The FiftyOne tests skip with the reason where the ``fiftyone`` extra is not installed; the
messages for a missing extra and for options of another format run everywhere.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dataset_builds import parquet_copy
from mmimdb_cli.main import cli

NAME = "mmimdb-test-export"


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_without_the_extra_says_what_to_install(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fiftyone" else real(name, *a))
    result = _invoke("export", "--format", "fiftyone", "--root", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.output.strip() == "error: --format fiftyone needs FiftyOne: pip install 'mmimdb[fiftyone]'"
    assert not (tmp_path / "out").exists()


def test_name_and_results_are_for_fiftyone_only(tmp_path):
    for option in ("--name", "--results"):
        result = _invoke("export", "--format", "jsonl", option, "x", "--root", str(tmp_path))
        assert result.exit_code == 2 and result.output.strip() == f"error: {option} is for --format fiftyone"


@pytest.fixture(scope="module")
def fiftyone(tmp_path_factory):
    """FiftyOne, its database in a folder of this test session (not ~/.fiftyone)."""
    if importlib.util.find_spec("fiftyone") is None:
        pytest.skip("the fiftyone extra is not installed: pip install 'mmimdb[fiftyone]'")
    if "fiftyone" not in __import__("sys").modules:  # FiftyOne reads its configuration once, on import
        os.environ["FIFTYONE_DATABASE_DIR"] = str(tmp_path_factory.mktemp("fiftyone-db"))
        os.environ["FIFTYONE_DO_NOT_TRACK"] = "true"
    import fiftyone as fo

    yield fo
    if NAME in fo.list_datasets():
        fo.delete_dataset(NAME)


@pytest.fixture(scope="module")
def exported(fiftyone, model_test_root, model_test_run, tmp_path_factory) -> dict:
    root = parquet_copy(model_test_root, tmp_path_factory.mktemp("fiftyone") / "root")
    out = root.parent / "out"
    result = _invoke("export", "--format", "fiftyone", "--name", NAME, "--results", str(model_test_run),
                     "--out", str(out), "--root", str(root))
    assert result.exit_code == 0, result.output
    return {"root": root, "out": out, "run": model_test_run, "output": result.output,
            "results": json.loads((model_test_run / "results.json").read_text())}


def test_the_dataset_loads_back_with_posters_plots_splits_and_genres(fiftyone, exported):
    import mmimdb
    from mmimdb.records.genres import GENRES

    dataset = fiftyone.load_dataset(NAME)
    assert dataset.persistent
    by_id = {sample.imdb_id: sample for sample in dataset}
    total = 0
    for split in ("train", "dev", "test"):
        frame = mmimdb.load(split, root=exported["root"], columns=["imdb_id", "title", "plot", "labels", "poster"])
        total += len(frame)
        assert len(dataset.match_tags(split)) == len(frame)
        for row in frame.itertuples():
            sample = by_id[row.imdb_id]
            assert sample.split == split and sample.tags == [split]
            assert (sample.title, sample.plot) == (row.title, row.plot)
            assert Path(sample.filepath).parent == exported["out"] / "posters"
            assert Path(sample.filepath).read_bytes() == row.poster
            assert [c.label for c in sample.ground_truth.classifications] == [g for g, v in zip(GENRES, row.labels) if v]
    assert len(dataset) == total == len(by_id)


def test_each_models_predictions_and_the_gmu_gate_are_the_saved_ones(fiftyone, exported):
    dataset = fiftyone.load_dataset(NAME)
    results, run = exported["results"], exported["run"]
    names, ids = results["dataset"]["target_names"], results["dataset"]["test_ids"]
    gates = results["models"]["GMU"]["gates"]["per_movie_mean_z"]
    models = [name for name, model in results["models"].items() if model.get("status") == "ok"]
    assert len(models) >= 3 and "GMU" in models
    by_id = {sample.imdb_id: sample for sample in dataset}
    for model in models:
        scores = np.load(run / "runs" / f"{model}.scores.npz")["0_test"]
        for row, imdb_id in enumerate(ids):
            predicted = by_id[imdb_id][model]
            assert [c.label for c in predicted.classifications] == [g for g, p in zip(names, scores[row]) if p >= 0.5]
            assert [c.confidence for c in predicted.classifications] == pytest.approx(
                [float(p) for p in scores[row] if p >= 0.5])
            assert predicted.logits == pytest.approx(scores[row].tolist())
    assert [by_id[imdb_id].gmu_gate for imdb_id in ids] == pytest.approx(gates)
    others = dataset.match_tags(["train", "dev"])
    assert len(others) > 0 and set(others.values("GMU")) == {None} and set(others.values("gmu_gate")) == {None}
    assert dataset.info["mmimdb_export"]["labels"]["GMU"] == results["models"]["GMU"]["label"]
    assert f"FiftyOne dataset {NAME}: predictions of GMU {len(ids)}" in exported["output"]


def test_a_rerun_replaces_the_dataset_and_a_foreign_one_is_refused(fiftyone, exported, tmp_path):
    root = exported["root"]
    before = fiftyone.load_dataset(NAME).count()
    result = _invoke("export", "--format", "fiftyone", "--name", NAME, "--out", str(exported["out"]), "--root", str(root))
    assert result.exit_code == 0, result.output
    dataset = fiftyone.load_dataset(NAME)
    assert dataset.count() == before and "GMU" not in dataset.get_field_schema()  # no benchmark this time
    assert [name for name in fiftyone.list_datasets() if ".partial-" in name] == []
    foreign = fiftyone.Dataset("not-made-by-mmimdb")
    try:
        result = _invoke("export", "--format", "fiftyone", "--name", foreign.name, "--out", str(tmp_path / "out"),
                         "--root", str(root))
        assert result.exit_code == 2
        assert result.output.strip().splitlines()[-1] == (
            f"error: --name {foreign.name}: FiftyOne already has a dataset of that name that mmimdb export did not "
            "make; choose another --name")
        assert not (tmp_path / "out").exists() and fiftyone.load_dataset(foreign.name).count() == 0
    finally:
        foreign.delete()
    result = _invoke("export", "--format", "fiftyone", "--results", str(tmp_path), "--out", str(tmp_path / "out"),
                     "--root", str(root))
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == \
        f"error: --results {tmp_path}: no results.json there; run `mmimdb benchmark` first"


def test_an_unreachable_database_is_one_line_and_leaves_no_folder(fiftyone, exported, monkeypatch, tmp_path):
    import pymongo.errors

    def refused(*args, **kwargs):
        raise pymongo.errors.ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused")

    monkeypatch.setattr(fiftyone, "list_datasets", refused)
    result = _invoke("export", "--format", "fiftyone", "--out", str(tmp_path / "out"), "--root", str(exported["root"]))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "error: FiftyOne's database is not reachable (127.0.0.1:27017: [Errno 111] Connection refused); set "
        "FIFTYONE_DATABASE_URI to a running MongoDB, or reinstall the fiftyone extra (its mongod)")
    assert not (tmp_path / "out").exists()
