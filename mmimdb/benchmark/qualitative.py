"""The paper's Table 4 / Figure 1: test movies where the GMU does better than both unimodal models.

The paper shows "cases where the model takes advantage of the most accurate modality" and
where it "removes false positives". The rule here (:data:`RULE`): per test movie, the F1 of
each model's genres (probability >= 0.5) against the truth; the GMU's gain is its F1 minus
the better of the textual and the visual model's; the movies with the largest positive gain
are shown, ties broken by the GMU's F1 (higher first), then by IMDb id.

>>> truth = np.array([[1, 0], [1, 1]]); gmu = np.array([[1, 0], [1, 0]])
>>> choose(truth, gmu, text=np.array([[1, 1], [1, 0]]), visual=np.array([[0, 1], [1, 0]]), ids=["1", "2"], count=5)
[0]
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..storage.atomic import write_bytes, write_json
from .metrics import binarize
from .runner import saved_scores

#: The models compared, as in Table 3: (role, registry name).
MODELS = (("Textual", "MaxoutMLP_w2v"), ("Visual", "VGG_Transfer"), ("Multimodal", "GMU"))
#: How many movies ``qualitative.md`` shows.
EXAMPLES = 8
RULE = ("Test movies where the GMU's genres (probability >= 0.5) score a higher F1 against the truth than both the "
        "textual and the visual model's, the largest gain over the better of the two first (ties: the GMU's F1, "
        "then the IMDb id); first seed of each model.")


def movie_f1(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per movie (row): F1 of the predicted genres against the true ones; 1 when both are empty."""
    truth, predicted = np.asarray(truth).astype(bool), np.asarray(predicted).astype(bool)
    tp = (truth & predicted).sum(axis=1)
    total = truth.sum(axis=1) + predicted.sum(axis=1)
    return np.where(total > 0, 2 * tp / np.maximum(total, 1), 1.0)


def choose(truth: np.ndarray, gmu: np.ndarray, text: np.ndarray, visual: np.ndarray, ids: list[str],
           count: int = EXAMPLES) -> list[int]:
    """Rows picked by :data:`RULE` from 0/1 predictions (n, genres), best first."""
    f1_gmu = movie_f1(truth, gmu)
    gain = f1_gmu - np.maximum(movie_f1(truth, text), movie_f1(truth, visual))
    rows = [i for i in range(len(ids)) if gain[i] > 0]
    rows.sort(key=lambda i: (-gain[i], -f1_gmu[i], ids[i]))
    return rows[:count]


def _short(imdb_id: str) -> str:
    """The id's digits (test ids are ``tt`` + digits or, in older results, the digits)."""
    return str(imdb_id).removeprefix("tt")


def _marked(predicted: np.ndarray, truth: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    return [{"genre": names[g], "correct": bool(truth[g])} for g in np.flatnonzero(predicted)]


def examples(results: dict[str, Any], runs_dir: Path, truth: np.ndarray, count: int = EXAMPLES) -> list[dict[str, Any]]:
    """The chosen test movies: id, row, per-movie F1 and the marked genres of each model.

    ``truth`` is the test labels (n, 23) in ``results["dataset"]["test_ids"]`` order. Empty
    when one of the three models did not run (or its saved probabilities are gone).
    """
    names, ids = results["dataset"]["target_names"], results["dataset"]["test_ids"]
    predicted = {}
    for role, name in MODELS:
        if results["models"].get(name, {}).get("status") != "ok":
            return []
        scores = saved_scores(runs_dir, name)
        if scores is None or len(scores) != len(ids):
            return []
        predicted[role] = binarize(scores)
    rows = choose(truth, predicted["Multimodal"], predicted["Textual"], predicted["Visual"], ids, count)
    chosen = []
    for row in rows:
        chosen.append({"imdb_id": ids[row], "row": row,
                       "truth": [names[g] for g in np.flatnonzero(truth[row])],
                       "f1": {role: float(movie_f1(truth[row:row + 1], predicted[role][row:row + 1])[0])
                              for role, _ in MODELS},
                       "predicted": {role: _marked(predicted[role][row], truth[row], names) for role, _ in MODELS}})
    return chosen


def attach_movies(chosen: list[dict[str, Any]], root: Path | None) -> list[dict[str, Any]]:
    """Title, year, plot and poster bytes of the chosen movies from the build under ``root``
    (the test split's Parquet file); left as they are when the root has none."""
    if root is None or not chosen:
        return chosen
    from .. import api
    from ..errors import UsageError

    try:
        table = api.load("test", root=root, columns=["imdb_id", "title", "year", "plot", "poster"], format="numpy")
    except UsageError:
        return chosen
    where = {str(imdb_id).removeprefix("tt"): i for i, imdb_id in enumerate(table["imdb_id"])}
    for example in chosen:
        i = where.get(_short(example["imdb_id"]))
        if i is not None:
            year = table["year"][i]
            example.update(title=table["title"][i], year=None if year is None else int(year),
                           plot=table["plot"][i], poster=table["poster"][i])
    return chosen


def _genres_cell(marked: list[dict[str, Any]]) -> str:
    if not marked:
        return "(none)"
    return ", ".join(f"{m['genre']} ✓" if m["correct"] else f"~~{m['genre']}~~ ✗" for m in marked)


def qualitative_markdown(chosen: list[dict[str, Any]], results: dict[str, Any], posters: dict[str, str]) -> str:
    """Table 4 as Markdown: per movie its poster (``posters``: id -> relative path), title,
    plot, truth and each model's genres, ✓ a true positive, ~~struck~~ ✗ a false positive."""
    models = results["models"]
    lines = ["# Table 4: where the GMU does better than both unimodal models", "",
             f"How the movies were chosen: {RULE}", "",
             "Models: " + "; ".join(f"{role}: {models.get(name, {}).get('label', name)}" for role, name in MODELS) + ".", "",
             "✓ a true positive, ~~struck~~ ✗ a false positive; a true genre a model leaves out is a false negative.", ""]
    if not all(models.get(name, {}).get("status") == "ok" for _, name in MODELS):
        ran = ", ".join(name for _, name in MODELS)
        return "\n".join(lines + [f"Not chosen: the run needs all three of {ran} (`--model {ran}`)."]) + "\n"
    if not chosen:
        return "\n".join(lines + ["No test movie where the GMU beats both unimodal models."]) + "\n"
    for example in chosen:
        title = example.get("title") or f"tt{_short(example['imdb_id'])}"
        year = f" ({example['year']})" if example.get("year") else ""
        lines += [f"## {title}{year}, tt{_short(example['imdb_id'])}", ""]
        if example["imdb_id"] in posters:
            lines += [f"![poster of {title}]({posters[example['imdb_id']]})", ""]
        if example.get("plot"):
            lines += [f"> {' '.join(str(example['plot']).split())}", ""]
        lines += ["| | genres | F1 |", "|---|---|---|", f"| Ground truth | {', '.join(example['truth'])} | |"]
        for role, _ in MODELS:
            lines.append(f"| {role} | {_genres_cell(example['predicted'][role])} | {example['f1'][role]:.2f} |")
        lines.append("")
    return "\n".join(lines)


def write_qualitative(results: dict[str, Any], out_dir: Path, truth: np.ndarray, root: Path | None,
                      count: int = EXAMPLES) -> list[Path]:
    """Write ``qualitative.md``, ``qualitative.json`` and the chosen posters
    (``qualitative/<id>.jpeg``, thumbnails) into ``out_dir``; return the paths written."""
    from ..errors import ImageError
    from ..records.posters import thumbnail_jpeg

    out_dir = Path(out_dir)
    chosen = attach_movies(examples(results, out_dir / "runs", truth, count), root)
    written, posters = [], {}
    for example in chosen:
        poster = example.pop("poster", None)
        if poster is None:
            continue
        try:
            data = thumbnail_jpeg(poster, f"poster of tt{_short(example['imdb_id'])}", size=(160, 256))
        except ImageError:
            continue  # the page still shows the movie, without its poster
        path = out_dir / "qualitative" / f"{_short(example['imdb_id'])}.jpeg"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)
        posters[example["imdb_id"]] = os.path.relpath(path, out_dir)
        written.append(path)
    write_json(out_dir / "qualitative.json", {"rule": RULE, "examples": chosen})
    write_bytes(out_dir / "qualitative.md", qualitative_markdown(chosen, results, posters).encode())
    return [out_dir / "qualitative.md", out_dir / "qualitative.json", *written]
