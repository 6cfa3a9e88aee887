"""Text outputs of the features stage, all from the paper's tokens of each movie's longest
plot (:func:`mmimdb.features.rows.plot_tokens`):

- an encoder's plot vectors (word2vec / GloVe means: ``features``, ``glove_features``; or,
  for encoders that read the plot as written, e.g. ``minilm_features``);
- ``three_grams`` / ``word_grams``: char 3-gram and word TF-IDF, fitted on train rows only;
- ``sequences``: token ids per plot (variable length; 0 = unknown word);
- ``embeddings``: the encoder's vector of each ``sequences`` id, for RNN_transfer.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .. import paths
from ..dataset import hdf5
from ..errors import MmimdbError
from ..storage import atomic
from .encoders import TextEncoder
from .rows import Rows
from .writer import DEFAULT_CHUNK_ROWS, Log, row_chunks, save_array, save_dense, save_rows

#: Outputs that do not need an encoder, and their TfidfVectorizer settings.
TFIDF_OUTPUTS = {hdf5.THREE_GRAMS: dict(analyzer="char", ngram_range=(3, 3), min_df=2),
                 hdf5.WORD_GRAMS: dict(min_df=10)}
SEQUENCES = hdf5.SEQUENCES
#: Word vectors of the sequence ids (not row-aligned): what RNN_transfer starts from.
EMBEDDINGS = hdf5.EMBEDDINGS
UNKNOWN_TOKEN = "<unk>"
#: A word enters the sequences vocabulary if it occurs at least this often in train plots.
SEQUENCE_MIN_COUNT = 2


def _vocabulary_file(name: str) -> str:
    """Where output ``name``'s vocabulary lives, relative to the data root."""
    return str(paths.features_dir(Path(".")) / f"{name}.vocabulary.json")


def build_text_encoder_output(root: Path, rows: Rows, plots: Sequence[Any], encoder: TextEncoder, log: Log) -> dict[str, Any]:
    """The encoder's vector of every plot under ``encoder.output``; ``plots`` are what it
    reads (``encoder.reads``): token lists or plot texts, in row order."""
    started = time.perf_counter()
    features = encoder.encode(plots)
    if features.shape != (len(rows.ids), encoder.dim):
        raise MmimdbError(f"{encoder.name} gave vectors of shape {features.shape}, not ({len(rows.ids)}, {encoder.dim})")
    covered = int(np.count_nonzero(np.abs(features).sum(axis=1)))
    entry = {"modality": "text", "encoder": encoder.name, **encoder.info}
    if encoder.reads == "tokens":
        entry["plots_with_known_words"] = covered
    entry = save_dense(root, rows, encoder.output, lambda: row_chunks(features), features.shape[1], entry)
    known = f" ({covered} with known words)" if encoder.reads == "tokens" else ""
    log(f"{encoder.output}: {encoder.name} {features.shape[1]}-d for {len(rows.ids)} plots{known} "
        f"in {time.perf_counter() - started:.1f} s")
    return entry


def _identity(tokens: Sequence[str]) -> Sequence[str]:
    return tokens


def build_tfidf_output(root: Path, rows: Rows, tokens: Sequence[Sequence[str]], name: str, log: Log) -> dict[str, Any]:
    """Char 3-gram (``three_grams``) or word (``word_grams``) TF-IDF, fitted on train rows only."""
    import pyarrow as pa
    from sklearn.feature_extraction.text import TfidfVectorizer

    started = time.perf_counter()
    settings = TFIDF_OUTPUTS[name]
    if settings.get("analyzer") == "char":
        vectorizer = TfidfVectorizer(dtype=np.float32, lowercase=False, **settings)
        documents: Sequence[Any] = [" ".join(t) for t in tokens]
    else:
        vectorizer = TfidfVectorizer(dtype=np.float32, analyzer=_identity, **settings)
        documents = tokens
    train = rows.indices("train")
    try:
        vectorizer.fit([documents[i] for i in train])
    except ValueError as error:
        raise MmimdbError(f"{name}: cannot fit TF-IDF on {len(train)} train plots ({error})") from None
    matrix = vectorizer.transform(documents).tocsr()
    terms = vectorizer.get_feature_names_out().tolist()
    vocabulary = _vocabulary_file(name)
    atomic.write_json(Path(root) / vocabulary, {"terms": terms, "idf": vectorizer.idf_.astype(float).tolist()}, indent=None)
    entry = {"modality": "text", "encoder": "tfidf", "fitted_on": "train",
             "preprocessing": "mmimdb.features.tokenize.tokenize, then sklearn TfidfVectorizer("
                              + ", ".join(f"{k}={v!r}" for k, v in settings.items()) + ")",
             "dims": [len(rows.ids), len(terms)], "dtype": "float32", "vocabulary": vocabulary,
             "parquet_layout": "sparse: indices, values"}

    def sparse_columns() -> Iterator[dict[str, Any]]:
        for start in range(0, matrix.shape[0], DEFAULT_CHUNK_ROWS):
            part = matrix[start:start + DEFAULT_CHUNK_ROWS]
            offsets = pa.array(part.indptr.astype(np.int32))
            yield {"indices": pa.ListArray.from_arrays(offsets, pa.array(part.indices.astype(np.int32))),
                   "values": pa.ListArray.from_arrays(offsets, pa.array(part.data.astype(np.float32)))}

    entry = save_rows(root, rows, name, entry, row_chunks(matrix), sparse_columns(), extra_files=[vocabulary],
                      compression="gzip")
    log(f"{name}: TF-IDF {len(terms)} terms (fitted on {len(train)} train plots) in {time.perf_counter() - started:.1f} s")
    return entry


def build_embeddings_output(root: Path, encoder: TextEncoder, log: Log) -> dict[str, Any]:
    """``embeddings`` (V, dim): row i is the text encoder's vector of ``sequences`` id i
    (row 0, the unknown word, is zeros), so RNN_transfer starts from pretrained vectors."""
    vocabulary = json.loads((Path(root) / _vocabulary_file(SEQUENCES)).read_text("utf-8"))
    vectors = np.asarray(encoder.encode([[word] for word in vocabulary]), dtype=np.float32)
    vectors[0] = 0.0
    entry = {"modality": "text", "encoder": encoder.name, **encoder.info, "dims": list(vectors.shape),
             "rows": f"one per id of {SEQUENCES}"}
    entry = save_array(root, EMBEDDINGS, vectors, entry)
    known = int(np.count_nonzero(np.abs(vectors).sum(axis=1)))
    log(f"{EMBEDDINGS}: {encoder.name} vectors for {known} of {len(vocabulary)} sequence ids")
    return entry


def build_sequences_output(root: Path, rows: Rows, tokens: Sequence[Sequence[str]], log: Log) -> dict[str, Any]:
    """Token ids per plot (``sequences``, variable length int32; 0 = unknown word).

    The vocabulary is the train plots' words seen at least :data:`SEQUENCE_MIN_COUNT`
    times, most frequent first; it is saved as a JSON list whose position is the id.
    """
    import h5py
    import pyarrow as pa

    counts = Counter(token for i in rows.indices("train") for token in tokens[i])
    words = sorted((w for w, c in counts.items() if c >= SEQUENCE_MIN_COUNT), key=lambda w: (-counts[w], w))
    vocabulary = [UNKNOWN_TOKEN] + words
    index = {word: i for i, word in enumerate(vocabulary)}
    sequences = np.empty(len(tokens), dtype=h5py.vlen_dtype(np.int32))
    for row, plot in enumerate(tokens):
        sequences[row] = np.fromiter((index.get(t, 0) for t in plot), dtype=np.int32, count=len(plot))
    vocabulary_file = _vocabulary_file(SEQUENCES)
    atomic.write_json(Path(root) / vocabulary_file, vocabulary, indent=None)
    entry = {"modality": "text", "encoder": "token ids", "fitted_on": "train",
             "preprocessing": f"mmimdb.features.tokenize.tokenize; train words with count >= {SEQUENCE_MIN_COUNT}, "
                              f"most frequent first; 0 = {UNKNOWN_TOKEN}",
             "dims": [len(rows.ids), None], "dtype": "vlen int32", "vocabulary": vocabulary_file,
             "vocabulary_size": len(vocabulary)}
    column = pa.array([s.tolist() for s in sequences], pa.list_(pa.int32()))
    entry = save_rows(root, rows, SEQUENCES, entry, sequences, iter([{"sequences": column}]),
                      extra_files=[vocabulary_file], dtype=h5py.vlen_dtype(np.int32))
    unknown = sum(int(np.count_nonzero(s == 0)) for s in sequences)
    log(f"{SEQUENCES}: {len(vocabulary)} ids, {sum(len(s) for s in sequences)} tokens ({unknown} unknown)")
    return entry
