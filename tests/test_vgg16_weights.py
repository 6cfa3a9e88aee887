"""`mmimdb build-features --image vgg16 --vgg16-weights FILE`: a state dict in torchvision's
layout goes through the whole command (locate, checksum, load, extract, HDF5 + Parquet +
manifest) and the stored fc7 is what those weights compute.

The file is written at test time: random weights (He-scaled, so activations neither vanish nor
explode) under torchvision's VGG16 keys and shapes, listed here from torchvision's
configuration "D", not taken from our own module, so a layout that drifts from torchvision's
fails here. Its features are meaningless; the offline encoders' tests check feature quality.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import generated_films
from mmimdb.dataset.build import build
from mmimdb.records.store import RecordStore
from mmimdb.features.encoders import EncoderOptions, image_encoder
from mmimdb.features.rows import dataset_rows
from mmimdb.storage.checksums import sha256_of
from mmimdb_cli.main import cli

torch = pytest.importorskip("torch")

#: torchvision's VGG16 (configuration "D"): conv widths, "M" = 2x2 max-pool.
CONFIG_D = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
FILMS = 10
IMAGE_SIZE = 64


def torchvision_layout_state_dict(seed: int = 0) -> dict[str, "torch.Tensor"]:
    """``features.N.weight/bias`` for each convolution (N counts ReLUs and pools as layers)
    and ``classifier.{0,3,6}.weight/bias``, with torchvision's shapes."""
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}

    def layer(key: str, shape: tuple[int, ...], fan_in: int) -> None:
        state[f"{key}.weight"] = torch.randn(shape, generator=generator) * (2.0 / fan_in) ** 0.5
        state[f"{key}.bias"] = torch.randn(shape[0], generator=generator) * 0.01

    index, channels = 0, 3
    for width in CONFIG_D:
        if width == "M":
            index += 1
        else:
            layer(f"features.{index}", (width, channels, 3, 3), channels * 9)
            index, channels = index + 2, width  # the conv, then its ReLU
    for key, (out, into) in {"classifier.0": (4096, 512 * 7 * 7), "classifier.3": (4096, 4096), "classifier.6": (1000, 4096)}.items():
        layer(key, (out, into), into)
    return state


def fc7(state: dict[str, "torch.Tensor"], images: "torch.Tensor") -> "torch.Tensor":
    """VGG16 fc7 after ReLU, computed straight from the state dict with functional ops."""
    import torch.nn.functional as F

    x, index = images, 0
    for width in CONFIG_D:
        if width == "M":
            x, index = F.max_pool2d(x, 2), index + 1
        else:
            x, index = F.relu(F.conv2d(x, state[f"features.{index}.weight"], state[f"features.{index}.bias"], padding=1)), index + 2
    x = torch.flatten(F.adaptive_avg_pool2d(x, (7, 7)), 1)
    x = F.relu(F.linear(x, state["classifier.0.weight"], state["classifier.0.bias"]))
    return F.relu(F.linear(x, state["classifier.3.weight"], state["classifier.3.bias"]))


def test_torchvision_layout_weights_through_build_features(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.delenv("MMIMDB_VGG16_WEIGHTS", raising=False)
    root = generated_films.write_store(tmp_path / "root", count=FILMS)
    build(root, method="iterative", workers=1)
    state = torchvision_layout_state_dict()
    weights = tmp_path / "vgg16-torchvision-layout.pth"
    torch.save(state, weights)

    result = CliRunner().invoke(cli, ["build-features", "--root", str(root), "--image", "vgg16", "--vgg16-weights", str(weights),
                                      "--only", "image", "--image-size", str(IMAGE_SIZE), "--device", "cpu", "--workers", "0",
                                      "--batch-size", "4", "--no-progress", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    ids = dataset_rows(root).ids
    with h5py.File(root / "multimodal_imdb.hdf5") as handle:
        stored = handle["vgg_features"][()]
    assert stored.shape == (FILMS, 4096) and stored.dtype == np.float32
    assert (stored >= 0).all() and (stored > 0).mean() > 0.05  # after ReLU, and alive
    entry = json.loads((root / "manifest.json").read_text())["features"]["vgg_features"]
    assert entry["encoder"] == "vgg16" and entry["sha256"] == sha256_of(weights) and entry["dims"] == [FILMS, 4096]
    assert entry["precision"] == "fp32" and entry["precision_requested"] == "fp32"  # compared exactly below
    assert pq.read_table(root / "features" / "vgg_features.parquet").column("imdb_id").to_pylist() == ids

    # The stored rows are fc7 of these very weights, not of some other initialisation.
    preprocess = image_encoder("vgg16", EncoderOptions(vgg16_weights=str(weights), image_size=IMAGE_SIZE)).preprocess
    store = RecordStore(Path(root) / "dataset")
    rows = [0, FILMS - 1]
    posters = torch.as_tensor(np.stack([preprocess(store.read_poster(ids[row]), ids[row]) for row in rows]))
    with torch.no_grad():
        expected = fc7(state, posters).numpy()
    np.testing.assert_allclose(stored[rows], expected, rtol=1e-3, atol=1e-4 * float(np.abs(expected).max()))
