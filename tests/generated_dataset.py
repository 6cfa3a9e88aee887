"""A small built dataset generated at test time, for tests that must run without ../shared/data.

92 movies: every one of the 23 genres labels 8 of them, so the original split procedure puts
every genre in train, dev and test. Some movies carry News (a genre outside the 23), some
have several plots (IMDbPY's ``text::author`` form) or an outline, and some posters are PNG
rather than JPEG. Posters are drawn with Pillow: a coloured background, a frame and the
title. The records go through the real records store and ``mmimdb build``.

It stays apart from tests/generated_films.py, which plants learnable signal in 8 genres with
one plot and a JPEG per film: the exports need all 23 genres, several plots, outlines, a
genre outside the 23 and posters that are not JPEG.
"""
from __future__ import annotations

import io
from pathlib import Path

from mmimdb.records.genres import GENRES

MOVIES = 92


def poster(index: int) -> bytes:
    """A poster drawn for movie ``index``: sizes and colours vary, every 10th is a PNG."""
    from PIL import Image, ImageDraw

    size = [(180, 270), (300, 450), (220, 220), (400, 300)][index % 4]
    image = Image.new("RGB", size, ((index * 37) % 256, (index * 91) % 256, (index * 53) % 256))
    draw = ImageDraw.Draw(image)
    draw.rectangle([8, 8, size[0] - 9, size[1] - 9], outline=(255 - index % 256, 255, 255), width=4)
    draw.text((16, 16), f"Movie {index}", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG" if index % 10 == 3 else "JPEG", quality=90)
    return buffer.getvalue()


def record(index: int) -> dict:
    """The normalized record of movie ``index`` (validated by the store on write)."""
    genres = [GENRES[index % len(GENRES)], GENRES[(index + 7) % len(GENRES)]]
    if index % 7 == 0:
        genres.append("News")  # outside the 23: dropped from labels unless --genres all
    plots = [f"Movie {index} is about genre {genres[0].lower()}::author{index}@example.org"]
    if index % 3 == 0:
        plots.append(f"A longer summary of movie {index}, where a {genres[1].lower()} story unfolds over "
                     f"{index + 2} days.::another author")
    movie = {"imdb_id": f"tt{9000000 + index:07d}", "title": f"Movie {index}", "year": 1950 + index % 60,
             "kind": "movie", "genres": genres, "plot": plots, "sources": {"plot": "generated", "genres": "generated",
                                                                          "poster": "generated"}}
    if index % 4 == 0:
        movie["plot_outline"] = f"Outline of movie {index}."
    return movie


def write_store(root: Path) -> Path:
    """Write the generated records and posters into ``root/dataset``; return ``root``."""
    from mmimdb.records.posters import check_poster
    from mmimdb.records.store import RecordStore

    store = RecordStore(root / "dataset")
    for index in range(MOVIES):
        data = poster(index)
        info = check_poster(data, str(index))
        movie = record(index)
        movie["poster"] = info.record_fields()
        store.write(movie, data)
    return root


def built_root(root: Path) -> Path:
    """The generated movies in ``root``, built with the original split (the session's copy
    is the ``generated_dataset_root`` fixture of ``conftest.py``: read-only)."""
    from mmimdb.dataset.build import build

    build(write_store(root), method="original", workers=1)
    return root
