"""Chat-format copies of a build, written as the tools that train on them take them, for the
``--from-copy`` tests: LLaVA's JSON array (``id``, ``image``, ``conversations`` with
``from``/``value``), LLaMA-Factory's ShareGPT JSON lines (``messages`` with ``role``/``content``,
``images`` paths) and a Hugging Face chat Parquet (``messages`` with content parts, ``images``
as ``{"bytes", "path"}``, no id anywhere). Each copy is re-split at random, as users do."""
from __future__ import annotations

import json
import random
from pathlib import Path

from mmimdb.export.rows import Choices, Movie, movies
from mmimdb.records.genres import GENRES
from mmimdb.records.split_file import SPLITS

STYLES = ("llava", "sharegpt", "hf-parquet")
#: The re-split's file names: Hugging Face calls dev "validation".
FILE_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
QUESTION = ("Which genres does this movie belong to? Choose among: " + ", ".join(g.lower() for g in GENRES)
            + ".\nPlot: {plot}\nAnswer with the genres separated by commas.")
#: A question with the plot on a line of its own and no label (the longest line is the plot).
BARE_QUESTION = "{plot}\nWhat are the genres of this film?"


def build_movies(built: Path) -> list[Movie]:
    """Every movie of the build with its longest plot and the 23 genres, in split order."""
    return [movie for split in SPLITS for movie in movies(built, split, Choices("longest", "23"))]


def resplit(films: list[Movie], seed: int = 0) -> dict[str, list[Movie]]:
    """A random 80/10/10 re-split (what ``train_test_split`` twice gives)."""
    shuffled = list(films)
    random.Random(seed).shuffle(shuffled)
    train, dev = len(shuffled) * 8 // 10, len(shuffled) // 10
    return {"train": shuffled[:train], "dev": shuffled[train:train + dev], "test": shuffled[train + dev:]}


def answer(movie: Movie) -> str:
    return ", ".join(g.lower() for g in movie.genres)


def write(films: list[Movie], out: Path, style: str, seed: int = 0) -> dict[str, list[Movie]]:
    """Write ``films`` as a chat copy of ``style`` under ``out``; return the re-split."""
    parts = resplit(films, seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    for split, part in parts.items():
        name = FILE_SPLITS[split]
        if style == "llava":
            records = []
            for movie in part:
                (out / "images" / f"{movie.imdb_id}.jpg").write_bytes(movie.poster)
                records.append({"id": movie.imdb_id, "image": f"images/{movie.imdb_id}.jpg", "conversations": [
                    {"from": "human", "value": "<image>\n" + QUESTION.format(plot=movie.texts[0])},
                    {"from": "gpt", "value": answer(movie)}]})
            (out / f"{name}.json").write_text(json.dumps(records, indent=1))
        elif style == "sharegpt":
            with open(out / f"{name}.jsonl", "w") as handle:
                for movie in part:
                    (out / "images" / f"{movie.imdb_id[2:]}.jpeg").write_bytes(movie.poster)
                    handle.write(json.dumps({"messages": [
                        {"role": "system", "content": "You are a film critic."},
                        {"role": "user", "content": "<image>" + BARE_QUESTION.format(plot=movie.texts[0])},
                        {"role": "assistant", "content": "Genres: " + answer(movie).replace(", ", "; ")}],
                        "images": [f"images/{movie.imdb_id[2:]}.jpeg"]}) + "\n")
        elif style == "hf-parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            (out / "data").mkdir(exist_ok=True)
            rows = [{"messages": [
                        {"role": "user", "content": [{"type": "image", "text": None},
                                                     {"type": "text", "text": QUESTION.format(plot=movie.texts[0])}]},
                        {"role": "assistant", "content": [{"type": "text", "text": answer(movie)}]}],
                     "images": [{"bytes": movie.poster, "path": None}]} for movie in part]
            pq.write_table(pa.Table.from_pylist(rows), out / "data" / f"{name}-00000-of-00001.parquet", row_group_size=256)
        else:
            raise ValueError(style)
    return parts
