"""The peers' own preparation, rebuilt as each one's code does it (for tests/test_protocols.py),
over the release's layout: ``<root>/mmimdb/split.json`` + ``<root>/mmimdb/dataset/<id>.json``.

Each function says which file it follows; none imports mmimdb, so a preset is held to the
peer's rules, not to itself.
"""
from __future__ import annotations

import json
import os
from typing import Iterator


def release_movies(dataset_root: str) -> Iterator[tuple[str, str, dict]]:
    """(split, id, record JSON) in split.json's order, as both scripts walk the release."""
    with open(os.path.join(dataset_root, "mmimdb/split.json")) as handle:
        splits = json.load(handle)
    for split, ids in splits.items():
        for movie_id in ids:
            with open(os.path.join(dataset_root, f"mmimdb/dataset/{movie_id}.json")) as handle:
                yield split, movie_id, json.load(handle)


def mmbt_conversion(dataset_root: str) -> dict[str, list[dict]]:
    """facebookresearch/mmbt ``scripts/mmimdb.py`` ``format_mmimdb_dataset``: the splits in
    split.json's key order; per id, the plot whose length is largest (numpy argmax: the first
    of them), raw; ``label`` = the record's genres; a movie labelled News is skipped; a train
    movie's labels join the train label set (before the text check); a dev/test movie with a
    label outside that set is skipped; an empty text is skipped. Returns the lines per split."""
    train_labels: set[str] = set()
    written: dict[str, list[dict]] = {}
    for split, movie_id, data in release_movies(dataset_root):
        written.setdefault(split, [])
        lengths = [len(plot) for plot in data["plot"]]
        text = data["plot"][lengths.index(max(lengths))]
        labels = data["genres"]
        if "News" in labels:
            continue
        keep = True
        if split == "train":
            train_labels.update(labels)
        elif any(label not in train_labels for label in labels):
            keep = False
        if text and keep:
            written[split].append({"id": movie_id, "text": text, "image": f"mmimdb/dataset/{movie_id}.jpeg",
                                   "label": labels})
    return written


def map_arrow_rows(dataset_root: str, single_plot: bool = False) -> dict[str, list[dict]]:
    """YiLunLee/missing_aware_prompts ``vilt/utils/write_mmimdb.py`` ``make_arrow`` (over
    split.json and the per-id JSON): every plot of the record (or ``[plot[0]]`` with
    ``single_plot``), the record's genres, a label over their 23-genre list. Rows per split."""
    order = ["Drama", "Comedy", "Romance", "Thriller", "Crime", "Action", "Adventure", "Horror", "Documentary",
             "Mystery", "Sci-Fi", "Fantasy", "Family", "Biography", "War", "History", "Music", "Animation",
             "Musical", "Western", "Sport", "Short", "Film-Noir"]
    rows: dict[str, list[dict]] = {}
    for split, movie_id, data in release_movies(dataset_root):
        rows.setdefault(split, [])
        plots = [data["plot"][0]] if single_plot else data["plot"]
        rows[split].append({"image_id": movie_id, "plots": plots, "genres": data["genres"],
                            "label": [1 if genre in data["genres"] else 0 for genre in order]})
    return rows


def hemm_test_rows(dataset_root: str) -> list[dict]:
    """pliang279/HEMM ``hemm/data/mmimdb_dataset.py`` (``MMIMDBDatasetEvaluator.evaluate_dataset``,
    commit 988168b): the ids of ``split.json["test"]`` in order, each stripped; per id its
    record's ``plot[0]`` (put into the prompt) and its genres joined by ", " (the ground truth).
    Its copy names the records ``annotations/<id>.json``; the release's layout names them
    ``dataset/<id>.json``, the same JSON."""
    with open(os.path.join(dataset_root, "mmimdb/split.json")) as handle:
        test = json.load(handle)["test"]
    rows = []
    for row in test:
        ann_id = row.strip()
        with open(os.path.join(dataset_root, f"mmimdb/dataset/{ann_id}.json")) as handle:
            data = json.load(handle)
        rows.append({"id": ann_id, "text": data["plot"][0], "label": ", ".join(data["genres"])})
    return rows
