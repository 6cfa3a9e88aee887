"""Small generated films in the real layouts, for tests that must run without ../shared.

Nothing here is presented as real: titles say "Generated film", ids start at tt9000000
(far from real films), posters are drawn with Pillow. The shapes are the real ones: records
with IMDbPY keys (the original release's JSON), JPEG posters of real poster sizes, the
release layout (``mmimdb/dataset/<id>.json`` + ``.jpeg`` + ``split.json``), and a
MovieLens ``links.csv``.

There is signal to learn, planted on purpose and known: each genre has its own plot words
and its own poster colour, so a model that learns beats coin flips and all-ones, and a
model that learns nothing does not.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mmimdb.dataset import record
from mmimdb.dataset.genres import GENRES
from mmimdb.dataset.posters import check_poster
from mmimdb.dataset.store import RecordStore

FIRST_ID = 9_000_000
#: Genres used (a frequent-first subset of the 23, so every split sees each of them).
USED_GENRES = GENRES[:8]
FILLER = ("the", "a", "story", "of", "who", "finds", "with", "when", "after", "his", "her", "their", "life")
#: Words planted per genre (each genre's own vocabulary).
GENRE_WORDS = {genre: tuple(f"{genre.lower().replace('-', '')}{k}" for k in range(6)) for genre in USED_GENRES}
#: Poster colour planted per genre (RGB).
GENRE_COLOURS = {genre: tuple(int(c) for c in np.random.default_rng(index).integers(30, 226, 3))
                 for index, genre in enumerate(USED_GENRES)}


def imdb_id(index: int) -> str:
    return f"tt{FIRST_ID + index:07d}"


def film_genres(rng: np.random.Generator) -> list[str]:
    """One to three genres, frequent ones more often (as in MM-IMDb)."""
    weights = np.linspace(2.0, 1.0, len(USED_GENRES))
    count = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
    chosen = rng.choice(len(USED_GENRES), size=count, replace=False, p=weights / weights.sum())
    return [USED_GENRES[i] for i in sorted(chosen)]


def plot_text(genres: list[str], rng: np.random.Generator) -> str:
    words = [str(rng.choice(FILLER)) for _ in range(int(rng.integers(12, 30)))]
    for genre in genres:
        for _ in range(3):
            words.insert(int(rng.integers(0, len(words))), str(rng.choice(GENRE_WORDS[genre])))
    return " ".join(words).capitalize() + "."


def poster_jpeg(genres: list[str], rng: np.random.Generator, size: tuple[int, int] | None = None) -> bytes:
    """A JPEG poster: the first genre's colour as background, one band per other genre."""
    width, height = size or (int(rng.integers(180, 301)), int(rng.integers(270, 451)))
    image = Image.new("RGB", (width, height), GENRE_COLOURS[genres[0]])
    draw = ImageDraw.Draw(image)
    for band, genre in enumerate(genres[1:]):
        top = height * (band + 1) // (len(genres) + 1)
        draw.rectangle([0, top, width, top + height // 8], fill=GENRE_COLOURS[genre])
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
    store = RecordStore(Path(root) / "dataset")
    for film in films(count, seed):
        normalized = record.from_imdbpy(film["imdb_id"], film["release_json"])
        info = check_poster(film["poster"], film["imdb_id"])
        normalized["poster"] = {"sha256": info.sha256, "width": info.width, "height": info.height}
        normalized["sources"] = {field: "generated" for field in normalized if field not in ("imdb_id", "extra", "sources")}
        store.write(normalized, film["poster"])
    return Path(root)


def write_release(directory: Path, count: int = 80, seed: int = 0, split: bool = True) -> Path:
    """The original release's layout under ``directory/mmimdb`` (with a 60/10/30
    ``split.json`` in film order when ``split``); returns that folder."""
    top = Path(directory) / "mmimdb"
    (top / "dataset").mkdir(parents=True, exist_ok=True)
    generated = films(count, seed)
    for film in generated:
        digits = film["imdb_id"][2:]
        (top / "dataset" / f"{digits}.json").write_text(json.dumps(film["release_json"]), encoding="utf-8")
        (top / "dataset" / f"{digits}.jpeg").write_bytes(film["poster"])
    if split:
        ids = [film["imdb_id"][2:] for film in generated]
        train, dev = int(count * 0.6), int(count * 0.7)
        (top / "split.json").write_text(json.dumps({"train": ids[:train], "dev": ids[train:dev], "test": ids[dev:]}))
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
