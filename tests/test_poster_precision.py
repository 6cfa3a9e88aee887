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


def timed(**per_kind: float):
    """A stand-in for the timing of each way, in seconds by kind (the others: 1 s)."""
    return lambda precision, model, images: per_kind.get(precision.kind, 1.0)


@needs_bf16
def test_bf16_with_channels_last_is_kept_when_real_posters_match_fp32(posters, monkeypatch):
    model, said = conv_net(), []
    with torch.inference_mode():
        exact = model(posters)
    candidates, refused = features.posters.cpu_candidates(model, posters, exact, said.append)
    kinds = {candidate.kind: agreement for candidate, agreement in candidates}
    assert kinds["bf16"].startswith("min cosine to fp32 on the first 8 posters: ") and not refused and not said
    assert next(model.parameters()).is_contiguous()  # the check gives the layout back

    monkeypatch.setattr(features.posters, "_seconds", timed(bf16=0.5))
    precision = choose_precision(model, posters, CPU, said.append)
    assert precision.autocast is torch.bfloat16 and precision.channels_last
    assert precision.description.startswith("bf16 autocast, channels-last (min cosine to fp32 on the first 8 posters: ")
    assert next(model.parameters()).is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        mixed, exact = precision.run(model, posters), Precision().run(conv_net(), posters)
    assert mixed.dtype == torch.bfloat16  # it really ran in bf16
    assert feature_cosine(mixed.float(), exact) >= CPU_BF16_MIN_COSINE


@needs_bf16
def test_bf16_must_be_clearly_faster_than_the_fastest_fp32_way(posters, monkeypatch):
    monkeypatch.setattr(features.posters, "_seconds", timed(bf16=0.95, onnx=1.0, frozen=2.0, fp32=3.0))
    model = conv_net()
    precision = choose_precision(model, posters, CPU, print)
    assert precision.kind == "onnx" and "0.95" not in precision.description
    assert next(model.parameters()).is_contiguous()  # not left in bf16's layout
    monkeypatch.setattr(features.posters, "_seconds", timed(bf16=0.9, onnx=1.0))
    assert choose_precision(model, posters, CPU, print).kind == "bf16"


@needs_bf16
def test_bf16_is_refused_when_features_drift_from_fp32(posters, monkeypatch):
    monkeypatch.setattr(features.posters, "_seconds", timed(bf16=0.01))
    model, said = Cancelling(), []
    precision = choose_precision(model, posters, CPU, said.append)
    assert precision.autocast is None and not precision.channels_last
    assert precision.description.startswith("fp32") and "bf16 autocast refused: min cosine" in precision.description
    assert said and "keeping fp32" in said[0]
    assert model.conv.weight.is_contiguous()  # layout given back for fp32
    with torch.inference_mode():
        np.testing.assert_allclose(precision.run(model, posters), model(posters), atol=1e-5)


@pytest.mark.parametrize("kind", ["fp32", "frozen", "onnx"])
def test_the_fastest_fp32_way_is_chosen_and_computes_the_models_features(posters, monkeypatch, kind):
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(features.posters, "_seconds", timed(**{kind: 0.1}))
    model, said = conv_net(), []
    precision = choose_precision(model, posters, CPU, said.append)
    assert precision.kind == kind and precision.autocast is None
    assert said[-1].startswith("image encoder: fp32") and f"{kind} 12.5 ms" in said[-1]  # 0.1 s for 8 posters
    with torch.inference_mode():  # any batch size
        for batch in (posters, posters[:3], posters[:1]):
            np.testing.assert_allclose(precision.run(model, batch), model(batch), rtol=1e-4, atol=1e-5)


def test_onnx_runtime_is_left_out_when_it_is_not_installed(posters, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if absent
    model = conv_net()
    with torch.inference_mode():
        exact = model(posters)
    candidates, _ = features.posters.cpu_candidates(model, posters, exact, print)
    assert "onnx" not in {candidate.kind for candidate, _ in candidates}
    assert candidates[0][0].kind == "fp32"


def test_a_frozen_graph_computes_the_models_features(posters):
    model = conv_net()
    graph = features.posters._frozen_graph(model, posters)
    assert graph is not None
    with torch.inference_mode():
        np.testing.assert_allclose(graph(posters), model(posters), rtol=1e-4, atol=1e-5)
        assert feature_cosine(graph(posters[:3]), model(posters[:3])) >= features.posters.EXACT_MIN_COSINE  # any batch size


@pytest.mark.parametrize("kind", ["frozen", "onnx"])
def test_an_fp32_rewrite_that_drifts_is_refused(posters, monkeypatch, kind):
    monkeypatch.setattr(features.posters, "cpu_bf16_supported", lambda: False)
    monkeypatch.setattr(features.posters, "_seconds", timed(**{kind: 0.01}))
    drifting = lambda x: conv_net()(x) + 0.5 * torch.rand(len(x), 64)  # noqa: E731
    if kind == "frozen":
        monkeypatch.setattr(features.posters, "_frozen_graph", lambda model, images: drifting)
    else:
        monkeypatch.setattr(Precision, "session", lambda self: type("S", (), {"run": lambda _, names, feed: [
            drifting(torch.from_numpy(feed["images"])).numpy()]})())
    precision = choose_precision(conv_net(), posters, CPU, print)
    assert precision.kind != kind


def test_zero_rows_in_both_count_as_matching():
    exact = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    assert feature_cosine(exact.clone(), exact) == pytest.approx(1.0)
    assert feature_cosine(torch.tensor([[0.0, 1e-3], [1.0, 2.0]]), exact) < 0.5


@pytest.fixture()
def trial_on_any_job(monkeypatch):
    """The precision trial runs on these tests' small jobs (12-24 posters, batch size given),
    which it otherwise skips (:func:`test_a_job_smaller_than_the_trials_runs_none`)."""
    monkeypatch.setattr(features.posters, "PRECISION_TRIAL_POSTERS", 0)


@pytest.mark.usefixtures("trial_on_any_job")
def test_the_manifest_records_the_precision_that_ran(greatest_films_root, tmp_path):
    from dataset_builds import built_dataset
    from mmimdb.records.store import RecordStore

    ids = RecordStore(paths.dataset_dir(greatest_films_root)).ids()[:12]
    root = built_dataset(greatest_films_root, tmp_path / "root", ids)
    rows = features.rows.dataset_rows(root)
    report = features.posters.extract_image_features(root, rows, TINY, device="cpu", batch_size=6, workers=0, progress=False)
    assert manifest.feature_entries(root)["tiny_conv_features"]["precision"] == report.precision
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
    options = {"device": "cpu", "batch_size": 4, "workers": 0, "chunk_rows": 8, "progress": False, **options}
    return features.posters.extract_image_features(root, rows, TINY, **options)


def tiny_features(root) -> np.ndarray:
    return features.read_features(root, ["tiny_conv_features"])["tiny_conv_features"]


@pytest.mark.usefixtures("trial_on_any_job")
@pytest.mark.parametrize("kind", ["fp32", "frozen", "onnx", pytest.param("bf16", marks=needs_bf16)])
def test_a_resumed_job_runs_in_the_precision_it_started_with(generated_root, monkeypatch, kind):
    import json

    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(features.posters, "_seconds", timed(**{kind: 0.01}))
    with pytest.raises(Stop):
        extract(generated_root, on_chunk=stop_after_first)
    started = json.loads((generated_root / "features" / ".partial" / "tiny_conv_features" / "precision.json").read_text())
    assert started["kind"] == kind

    def checked_again(*args, **kwargs):
        raise AssertionError("a resumed job checked its precision again")

    with monkeypatch.context() as patch:
        patch.setattr(features.posters, "choose_precision", checked_again)
        said: list[str] = []
        report = extract(generated_root, log=said.append)
    assert report.reused_chunks == 1 and report.precision == started["description"]
    assert manifest.feature_entries(generated_root)["tiny_conv_features"]["precision"] == started["description"]
    assert any("resuming in the precision the job started with" in line for line in said), said
    resumed = tiny_features(generated_root)

    # The resumed output is the one an uninterrupted run in that precision computes.
    assert extract(generated_root, force=True).precision.startswith(started["description"].split(" (")[0])
    np.testing.assert_allclose(resumed, tiny_features(generated_root), rtol=1e-6, atol=1e-7)


@pytest.mark.usefixtures("trial_on_any_job")
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


@pytest.mark.usefixtures("trial_on_any_job")
def test_a_damaged_precision_record_is_one_line(generated_root, monkeypatch):
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
    # Started under ONNX Runtime, resumed where it is not installed: said, not mixed with another way.
    record.write_text('{"kind": "onnx", "description": "fp32, ONNX Runtime (...)"}')
    with monkeypatch.context() as patch, pytest.raises(MmimdbError, match="ONNX Runtime model this job started with "
                                                                          "cannot be made here"):
        patch.setitem(__import__("sys").modules, "onnxruntime", None)
        extract(generated_root)
    # What the message says to do works, and nothing finished was lost.
    assert f"delete {record.parent}" in str(error.value)
    import shutil
    shutil.rmtree(record.parent)
    assert extract(generated_root).computed_rows == 24


@pytest.mark.usefixtures("trial_on_any_job")
def test_onnx_runtime_runs_in_the_dataloader_workers(generated_root, monkeypatch):
    """Each worker makes its own session (with its one thread) after the fork."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(features.posters, "_seconds", timed(onnx=0.01))
    report = extract(generated_root, workers=2)
    assert report.precision.startswith("fp32, ONNX Runtime (") and "on 1 thread(s)" in report.precision
    in_workers = tiny_features(generated_root)
    assert extract(generated_root, precision="fp32").precision == "fp32"
    np.testing.assert_allclose(in_workers, tiny_features(generated_root), rtol=1e-4, atol=1e-5)


def test_an_unknown_precision_is_one_line_before_any_work(generated_root):
    from mmimdb.errors import UsageError

    before = sorted(p.name for p in (generated_root / "features").glob("*")) if (generated_root / "features").exists() else []
    with pytest.raises(UsageError, match=r"^unknown precision 'int8' \(known: auto, fp32\)$"):
        # The 3-gram TF-IDF needs no encoder files: without the check first, it would be written.
        features.build_features(generated_root, text=(), image=(), only=("three_grams",), precision="int8", progress=False)
    with pytest.raises(UsageError, match=r"^unknown precision 'bf16' \(known: auto, fp32\)$"):
        extract(generated_root, precision="bf16")
    after = sorted(p.name for p in (generated_root / "features").glob("*")) if (generated_root / "features").exists() else []
    assert after == before  # nothing written


def test_a_job_smaller_than_the_trials_runs_none(generated_root, monkeypatch):
    """24 posters to compute, fewer than the precision and batch-size trials would encode:
    neither runs; the model's own fp32 at batch size 1, said in one line and kept for a resume."""
    import json

    def trial(*args, **kwargs):
        raise AssertionError("a trial ran on a job smaller than it")

    monkeypatch.setattr(features.posters, "choose_precision", trial)
    monkeypatch.setattr(features.posters, "choose_batch_size", trial)
    said: list[str] = []
    report = extract(generated_root, batch_size=None, log=said.append)
    trials = features.posters.PRECISION_TRIAL_POSTERS + features.posters.BATCH_TRIAL_POSTERS
    assert f"fp32, batch size 1 (no timing trial: it would encode {trials} posters, more than the 24 of this job)" in said
    assert report.computed_rows == 24 and report.precision.startswith("fp32 (no precision trial")
    assert manifest.feature_entries(generated_root)["tiny_conv_features"]["precision"] == report.precision
    untried = tiny_features(generated_root)
    # The model's own fp32, bit for bit (at the same batch size).
    assert extract(generated_root, precision="fp32", batch_size=None).precision == "fp32"
    np.testing.assert_array_equal(untried, tiny_features(generated_root))

    # A resumed small job reads its precision back (fp32, untried), and a job as large as
    # the trial (here: the trial made 24 posters) runs it.
    with pytest.raises(Stop):
        extract(generated_root, force=True, on_chunk=stop_after_first)
    record = generated_root / "features" / ".partial" / "tiny_conv_features" / "precision.json"
    assert json.loads(record.read_text())["kind"] == "fp32"
    said.clear()
    assert extract(generated_root, force=True, log=said.append).reused_chunks == 1
    assert any("resuming in the precision the job started with: fp32 (no precision trial" in line for line in said)
    monkeypatch.setattr(features.posters, "PRECISION_TRIAL_POSTERS", 24)
    with pytest.raises(AssertionError, match="a trial ran"):
        extract(generated_root, force=True)
