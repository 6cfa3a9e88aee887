"""Damaged or wrong inputs end in one line that says what to do, never in a traceback:
an HDF5 file with blocks overwritten mid-file, a truncated Parquet file, paths that cannot
be folders, a missing ``--hdf5`` file. Generated films, so these run without ../shared."""
from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import generated_films
import mmimdb
from mmimdb import paths
from mmimdb.dataset import hdf5
from mmimdb.dataset.build import build
from mmimdb.errors import MmimdbError
from mmimdb_cli.main import cli


@pytest.fixture(scope="session")
def generated_built(tmp_path_factory) -> Path:
    """30 generated films, built (read-only: copy it before changing anything)."""
    root = generated_films.write_store(tmp_path_factory.mktemp("damaged") / "root", count=30)
    build(root, workers=1)
    return root


@pytest.fixture
def root(generated_built, tmp_path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(generated_built, copy)
    return copy


def one_line_error(result) -> str:
    """The only line of the output, an ``error: ...`` line (no traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def overwrite_an_image_block_of_each_split(path: Path) -> None:
    """Overwrite, in place, the stored (compressed) block of one image in each split."""
    with h5py.File(path, "r") as handle:
        ranges = hdf5.split_ranges(handle, path)
        blocks = [handle[hdf5.IMAGES].id.get_chunk_info_by_coord(((a + b) // 2, 0, 0, 0)) for a, b in ranges.values()]
    with open(path, "r+b") as handle:
        for block in blocks:
            handle.seek(block.byte_offset)
            handle.write(b"\xa5" * block.size)


def test_a_damaged_hdf5_is_one_error_naming_the_file_and_saying_to_rebuild(root, tmp_path):
    path = paths.hdf5_path(root)
    overwrite_an_image_block_of_each_split(path)
    for split in ("train", "dev", "test"):
        for format in ("numpy", "pandas"):
            with pytest.raises(MmimdbError, match="damaged HDF5 file.*rebuild it with `mmimdb build`") as caught:
                mmimdb.load(split, root=root, format=format, features=["images"])
            assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    dataset = mmimdb.load("train", root=root, format="torch", columns=["imdb_id"], features=["images"])
    with pytest.raises(MmimdbError, match="damaged HDF5 file"):
        [dataset[index] for index in range(len(dataset))]

    result = CliRunner().invoke(cli, ["benchmark", "--model", "CNN_end2end", "--epochs", "1", "--device", "cpu",
                                      "--root", str(root), "--out", str(tmp_path / "out")])
    line = one_line_error(result)
    assert result.exit_code == 1 and str(path) in line and "rebuild" in line


@pytest.mark.parametrize("format", ["pandas", "numpy", "torch", "hf"])
def test_a_truncated_parquet_file_is_one_error_saying_to_rebuild(root, format, monkeypatch):
    if format == "hf":
        pytest.importorskip("datasets")
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = paths.parquet_path(root, "train")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MmimdbError, match="not a readable Parquet file.*rebuild it with `mmimdb build`") as caught:
        mmimdb.load("train", root=root, format=format)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("args, says", [
    (["info", "--root", "{file}/sub"], "{file} is a file, not a folder"),
    (["build", "--root", "{file}"], "it is a file, not a folder"),
    (["fetch", "--from-archive", "{tmp}/mmimdb.tar.gz", "--root", "{file}/sub/deeper"], "{file} is a file, not a folder"),
    (["build-features", "--root", "/proc/nope"], "cannot make a folder in /proc"),
    (["benchmark", "--dataset", "synthetic", "--seeds", "1", "--out", "{file}/out"], "{file} is a file, not a folder"),
    (["benchmark", "--model", "gmu", "--out", "/proc/nope/out"], "cannot make a folder in /proc"),
    (["benchmark", "--hdf5", "{tmp}/missing.hdf5"], "no such file"),
])
def test_wrong_folders_and_files_are_one_line_and_exit_2(tmp_path, args, says):
    if "/proc/" in " ".join(args) and not Path("/proc/self").is_dir():
        pytest.skip("no /proc on this system")
    file = tmp_path / "README.md"
    file.write_text("a file, not a folder")
    args = [arg.format(file=file, tmp=tmp_path) for arg in args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and says.format(file=file) in one_line_error(result)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["README.md"]  # nothing made on the way


def test_the_data_root_from_the_environment_is_checked_too(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("MMIMDB_HOME", str(tmp_path / "file" / "root"))
    result = CliRunner().invoke(cli, ["info"])
    assert result.exit_code == 2 and f"$MMIMDB_HOME {tmp_path / 'file' / 'root'}: " in one_line_error(result)


def test_a_new_data_root_is_fine(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--root", str(tmp_path / "new" / "root")])
    assert result.exit_code == 2 and "no movie records" in one_line_error(result)


def test_paths_given_to_the_api_expand_the_home_folder(generated_built, tmp_path, monkeypatch):
    from mmimdb.benchmark.data import BenchmarkData
    from mmimdb.dataset import parquet
    from mmimdb.records import split_file
    from mmimdb.records.store import RecordStore
    from mmimdb.features.rows import dataset_rows
    from mmimdb.storage import manifest

    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copytree(generated_built, tmp_path / "data")
    ids = RecordStore(generated_built / "dataset").ids()
    assert RecordStore("~/data/dataset").ids() == ids and RecordStore("~/data/dataset").read(ids[0])["imdb_id"] == ids[0]
    ranges = hdf5.read_split_ranges("~/data/multimodal_imdb.hdf5")
    assert hdf5.read_rows("~/data/multimodal_imdb.hdf5", "genres", 0, 2).shape == (2, 23)
    assert parquet.read_table("~/data/parquet/dev.parquet").num_rows == ranges["dev"][1] - ranges["dev"][0]
    assert sum(map(len, split_file.read_split_file("~/data/split.json").ids.values())) == ranges["test"][1]
    assert manifest.read_manifest("~/data")["counts"]["total"] == ranges["test"][1]
    assert manifest.verify("~/data") == []
    assert dataset_rows("~/data").split == ranges
    assert BenchmarkData("~/data/multimodal_imdb.hdf5").n_rows == ranges["test"][1]
    assert len(mmimdb.load("dev", root="~/data", columns=["imdb_id"])) == ranges["dev"][1] - ranges["dev"][0]
    with hdf5.Hdf5Writer("~/new.hdf5", ["0000001"], np.zeros((1, 23), np.int32), {"train": (0, 1), "dev": (1, 1), "test": (1, 1)}):
        pass
    assert (tmp_path / "new.hdf5").is_file()
    build("~/data", method="file", split_file="~/data/split.json", workers=1)
    assert manifest.read_manifest(tmp_path / "data")["split"]["split_file"] == str(tmp_path / "data" / "split.json")
