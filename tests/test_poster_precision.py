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


# ------------------------------------------------------------------ one job, one precision

class Stop(KeyboardInterrupt):
    pass


def stop_after_first(chunk: int) -> None:
    raise Stop


@pytest.fixture()
def generated_root(tmp_path):
    """24 generated films (Pillow posters), built: runs without ../shared."""
    import generated_films
    from mmimdb.dataset.build import build

    root = generated_films.write_store(tmp_path / "root", count=24)
    build(root, method="iterative", workers=1)
    return root


def extract(root, **options):
    rows = features.rows.dataset_rows(root)
    return features.posters.extract_image_features(root, rows, TINY, device="cpu", batch_size=4, workers=0, chunk_rows=8,
                                                   progress=False, **options)


def tiny_features(root) -> np.ndarray:
    return features.read_features(root, ["tiny_conv_features"])["tiny_conv_features"]


def test_a_resumed_job_runs_in_the_precision_it_started_with(generated_root, monkeypatch):
    with pytest.raises(Stop):
        extract(generated_root, on_chunk=stop_after_first)
    partial = generated_root / "features" / ".partial" / "tiny_conv_features"
    import json
    started = json.loads((partial / "precision.json").read_text())

    def checked_again(*args, **kwargs):
        raise AssertionError("a resumed job checked its precision again")

    monkeypatch.setattr(features.posters, "choose_precision", checked_again)
    said: list[str] = []
    report = extract(generated_root, log=said.append)
    assert report.reused_chunks == 1 and report.precision == started["description"]
    assert manifest.feature_entries(generated_root)["tiny_conv_features"]["precision"] == started["description"]
    assert any("resuming in the precision the job started with" in line for line in said), said
    resumed = tiny_features(generated_root)
    monkeypatch.undo()

    # The resumed output is the one an uninterrupted run in that precision computes.
    assert extract(generated_root, force=True).precision == started["description"]
    np.testing.assert_allclose(resumed, tiny_features(generated_root), rtol=1e-6, atol=1e-7)


def test_fp32_is_a_job_of_its_own(generated_root):
    with pytest.raises(Stop):
        extract(generated_root, on_chunk=stop_after_first)  # auto
    said: list[str] = []
    computed: list[int] = []
    report = extract(generated_root, precision="fp32", log=said.append, on_chunk=computed.append)
    assert computed == [0, 1, 2] and report.precision == "fp32", said
    assert any("discarding partial results" in line for line in said)
    exact = tiny_features(generated_root)

    # An fp32 request rebuilds what an auto run built; auto takes whatever was built.
    assert not extract(generated_root, force=True).skipped
    entry = manifest.feature_entries(generated_root)["tiny_conv_features"]
    assert entry["precision_requested"] == "auto"
    said.clear()
    report = extract(generated_root, precision="fp32", log=said.append)
    assert not report.skipped and report.precision == "fp32"
    assert any("rebuilding in fp32 as asked" in line for line in said), said
    np.testing.assert_array_equal(tiny_features(generated_root), exact)
    assert extract(generated_root, precision="fp32").skipped and extract(generated_root).skipped


def test_a_damaged_precision_record_is_one_line(generated_root):
    from mmimdb.errors import MmimdbError

    with pytest.raises(Stop):
        extract(generated_root, on_chunk=stop_after_first)
    record = generated_root / "features" / ".partial" / "tiny_conv_features" / "precision.json"
    record.write_text('{"kind": "bf1')
    with pytest.raises(MmimdbError) as error:
        extract(generated_root)
    assert "precision.json is damaged" in str(error.value) and "\n" not in str(error.value)
    record.write_text('{"kind": "int4", "description": "?"}')
    with pytest.raises(MmimdbError, match="unknown precision 'int4'"):
        extract(generated_root)
    # What the message says to do works, and nothing finished was lost.
    assert f"delete {record.parent}" in str(error.value)
    import shutil
    shutil.rmtree(record.parent)
    assert extract(generated_root).computed_rows == 24
