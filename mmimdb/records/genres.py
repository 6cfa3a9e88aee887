"""The MM-IMDb label vocabulary: the 23 genres of the original release, in its order.

This module is the one place that knows the genre list. Everything else imports it.

>>> encode(["Comedy", "Drama"]).tolist()[:3]
[1, 1, 0]
>>> decode(encode(["Sci-Fi", "drama"]))
['Drama', 'Sci-Fi']
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

#: The 23 labels, in the original label order (frequency order over the 25,959 movies).
GENRES: tuple[str, ...] = (
    "Drama", "Comedy", "Romance", "Thriller", "Crime", "Action", "Adventure", "Horror",
    "Documentary", "Mystery", "Sci-Fi", "Fantasy", "Family", "Biography", "War", "History",
    "Music", "Animation", "Musical", "Western", "Sport", "Short", "Film-Noir",
)

#: Genres of the original crawl that the release dropped for being too rare.
DROPPED_GENRES: tuple[str, ...] = ("News", "Adult", "Talk-Show", "Reality-TV")

#: Other IMDb genres, known so that sources can spell them canonically.
OTHER_IMDB_GENRES: tuple[str, ...] = ("Game-Show",)

#: Per-genre movie counts of the original release (all 25,959 movies), for reports.
ORIGINAL_COUNTS: dict[str, int] = {
    "Drama": 13967, "Comedy": 8592, "Romance": 5364, "Thriller": 5192, "Crime": 3838,
    "Action": 3550, "Adventure": 2710, "Horror": 2703, "Documentary": 2082, "Mystery": 2057,
    "Sci-Fi": 1991, "Fantasy": 1933, "Family": 1668, "Biography": 1343, "War": 1335,
    "History": 1143, "Music": 1045, "Animation": 997, "Musical": 841, "Western": 705,
    "Sport": 634, "Short": 471, "Film-Noir": 338,
}

GENRE_INDEX: dict[str, int] = {name: i for i, name in enumerate(GENRES)}

# Sources spell genres differently (cinemagoer's TSV reader lowercases them, some write
# "Film Noir" or "Science Fiction"); the key is the name with case and separators removed.
_ALIASES: dict[str, str] = {
    **{_name.lower().replace("-", "").replace(" ", ""): _name for _name in GENRES + DROPPED_GENRES + OTHER_IMDB_GENRES},
    "sciencefiction": "Sci-Fi",
    "scifi": "Sci-Fi",
    "musicals": "Musical",
}


def canonical_genre(name: str) -> str | None:
    """Return IMDb's canonical spelling of a genre name, or None if it is not an IMDb genre.

    >>> canonical_genre("film-noir"), canonical_genre("Science Fiction"), canonical_genre("Foo")
    ('Film-Noir', 'Sci-Fi', None)
    """
    key = name.strip().lower().replace("-", "").replace(" ", "").replace("_", "")
    return _ALIASES.get(key)


def labels_of(genres: Iterable[str]) -> list[str]:
    """The MM-IMDb labels among ``genres``, canonical, deduplicated, in label order."""
    found = {canonical_genre(g) for g in genres}
    return [g for g in GENRES if g in found]


#: ``--genres``: ``23`` (the release's labels; News, Adult, Talk-Show, Reality-TV and any other
#: genre dropped, as some readers crash on a 24th name) or ``all`` (every genre of the record).
GENRE_CHOICES: tuple[str, ...] = ("23", "all")


def all_genres(record_genres: Iterable[str]) -> list[str]:
    """Every genre of a record, canonical and deduplicated: the 23 in label order, then the
    others (News, Adult, ...) in record order."""
    names = [canonical_genre(name) or name.strip() for name in record_genres if name and name.strip()]
    ordered = [name for name in GENRES if name in names]
    return ordered + [name for name in dict.fromkeys(names) if name not in GENRES]


def chosen_genres(record_genres: Iterable[str], choice: str = "23") -> list[str]:
    """The genre names a row carries under ``--genres choice`` (labels are always the 23)."""
    return all_genres(record_genres) if choice == "all" else labels_of(record_genres)


def encode(genres: Iterable[str]) -> np.ndarray:
    """Multi-hot vector (23,) int32 of ``genres``; names outside the 23 labels are ignored."""
    vector = np.zeros(len(GENRES), dtype=np.int32)
    for name in labels_of(genres):
        vector[GENRE_INDEX[name]] = 1
    return vector


def encode_many(genre_lists: Iterable[Iterable[str]]) -> np.ndarray:
    """Multi-hot matrix (N, 23) int32, one row per genre list."""
    rows = [encode(genres) for genres in genre_lists]
    return np.stack(rows) if rows else np.zeros((0, len(GENRES)), dtype=np.int32)


def decode(vector: Sequence[int] | np.ndarray, threshold: float = 0.5) -> list[str]:
    """Genre names whose entry in ``vector`` (labels or probabilities) is >= ``threshold``."""
    values = np.asarray(vector)
    if values.shape != (len(GENRES),):
        raise ValueError(f"expected a vector of {len(GENRES)} genres, got shape {values.shape}")
    return [GENRES[i] for i in np.flatnonzero(values >= threshold)]
