"""`mmimdb build-features`: encoders, outputs, resumable extraction, bad input.

The built datasets come from the real `mmimdb build` (``dataset_builds.built_dataset``).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cli_output import one_line_error
from dataset_builds import built_dataset
from mmimdb import features, paths
from mmimdb.features.encoders import EncoderOptions, ImageEncoder, image_encoder, register_image_encoder, text_encoder
from mmimdb.features.encoders.preprocessing import Preprocessing
from mmimdb.errors import UsageError
from mmimdb.records.store import RecordStore
from mmimdb.features.tokenize import tokenize
from mmimdb.device import resolve_device
from mmimdb_cli.main import cli

SMALL_ROWS = 40


@pytest.fixture
def small_root(greatest_films_root, tmp_path) -> Path:
    """The first 40 films (sorted id) as a built dataset, with its own copy of the records."""
    ids = RecordStore(paths.dataset_dir(greatest_films_root)).ids()[:SMALL_ROWS]
    return built_dataset(greatest_films_root, tmp_path / "root", ids)


def run_cli(*args: str):
    return CliRunner().invoke(cli, ["build-features", *args])


# --------------------------------------------------------------------------- text

def test_tokenizer_follows_the_original_rules():
    assert tokenize("A <br />Man's 2nd WAR, see https://imdb.com/x. [Uncut]|~") == \
        ["a", "man's", "N", "nd", "war", ",", "see", "URL", ".", "uncut"]


def test_word2vec_binary_loads_once_then_comes_from_the_cache(small_root, tmp_path, monkeypatch):
    from gensim.models import KeyedVectors

    words = ["the", "a", "of", "his", "and", "zzz-unused"]
    vectors = np.random.default_rng(0).normal(size=(len(words), 8)).astype(np.float32)
    keyed = KeyedVectors(vector_size=8)
    keyed.add_vectors(words, vectors)
    vectors_file = tmp_path / "GoogleNews-tiny.bin"
    keyed.save_word2vec_format(str(vectors_file), binary=True)

    options = EncoderOptions(word2vec=str(vectors_file))
    features.build_features(small_root, text=["word2vec"], only=["text"], options=options, progress=False)
    rows = features.rows.dataset_rows(small_root)
    tokens = features.plot_tokens(small_root, rows.ids)
    known = [words.index(t) for t in tokens[0] if t in words]
    with h5py.File(small_root / "multimodal_imdb.hdf5") as handle:
        stored = handle["features"][()]
    assert stored.shape == (SMALL_ROWS, 8)
    np.testing.assert_allclose(stored[0], vectors[known].mean(axis=0), rtol=1e-5)
    entry = json.loads((small_root / "manifest.json").read_text())["features"]["features"]
    assert entry["encoder"] == "word2vec" and entry["dims"] == [SMALL_ROWS, 8] and len(entry["sha256"]) == 64

    # The second run must not read the vectors file again.
    def fail(*args, **kwargs):
        raise AssertionError("the word2vec file was read again")

    monkeypatch.setattr(KeyedVectors, "load_word2vec_format", fail)
    features.build_features(small_root, text=["word2vec"], only=["text"], options=options, progress=False)
    with h5py.File(small_root / "multimodal_imdb.hdf5") as handle:
        np.testing.assert_array_equal(handle["features"][()], stored)


def test_tfidf_is_fitted_on_train_only_and_sequences_keep_their_vocabulary(small_root):
    built = features.build_features(small_root, only=["three_grams", "word_grams", "sequences"], progress=False)
    rows = features.rows.dataset_rows(small_root)
    tokens = features.plot_tokens(small_root, rows.ids)
    train_words = {t for i in rows.indices("train") for t in tokens[i]}
    terms = json.loads((small_root / "features" / "three_grams.vocabulary.json").read_text())["terms"]
    assert set(terms) <= {" ".join(tokens[i])[j:j + 3] for i in rows.indices("train") for j in range(len(" ".join(tokens[i])))}
    vocabulary = json.loads((small_root / "features" / "sequences.vocabulary.json").read_text())
    assert vocabulary[0] == features.text.UNKNOWN_TOKEN and set(vocabulary[1:]) <= train_words
    with h5py.File(small_root / "multimodal_imdb.hdf5") as handle:
        assert handle["three_grams"].shape == (SMALL_ROWS, len(terms))
        sequences = handle["sequences"][()]
    assert [len(s) for s in sequences] == [len(t) for t in tokens]
    assert [vocabulary[i] if i else None for i in sequences[0]] == [t if t in vocabulary else None for t in tokens[0]]
    table = pq.read_table(small_root / "features" / "three_grams.parquet")
    assert table.column("imdb_id").to_pylist() == rows.ids
    assert built["word_grams"]["fitted_on"] == "train"


# --------------------------------------------------------------------------- image

# VGG16 weights in torchvision's layout through the whole command: tests/test_vgg16_weights.py


def test_batched_features_equal_one_at_a_time(small_root):
    encoder = image_encoder("efficientnet-lite0", EncoderOptions(image_size=64))
    rows = features.rows.dataset_rows(small_root)
    # fp32 both times: bf16 (tests/test_poster_precision.py) rounds differently at each batch size.
    features.posters.extract_image_features(small_root, rows, encoder, device="cpu", batch_size=SMALL_ROWS, workers=1,
                                            progress=False, precision="fp32")
    batched = features.read_features(small_root, ["efficientnet_features"])["efficientnet_features"]
    features.posters.extract_image_features(small_root, rows, encoder, device="cpu", batch_size=1, workers=0, force=True,
                                            progress=False, precision="fp32")
    single = features.read_features(small_root, ["efficientnet_features"])["efficientnet_features"]
    assert batched.shape == (SMALL_ROWS, 1280) and np.abs(batched).sum() > 0
    np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-5)


def mean_colour_encoder(options: EncoderOptions) -> ImageEncoder:
    """A user-added encoder (the registry is open): the mean colour of the poster."""
    import torch

    return ImageEncoder(name="mean-colour", output="mean_colour_features", dim=3,
                        build=lambda: torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()),
                        preprocess=Preprocessing("imagenet", 32), info={"sha256": None, "preprocessing": "test"})


register_image_encoder("mean-colour")(mean_colour_encoder)


class Stop(KeyboardInterrupt):
    pass


def test_an_interrupted_run_resumes_from_the_last_finished_chunk(small_root, tmp_path):
    encoder = image_encoder("mean-colour")
    rows = features.rows.dataset_rows(small_root)

    def stop_after_first(chunk: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        features.posters.extract_image_features(small_root, rows, encoder, device="cpu", batch_size=8, workers=0,
                                        chunk_rows=16, progress=False, on_chunk=stop_after_first)
    assert sorted(p.name for p in (small_root / "features" / ".partial" / "mean_colour_features").glob("chunk-*")) == ["chunk-00000.npz"]
    computed: list[int] = []
    report = features.posters.extract_image_features(small_root, rows, encoder, device="cpu", batch_size=8, workers=0,
                                             chunk_rows=16, progress=False, on_chunk=computed.append)
    assert computed == [1, 2] and report.reused_chunks == 1
    resumed = features.read_features(small_root, ["mean_colour_features"])["mean_colour_features"]
    assert not (small_root / "features" / ".partial" / "mean_colour_features").exists()

    # Same numbers as one uninterrupted run; a finished output is not recomputed.
    features.posters.extract_image_features(small_root, rows, encoder, device="cpu", workers=0, force=True, progress=False)
    np.testing.assert_allclose(features.read_features(small_root, ["mean_colour_features"])["mean_colour_features"], resumed, rtol=1e-6)
    assert features.posters.extract_image_features(small_root, rows, encoder, device="cpu", progress=False).skipped


def test_chunks_left_by_a_run_stopped_after_its_output_was_written_are_dropped(small_root, monkeypatch):
    """A kill between finish_extraction's write of the output and its removal of the chunks
    (the kill -9 harness found it): the rerun finds the output built and drops the chunks."""
    encoder = image_encoder("mean-colour")
    rows = features.rows.dataset_rows(small_root)
    options = dict(device="cpu", batch_size=8, workers=0, chunk_rows=16, progress=False)
    monkeypatch.setattr(features.posters.shutil, "rmtree", lambda path: (_ for _ in ()).throw(Stop()))
    with pytest.raises(Stop):
        features.posters.extract_image_features(small_root, rows, encoder, force=True, **options)
    monkeypatch.undo()
    partial = small_root / "features" / ".partial" / "mean_colour_features"
    assert partial.is_dir()
    assert features.posters.extract_image_features(small_root, rows, encoder, **options).skipped
    assert not partial.exists()


def test_an_interrupted_forced_run_resumes_when_the_same_command_is_rerun(small_root):
    encoder = image_encoder("mean-colour")
    rows = features.rows.dataset_rows(small_root)
    options = dict(device="cpu", batch_size=8, workers=0, chunk_rows=16, progress=False, force=True)
    features.posters.extract_image_features(small_root, rows, encoder, **{**options, "force": False})  # a finished output

    def stop_after_first(chunk: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        features.posters.extract_image_features(small_root, rows, encoder, on_chunk=stop_after_first, **options)
    computed: list[int] = []
    said: list[str] = []
    report = features.posters.extract_image_features(small_root, rows, encoder, on_chunk=computed.append, log=said.append,
                                                     **options)
    assert computed == [1, 2] and report.reused_chunks == 1, said
    assert not any("discarding" in line for line in said)


def _generated_built_root(root: Path, count: int, plot: str | None) -> Path:
    """``count`` generated films built into ``root``, each with ``plot`` when given."""
    import generated_films
    from mmimdb.records import record
    from mmimdb.dataset.build import build
    from mmimdb.records.posters import check_poster

    store = RecordStore(root / "dataset")
    for film in generated_films.films(count):
        movie = record.from_imdbpy(film["imdb_id"], {**film["release_json"], **({"plot": [plot]} if plot else {})})
        info = check_poster(film["poster"], film["imdb_id"])
        movie["poster"] = info.record_fields()
        store.write(movie, film["poster"])
    build(root, workers=1)
    return root


@pytest.mark.parametrize("count, plot", [(12, "The same five words here."), (1, None)])
def test_sequences_of_equal_length_or_of_one_movie_are_written(tmp_path, count, plot):
    root = _generated_built_root(tmp_path / "root", count, plot)
    result = run_cli("--root", str(root), "--only", "sequences", "--no-progress")
    assert result.exit_code == 0, result.output
    stored = features.read_features(root, ["sequences"])["sequences"]
    tokens = features.rows.plot_tokens(root, features.rows.dataset_rows(root).ids)
    assert len(stored) == count and [len(row) for row in stored] == [len(t) for t in tokens]
    if plot:
        assert {len(row) for row in stored} == {len(tokenize(plot))}


# --------------------------------------------------------------------------- real encoders

def linear_probe_f1(train_x, train_y, eval_x, eval_y) -> dict[str, float]:
    """Logistic regression per genre on train; micro/macro F1 of the probe and of always
    predicting the most frequent train genre."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    train_x, eval_x = scaler.transform(train_x), scaler.transform(eval_x)
    predicted = np.zeros_like(eval_y)
    for genre in range(train_y.shape[1]):
        if 0 < train_y[:, genre].sum() < len(train_y):
            model = LogisticRegression(C=0.01, max_iter=2000).fit(train_x, train_y[:, genre])
            predicted[:, genre] = model.predict_proba(eval_x)[:, 1] >= 0.3
    baseline = np.zeros_like(eval_y)
    baseline[:, np.argmax(train_y.sum(axis=0))] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"micro": f1_score(eval_y, predicted, average="micro"), "macro": f1_score(eval_y, predicted, average="macro", zero_division=0),
                "baseline_micro": f1_score(eval_y, baseline, average="micro"),
                "baseline_macro": f1_score(eval_y, baseline, average="macro", zero_division=0)}


def assert_probe_beats_baseline(root: Path, name: str, evaluate_on: tuple[str, ...]) -> dict[str, float]:
    train = features.read_features(root, [name], "train")
    held_out = [features.read_features(root, [name], split) for split in evaluate_on]
    x, y = np.concatenate([h[name] for h in held_out]), np.concatenate([h["genres"] for h in held_out])
    assert np.isfinite(train[name]).all() and np.isfinite(x).all()
    scores = linear_probe_f1(train[name], train["genres"], x, y)
    print(name, {k: round(v, 3) for k, v in scores.items()})
    assert scores["macro"] > scores["baseline_macro"] + 0.05, scores
    assert scores["micro"] > scores["baseline_micro"], scores
    return scores


def test_glove_features_of_real_plots_beat_the_most_frequent_genre(greatest_films_glove):
    with h5py.File(greatest_films_glove / "multimodal_imdb.hdf5") as handle:
        assert handle["glove_features"].shape == (1222, 50)
    assert_probe_beats_baseline(greatest_films_glove, "glove_features", ("dev",))


def test_efficientnet_features_of_real_posters_beat_the_most_frequent_genre(greatest_films_root, tmp_path):
    # For speed (EfficientNet-Lite0 runs ~10 posters/s at 224 px on 2 cores): every other
    # film (611) at 128 px, evaluated on dev + test together so that the held-out set is
    # not tiny.
    ids = RecordStore(paths.dataset_dir(greatest_films_root)).ids()[::2]
    root = built_dataset(greatest_films_root, tmp_path / "subset", ids)
    features.build_features(root, image=["efficientnet-lite0"], only=["image"], workers=0,
                            options=EncoderOptions(image_size=128), progress=False)
    with h5py.File(root / "multimodal_imdb.hdf5") as handle:
        assert handle["efficientnet_features"].shape == (len(ids), 1280)
    assert_probe_beats_baseline(root, "efficientnet_features", ("dev", "test"))


# --------------------------------------------------------------------------- command line, bad input

def test_cli_builds_every_output_with_the_offline_encoders(small_root):
    result = run_cli("--root", str(small_root), "--text", "glove-50", "--image", "efficientnet-lite0",
                     "--image-size", "64", "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.output
    names = ["glove_features", "three_grams", "word_grams", "sequences", "efficientnet_features"]
    manifest = json.loads((small_root / "manifest.json").read_text())
    assert set(names) <= set(manifest["features"]) and manifest["counts"]["total"] == SMALL_ROWS  # build keys kept
    ids = features.rows.dataset_rows(small_root).ids
    with h5py.File(small_root / "multimodal_imdb.hdf5") as handle:
        assert all(handle[name].shape[0] == SMALL_ROWS for name in names)
    for name in names:
        assert pq.read_table(small_root / "features" / f"{name}.parquet").column("imdb_id").to_pylist() == ids
    loaded = features.read_features(small_root, ["glove_features", "efficientnet_features", "sequences"], "dev")
    assert loaded["genres"].shape[0] == loaded["glove_features"].shape[0] == len(loaded["sequences"])
    # embeddings: row i is the GloVe vector of sequence id i (0 = unknown word, zeros)
    vocabulary = json.loads((small_root / "features" / "sequences.vocabulary.json").read_text())
    glove = text_encoder("glove-50")
    with h5py.File(small_root / "multimodal_imdb.hdf5") as handle:
        embeddings = handle["embeddings"][()]
    assert embeddings.shape == (len(vocabulary), 50) and not embeddings[0].any()
    np.testing.assert_allclose(embeddings[1], glove.encode([[vocabulary[1]]])[0], rtol=1e-6)


def test_missing_word2vec_file_names_the_file_option_and_variable(small_root, tmp_path, monkeypatch):
    monkeypatch.delenv("MMIMDB_WORD2VEC", raising=False)
    missing = tmp_path / "GoogleNews-vectors-negative300.bin"
    result = run_cli("--root", str(small_root), "--word2vec", str(missing), "--only", "text")
    assert result.exit_code == 2
    line = one_line_error(result)
    assert str(missing) in line and "--word2vec" in line and "$MMIMDB_WORD2VEC" in line
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path / "gensim-data"))  # no gensim cache either
    result = run_cli("--root", str(small_root), "--only", "text", "--no-download")  # neither option nor variable
    assert result.exit_code == 2 and "--word2vec PATH or $MMIMDB_WORD2VEC" in one_line_error(result)


def test_a_file_that_is_not_word2vec_is_refused(small_root, tmp_path, monkeypatch):
    wrong = tmp_path / "vectors.bin"
    wrong.write_bytes(b"\x89PNG not vectors at all\n")
    monkeypatch.setenv("MMIMDB_WORD2VEC", str(wrong))
    result = run_cli("--root", str(small_root), "--only", "text")
    assert result.exit_code == 2 and str(wrong) in one_line_error(result) and "not a word2vec" in result.output


def test_missing_or_wrong_vgg16_weights_are_refused(small_root, tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no hub cache
    monkeypatch.delenv("MMIMDB_VGG16_WEIGHTS", raising=False)
    result = run_cli("--root", str(small_root), "--only", "image", "--no-download")
    line = one_line_error(result)
    assert result.exit_code == 2 and "--vgg16-weights PATH or $MMIMDB_VGG16_WEIGHTS" in line and "vgg16-397923af.pth" in line

    misnamed = tmp_path / "vgg16-397923af.pth"
    misnamed.write_bytes(b"not the torchvision file")
    result = run_cli("--root", str(small_root), "--only", "image", "--vgg16-weights", str(misnamed))
    assert result.exit_code == 2 and "wrong checksum" in one_line_error(result) and str(misnamed) in result.output

    garbage = tmp_path / "weights.pth"
    garbage.write_bytes(b"garbage")
    monkeypatch.setenv("MMIMDB_VGG16_WEIGHTS", str(garbage))
    result = run_cli("--root", str(small_root), "--only", "image", "--device", "cpu")
    assert result.exit_code == 2 and "not a torch state dict" in one_line_error(result)

    other = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(2, 3)}, other)
    result = run_cli("--root", str(small_root), "--only", "image", "--device", "cpu", "--vgg16-weights", str(other))
    assert result.exit_code == 2 and "torchvision's layout" in one_line_error(result)
    assert "vgg_features" not in json.loads((small_root / "manifest.json").read_text()).get("features", {})


def test_cuda_without_a_gpu_is_a_clear_error(small_root):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    result = run_cli("--root", str(small_root), "--image", "efficientnet-lite0", "--only", "image", "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA GPU" in one_line_error(result)


def test_auto_says_when_it_falls_back_to_the_cpu(monkeypatch):
    import torch

    from mmimdb import device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_mps_available", lambda torch: False)
    messages: list[str] = []
    assert resolve_device("auto", messages.append).type == "cpu"
    assert messages == ["device auto: no CUDA or MPS GPU found, running on the CPU"]


def _damage_poster_in_parquet(root, imdb_id: str) -> None:
    """Rewrite the split file that holds ``imdb_id`` with its poster bytes truncated."""
    import pyarrow as pa

    for split in ("train", "dev", "test"):
        path = paths.parquet_path(root, split)
        table = pq.read_table(path)
        ids = table.column("imdb_id").to_pylist()
        if imdb_id not in ids:
            continue
        posters = table.column("poster").to_pylist()
        posters[ids.index(imdb_id)]["bytes"] = b"\xff\xd8\xff\xe0 truncated jpeg"
        table = table.set_column(table.column_names.index("poster"), "poster", pa.array(posters, table.schema.field("poster").type))
        pq.write_table(table, path, row_group_size=256)
        return


def test_an_unreadable_poster_is_reported_and_flagged_and_the_run_goes_on(small_root, capsys):
    ids = features.rows.dataset_rows(small_root).ids
    broken = ids[5]
    _damage_poster_in_parquet(small_root, broken)  # the features stage reads the build's Parquet
    report = features.posters.extract_image_features(small_root, features.rows.dataset_rows(small_root), image_encoder("mean-colour"),
                                             device="cpu", workers=1, progress=False)
    assert report.failed_ids == [broken]
    assert broken in capsys.readouterr().err
    table = pq.read_table(small_root / "features" / "mean_colour_features.parquet").to_pydict()
    assert [i for i, ok in zip(table["imdb_id"], table["ok"]) if not ok] == [broken]
    entry = json.loads((small_root / "manifest.json").read_text())["features"]["mean_colour_features"]
    assert entry["failed_ids"] == [broken]


@pytest.mark.parametrize("args, message", [
    (["--only", "posters"], "unknown output 'posters'"),
    (["--text", "elmo", "--only", "text"], "unknown text encoder 'elmo'"),
    (["--image", "resnet", "--only", "image"], "unknown image encoder 'resnet'"),
])
def test_unknown_names_are_refused(small_root, args, message):
    result = run_cli("--root", str(small_root), *args)
    assert result.exit_code == 2 and message in one_line_error(result)


def test_a_root_without_a_built_dataset_is_refused(tmp_path):
    result = run_cli("--root", str(tmp_path), "--text", "glove-50", "--only", "text")
    assert result.exit_code == 2 and "multimodal_imdb.hdf5 is missing); run `mmimdb build`" in one_line_error(result)


def test_library_raises_usage_errors_not_tracebacks(small_root):
    with pytest.raises(UsageError, match="batch size"):
        features.build_features(small_root, batch_size=0)
    with pytest.raises(UsageError, match="unknown text encoder"):
        text_encoder("nope")


@pytest.mark.parametrize("kind", ["imagenet", "original"])
def test_draft_mode_decoding_matches_a_full_decode(kind):
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 255, (18, 12, 3)), np.ones((100, 100, 1))).astype(np.uint8)  # 1200 x 1800
    buffer = io.BytesIO()
    Image.fromarray(smooth).save(buffer, "JPEG", quality=95)
    preprocess = Preprocessing(kind)
    drafted = preprocess(buffer.getvalue())
    full = preprocess.normalize(preprocess.geometry(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))
    assert drafted.shape == full.shape == (3, 224, 224)
    assert np.abs(drafted - full).mean() < 0.05  # in std units of the normalized input


def test_batch_size_is_timed_on_the_cpu():
    import torch

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    said = []
    chosen = features.posters.choose_batch_size(model, 32, torch.device("cpu"), log=said.append, seconds=0.05)
    assert chosen in features.posters.CPU_BATCH_CANDIDATES
    assert said and said[0].startswith(f"batch size {chosen} (fastest on this CPU: 1: ")
