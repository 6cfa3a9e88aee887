"""A FiftyOne dataset (``--format fiftyone``): browse the movies, posters and a benchmark's
predictions in the FiftyOne App.

FiftyOne keeps file paths, not bytes: the posters are written to ``OUT/posters/<id><ext>``
and the samples, one per movie, go to FiftyOne's database as a persistent dataset named
``--name`` (default ``mmimdb-<root folder name>``), read back with
``fiftyone.load_dataset(NAME)``. Its fields:

==============  ==========================================================================
field           what
==============  ==========================================================================
filepath        the poster, ``OUT/posters/<id><ext>``
imdb_id         ``tt0114709``
title, year     from the build
plot            the chosen text (``--text``); with ``--text all`` every plot in ``plots``
split           train, dev or test (also the sample's tag)
ground_truth    ``Classifications``: the movie's genres (per ``--genres``)
<model>         ``Classifications`` per model of the benchmark run (the field is the model's
                name in ``results.json``, e.g. ``GMU``, ``MaxoutMLP_w2v``; its label, which
                names the features, is in ``dataset.info``) (``--results DIR``, else
                ``ROOT/benchmark``), test movies only (the first seed's saved probabilities):
                the genres at or above the benchmark's threshold, each with its probability
                as ``confidence``, and all 23 probabilities as ``logits``
gmu_gate        the GMU's mean gate z of the movie (1: the poster, 0: the plot), test movies
==============  ==========================================================================

The benchmark is read as ``mmimdb report`` reads it (:mod:`mmimdb.report.benchmark`). An
earlier dataset of that name that this export made is replaced once the new one is complete;
any other dataset of that name is refused. FiftyOne's own configuration says where its
database is (``FIFTYONE_DATABASE_URI``, else the ``mongod`` of the ``fiftyone-db`` wheel).
"""
from __future__ import annotations

import importlib.util
import os
import re
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import MmimdbError, UsageError
from ..records.split_file import SPLITS
from .rows import Choices, movies, split_size

#: Where the posters go inside ``OUT``.
POSTERS_DIR = "posters"
#: The key of ``dataset.info`` that marks a dataset as made by this export.
INFO_KEY = "mmimdb_export"
#: The sample field of the GMU's mean gate.
GATE_FIELD = "gmu_gate"
#: Sample fields of their own, which no model's field may take.
RESERVED = {"filepath", "imdb_id", "title", "year", "plot", "plots", "split", "ground_truth", GATE_FIELD, "tags", "id",
            "metadata"}
#: Samples added to the database at once.
ADD_BATCH = 1000


def check_installed() -> None:
    """Before any work: the ``fiftyone`` extra, or one line saying how to get it."""
    if importlib.util.find_spec("fiftyone") is None:
        raise UsageError("--format fiftyone needs FiftyOne: pip install 'mmimdb[fiftyone]'")


def default_name(root: Path) -> str:
    return f"mmimdb-{root.resolve().name}"


def field_name(model: str) -> str:
    """A model's name as a sample field (FiftyOne's field names: letters, digits, ``_``)."""
    name = re.sub(r"\W", "_", model).strip("_") or "model"
    return name if not name[0].isdigit() else f"model_{name}"


def _database_errors() -> tuple[type[BaseException], ...]:
    """What FiftyOne raises when its database cannot be reached or started."""
    import pymongo.errors
    from fiftyone.core.config import FiftyOneConfigError
    from fiftyone.core.service import ServiceException

    return FiftyOneConfigError, ServiceException, ConnectionError, pymongo.errors.PyMongoError


@contextmanager
def _database() -> Iterator[None]:
    """FiftyOne's database errors inside the block as one line."""
    errors = _database_errors()
    try:
        yield
    except errors as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MmimdbError(f"FiftyOne's database is not reachable ({first}); set FIFTYONE_DATABASE_URI to a running "
                          "MongoDB, or reinstall the fiftyone extra (its mongod)") from None


def _predictions(results_folder: Path | None) -> tuple[dict[str, dict[str, Any]], dict[str, float], list[str],
                                                       dict[str, str], str | None]:
    """Per 7-digit test id, per model name, its probabilities; the GMU's gates; the genre
    names of the score columns; the model names' labels; the folder read (None without a
    benchmark)."""
    if results_folder is None:
        return {}, {}, [], {}, None
    import numpy as np

    from ..report.benchmark import gmu_gates, read_results, test_scores

    results = read_results(results_folder)
    ids = [i.removeprefix("tt") for i in results["dataset"].get("test_ids") or []]
    by_movie: dict[str, dict[str, Any]] = {}
    scores_of = test_scores(results_folder, results)
    for model, scores in scores_of.items():
        for imdb_id, row in zip(ids, np.asarray(scores, dtype=np.float64)):
            by_movie.setdefault(imdb_id, {})[model] = row
    labels = {model: results["models"][model].get("label", model) for model in scores_of}
    return by_movie, gmu_gates(results), list(results["dataset"]["target_names"]), labels, str(results_folder)


def _titles(root: Path, split: str) -> dict[str, tuple[str | None, int | None]]:
    """``imdb_id -> (title, year)`` of ``split`` (the export rows carry neither)."""
    from ..dataset.built import BuiltDataset

    found = {}
    for batch in BuiltDataset(root).batches(split, ["imdb_id", "title", "year"]):
        for row in batch.to_pylist():
            found[row["imdb_id"]] = (row["title"], row["year"])
    return found


def write(root: Path, staging: Path, target: Path, choices: Choices, name: str, results_folder: Path | None,
          progress: bool = False) -> dict[str, Any]:
    """Write the posters into ``staging`` (they end up in ``target``) and the dataset ``name``
    into FiftyOne's database; return counts."""
    from tqdm import tqdm

    by_movie, gates, names, labels, folder = _predictions(results_folder)  # a bad --results: one line, nothing written
    import fiftyone as fo

    from ..benchmark.metrics import THRESHOLD

    fields = {model: field_name(model) for model in labels}
    if len(set(fields.values())) < len(fields) or set(fields.values()) & RESERVED:
        raise MmimdbError(f"the models' names {sorted(labels)} do not make distinct FiftyOne fields")
    (staging / POSTERS_DIR).mkdir()
    summary: dict[str, Any] = {"movies": {}, "samples": {}, "warnings": [], "dataset": name, "results": folder,
                               "predictions": {model: 0 for model in labels}, "fields": fields}
    tally: Counter[str] = Counter()
    info = {"root": str(root), "results": folder, "text": choices.text, "genres": choices.genres, "fields": fields,
            "labels": labels}
    with _database(), _new_dataset(name, info, names) as dataset:
        samples: list[Any] = []
        for split in SPLITS:
            titles = _titles(root, split)
            count = 0
            for movie in tqdm(movies(root, split, choices, tally), total=split_size(root, split),
                              desc=f"fiftyone {split}", unit="movie", disable=not progress, leave=False):
                (staging / POSTERS_DIR / movie.poster_name).write_bytes(movie.poster)
                title, year = titles.get(movie.imdb_id, (None, None))
                sample = fo.Sample(filepath=str(target / POSTERS_DIR / movie.poster_name), tags=[split],
                                   imdb_id=movie.imdb_id, title=title, year=year, split=split,
                                   plot=movie.texts[0] if movie.texts else "",
                                   ground_truth=fo.Classifications(
                                       classifications=[fo.Classification(label=g) for g in movie.genres]))
                if choices.text == "all":
                    sample["plots"] = movie.texts
                for model, probabilities in by_movie.get(movie.file_id, {}).items():
                    sample[fields[model]] = fo.Classifications(
                        classifications=[fo.Classification(label=genre, confidence=float(p))
                                         for genre, p in zip(names, probabilities) if p >= THRESHOLD],
                        logits=probabilities.tolist())
                    summary["predictions"][model] += 1
                if movie.file_id in gates:
                    sample[GATE_FIELD] = float(gates[movie.file_id])
                samples.append(sample)
                if len(samples) == ADD_BATCH:
                    dataset.add_samples(samples, progress=False)
                    samples = []
                count += 1
            summary["movies"][split] = summary["samples"][split] = count
        if samples:
            dataset.add_samples(samples, progress=False)
    if by_movie and not any(summary["predictions"].values()):
        summary["warnings"].append(f"no movie of this build is in the test split of {folder}: no predictions exported")
    if choices.text == "outline":
        summary["outline_fallbacks"] = tally["outline_fallbacks"]
    return summary


@contextmanager
def _new_dataset(name: str, info: dict[str, Any], classes: list[str]) -> Iterator[Any]:
    """A dataset under a name of its own for the block to fill; when the block succeeds it
    takes ``name`` (an earlier one of this export's is deleted only then, so that a failure
    leaves it as it was); when it fails it is deleted."""
    import fiftyone as fo

    if name in fo.list_datasets() and INFO_KEY not in (fo.load_dataset(name).info or {}):
        raise UsageError(f"--name {name}: FiftyOne already has a dataset of that name that mmimdb export did not make; "
                         "choose another --name")
    partial = f"{name}.partial-{os.getpid()}"
    if partial in fo.list_datasets():  # a killed export of this pid's number
        fo.delete_dataset(partial)
    dataset = fo.Dataset(partial)
    try:
        dataset.info = {INFO_KEY: info}
        if classes:
            dataset.default_classes = classes
        yield dataset
        dataset.persistent = True
        if name in fo.list_datasets():
            fo.delete_dataset(name)
        dataset.name = name
    except BaseException:
        dataset.delete()
        raise
