"""Generated films (not real) in the real layouts: the offline demo's data and the tests'.

Nothing here is presented as real: titles say "Generated film", ids start at tt9000000
(far from real films), posters are drawn with Pillow, and every record says its source is
"generated" (in the store, and in the release layout's JSON under ``_mmimdb``, which the
archive import keeps), so the card and the reports of a build of them say so. The shapes are
the real ones: records with IMDbPY keys (the original release's JSON), JPEG posters of real
poster sizes, the release layout (``mmimdb/dataset/<id>.json`` + ``.jpeg`` + ``split.json``)
and a MovieLens ``links.csv``.

There is signal to learn, planted on purpose and known (:data:`PLANTED`): some genres are
told only by the plot's words (:data:`PLOT_ONLY`), some only by the poster's colours
(:data:`POSTER_ONLY`), some by both (:data:`IN_BOTH`). So a text model can learn the genres
of the plot and a poster model those of the poster, and only a model that uses both inputs
learns every genre. The planted words are English words of the genre, so real word vectors
(GloVe, word2vec) carry the signal too.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np

from .records import record
from .records.genres import GENRES

#: The source every generated record names (the card and the reports read it).
SOURCE = "generated"

FIRST_ID = 9_000_000
#: Genres used (a frequent-first subset of the 23, so every split sees each of them).
USED_GENRES = GENRES[:8]
#: Where each genre's signal is planted.
PLOT_ONLY = ("Comedy", "Crime", "Adventure")
POSTER_ONLY = ("Romance", "Action", "Horror")
IN_BOTH = ("Drama", "Thriller")
PLANTED = {**{g: ("plot",) for g in PLOT_ONLY}, **{g: ("poster",) for g in POSTER_ONLY},
           **{g: ("plot", "poster") for g in IN_BOTH}}
assert set(PLANTED) == set(USED_GENRES)
#: Genres a model reading the plot (text inputs) or the poster (image inputs) can tell.
PLOT_GENRES = tuple(g for g in USED_GENRES if "plot" in PLANTED[g])
POSTER_GENRES = tuple(g for g in USED_GENRES if "poster" in PLANTED[g])

FILLER = ("the", "a", "story", "of", "who", "finds", "with", "when", "after", "his", "her", "their", "life",
          "town", "man", "woman", "day", "years", "meets", "old")
#: Words planted in the plot per genre (only for the genres planted in the plot).
GENRE_WORDS = {
    "Drama": ("grief", "tragedy", "sorrow", "estranged", "reconcile", "struggle"),
    "Comedy": ("hilarious", "prank", "jokes", "clumsy", "wacky", "laughs"),
    "Romance": ("love", "kiss", "wedding", "sweetheart", "courtship", "romance"),
    "Thriller": ("suspense", "conspiracy", "stalker", "hostage", "paranoid", "fugitive"),
    "Crime": ("detective", "gangster", "heist", "robbery", "mafia", "murder"),
    "Action": ("explosion", "shootout", "commando", "mercenary", "combat", "fistfight"),
    "Adventure": ("treasure", "expedition", "jungle", "voyage", "quest", "explorer"),
    "Horror": ("ghost", "haunted", "demon", "zombie", "vampire", "scream"),
}
#: Poster colour per genre (RGB; only for the genres planted in the poster), far apart.
GENRE_COLOURS = {
    "Drama": (40, 70, 200), "Thriller": (30, 160, 60), "Romance": (235, 90, 170),
    "Action": (245, 150, 20), "Horror": (120, 10, 20),
    "Comedy": (250, 240, 60), "Crime": (20, 20, 20), "Adventure": (0, 200, 220),
}
#: Background of a poster that shows no genre.
NEUTRAL = (128, 128, 128)


def imdb_id(index: int) -> str:
    return f"tt{FIRST_ID + index:07d}"


def film_genres(rng: np.random.Generator) -> list[str]:
    """One to three genres, frequent ones more often (as in MM-IMDb)."""
    weights = np.linspace(2.0, 1.0, len(USED_GENRES))
    count = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
    chosen = rng.choice(len(USED_GENRES), size=count, replace=False, p=weights / weights.sum())
    return [USED_GENRES[i] for i in sorted(chosen)]


def plot_text(genres: list[str], rng: np.random.Generator) -> str:
    """Filler words with three words of each genre planted in the plot."""
    words = [str(rng.choice(FILLER)) for _ in range(int(rng.integers(12, 30)))]
    for genre in genres:
        if "plot" in PLANTED[genre]:
            for _ in range(3):
                words.insert(int(rng.integers(0, len(words))), str(rng.choice(GENRE_WORDS[genre])))
    return " ".join(words).capitalize() + "."


def poster_jpeg(genres: list[str], rng: np.random.Generator, size: tuple[int, int] | None = None) -> bytes:
    """A JPEG poster of a real poster size: one horizontal band per genre planted in the
    poster (grey if none) and a white ring. Posters of the same genres differ only in size,
    so a poster model cannot memorise the genres planted in the plot alone."""
    from PIL import Image, ImageDraw

    width, height = size or (int(rng.integers(180, 301)), int(rng.integers(270, 451)))
    shown = [genre for genre in genres if "poster" in PLANTED[genre]]
    colours = [GENRE_COLOURS[genre] for genre in shown] or [NEUTRAL]
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for band, colour in enumerate(colours):
        draw.rectangle([0, height * band // len(colours), width, height * (band + 1) // len(colours)], fill=colour)
    draw.ellipse([width // 4, height // 3, 3 * width // 4, height // 2], outline=(255, 255, 255), width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def imdbpy_record(index: int, genres: list[str], plot: str) -> dict:
    """An original-release JSON object (IMDbPY key names)."""
    return {"title": f"Generated film {index}", "kind": "movie", "year": 1950 + index % 70, "genres": genres,
            "plot": [plot], "director": [{"name": f"Director {index % 7}"}], "cast": [{"name": f"Actor {index % 11}"}],
            "languages": ["English"], "countries": ["USA"], "rating": round(5 + (index % 40) / 10, 1), "votes": 100 + index}


def films(count: int, seed: int = 0) -> list[dict]:
    """``count`` films: ``{"imdb_id", "genres", "plot", "poster", "release_json"}``."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(count):
        genres = film_genres(rng)
        plot = plot_text(genres, rng)
        out.append({"imdb_id": imdb_id(index), "genres": genres, "plot": plot, "poster": poster_jpeg(genres, rng),
                    "release_json": imdbpy_record(index, genres, plot)})
    return out


def write_store(root: Path, count: int = 80, seed: int = 0) -> Path:
    """A data root whose records store holds ``count`` generated films; returns ``root``."""
    from .records.posters import check_poster
    from .records.store import RecordStore

    store = RecordStore(Path(root) / "dataset")
    for film in films(count, seed):
        normalized = record.from_imdbpy(film["imdb_id"], film["release_json"])
        info = check_poster(film["poster"], film["imdb_id"])
        normalized["poster"] = info.record_fields()
        normalized["sources"] = record.all_from(normalized, SOURCE)
        store.write(normalized, film["poster"])
    return Path(root)


def release_split(count: int) -> dict[str, list[str]]:
    """The 60/10/30 split of ``write_release`` (film order), ids as 7-digit strings."""
    ids = [imdb_id(index)[2:] for index in range(count)]
    train, dev = int(count * 0.6), int(count * 0.7)
    return {"train": ids[:train], "dev": ids[train:dev], "test": ids[dev:]}


def write_release(directory: Path, count: int = 80, seed: int = 0, split: bool = True) -> Path:
    """The original release's layout under ``directory/mmimdb`` (with :func:`release_split`
    as ``split.json`` when ``split``); returns that folder."""
    top = Path(directory) / "mmimdb"
    (top / "dataset").mkdir(parents=True, exist_ok=True)
    for film in films(count, seed):
        digits = film["imdb_id"][2:]
        labelled = {**film["release_json"], record.MMIMDB_KEY: {"sources": {
            field: SOURCE for field in [*record.from_imdbpy(film["imdb_id"], film["release_json"]), "poster"] if field != "imdb_id"}}}
        (top / "dataset" / f"{digits}.json").write_text(json.dumps(labelled), encoding="utf-8")
        (top / "dataset" / f"{digits}.jpeg").write_bytes(film["poster"])
    if split:
        (top / "split.json").write_text(json.dumps(release_split(count)))
    return top


def write_archive(directory: Path, count: int = 80, seed: int = 0) -> Path:
    """``directory/mmimdb.tar.gz`` in the release layout."""
    top = write_release(Path(directory) / "release", count, seed)
    archive = Path(directory) / "mmimdb.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(top, arcname="mmimdb")
    return archive


def write_links(path: Path, count: int = 80) -> Path:
    """A MovieLens ``links.csv`` (movieId,imdbId,tmdbId) for the generated ids."""
    lines = ["movieId,imdbId,tmdbId"] + [f"{index + 1},{imdb_id(index)[2:]},{500000 + index}" for index in range(count)]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)
