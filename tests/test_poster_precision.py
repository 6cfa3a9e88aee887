"""Poster features on the CPU in bf16 autocast + channels-last, only when they match fp32."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import shared_path  # noqa: E402
from mmimdb import features, paths  # noqa: E402
from mmimdb.storage import manifest  # noqa: E402
from mmimdb.features.encoders import ImageEncoder  # noqa: E402
from mmimdb.features.encoders.preprocessing import Preprocessing  # noqa: E402
from mmimdb.features.posters import CPU_BF16_MIN_COSINE, Precision, choose_precision, cpu_bf16_supported, feature_cosine  # noqa: E402

needs_bf16 = pytest.mark.skipif(not cpu_bf16_supported(), reason="this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX)")
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def posters() -> torch.Tensor:
    """Eight real posters, preprocessed as the encoders see them."""
    files = sorted(shared_path("greatest-films/posters").glob("*.jpg"))[:8]
    preprocess = Preprocessing("imagenet", 64)
    return torch.from_numpy(np.stack([preprocess(f.read_bytes(), f.name) for f in files]))


def conv_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3, stride=2),
                               torch.nn.BatchNorm2d(32), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               torch.nn.Linear(32, 64)).eval()


TINY = ImageEncoder(name="tiny-conv", output="tiny_conv_features", dim=64, build=conv_net,
                    preprocess=Preprocessing("imagenet", 64), info={"sha256": None, "preprocessing": "test"})


class Cancelling(torch.nn.Module):
    """Features that are the small difference of two large, nearly equal terms: bf16 loses them."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.scale = 1000.0

    def forward(self, x):
        a = self.conv(x).flatten(1) * self.scale
        return (a + 1.0) - a  # exactly 1 in fp32 arithmetic of small a; noise where a is rounded to bf16


@needs_bf16
def test_bf16_with_channels_last_is_kept_when_real_posters_match_fp32(posters):
    model, said = conv_net(), []
    precision = choose_precision(model, posters, CPU, said.append)
    assert precision.autocast is torch.bfloat16 and precision.channels_last
    assert precision.description.startswith("bf16 autocast, channels-last (min cosine to fp32 on the first 8 posters: ")
    assert next(model.parameters()).is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        mixed, exact = precision.run(model, posters), Precision().run(conv_net(), posters)
    assert mixed.dtype == torch.bfloat16  # it really ran in bf16
    assert feature_cosine(mixed.float(), exact) >= CPU_BF16_MIN_COSINE and not said


@needs_bf16
def test_bf16_is_refused_when_features_drift_from_fp32(posters):
    model, said = Cancelling(), []
    precision = choose_precision(model, posters, CPU, said.append)
    assert precision.autocast is None and not precision.channels_last
    assert precision.description.startswith("fp32") and "bf16 autocast refused: min cosine" in precision.description
    assert said and "using fp32" in said[0]
    assert model.conv.weight.is_contiguous()  # layout given back for fp32
    with torch.inference_mode():
        np.testing.assert_allclose(precision.run(model, posters), model(posters), atol=1e-5)


def test_fp32_on_a_cpu_without_bf16_runs_a_frozen_graph_only_when_it_matches(posters, monkeypatch):
    monkeypatch.setattr(features.posters, "cpu_bf16_supported", lambda: False)
    model = conv_net()
    precision = choose_precision(model, posters, CPU, print)
    assert precision.autocast is None and precision.description.startswith("fp32")
    if precision.graph is not None:  # kept only when not slower than the model
        assert precision.description.startswith("fp32, frozen graph")
    with torch.inference_mode():
        np.testing.assert_allclose(precision.run(model, posters), model(posters), rtol=1e-4, atol=1e-5)


def test_a_frozen_graph_computes_the_models_features(posters):
    model = conv_net()
    graph = features.posters._frozen_graph(model, posters)
    assert graph is not None
    with torch.inference_mode():
        np.testing.assert_allclose(graph(posters), model(posters), rtol=1e-4, atol=1e-5)
        assert feature_cosine(graph(posters[:3]), model(posters[:3])) >= features.posters.FROZEN_MIN_COSINE  # any batch size


def test_a_frozen_graph_that_drifts_is_refused(posters, monkeypatch):
    monkeypatch.setattr(features.posters, "cpu_bf16_supported", lambda: False)
    monkeypatch.setattr(features.posters, "_frozen_graph", lambda model, images: (lambda x: model(x) + 0.5 * torch.rand_like(model(x))))
    precision = choose_precision(conv_net(), posters, CPU, print)
    assert precision.graph is None and precision.description == "fp32"


def test_zero_rows_in_both_count_as_matching():
    exact = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    assert feature_cosine(exact.clone(), exact) == pytest.approx(1.0)
    assert feature_cosine(torch.tensor([[0.0, 1e-3], [1.0, 2.0]]), exact) < 0.5


def test_the_manifest_records_the_precision_that_ran(greatest_films_root, tmp_path):
    from features_fixture import built_dataset
    from mmimdb.dataset.store import RecordStore

    ids = RecordStore(paths.dataset_dir(greatest_films_root)).ids()[:12]
    root = built_dataset(greatest_films_root, tmp_path / "root", ids)
    rows = features.rows.dataset_rows(root)
    report = features.posters.extract_image_features(root, rows, TINY, device="cpu", batch_size=6, workers=0, progress=False)
    assert manifest.feature_entries(root)["tiny_conv_features"]["precision"] == report.precision
    assert report.precision.startswith("bf16 autocast, channels-last" if cpu_bf16_supported() else "fp32")
    first = features.read_features(root, ["tiny_conv_features"])["tiny_conv_features"]
    report = features.posters.extract_image_features(root, rows, TINY, device="cpu", batch_size=6, workers=0, progress=False,
                                                     force=True, precision="fp32")
    assert report.precision == manifest.feature_entries(root)["tiny_conv_features"]["precision"] == "fp32"
    exact = features.read_features(root, ["tiny_conv_features"])["tiny_conv_features"]
    assert feature_cosine(torch.from_numpy(first), torch.from_numpy(exact)) >= CPU_BF16_MIN_COSINE
