"""Integrity as torchvision datasets do it: every output is checked against the sha256 the
manifest recorded (`mmimdb info --verify`, `mmimdb.load(..., verify=True)`)."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import generated_films
import mmimdb
from mmimdb import paths
from mmimdb.dataset.build import build
from mmimdb.errors import MmimdbError
from mmimdb.features import build_features
from mmimdb_cli.main import cli


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = generated_films.write_store(tmp_path_factory.mktemp("verify") / "root", count=60)
    build(root, method="iterative", workers=1)
    build_features(root, only=["word_grams", "sequences"], progress=False)
    return root


def flip_one_byte(path, offset_fraction=0.5):
    data = bytearray(path.read_bytes())
    data[int(len(data) * offset_fraction)] ^= 0x01
    path.write_bytes(bytes(data))


def outputs(root):
    return sorted(json.loads(paths.manifest_path(root).read_text())["outputs"])


def test_manifest_lists_the_build_and_feature_outputs(built):
    listed = outputs(built)
    assert {"multimodal_imdb.hdf5", "parquet/train.parquet", "features/word_grams.parquet",
            "features/sequences.vocabulary.json"} <= set(listed)
    result = CliRunner().invoke(cli, ["info", "--root", str(built), "--verify"])
    assert result.exit_code == 0, result.output
    assert f"verified: {len(listed)} outputs match" in result.output


@pytest.mark.parametrize("name", ["multimodal_imdb.hdf5", "parquet/dev.parquet", "features/word_grams.parquet",
                                  "split-report.json", "features/sequences.vocabulary.json"])
def test_a_changed_byte_in_any_output_is_named(built, tmp_path, name):
    root = tmp_path / "copy"
    shutil.copytree(built, root, symlinks=True)
    flip_one_byte(root / name)
    result = CliRunner().invoke(cli, ["info", "--root", str(root), "--verify"])
    assert result.exit_code == 1
    assert f"differs: {name}: sha256 differs" in result.output
    assert result.output.strip().splitlines()[-1].startswith("error: 1 of ")


def test_load_verify_checks_the_files_it_reads(built, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(built, root, symlinks=True)
    assert len(mmimdb.load("train", root=root, verify=True)) > 0
    flip_one_byte(root / "parquet" / "train.parquet", 0.3)
    with pytest.raises(MmimdbError, match=r"^parquet/train.parquet: sha256 differs"):
        mmimdb.load("train", root=root, verify=True)
    assert len(mmimdb.load("dev", root=root, verify=True)) > 0  # other splits are unaffected
    flip_one_byte(root / "multimodal_imdb.hdf5", 0.9)
    with pytest.raises(MmimdbError, match=r"^multimodal_imdb.hdf5: sha256 differs"):
        mmimdb.load("dev", root=root, verify=True, features=["word_grams"])


def test_a_missing_output_and_a_damaged_manifest_are_one_line_errors(built, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(built, root, symlinks=True)
    (root / "parquet" / "test.parquet").unlink()
    result = CliRunner().invoke(cli, ["info", "--root", str(root), "--verify"])
    assert result.exit_code == 1 and "differs: parquet/test.parquet: missing" in result.output
    paths.manifest_path(root).write_text("{not json")
    result = CliRunner().invoke(cli, ["info", "--root", str(root), "--verify"])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1].startswith("error: ")
    assert "not a readable manifest" in result.output and "Traceback" not in result.output
