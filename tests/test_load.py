"""``mmimdb.load()`` in each format, on the built greatest films."""
from __future__ import annotations

import json

import numpy as np
import pytest

import mmimdb
from mmimdb.dataset import hdf5
from mmimdb import paths
from mmimdb.errors import UsageError
from mmimdb.records.genres import GENRES


@pytest.fixture
def root(greatest_films_original):
    return greatest_films_original


def split_ids(root, split):
    return ["tt" + i for i in json.loads(paths.split_path(root).read_text())[split]]


def test_pandas_by_default_with_poster_bytes_and_labels(root):
    frame = mmimdb.load("dev", root=root)
    assert frame["imdb_id"].tolist() == split_ids(root, "dev")
    first = frame.iloc[0]
    assert first["poster"][:2] == b"\xff\xd8"  # JPEG bytes
    assert list(first["labels"]) == [int(g in first["genres"]) for g in GENRES]
    assert isinstance(first["plot"], str) and first["plot"]


def test_root_comes_from_mmimdb_home(root, monkeypatch):
    monkeypatch.setenv("MMIMDB_HOME", str(root))
    assert len(mmimdb.load("test", columns=["imdb_id"])) == len(split_ids(root, "test"))


def test_numpy_with_hdf5_features(root):
    data = mmimdb.load("test", root=root, format="numpy", columns=["imdb_id", "labels", "year"], features=["images"])
    count = len(split_ids(root, "test"))
    assert data["labels"].shape == (count, 23) and data["labels"].dtype == np.int32
    assert data["images"].shape == (count, 3, 256, 160)
    assert data["imdb_id"].tolist() == split_ids(root, "test")
    start, _ = hdf5.read_split_ranges(paths.hdf5_path(root))["test"]
    assert np.array_equal(data["images"][1], hdf5.read_rows(paths.hdf5_path(root), "images", start + 1, start + 2)[0])


def test_pandas_with_a_feature_added_later(root, tmp_path):
    import shutil

    copy = tmp_path / "root"
    shutil.copytree(root, copy, symlinks=True)
    count = sum(len(v) for v in json.loads(paths.split_path(copy).read_text()).values())
    hdf5.add_dataset(paths.hdf5_path(copy), "features", np.arange(count * 4, dtype=np.float32).reshape(count, 4))
    assert hdf5.dataset_names(paths.hdf5_path(copy)) == ["imdb_ids", "genres", "images", "features"]
    frame = mmimdb.load("dev", root=copy, columns=["imdb_id"], features=["features"])
    start, _ = hdf5.read_split_ranges(paths.hdf5_path(copy))["dev"]
    assert frame["features"].iloc[0].tolist() == [float(v) for v in range(start * 4, start * 4 + 4)]


def test_torch_dataset_decodes_lazily_in_two_workers(root):
    torch = pytest.importorskip("torch")
    dataset = mmimdb.load("dev", root=root, format="torch", features=["genres"],
                          columns=["imdb_id", "plot", "labels", "poster"])
    assert isinstance(dataset, torch.utils.data.Dataset) and len(dataset) == len(split_ids(root, "dev"))
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, num_workers=2)
    batch = next(iter(loader))
    assert batch["image"].shape == (16, 3, 256, 160) and batch["image"].dtype == torch.float32
    assert batch["labels"].shape == (16, 23)
    assert torch.equal(batch["labels"], batch["genres"].float())  # Parquet and HDF5 rows agree
    assert list(batch["imdb_id"]) == split_ids(root, "dev")[:16]


def test_torch_transform_gets_a_pil_image(root):
    pytest.importorskip("torch")
    dataset = mmimdb.load("test", root=root, format="torch", columns=["imdb_id", "poster"], transform=lambda image: image.size)
    width, height = dataset[0]["image"]
    assert width > 100 and height > 100


def test_hf_format(root, monkeypatch):
    pytest.importorskip("datasets")
    from PIL import Image

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    dataset = mmimdb.load("dev", root=root, format="hf", columns=["imdb_id", "poster", "genres"])
    assert dataset.column_names == ["imdb_id", "poster", "genres"]
    assert isinstance(dataset[0]["poster"], Image.Image)


def test_missing_dataset_names_the_build_command(tmp_path):
    with pytest.raises(UsageError, match=r"no built dataset in .*; run `mmimdb build`"):
        mmimdb.load("train", root=tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "validation"}, "unknown split 'validation'; use one of train, dev, test"),
    ({"format": "tensorflow"}, "unknown format 'tensorflow'"),
    ({"columns": ["poster", "budget"]}, "unknown column(s) 'budget'"),
    ({"features": ["vgg_features"]}, "no dataset 'vgg_features'"),
])
def test_bad_arguments_are_explained(root, kwargs, message):
    with pytest.raises(UsageError) as error:
        mmimdb.load(**{"root": root, **kwargs})
    assert message in str(error.value)


def test_import_mmimdb_stays_light():
    import subprocess
    import sys

    code = "import sys, mmimdb; print(any(m in sys.modules for m in ('pandas', 'pyarrow', 'h5py', 'torch')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
