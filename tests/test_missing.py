"""The missing-modality protocol: ``mmimdb missing`` tables (ViLT .pt layout + Parquet),
``mmimdb.load(..., missing=...)``, and ``mmimdb benchmark --missing-rate``."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import export_readers as readers
from dataset_builds import private_copy
import mmimdb
from mmimdb import paths
from mmimdb.errors import UsageError
from mmimdb.dataset.missing import IMAGE_MISSING, TEXT_MISSING, MissingSpec, draw, read_codes
from mmimdb.records.split_file import SPLITS
from mmimdb_cli.main import cli

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def root(generated_dataset_root, tmp_path_factory) -> Path:
    return private_copy(generated_dataset_root, tmp_path_factory.mktemp("missing"))


def run(*args: str):
    return CliRunner().invoke(cli, ["missing", *args], catch_exceptions=False)


def tables(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_tables(root, tmp_path):
    other = tmp_path / "root"
    shutil.copytree(root, other)
    for where in (root, other):
        assert run("--rate", "0.7", "--type", "both", "--seed", "5", "--root", str(where)).exit_code == 0
    first, second = tables(paths.missing_dir(root) / "seed-5"), tables(paths.missing_dir(other) / "seed-5")
    assert first == second and len(first) == 6
    assert sorted(first) == sorted(f"mmimdb_{s}_missing_both_07.{kind}" for s in SPLITS for kind in ("pt", "parquet"))
    assert run("--rate", "0.7", "--type", "both", "--seed", "6", "--root", str(root)).exit_code == 0
    assert tables(paths.missing_dir(root) / "seed-6") != first


def test_a_rerun_removes_what_a_killed_run_left(root):
    from kill_harness import killed_writers_temporary

    folder = paths.missing_dir(root) / "seed-8"
    left = killed_writers_temporary(folder, "mmimdb_dev_missing_both_07.pt")
    assert run("--rate", "0.7", "--type", "both", "--seed", "8", "--root", str(root)).exit_code == 0
    assert not left.exists() and len(tables(folder)) == 6


@pytest.mark.parametrize("kind, rate", [("text", 0.5), ("image", 0.3), ("both", 0.7), ("both", 1.0)])
def test_tables_follow_the_vilt_protocol(root, kind, rate):
    """Counts as missing_aware_prompts' mmimdb_dataset.py draws them: int(N * rate) rows missing;
    for both, int(k * both_ratio) of those switched to image-missing; no row misses both."""
    assert run("--rate", str(rate), "--type", kind, "--seed", "1", "--root", str(root)).exit_code == 0
    folder = paths.missing_dir(root) / "seed-1"
    spec = MissingSpec(rate, kind, seed=1)
    for split in SPLITS:
        total = len(mmimdb.load(split, root=root, columns=["imdb_id"]))
        codes = readers.vilt_missing_table(str(folder), f"mmimdb_{split}", kind, rate, total).numpy()
        assert codes.dtype == np.float32 and set(np.unique(codes)) <= {0.0, 1.0, 2.0}
        missing = int(total * rate)
        assert (codes > 0).sum() == missing
        image = {"text": 0, "image": missing, "both": int(missing * 0.5)}[kind]
        assert (codes == IMAGE_MISSING).sum() == image and (codes == TEXT_MISSING).sum() == missing - image
        assert np.array_equal(read_codes(split, spec, root), codes.astype(np.int8))
        assert np.array_equal(draw(total, spec, split), codes)  # what the benchmark uses
    entry = json.loads(paths.manifest_path(root).read_text())["missing"][spec.name]
    assert entry["rate"] == rate and entry["type"] == kind and entry["seed"] == 1
    assert entry["files"][spec.file_name("dev", ".pt")] == __import__("hashlib").sha256(
        (folder / spec.file_name("dev", ".pt")).read_bytes()).hexdigest()


def test_load_applies_the_table(root):
    assert run("--rate", "0.6", "--type", "both", "--seed", "2", "--root", str(root)).exit_code == 0
    spec = {"rate": 0.6, "type": "both", "seed": 2}
    full = mmimdb.load("train", root=root)
    frame = mmimdb.load("train", root=root, missing=spec)
    codes = read_codes("train", MissingSpec(**spec), root)
    assert frame["missing"].tolist() == codes.tolist()
    for (_, before), (_, after), code in zip(full.iterrows(), frame.iterrows(), codes):
        assert after["plot"] == ("" if code == TEXT_MISSING else before["plot"])
        assert after["poster"] == (None if code == IMAGE_MISSING else before["poster"])
        assert after["imdb_id"] == before["imdb_id"] and list(after["labels"]) == list(before["labels"])
    numpy = mmimdb.load("train", root=root, format="numpy", columns=["plot", "poster"], missing=spec)
    assert [p is None for p in numpy["poster"]] == (codes == IMAGE_MISSING).tolist()
    assert [p == "" for p in numpy["plot"]] == (codes == TEXT_MISSING).tolist()
    dataset = mmimdb.load("train", root=root, format="torch", missing=spec)
    items = [dataset[i] for i in range(len(dataset))]
    assert [item["image"] is None for item in items] == (codes == IMAGE_MISSING).tolist()
    assert [item["plot"] == "" for item in items] == (codes == TEXT_MISSING).tolist()
    assert all(item["image"].shape == (3, 256, 160) for item in items if item["image"] is not None)


def test_load_without_the_table_names_the_command(root):
    with pytest.raises(UsageError, match=r"run `mmimdb missing --rate 0.9 --type text --seed 4`"):
        mmimdb.load("dev", root=root, missing={"rate": 0.9, "type": "text", "seed": 4})
    with pytest.raises(UsageError, match="cannot mask|not HDF5 features"):
        mmimdb.load("dev", root=root, missing={"rate": 0.9}, features=["images"])


@pytest.mark.parametrize("options, message", [
    (["--rate", "0"], "missing rate 0.0 is outside (0, 1]"),
    (["--rate", "1.5"], "missing rate 1.5 is outside (0, 1]"),
    (["--rate", "-0.2"], "outside (0, 1]"),
    (["--rate", "abc"], "--rate 'abc' is not a number"),
    (["--rate", "0.5", "--type", "audio"], "unknown missing type 'audio'"),
    (["--rate", "0.5", "--both-ratio", "2"], "both ratio 2.0 is outside [0, 1]"),
])
def test_bad_values_are_one_line_errors(root, options, message):
    result = run(*options, "--root", str(root))
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_not_built_says_to_build(tmp_path):
    result = run("--rate", "0.5", "--root", str(tmp_path))
    assert result.exit_code == 2 and "run `mmimdb build`" in result.output


def test_hf_format_applies_the_table_too(root, monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert run("--rate", "0.5", "--type", "image", "--seed", "8", "--root", str(root)).exit_code == 0
    dataset = mmimdb.load("dev", root=root, format="hf", columns=["imdb_id", "plot", "poster"],
                          missing={"rate": 0.5, "type": "image", "seed": 8})
    codes = read_codes("dev", MissingSpec(0.5, "image", seed=8), root)
    assert dataset["missing"] == codes.tolist()
    assert [poster is None for poster in dataset["poster"]] == (codes == IMAGE_MISSING).tolist()
    assert all(plot for plot in dataset["plot"])  # image-only: every plot stays
