"""The HDF5 layout module: writing, reading split ranges, adding datasets later."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from mmimdb.dataset import hdf5
from mmimdb.errors import MmimdbError, UsageError
from mmimdb.records.genres import GENRES


@pytest.fixture
def small_file(tmp_path):
    path = tmp_path / hdf5.FILE_NAME
    labels = np.eye(len(GENRES), dtype=np.int32)[:5]
    image = np.arange(np.prod(hdf5.IMAGE_SHAPE), dtype=np.int32).reshape(hdf5.IMAGE_SHAPE) % 250 - 124
    with hdf5.Hdf5Writer(path, ["0000001", "0000002", "0000003", "0000004", "10000005"], labels,
                         {"train": (0, 3), "dev": (3, 4), "test": (4, 5)}) as writer:
        for row in range(5):
            writer.write_image_chunk(row, hdf5.encode_image_chunk(image + row))
    return path, image


def test_written_file_reads_back_with_plain_h5py(small_file):
    path, image = small_file
    with h5py.File(path, "r") as f:
        assert [i.decode() for i in f["imdb_ids"][:]] == ["0000001", "0000002", "0000003", "0000004", "10000005"]
        assert h5py.check_string_dtype(f["imdb_ids"].dtype).encoding == "utf-8"
        assert np.array_equal(f["images"][2], image + 2)  # chunks compressed in the workers decode
        assert f["images"].chunks == (1, *hdf5.IMAGE_SHAPE) and f["images"].compression == "gzip"
        assert json.loads(f.attrs["split"]) == {"train": [0, 3], "dev": [3, 4], "test": [4, 5]}
    assert hdf5.read_split_ranges(path) == {"train": (0, 3), "dev": (3, 4), "test": (4, 5)}


def test_add_dataset_from_blocks_replaces_and_keeps_attributes(small_file):
    path, _ = small_file
    hdf5.add_dataset(path, "features", iter([np.ones((2, 4), np.float32), np.zeros((3, 4), np.float32)]),
                     attrs={"model": "word2vec", "vocabulary": ["a", "b"]})
    hdf5.add_dataset(path, "features", np.full((5, 300), 2, np.float32), attrs={"model": "again"})
    sequences = np.empty(5, dtype=object)
    sequences[:] = [np.arange(n, dtype=np.int32) for n in range(5)]
    hdf5.add_dataset(path, "sequences", sequences, dtype=h5py.vlen_dtype(np.int32))
    with h5py.File(path, "r") as f:
        assert f["features"].shape == (5, 300) and f["features"].attrs["model"] == "again"
        assert f["sequences"][3].tolist() == [0, 1, 2]
    assert hdf5.read_rows(path, "features", 3, 5).shape == (2, 300)
    assert hdf5.dataset_names(path) == ["imdb_ids", "genres", "images", "features", "sequences"]


@pytest.mark.parametrize("lengths", [[4, 4, 4, 4, 4], [0, 0, 0, 0, 0]])
def test_variable_length_rows_of_equal_length_are_written_as_rows(small_file, lengths):
    path, _ = small_file
    rows = [np.arange(n, dtype=np.int64) + row for row, n in enumerate(lengths)]
    hdf5.add_dataset(path, "sequences", iter([rows[:2], np.asarray(rows[2:])]), dtype=h5py.vlen_dtype(np.int32))
    stored = hdf5.read_rows(path, "sequences", 0, 5)
    assert stored.shape == (5,) and [row.tolist() for row in stored] == [row.tolist() for row in rows]


def test_a_single_variable_length_row_is_written(tmp_path):
    path = tmp_path / hdf5.FILE_NAME
    with hdf5.Hdf5Writer(path, ["0000001"], np.eye(len(GENRES), dtype=np.int32)[:1], {"train": (0, 0), "dev": (0, 0), "test": (0, 1)}):
        pass
    one = np.empty(1, dtype=h5py.vlen_dtype(np.int32))
    one[0] = np.array([3, 1, 2], np.int32)
    hdf5.add_dataset(path, "sequences", one, dtype=h5py.vlen_dtype(np.int32))
    assert [row.tolist() for row in hdf5.read_rows(path, "sequences", 0, 1)] == [[3, 1, 2]]


@pytest.mark.parametrize("name, data, message", [
    ("features", np.zeros((4, 3)), "dataset 'features' has 4 rows; the file has 5 movies"),
    ("features", iter([np.zeros((4, 3)), np.zeros((4, 3))]), "has more rows than the file's 5 movies"),
    ("genres", np.zeros((5, 3)), "cannot write a dataset named 'genres'"),
])
def test_add_dataset_refuses_rows_that_do_not_align(small_file, name, data, message):
    path, _ = small_file
    with pytest.raises(UsageError, match=message):
        hdf5.add_dataset(path, name, data)
    with h5py.File(path, "r") as f:
        assert [n for n in f if n.endswith(hdf5.PARTIAL_SUFFIX)] == []
        assert f["genres"].shape == (5, 23)


def test_missing_or_broken_files_name_the_build_command(tmp_path):
    with pytest.raises(UsageError, match="run `mmimdb build` first"):
        hdf5.read_split_ranges(tmp_path / "missing.hdf5")
    (tmp_path / "broken.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(MmimdbError, match="not a readable HDF5 file"):
        hdf5.read_split_ranges(tmp_path / "broken.hdf5")
