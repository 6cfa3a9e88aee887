"""JSON lines for the transformers mm-imdb example and MMBT.

Layout (``OUT`` is the folder the readers are pointed at)::

    OUT/train.jsonl, dev.jsonl, test.jsonl   {"id", "text", "label": [genre names], "img"}
    OUT/images/<7-digit id>.jpeg             the posters ("img" is relative to OUT)
    OUT/test_hard_gt.jsonl                   MMBT's hard test subset, only from --test-hard-ids

The transformers example (``examples/research_projects/mm-imdb/utils_mmimdb.py``) reads
``train.jsonl`` and ``dev.jsonl`` of ``--data_dir OUT``; MMBT (``mmbt/data/helpers.py``)
reads ``<data_path>/<task>/{train,dev,test,test_hard_gt}.jsonl``, so the default ``OUT`` is a
folder named ``mmimdb``. ``id`` is the release's 7-digit id, as MMBT's own conversion script
and its hard-subset id list write it. With ``--text all`` a movie has one line per plot.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..records.genres import GENRES
from ..records.record import file_id
from ..records.split_file import SPLITS
from .rows import Choices, Movie, movies, split_size

IMAGES_DIR = "images"
HARD_TEST_FILE = "test_hard_gt.jsonl"


def read_id_list(path: str | os.PathLike) -> list[str]:
    """7-digit ids from a user's file: a JSON list, a JSON object with an ``mmimdb`` list
    (the layout of MMBT's ``hard_gt_ids.json``), or one id per line (with or without 'tt')."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise UsageError(f"--test-hard-ids {path}: cannot read it ({error.strerror or error})") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        data = [line.strip() for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        data = data.get("mmimdb")
    if not isinstance(data, list) or not data:
        raise UsageError(f"--test-hard-ids {path}: expected a list of ids (JSON list, {{\"mmimdb\": [...]}}, or one id per line)")
    try:
        return [file_id(value) for value in data]
    except (ValueError, TypeError):
        raise UsageError(f"--test-hard-ids {path}: holds values that are not IMDb title ids") from None


def lines(movie: Movie) -> list[dict[str, Any]]:
    """The JSON lines of one movie: one per text."""
    return [{"id": movie.file_id, "text": text, "label": movie.genres, "img": f"{IMAGES_DIR}/{movie.poster_name}"}
            for text in movie.texts]


def write(root: Path, staging: Path, choices: Choices, test_hard_ids: list[str] | None = None,
          progress: bool = False) -> dict[str, Any]:
    """Write the JSON lines export into ``staging``; return counts and warnings."""
    from tqdm import tqdm

    (staging / IMAGES_DIR).mkdir()
    genres_in: dict[str, set[str]] = {}
    summary: dict[str, Any] = {"movies": {}, "samples": {}, "warnings": []}
    tally: Counter[str] = Counter()
    hard = set(test_hard_ids or [])
    hard_lines: list[str] = []
    for split in SPLITS:
        count = samples = 0
        genres_in[split] = set()
        with open(staging / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            for movie in tqdm(movies(root, split, choices, tally), total=split_size(root, split), desc=f"jsonl {split}",
                              unit="movie", disable=not progress, leave=False):
                (staging / IMAGES_DIR / movie.poster_name).write_bytes(movie.poster)
                for line in lines(movie):
                    text = json.dumps(line, ensure_ascii=False)
                    handle.write(text + "\n")
                    if split == "test" and movie.file_id in hard:
                        hard_lines.append(text)
                    samples += 1
                genres_in[split].update(movie.genres)
                count += 1
        summary["movies"][split], summary["samples"][split] = count, samples
    if test_hard_ids is not None:
        found = {json.loads(line)["id"] for line in hard_lines}
        (staging / HARD_TEST_FILE).write_text("".join(line + "\n" for line in hard_lines), encoding="utf-8")
        summary["test_hard_gt"] = {"ids": len(hard), "found": len(found)}
        if len(found) < len(hard):
            summary["warnings"].append(f"{HARD_TEST_FILE}: {len(hard) - len(found)} of the {len(hard)} ids are not "
                                       "in this build's test split (left out)")
    else:
        summary["warnings"].append(f"no {HARD_TEST_FILE} written (MMBT opens it): pass --test-hard-ids FILE "
                                   "with the hard subset's ids")
    # MMBT takes its label list from train, and the transformers example divides by each
    # genre's train frequency: a genre seen elsewhere but never in train breaks both.
    unseen = sorted((genres_in["dev"] | genres_in["test"]) - genres_in["train"])
    if unseen:
        summary["warnings"].append(f"genres in dev/test but not in train: {', '.join(unseen)} "
                                   "(MMBT's label list comes from train)")
    absent = [name for name in GENRES if name not in genres_in["train"]]
    if absent:
        summary["warnings"].append(f"genres absent from train: {', '.join(absent)} (the transformers example "
                                   "weighs its loss by 1 / train frequency)")
    others = sorted(set().union(*genres_in.values()) - set(GENRES))
    if others:
        summary["warnings"].append(f"labels outside the 23 ({', '.join(others)}): the transformers example "
                                   "accepts only the 23 (use --genres 23 for it)")
    if choices.text == "outline":
        summary["outline_fallbacks"] = tally["outline_fallbacks"]
    return summary
