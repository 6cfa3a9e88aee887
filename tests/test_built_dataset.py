"""The one owner of a built root (``mmimdb.dataset.built.BuiltDataset``) guarantees the rows:
a feature of other movies, damaged values, labels or a vocabulary named as features, and
outputs of an earlier build never reach a reader as numbers; each ends in one line and a
non-zero exit. Runs on generated films (no ../shared needed)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import generated_dataset
import mmimdb
from mmimdb import paths
from mmimdb.dataset import hdf5
from mmimdb.dataset.build import build
from mmimdb.dataset.built import BuiltDataset
from mmimdb.errors import MmimdbError, UsageError
from mmimdb.features import build_features, read_features
from mmimdb.features.rows import dataset_rows
from mmimdb.features.writer import save_dense
from mmimdb.storage import manifest
from mmimdb_cli.main import cli

FEATURE = "word_grams"  # a real per-movie vector the features stage writes in seconds (TF-IDF)


@pytest.fixture(scope="session")
def featured_root(tmp_path_factory, generated_dataset_root) -> Path:
    """The generated movies built (original split) with TF-IDF word grams and sequences."""
    root = tmp_path_factory.mktemp("built-owner") / "root"
    shutil.copytree(generated_dataset_root, root, symlinks=True)
    build_features(root, only=[FEATURE, "sequences"], progress=False, log=lambda message: None)
    return root


@pytest.fixture()
def root(featured_root, tmp_path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(featured_root, copy, symlinks=True)
    return copy


def _one_line_error(result, code: int, *fragments: str) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code == code, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], result.output


def _benchmark(root: Path, *args: str):
    return CliRunner().invoke(cli, ["benchmark", "--model", "Logistic_w2v", "--epochs", "1", "--device", "cpu",
                                    "--root", str(root), *args])


def _other_order(root: Path, tmp_path: Path) -> Path:
    """The same movies built again with another shuffle, with their own word grams."""
    other = tmp_path / "other"
    shutil.copytree(root, other, symlinks=True)
    build(other, method="original", seed=7, workers=1)
    build_features(other, only=[FEATURE], progress=False, log=lambda message: None)
    assert dataset_rows(other).ids != dataset_rows(root).ids and sorted(dataset_rows(other).ids) == sorted(dataset_rows(root).ids)
    return other


def _transplant(source: Path, target: Path, name: str) -> None:
    """Copy dataset ``name`` (with its attributes) from one build's HDF5 into another's and
    record the file's new digest, as two commands racing on one root once left it: every
    checksum agrees, only the rows do not."""
    with h5py.File(paths.hdf5_path(source), "r") as src, h5py.File(paths.hdf5_path(target), "a") as dst:
        del dst[name]
        src.copy(src[name], dst, name)
    manifest.update(target, outputs=[hdf5.FILE_NAME])


def test_the_owner_reads_rows_ids_and_features(featured_root):
    data = BuiltDataset(featured_root)
    assert all(i.startswith("tt") for i in data.ids) and data.n_rows == generated_dataset.MOVIES
    assert data.split_ids("dev") == data.parquet_ids("dev")
    assert data.kind(FEATURE) == "vector" and data.kind("sequences") == "sequence" and data.kind("genres") == "labels"
    assert data.vector_names() == [FEATURE]
    dev = data.vectors("dev", [FEATURE])[FEATURE]
    start, stop = data.split_ranges["dev"]
    with h5py.File(paths.hdf5_path(featured_root), "r") as handle:
        np.testing.assert_array_equal(dev, handle[FEATURE][start:stop])
    assert data.plots(data.split_ids("dev")) == mmimdb.load("dev", root=featured_root)["plot"].tolist()


def test_a_feature_of_another_build_order_reaches_no_reader(root, tmp_path):
    other = _other_order(root, tmp_path)
    _transplant(other, root, FEATURE)
    assert CliRunner().invoke(cli, ["info", "--root", str(root), "--verify"]).exit_code == 0  # digests agree
    message = f"{hdf5.FILE_NAME}:/{FEATURE} was computed for other rows"
    with pytest.raises(MmimdbError, match=message):
        mmimdb.load("dev", root=root, features=[FEATURE])
    with pytest.raises(MmimdbError, match=message):
        mmimdb.load("dev", root=root, format="torch", features=[FEATURE])
    with pytest.raises(MmimdbError, match=message):
        read_features(root, [FEATURE], "train")
    _one_line_error(_benchmark(root, "--text-features", FEATURE), 1, message)
    _one_line_error(CliRunner().invoke(cli, ["export", "--format", "hdf5", "--root", str(root)]), 1, message)


def test_a_feature_computed_while_a_rebuild_replaced_the_rows_is_not_written(root):
    rows = dataset_rows(root)  # what a build-features run started with
    build(root, method="original", seed=11, workers=1)  # another command rebuilt the root meanwhile
    assert dataset_rows(root).ids != rows.ids
    chunks = lambda: iter([np.ones((len(rows.ids), 3), np.float32)])  # noqa: E731
    with pytest.raises(MmimdbError, match="its movies changed while 'late_features' was computed"):
        save_dense(root, rows, "late_features", chunks, 3, {"encoder": "test"})
    assert "late_features" not in hdf5.dataset_names(paths.hdf5_path(root))


def test_non_finite_feature_values_are_refused_naming_the_dataset(root):
    with h5py.File(paths.hdf5_path(root), "a") as handle:
        start = json.loads(handle.attrs["split"])["dev"][0]
        handle[FEATURE][start, 0] = np.nan
    with pytest.raises(MmimdbError, match=rf"multimodal_imdb.hdf5:/{FEATURE}: 1 value\(s\) are NaN or infinite"):
        mmimdb.load("dev", root=root, features=[FEATURE])
    with pytest.raises(MmimdbError, match="NaN or infinite"):
        BuiltDataset(root).vectors("dev", [FEATURE])


def _overwrite_feature_bytes(root: Path, name: str) -> None:
    """Random bytes over the stored chunk of a feature, as a bad disk or a stray write would."""
    with h5py.File(paths.hdf5_path(root), "r") as handle:
        info = handle[name].id.get_chunk_info(0)
        offset, size = info.byte_offset, info.size
    with open(paths.hdf5_path(root), "r+b") as file:
        file.seek(offset + size // 4)
        file.write(np.random.default_rng(0).bytes(size // 2))


def test_random_bytes_in_the_hdf5_end_every_publishing_or_training_command(root):
    _overwrite_feature_bytes(root, FEATURE)
    _one_line_error(_benchmark(root, "--text-features", FEATURE), 1, "sha256 differs from the manifest")
    _one_line_error(CliRunner().invoke(cli, ["export", "--format", "hdf5", "--root", str(root)]), 1,
                    "sha256 differs from the manifest")
    _one_line_error(CliRunner().invoke(cli, ["card", "--root", str(root)]), 1, "sha256 differs from the manifest")
    assert not (root / "croissant.json").exists()  # nothing published with the wrong digest
    with pytest.raises(MmimdbError, match="sha256 differs"):
        mmimdb.load("dev", root=root, features=[FEATURE], verify=True)


def test_the_digest_check_hashes_only_files_that_changed(root, monkeypatch):
    data = BuiltDataset(root)
    data.check_digests([data.hdf5_path])
    import mmimdb.dataset.built as built_module

    calls = []
    monkeypatch.setattr(built_module, "sha256_of", lambda path: calls.append(path) or "x")
    BuiltDataset(root).check_digests([data.hdf5_path])
    assert calls == []  # unchanged since its last check: not hashed again
    paths.hdf5_path(root).touch()
    with pytest.raises(MmimdbError, match="sha256 differs from the manifest"):
        BuiltDataset(root).check_digests([data.hdf5_path])
    assert calls == [data.hdf5_path]


@pytest.mark.parametrize("option, name, what", [
    ("--text-features", "genres", "the labels (genres)"),
    ("--text-features", "imdb_ids", "the movie ids"),
    ("--text-features", "images", "the poster pixels"),
    ("--text-features", "sequences", "token sequences"),
    ("--image-features", "embeddings", "not one row per movie (e.g. a vocabulary)"),
])
def test_labels_ids_images_sequences_or_a_vocabulary_are_not_feature_vectors(root, option, name, what):
    if name == "embeddings":
        hdf5.add_array(paths.hdf5_path(root), "embeddings", np.ones((7, 4), np.float32))
    result = _benchmark(root, option, name)
    _one_line_error(result, 2, f"'{name}' in ", f"is {what}, not a feature vector", f"the feature vectors are: {FEATURE}")


def test_a_rebuild_removes_the_outputs_of_the_earlier_build(root):
    CliRunner().invoke(cli, ["missing", "--rate", "0.5", "--root", str(root)], catch_exceptions=False)
    assert (paths.features_dir(root) / f"{FEATURE}.parquet").is_file() and paths.missing_dir(root).is_dir()
    result = CliRunner().invoke(cli, ["build", "--root", str(root), "--seed", "3", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "removed" in result.stderr and f"features/{FEATURE}.parquet" in result.stderr
    left = [p for folder in (paths.features_dir(root), paths.missing_dir(root)) for p in folder.rglob("*") if p.is_file()]
    assert left == []
    verify = CliRunner().invoke(cli, ["info", "--root", str(root), "--verify"])
    assert verify.exit_code == 0, verify.output


def test_verify_names_a_file_put_into_an_output_folder_by_hand(root):
    assert CliRunner().invoke(cli, ["info", "--root", str(root), "--verify"]).exit_code == 0
    (paths.features_dir(root) / "by_hand.parquet").write_bytes(b"PAR1")
    result = CliRunner().invoke(cli, ["info", "--root", str(root), "--verify"])
    assert result.exit_code == 1
    assert "features/by_hand.parquet: in an output folder but not in the manifest" in result.output


def test_a_bare_release_hdf5_is_read_without_a_manifest(featured_root, tmp_path):
    bare = tmp_path / "release" / "multimodal_imdb.hdf5"
    bare.parent.mkdir()
    shutil.copy(paths.hdf5_path(featured_root), bare)
    data = BuiltDataset.from_hdf5(bare)
    assert not data.manifest and data.vectors("test", [FEATURE])[FEATURE].shape[0] == len(data.split_ids("test"))
    with pytest.raises(UsageError, match="is the labels"):
        data.check_feature("genres")
