"""The features stage: the paper's text and poster features for a built dataset, and the
newer encoders beside them.

Rows follow the built HDF5 (``imdb_ids``, ordered train, dev, test; :mod:`.rows`); plots and
posters come from the Parquet files and the records store. Every output is written by :mod:`.writer` to three
places at once:

- the HDF5 ``<root>/multimodal_imdb.hdf5`` under the original name (``features``,
  ``vgg_features``, ``three_grams``, ``word_grams``, ``sequences``; other encoders use
  their own names, e.g. ``glove_features``, ``efficientnet_features``);
- ``<root>/features/<name>.parquet``, one row per movie, aligned by ``imdb_id``;
- ``<root>/manifest.json``: encoder, weights sha256, preprocessing, dims, file checksums.

Text outputs are in :mod:`.text`, poster extraction (batched, resumable) in
:mod:`.posters`, the encoders in :mod:`.encoders` (a registry: add one there).

>>> from mmimdb.features import build_features
>>> build_features("~/.cache/mmimdb", text=["glove-50"], image=["efficientnet-lite0"])  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Sequence

from .. import paths
from ..dataset import hdf5
from ..dataset.built import BuiltDataset
from ..device import resolve_device
from ..errors import UsageError
from ..storage import atomic, lock
from .encoders import EncoderOptions, image_encoder, text_encoder
from .posters import check_precision, extract_image_features
from .rows import dataset_rows, plot_texts, plot_tokens
from .text import EMBEDDINGS, SEQUENCES, TFIDF_OUTPUTS, build_embeddings_output, build_sequences_output, \
    build_text_encoder_output, build_tfidf_output
from .writer import DEFAULT_CHUNK_ROWS, Log, stderr_log

#: Groups ``--only`` accepts: the chosen encoders' outputs, and the encoder-free outputs.
OUTPUT_GROUPS = ("text", "image", hdf5.THREE_GRAMS, hdf5.WORD_GRAMS, hdf5.SEQUENCES)


@lock.writes_root("mmimdb build-features")
def build_features(root: str | os.PathLike | None = None, text: Sequence[str] = ("word2vec",),
                   image: Sequence[str] = ("vgg16",), only: Sequence[str] | None = None,
                   options: EncoderOptions | None = None, device: str = "auto", batch_size: int | None = None,
                   workers: int | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS, force: bool = False,
                   progress: bool = True, log: Log = stderr_log, ray: str | None = None,
                   precision: str = "auto") -> dict[str, Any]:
    """Build the chosen features of the dataset under ``root``; return their manifest entries.

    ``only`` restricts the work to some of :data:`OUTPUT_GROUPS`. Encoders and their files
    are checked before any work starts, so a wrong path fails fast and changes nothing.
    ``ray`` (``auto``, ``local`` or a cluster address; :mod:`mmimdb.ray_cluster`) runs the
    image encoders on a Ray cluster (:mod:`.ray_extract`); the text outputs, seconds of
    work on one core, stay here. ``precision`` (``auto`` or ``fp32``) is how the image
    encoders run (:func:`.posters.extract_image_features`).
    """
    root = paths.data_root(root)
    if paths.features_dir(root).is_dir():  # what a killed run left (the root's lock is ours alone)
        atomic.remove_stale_temporaries(paths.features_dir(root))
    groups = list(only) if only else list(OUTPUT_GROUPS)
    unknown = [g for g in groups if g not in OUTPUT_GROUPS]
    if unknown:
        raise UsageError(f"unknown output '{unknown[0]}' for --only (known: {', '.join(OUTPUT_GROUPS)})")
    check_precision(precision)  # before any work, text outputs included
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"batch size must be at least 1 (got {batch_size})")
    options = dataclasses.replace(
        options or EncoderOptions(), device=device, progress=progress, log=log,
        cache_dir=(options and options.cache_dir) or paths.features_cache_dir(root),
        downloads_dir=(options and options.downloads_dir) or paths.downloads_dir(root))
    rows = dataset_rows(root)
    text_encoders = [text_encoder(name, options) for name in text] if "text" in groups else []
    image_encoders = [image_encoder(name, options) for name in image] if "image" in groups else []
    if ray is not None:
        from ..ray_cluster import import_ray

        import_ray()  # fail before any work (the device is the workers', not this machine's)
    if (image_encoders and ray is None) or any(encoder.reads == "text" for encoder in text_encoders):
        resolve_device(device, log=lambda message: None)  # fail before any work; the run says it once
    paths.features_dir(root).mkdir(parents=True, exist_ok=True)
    built: dict[str, Any] = {}
    if any(g in groups for g in ("text", hdf5.THREE_GRAMS, hdf5.WORD_GRAMS, hdf5.SEQUENCES)):
        texts = plot_texts(root, rows.ids)
        tokens = plot_tokens(root, rows.ids, texts)
        for encoder in text_encoders:
            built[encoder.output] = build_text_encoder_output(root, rows, tokens if encoder.reads == "tokens" else texts,
                                                              encoder, log)
        for name in TFIDF_OUTPUTS:
            if name in groups:
                built[name] = build_tfidf_output(root, rows, tokens, name, log)
        word_vectors = [encoder for encoder in text_encoders if encoder.reads == "tokens"]
        if SEQUENCES in groups:
            built[SEQUENCES] = build_sequences_output(root, rows, tokens, log)
            if word_vectors:  # RNN_transfer starts from word vectors, which only word encoders have
                built[EMBEDDINGS] = build_embeddings_output(root, word_vectors[0], log)
    if image_encoders and ray is not None:
        from ..ray_cluster import cluster
        from .ray_extract import extract_image_features_ray

        with cluster(ray, log):
            for encoder in image_encoders:
                extract_image_features_ray(root, rows, encoder, device=device, batch_size=batch_size, chunk_rows=chunk_rows,
                                           force=force, progress=progress, log=log, precision=precision)
                built[encoder.output] = BuiltDataset(root).feature_entries[encoder.output]
        return built
    for encoder in image_encoders:
        extract_image_features(root, rows, encoder, device=device, batch_size=batch_size, workers=workers,
                               chunk_rows=chunk_rows, force=force, progress=progress, log=log, precision=precision)
        built[encoder.output] = BuiltDataset(root).feature_entries[encoder.output]
    return built


def read_features(root: str | os.PathLike | None, names: Sequence[str], split: str | None = None) -> dict[str, Any]:
    """Features ``names`` plus ``genres`` and ``imdb_ids`` for the rows of ``split`` (all if None).

    Dense features come back as (n, dim) float32 arrays, ``sequences`` as a list of int32
    arrays, each checked to belong to these rows (:class:`mmimdb.dataset.built.BuiltDataset`).
    ``mmimdb.load(split, features=[...])`` returns the same rows with the Parquet columns.
    """
    data = BuiltDataset(root)
    if split is not None and split not in data.split_ranges:
        raise UsageError(f"unknown split '{split}' (known: {', '.join(data.split_ranges)})")
    ids = data.split_ids(split) if split is not None else data.ids
    return {hdf5.IMDB_IDS: ids, hdf5.GENRES_NAME: data.labels(split), **data.vectors(split, names)}
