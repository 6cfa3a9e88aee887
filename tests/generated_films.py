"""Small generated films in the real layouts, for tests that must run without ../shared: the
generation lives in the library (:mod:`mmimdb.generated`, which the offline demo uses too;
its docstring says what is planted); this module adds a word2vec file in GoogleNews's binary
format covering the generated plots' words."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mmimdb.generated import *  # noqa: F401,F403: the generation lives in the library (the offline demo uses it)
from mmimdb.generated import FILLER, GENRE_WORDS, USED_GENRES


def write_word2vec(path: Path, dim: int = 32, seed: int = 0) -> Path:
    """A word2vec binary file (GoogleNews's format, written by gensim) covering the
    generated plots' words: each genre's words lie near a direction of their own, filler
    words anywhere. Stands in for GoogleNews-vectors-negative300.bin in tests."""
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(seed)
    words, vectors = list(FILLER), list(rng.normal(scale=0.3, size=(len(FILLER), dim)))
    for genre in USED_GENRES:
        direction = rng.normal(size=dim)
        for word in GENRE_WORDS[genre]:
            words.append(word)
            vectors.append(direction + rng.normal(scale=0.3, size=dim))
    keyed = KeyedVectors(vector_size=dim)
    keyed.add_vectors(words, np.asarray(vectors, dtype=np.float32))
    for rank, word in enumerate(words):
        keyed.set_vecattr(word, "count", len(words) - rank)  # the file's order, as word2vec writes it
    keyed.save_word2vec_format(str(path), binary=True)
    return Path(path)
