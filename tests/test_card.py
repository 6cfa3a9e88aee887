"""``mmimdb card``: the README card (Hugging Face header + datasheet), its figures, and
``croissant.json`` validated and read with ``mlcroissant``."""
from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import mmimdb
from dataset_builds import private_copy
from mmimdb import paths
from mmimdb.card.figures import FIGURES
from mmimdb.records.genres import GENRES
from mmimdb.dataset.parquet import COLUMNS
from mmimdb.records.split_file import SPLITS
from mmimdb_cli.main import cli

yaml = pytest.importorskip("yaml")


@pytest.fixture(scope="module", params=["generated", "greatest-films"])
def root(request, tmp_path_factory) -> Path:
    built = request.getfixturevalue("greatest_films_original" if request.param == "greatest-films" else "generated_dataset_root")
    copy = private_copy(built, tmp_path_factory.mktemp(f"card-{request.param}"))
    result = CliRunner().invoke(cli, ["card", "--root", str(copy)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return copy


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_hugging_face_header(root):
    header = front_matter(paths.card_path(root).read_text())
    assert header["task_ids"] == ["multi-label-classification", "multi-label-image-classification"]
    assert set(header["task_categories"]) == {"text-classification", "image-classification"}
    assert header["license"] == "other" and header["license_name"]
    files = {entry["split"]: entry["path"] for entry in header["configs"][0]["data_files"]}
    assert files == {split: f"parquet/{split}.parquet" for split in SPLITS}
    assert [f["name"] for f in header["dataset_info"]["features"]] == list(COLUMNS)
    counts = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert counts == {split: len(mmimdb.load(split, root=root, columns=["imdb_id"])) for split in SPLITS}
    total = sum(counts.values())
    assert header["size_categories"] == ["n<1K" if total < 1000 else "1K<n<10K"]


def test_hugging_face_datasets_reads_the_card(root, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    dev = datasets.load_dataset(str(root), split="dev", cache_dir=str(root.parent / "hf-cache"))
    assert dev["imdb_id"] == mmimdb.load("dev", root=root, columns=["imdb_id"])["imdb_id"].tolist()


def test_table1_counts_equal_mmimdb_info(root):
    result = CliRunner().invoke(cli, ["info", "--json", "--no-checksums", "--root", str(root)])
    info = {row["genre"]: row for row in json.loads(result.output)["genre_table"]}
    card = paths.card_path(root).read_text()
    rows = re.findall(r"^\| ([A-Za-z-]+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", card, re.M)
    assert [row[0] for row in rows] == list(GENRES)
    for genre, train, dev, test, total, original in rows:
        assert [int(train), int(dev), int(test)] == [info[genre][s] for s in SPLITS]
        assert int(total) == info[genre]["movies"] and int(original) == info[genre]["original"]
    for heading in ("## Motivation", "## Composition", "## Collection process", "## Preprocessing", "## Uses",
                    "## Distribution", "## Maintenance"):
        assert heading in card


def test_figures_are_pngs_the_card_shows(root):
    card = paths.card_path(root).read_text()
    for name in FIGURES:
        path = paths.figures_dir(root) / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"](figures/{name})" in card


def test_croissant_validates_and_its_records_equal_load(root):
    mlc = pytest.importorskip("mlcroissant")
    document = json.loads(paths.croissant_path(root).read_text())
    assert document["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    for key in ("rai:dataCollection", "rai:dataBiases", "rai:dataLimitations", "rai:personalSensitiveInformation",
                "rai:dataUseCases", "rai:dataReleaseMaintenancePlan"):
        assert document[key]
    for entry in document["distribution"]:
        assert entry["sha256"] == hashlib.sha256((root / entry["contentUrl"]).read_bytes()).hexdigest()
    dataset = mlc.Dataset(str(paths.croissant_path(root)))
    assert not dataset.metadata.ctx.issues.errors and not dataset.metadata.ctx.issues.warnings
    for split in ("dev", "test"):
        records = list(dataset.records(split))
        loaded = mmimdb.load(split, root=root, format="numpy", columns=["imdb_id", "labels", "poster"])
        assert [r[f"{split}/imdb_id"].decode() for r in records] == loaded["imdb_id"].tolist()
        assert np.array_equal(np.array([r[f"{split}/labels"] for r in records]), loaded["labels"])
        from PIL import Image

        for record, poster in list(zip(records, loaded["poster"]))[:20]:
            expected = Image.open(io.BytesIO(poster))
            assert np.array_equal(np.asarray(record[f"{split}/poster"]), np.asarray(expected))
    labels = [r["genre_labels/name"] for r in dataset.records("genre_labels")]
    assert [name.decode() if isinstance(name, bytes) else name for name in labels] == list(GENRES)


def test_card_elsewhere_points_back_at_the_data(root, tmp_path):
    mlc = pytest.importorskip("mlcroissant")
    out = tmp_path / "card"
    result = CliRunner().invoke(cli, ["card", "--root", str(root), "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    dataset = mlc.Dataset(str(out / "croissant.json"))
    assert len(list(dataset.records("dev"))) == len(mmimdb.load("dev", root=root, columns=["imdb_id"]))
    files = front_matter((out / "README.md").read_text())["configs"][0]["data_files"]
    assert all((out / entry["path"]).resolve() == (root / "parquet" / f"{entry['split']}.parquet").resolve() for entry in files)


def test_a_rerun_removes_what_a_killed_card_left(root):
    from kill_harness import killed_writers_temporary

    left = [killed_writers_temporary(root / "figures", "poster_sizes.png"), killed_writers_temporary(root, "croissant.json")]
    result = CliRunner().invoke(cli, ["card", "--root", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in left)


def test_the_manifest_records_the_card(root):
    entry = json.loads(paths.manifest_path(root).read_text())["card"]["."]
    assert set(entry["files"]) == {"README.md", "croissant.json", *(f"figures/{name}" for name in FIGURES)}
    assert entry["files"]["croissant.json"] == hashlib.sha256(paths.croissant_path(root).read_bytes()).hexdigest()


def test_not_built_and_unwritable_out_are_one_line_errors(tmp_path):
    result = CliRunner().invoke(cli, ["card", "--root", str(tmp_path)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1 and "mmimdb build" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(cli, ["card", "--root", str(tmp_path), "--out", str(blocker / "card")])
    assert result.exit_code == 2 and f"{blocker} is a file, not a folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
