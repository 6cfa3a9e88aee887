"""Ray paths (``build-features --ray``, ``benchmark --ray``) against the local paths, on a
local Ray cluster started by the test session (2 CPUs, no dashboard)."""
from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dataset_builds import built_dataset
from mmimdb import features, paths
from mmimdb.records.store import RecordStore
from mmimdb.features.encoders import EncoderOptions, image_encoder
from mmimdb.features.ray_extract import extract_image_features_ray
from mmimdb.ray_cluster import Pool, pool
from mmimdb.storage import manifest
from mmimdb_cli.main import cli

ROWS = 40


@pytest.fixture
def small_root(greatest_films_root, tmp_path) -> Path:
    ids = RecordStore(paths.dataset_dir(greatest_films_root)).ids()[:ROWS]
    return built_dataset(greatest_films_root, tmp_path / "root", ids)


class Stop(KeyboardInterrupt):
    pass


@pytest.mark.slow
def test_ray_poster_features_equal_the_local_ones_and_resume_per_chunk(small_root, ray_local, monkeypatch):
    # The driver chooses the job's way (timed: here the ONNX Runtime way is made the fastest),
    # every actor makes it again; a local run in that way computes the same features.
    kind = "onnx" if importlib.util.find_spec("onnxruntime") else "frozen"
    monkeypatch.setattr(features.posters, "PRECISION_TRIAL_POSTERS", 0)  # run on a job of 40, smaller than the trial
    monkeypatch.setattr(features.posters, "_seconds", lambda precision, model, images: 0.01 if precision.kind == kind else 1.0)
    encoder = image_encoder("efficientnet-lite0", EncoderOptions(image_size=64))
    rows = features.rows.dataset_rows(small_root)

    first: list[int] = []

    def stop_after_first(chunk: int) -> None:
        first.append(chunk)
        raise Stop

    with pytest.raises(Stop):
        extract_image_features_ray(small_root, rows, encoder, device="cpu", batch_size=8, chunk_rows=16,
                                   progress=False, on_chunk=stop_after_first)
    partial = small_root / "features" / ".partial" / "efficientnet_features"
    assert len(list(partial.glob("chunk-*.npz"))) == 1
    kept = next(partial.glob("chunk-*.npz")).read_bytes()
    # The command line resumes (on the cluster this process is connected to).
    result = CliRunner().invoke(cli, ["build-features", "--root", str(small_root), "--only", "image", "--image",
                                      "efficientnet-lite0", "--image-size", "64", "--device", "cpu", "--batch-size", "8",
                                      "--chunk-rows", "16", "--no-progress", "--ray"])
    assert result.exit_code == 0, result.output
    assert "resuming, 1 of 3 chunks already done" in result.output and "on Ray" in result.output
    assert "efficientnet_features\t40x1280\tefficientnet-lite0" in result.output
    assert not partial.exists()
    on_ray = features.read_features(small_root, ["efficientnet_features"])["efficientnet_features"]
    table = pq.read_table(small_root / "features" / "efficientnet_features.parquet")
    assert table.column("imdb_id").to_pylist() == rows.ids and all(table.column("ok").to_pylist())
    np.testing.assert_array_equal(np.stack(table.column("features").to_numpy(zero_copy_only=False)), on_ray)
    entry = manifest.feature_entries(small_root)["efficientnet_features"]
    assert entry["encoder"] == "efficientnet-lite0" and not manifest.verify(small_root)
    label = {"onnx": "fp32, ONNX Runtime (", "frozen": "fp32, frozen graph"}[kind]
    assert entry["precision"].startswith(label), entry["precision"]  # the driver's choice, kept across the resume

    report = features.posters.extract_image_features(small_root, rows, encoder, device="cpu", batch_size=8, workers=0,
                                                     force=True, progress=False)
    assert report.precision.startswith(label)
    local = features.read_features(small_root, ["efficientnet_features"])["efficientnet_features"]
    assert on_ray.shape == (ROWS, 1280) and np.abs(on_ray).sum() > 0
    np.testing.assert_allclose(on_ray, local, rtol=1e-4, atol=1e-5)
    with np.load(io.BytesIO(kept)) as saved:  # the kept chunk went into the output as it was
        chunk = first[0]
        np.testing.assert_array_equal(saved["features"], on_ray[chunk * 16:(chunk + 1) * 16])


def test_pools_leave_a_cpu_to_the_tasks_that_feed_them():
    class Cluster:
        def __init__(self, **resources):
            self.resources = resources

        def cluster_resources(self):
            return self.resources

    assert pool(Cluster(CPU=2.0)) == Pool(workers=1, cpus=1.0, gpus=0.0, feeder_cpus=1.0)
    assert pool(Cluster(CPU=1.0)) == Pool(workers=1, cpus=0.5, gpus=0.0, feeder_cpus=0.5)
    assert pool(Cluster(CPU=16.0, GPU=2.0)) == Pool(workers=2, cpus=1.0, gpus=1.0, feeder_cpus=1.0)
    assert pool(Cluster(CPU=16.0, GPU=2.0), use_gpus=False, most=4).workers == 4
    assert pool(Cluster(CPU=2.0), feeders=False) == Pool(workers=2, cpus=1.0, gpus=0.0, feeder_cpus=0.0)


def test_ray_without_the_extra_is_a_one_line_error(small_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    result = CliRunner().invoke(cli, ["build-features", "--root", str(small_root), "--image", "efficientnet-lite0",
                                      "--only", "image", "--ray"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == "error: --ray needs Ray, which is not installed: pip install 'mmimdb[ray]'"


@pytest.mark.slow
def test_ray_benchmark_gives_the_local_results_for_the_same_seeds(model_test_root, tmp_path_factory, ray_local):
    from model_test_data import ALIASES, use_one_thread
    from mmimdb.benchmark.data import BenchmarkData
    from mmimdb.benchmark.reports import write_benchmark_reports
    from mmimdb.benchmark.runner import RunSettings, fit_one_by_one, run_benchmark

    use_one_thread()  # the Ray tasks train with one thread each (1 CPU per task)
    data = BenchmarkData(model_test_root / "multimodal_imdb.hdf5", ALIASES)
    settings = RunSettings(search=2, seeds=2, epochs=2, patience=2, device="cpu")
    models = ["GMU", "Logistic_w2v"]  # a search (GMU) and a model without one
    local = run_benchmark(data, models, settings, fit=fit_one_by_one)  # Ray trains each trial alone, as this does
    out_local, out_ray = tmp_path_factory.mktemp("local-reports"), tmp_path_factory.mktemp("ray-reports")
    write_benchmark_reports(local, out_local)
    result = CliRunner().invoke(cli, ["benchmark", "--model", ",".join(models), "--search", "2", "--seeds", "2",
                                      "--epochs", "2", "--patience", "2", "--device", "cpu", "--hdf5", str(data.path),
                                      "--image-features", ALIASES["vgg_features"],
                                      "--out", str(out_ray), "--ray"])
    assert result.exit_code == 0, result.output
    on_ray = json.loads((out_ray / "results.json").read_text())
    assert list(on_ray["models"]) == list(local["models"]) == models
    for name in models:
        ours, theirs = on_ray["models"][name], json.loads(json.dumps(local["models"][name]))
        assert ours["params"] == theirs["params"] and ours["seeds"] == theirs["seeds"] == [0, 1]
        assert [t["dev_macro_f1"] for t in ours["search"]] == [t["dev_macro_f1"] for t in theirs["search"]]
        assert ours["test"] == theirs["test"] and ours["dev"] == theirs["dev"]
        assert [r["history"]["dev_macro_f1"] for r in ours["runs"]] == [r["history"]["dev_macro_f1"] for r in theirs["runs"]]
    assert len(local["models"]["GMU"]["search"]) == 2
    assert on_ray["models"]["GMU"]["gates"] == json.loads(json.dumps(local["models"]["GMU"]["gates"]))
    assert (out_ray / "table2.md").read_text() == (out_local / "table2.md").read_text()
