"""The benchmark part of the report: Table 2 and Table 3 with their provenance lines, every
plot, per-genre errors, the qualitative examples (their posters inline), and per test movie each model's
probabilities and the GMU's gate, all read from a benchmark folder (``results.json``, the
PNGs, ``runs/<model>.scores.npz``, ``qualitative.json``)."""
from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..benchmark import reports
from ..benchmark.metrics import binarize
from ..benchmark.runner import saved_scores
from ..errors import UsageError

#: Genres listed as "predicted instead" for each genre a model misses.
CONFUSIONS_SHOWN = 3


@dataclass
class BenchmarkPart:
    """What the page shows of one benchmark folder."""

    folder: Path
    results: dict[str, Any]
    table2: str = ""                                   # Markdown
    table3: str = ""
    qualitative: str = ""
    plots: list[Path] = field(default_factory=list)   # the folder's PNGs
    errors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # model label -> per genre
    predictions: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # id -> label -> 23 probs
    gates: dict[str, float] = field(default_factory=dict)  # id -> the GMU's mean gate z


def data_uri(path: Path, kind: str) -> str:
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def read_results(folder: Path) -> dict[str, Any]:
    """``folder/results.json``; a one-line :class:`UsageError` when it is missing or damaged."""
    path = folder / "results.json"
    if not path.is_file():
        raise UsageError(f"--results {folder}: no results.json there; run `mmimdb benchmark` first")
    try:
        results = json.loads(path.read_text("utf-8"))
        results["models"], results["dataset"]["target_names"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{path}: not a results file of `mmimdb benchmark` ({error})") from None
    return results


def genre_errors(truth: np.ndarray, predicted: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    """Per genre: true positives, false positives, false negatives, and the genres most often
    predicted (wrongly) on the movies where this one was missed."""
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    wrong = predicted & ~truth
    rows = []
    for g, genre in enumerate(names):
        missed = truth[:, g] & ~predicted[:, g]
        instead = wrong[missed].sum(axis=0)
        order = [h for h in np.argsort(-instead, kind="stable") if instead[h] > 0][:CONFUSIONS_SHOWN]
        rows.append({"genre": genre, "support": int(truth[:, g].sum()), "tp": int((truth[:, g] & predicted[:, g]).sum()),
                     "fp": int(wrong[:, g].sum()), "fn": int(missed.sum()),
                     "instead": [[names[h], int(instead[h])] for h in order]})
    return rows


def _test_truth(results: dict[str, Any], genres_of: dict[str, list[int]]) -> np.ndarray | None:
    """The test labels in ``test_ids`` order: from the HDF5 the run read, else from the movies."""
    ids, names = results["dataset"].get("test_ids"), results["dataset"]["target_names"]
    if not ids:
        return None
    path = Path(results["dataset"].get("path", ""))
    if path.is_file():
        from ..benchmark.data import BenchmarkData

        try:
            split = BenchmarkData(path, results["dataset"].get("aliases") or {}).split("test")
            if split.ids == ids:
                return split.labels
        except UsageError:
            pass
    short = [imdb_id.removeprefix("tt") for imdb_id in ids]
    if not all(imdb_id in genres_of for imdb_id in short):
        return None
    truth = np.zeros((len(ids), len(names)), dtype=np.int8)
    for row, imdb_id in enumerate(short):
        truth[row, genres_of[imdb_id]] = 1
    return truth


def benchmark_folder(root: Path, results: str | os.PathLike | None) -> Path | None:
    """The benchmark folder to show: ``results`` when given, else ``ROOT/benchmark`` when it
    holds a ``results.json``."""
    if results is not None:
        return Path(results).expanduser()
    folder = root / "benchmark"
    return folder if (folder / "results.json").is_file() else None


def test_scores(folder: Path, results: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per model (its name in ``results["models"]``), the test probabilities its run saved
    (first seed, ``test_ids`` row order, one column per genre of ``target_names``); models
    without them are left out."""
    ids = results["dataset"].get("test_ids") or []
    scores_of = {}
    for name, model in results["models"].items():
        if model.get("status") != "ok":
            continue
        scores = saved_scores(folder / "runs", name)
        if scores is not None and len(scores) == len(ids):
            scores_of[name] = scores
    return scores_of


def gmu_gates(results: dict[str, Any]) -> dict[str, float]:
    """The GMU's mean gate z of each test movie, by 7-digit id (empty without a GMU run)."""
    ids = results["dataset"].get("test_ids") or []
    gates = results["models"].get("GMU", {}).get("gates", {}).get("per_movie_mean_z")
    return dict(zip((i.removeprefix("tt") for i in ids), gates)) if gates and len(gates) == len(ids) else {}


def read_benchmark(folder: Path, genres_of: dict[str, list[int]]) -> BenchmarkPart:
    """The benchmark folder's report part. ``genres_of`` maps 7-digit ids to their genre
    columns, the truth to fall back on when the HDF5 the run read is gone."""
    from ..benchmark.qualitative import qualitative_markdown

    results = read_results(folder)
    part = BenchmarkPart(folder, results, reports.table2_markdown(results), reports.table3_markdown(results))
    part.plots = sorted(folder.rglob("*.png"))
    names, ids = results["dataset"]["target_names"], results["dataset"].get("test_ids") or []
    truth = _test_truth(results, genres_of)
    for name, scores in test_scores(folder, results).items():
        label = results["models"][name].get("label", name)
        if truth is not None:
            part.errors[label] = genre_errors(truth, binarize(scores), names)
        for imdb_id, row in zip(ids, np.round(scores.astype(np.float64), 3).tolist()):
            part.predictions.setdefault(imdb_id.removeprefix("tt"), {})[label] = row
    part.gates = gmu_gates(results)
    chosen = folder / "qualitative.json"
    if chosen.is_file():
        examples = json.loads(chosen.read_text("utf-8")).get("examples", [])
        files = {e["imdb_id"]: folder / "qualitative" / f"{e['imdb_id'].removeprefix('tt')}.jpeg" for e in examples}
        posters = {imdb_id: data_uri(path, "image/jpeg") for imdb_id, path in files.items() if path.is_file()}
        part.qualitative = qualitative_markdown(examples, results, posters)
    return part
