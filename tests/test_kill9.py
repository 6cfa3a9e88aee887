"""kill -9 anywhere (tests/kill_harness.py): each command SIGKILLed K = 3 times after a random
delay, rerun, then run to the end, on the small generated dataset; nothing half-written is
ever whole under its name or vouched for by the manifest, and the last run's outputs equal an
uninterrupted run's, byte for byte. (The crawl and the release import have their own kill
tests in test_crawl.py and test_archive_import.py.)"""
from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

import generated_dataset
import kill_harness

KILLS = int(os.environ.get("MMIMDB_KILL9_K", "3"))


@pytest.fixture(scope="module")
def records_root(tmp_path_factory) -> Path:
    return generated_dataset.write_store(tmp_path_factory.mktemp("kill9-records") / "root")


@pytest.fixture(scope="module")
def built(generated_dataset_root) -> Path:
    return generated_dataset_root


def _run(launcher, source: Path, tmp_path: Path, args: list[str], seed: int, check=None, deterministic: bool = True,
         verified: bool = True) -> tuple[dict[str, str], Path]:
    # The uninterrupted run and the killed ones use the same root path: outputs name it.
    root = kill_harness.fresh_copy(source, tmp_path / "root")
    before = kill_harness.snapshot(root)
    reference, took = kill_harness.reference_run(launcher, [*args, "--root", str(root)], root)
    root.rename(tmp_path / "reference")  # kept for the tests that compare contents
    kill_harness.fresh_copy(source, root)
    report = kill_harness.kill_and_rerun(launcher, [*args, "--root", str(root)], root, reference, before, kills=KILLS, longest=took,
                                         rng=random.Random(seed), check=check, deterministic=deterministic, verified=verified)
    assert report.kills >= 1, f"every run ended before its kill: {report}"
    return reference, root


def _load_is_whole_or_refused(root: Path) -> None:
    import mmimdb
    from mmimdb.errors import MmimdbError

    try:
        rows = mmimdb.load("train", root=root, format="pandas", verify=True)
    except (MmimdbError, FileNotFoundError):
        return
    assert len(rows) > 0  # a load that succeeds sees a whole build


def test_build_killed_anywhere_then_rerun_equals_an_uninterrupted_build(launcher, records_root, tmp_path):
    _run(launcher, records_root, tmp_path, ["build", "--workers", "1"], seed=1, check=_load_is_whole_or_refused)


@pytest.mark.parametrize("format_", ["jsonl", "mmf", "arrow", "hdf5"])
def test_export_killed_anywhere_then_rerun_equals_an_uninterrupted_export(launcher, built, tmp_path, format_):
    _run(launcher, built, tmp_path, ["export", "--format", format_], seed=2)


def test_missing_killed_anywhere_then_rerun_equals_an_uninterrupted_run(launcher, built, tmp_path):
    pytest.importorskip("torch", reason="the ViLT tables are torch files: pip install 'mmimdb[missing]'")
    _run(launcher, built, tmp_path, ["missing", "--rate", "0.7", "--seed", "3"], seed=3)


def test_card_killed_anywhere_then_rerun_equals_an_uninterrupted_run(launcher, built, tmp_path):
    pytest.importorskip("matplotlib", reason="the card's figures need matplotlib: pip install 'mmimdb[card]'")
    _run(launcher, built, tmp_path, ["card"], seed=4)


def test_build_features_killed_anywhere_then_rerun_equals_an_uninterrupted_run(launcher, built, tmp_path):
    pytest.importorskip("sklearn", reason="TF-IDF needs scikit-learn: pip install 'mmimdb[features]'")
    import pyarrow.parquet as pq

    # Each feature's Parquet metadata and HDF5 attributes say when it was built: the values must be equal.
    reference, root = _run(launcher, built, tmp_path, ["build-features", "--only", "three_grams,word_grams,sequences", "--no-progress"],
                           seed=5, deterministic=False)
    hdf5 = "multimodal_imdb.hdf5"
    assert kill_harness.hdf5_contents(root / hdf5) == kill_harness.hdf5_contents(tmp_path / "reference" / hdf5)
    for name in ("three_grams", "word_grams", "sequences"):
        relative = f"features/{name}.parquet"
        assert pq.read_table(root / relative).equals(pq.read_table(tmp_path / "reference" / relative)), name


def test_benchmark_killed_anywhere_then_rerun_trains_to_the_same_numbers(launcher, model_test_root, tmp_path):
    pytest.importorskip("torch", reason="the benchmark needs torch: pip install 'mmimdb[benchmark]'")
    import json

    from model_test_data import IMAGE

    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(model_test_root / "multimodal_imdb.hdf5", source)
    args = ["benchmark", "--model", "Linear_sum", "--epochs", "3", "--device", "cpu", *IMAGE]
    # Timings and "reused" differ from run to run: the scores must not (on a CPU a seed gives the same numbers).
    reference, root = _run(launcher, source, tmp_path, args, seed=6, deterministic=False, verified=False)

    def scores(folder: Path) -> dict:
        models = json.loads((folder / "benchmark" / "results.json").read_text())["models"]
        return {name: (model["status"], model.get("dev"), model.get("test")) for name, model in models.items()}

    assert scores(root) == scores(tmp_path / "reference")
    assert all(status == "ok" for status, _, _ in scores(root).values())
