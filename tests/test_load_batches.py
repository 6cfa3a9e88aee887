"""The torch dataset serves whole batches (``__getitems__``): the same items as one at a time."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
h5py = pytest.importorskip("h5py")

import mmimdb  # noqa: E402
from mmimdb import paths  # noqa: E402
from mmimdb.dataset import hdf5  # noqa: E402


@pytest.fixture(scope="module")
def root(tmp_path_factory, greatest_films_original):
    """The built greatest films plus a dense and a variable-length feature."""
    copy = tmp_path_factory.mktemp("batches") / "root"
    shutil.copytree(greatest_films_original, copy, symlinks=True)
    path = paths.hdf5_path(copy)
    with h5py.File(path, "r") as handle:
        count = handle["imdb_ids"].shape[0]
    rng = np.random.default_rng(0)
    hdf5.add_dataset(path, "features", rng.normal(size=(count, 50)).astype(np.float32))
    sequences = np.empty(count, dtype=object)
    sequences[:] = [rng.integers(0, 99, size=rng.integers(0, 9)).astype(np.int32) for _ in range(count)]
    hdf5.add_dataset(path, "sequences", sequences, dtype=h5py.vlen_dtype(np.int32))
    return copy


def _equal(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for key, value in left.items():
        if isinstance(value, torch.Tensor):
            assert value.dtype == right[key].dtype and torch.equal(value, right[key]), key
        else:
            assert value == right[key], key


def test_a_batch_equals_its_items_one_at_a_time(root):
    dataset = mmimdb.load("dev", root=root, format="torch", columns=["imdb_id", "plot", "labels", "poster"],
                          features=["features", "images", "genres", "sequences"])
    n = len(dataset)
    # Shuffled, with a repeat, a run of neighbours, a negative index and both ends.
    indices = [5, 3, 4, n - 1, 0, 5, 17, -2, 9, 10, 11, 12]
    batch = dataset.__getitems__(indices)
    assert len(batch) == len(indices)
    for index, item in zip(indices, batch):
        _equal(item, dataset[index])
    assert batch[0]["images"].shape == (3, 256, 160) and batch[0]["images"].dtype == torch.int32


def test_a_shuffled_loader_serves_every_row_once_in_the_samplers_order(root):
    dataset = mmimdb.load("train", root=root, format="torch", columns=["imdb_id", "labels"], features=["features"])
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(3)).tolist()
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, sampler=order, num_workers=2)
    seen, features = [], []
    for batch in loader:
        seen += list(batch["imdb_id"])
        features.append(batch["features"])
    assert seen == [dataset.imdb_ids[i] for i in order]  # the sampler's order, not the file's
    expected = torch.stack([dataset[i]["features"] for i in order])
    assert torch.equal(torch.cat(features), expected)


def test_an_index_out_of_range_is_an_index_error(root):
    dataset = mmimdb.load("dev", root=root, format="torch", columns=["labels"], features=["features"])
    with pytest.raises(IndexError, match="out of range"):
        dataset.__getitems__([0, len(dataset)])


@pytest.mark.parametrize("cover", [hdf5._COVER_BYTES, 0])
@pytest.mark.parametrize("positions", [[7, 8, 9, 10], [30, 2, 2, 18, 5, 44, 41, 12, 0, 25], []])
def test_take_rows_reads_any_rows_of_any_layout(tmp_path, positions, cover, monkeypatch):
    """A covering slice, runs, selections and raw image chunks give what h5py's own indexing gives."""
    monkeypatch.setattr(hdf5, "_COVER_BYTES", cover)  # 0: never one covering slice
    rng = np.random.default_rng(1)
    images = rng.integers(-2**31, 2**31 - 1, size=(48, 3, 8, 5)).astype(np.int32)  # every byte varies
    path = tmp_path / "layouts.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("chunked", data=images, chunks=(1, 3, 8, 5), shuffle=True, compression="gzip")
        handle.create_dataset("no_shuffle", data=images, chunks=(1, 3, 8, 5), compression="gzip")
        handle.create_dataset("plain", data=images)
        handle.create_dataset("vectors", data=images.reshape(48, -1).astype(np.float32), chunks=(5, 120))
        assert hdf5.reads_image_chunks(handle["chunked"])
        assert not hdf5.reads_image_chunks(handle["no_shuffle"]) and not hdf5.reads_image_chunks(handle["plain"])
        for name in ("chunked", "no_shuffle", "plain", "vectors"):
            stored = handle[name][()]
            np.testing.assert_array_equal(hdf5.take_rows(handle[name], positions), stored[np.asarray(positions, dtype=int)])


def test_the_builds_images_are_read_from_their_raw_chunks(root):
    with h5py.File(paths.hdf5_path(root), "r") as handle:
        assert hdf5.reads_image_chunks(handle["images"])
        rows = [4, 1, 1, 30]
        np.testing.assert_array_equal(hdf5.take_rows(handle["images"], rows), np.stack([handle["images"][r] for r in rows]))
