"""The model tests' data root, written by the real pipeline from generated films.

``mmimdb build`` (iterative split) and ``mmimdb build-features`` run, as library calls, on
:data:`FILMS` generated films (tests/generated_films.py: genres planted in the plot, the
poster or both), so the models are tested on exactly what a user's models read:

- ``features``: the word2vec mean of the plot tokens, from a word2vec file in GoogleNews's
  binary format written at test time (``generated_films.write_word2vec``);
- ``efficientnet_features``: EfficientNet-Lite0 (real ImageNet weights) on the posters at
  64 px, served to the models as ``vgg_features`` (:data:`ALIASES`, as ``mmimdb benchmark
  --image-features efficientnet_features`` does);
- ``three_grams``, ``word_grams``, ``sequences`` + ``embeddings``, ``images``, ``genres``.

Built once per test session (the ``model_test_root`` fixture of ``conftest.py``); no
../shared needed.
"""
from __future__ import annotations

from pathlib import Path

import generated_films

#: Generated films in the model-test dataset (about 240 train / 40 dev / 120 test).
FILMS = 400
#: The image vector the models read as ``vgg_features``.
ALIASES = {"vgg_features": "efficientnet_features"}
#: The same, as the benchmark command's option.
IMAGE = ("--image-features", ALIASES["vgg_features"])
#: Poster size fed to EfficientNet-Lite0 (small: fast, and the planted colours survive it).
IMAGE_SIZE = 64


def build_model_test_root(root: Path, films: int = FILMS) -> Path:
    """Write the records of ``films`` generated films under ``root``, then build the dataset
    and its features with the real writers; return ``root``."""
    from mmimdb.dataset.build import build
    from mmimdb.features import build_features
    from mmimdb.features.encoders import EncoderOptions

    generated_films.write_store(root, count=films)
    build(root, method="iterative", workers=2)
    word2vec = generated_films.write_word2vec(root / "generated-word2vec.bin")
    build_features(root, text=["word2vec"], image=["efficientnet-lite0"], device="cpu", batch_size=64, workers=0,
                   options=EncoderOptions(word2vec=str(word2vec), image_size=IMAGE_SIZE), progress=False,
                   log=lambda message: None)
    return root


def open_data(root: Path):
    """The model-test HDF5 as the models read it (the image vector under ``vgg_features``)."""
    from mmimdb.benchmark.data import BenchmarkData

    return BenchmarkData.open(root, ALIASES)


def use_one_thread() -> None:
    """Train the small test models on one thread: two threads gain nothing at this size and
    lose much when other processes share the two cores (OpenMP threads wait on each other)."""
    import torch

    torch.set_num_threads(1)


def private_hdf5_copy(model_test_root: Path, tmp_path: Path) -> Path:
    """A data root holding a private copy of the model-test HDF5 file (tests may remove
    datasets from it)."""
    import shutil

    copy = tmp_path / "root"
    copy.mkdir()
    shutil.copy(model_test_root / "multimodal_imdb.hdf5", copy)
    return copy


#: The models of the tiny benchmark run: the GMU and the two unimodal models Table 3 and
#: Table 4 compare it with.
RUN_MODELS = ("GMU", "MaxoutMLP_w2v", "VGG_Transfer")


def write_benchmark_run(root: Path, out: Path) -> Path:
    """A tiny benchmark of :data:`RUN_MODELS` on the model-test ``root`` (a few epochs, one
    seed), written into ``out`` as ``mmimdb benchmark`` writes it (results, tables, plots,
    runs, qualitative); returns ``out``."""
    from mmimdb.benchmark.qualitative import write_qualitative
    from mmimdb.benchmark.reports import write_benchmark_reports
    from mmimdb.benchmark.runner import RunSettings, run_benchmark

    use_one_thread()
    data = open_data(root)
    results = run_benchmark(data, list(RUN_MODELS), RunSettings(epochs=6, patience=6, device="cpu"),
                            runs_dir=out / "runs")
    write_benchmark_reports(results, out)
    write_qualitative(results, out, data.split("test").labels, root)
    return out
