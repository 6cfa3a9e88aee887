"""``mmimdb export``: the built dataset in the formats other projects' loaders read unchanged.

One module per format, all fed by :mod:`mmimdb.export.rows` (the build's rows, with the text
and genre choices applied), so every format carries the same ids, split and labels:

* ``jsonl``: the transformers mm-imdb example and MMBT (:mod:`.jsonl`);
* ``mmf``: MMF's mmimdb dataset layout (:mod:`.mmf`);
* ``arrow``: the ViLT-based missing-modality readers (:mod:`.arrow`);
* ``hdf5``: the original release's HDF5 file, for MultiBench (:mod:`.hdf5`);
* ``fiftyone``: a FiftyOne dataset with a benchmark's predictions, for the FiftyOne App
  (:mod:`.fiftyone_dataset`; the ``fiftyone`` extra).

>>> summary = export("jsonl", root="~/.cache/mmimdb")          # doctest: +SKIP
>>> summary["out"], summary["movies"]["train"]                  # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import paths
from ..storage import lock
from ..storage.checksums import sha256_of
from ..errors import UsageError
from ..dataset.parquet import check_readable
from ..records.record import file_id
from ..records.split_file import SPLITS
from . import arrow, fiftyone_dataset, hdf5, jsonl, mmf
from .rows import (GENRE_CHOICES, MARKER, TEXT_CHOICES, Choices, check_built, default_out, record_export, split_ids,
                   staged_folder)

FORMATS: tuple[str, ...] = ("jsonl", "mmf", "arrow", "hdf5", "fiftyone")
#: The reader each format was checked against (for messages and the manifest).
READERS: dict[str, str] = {
    "jsonl": "transformers examples/research_projects/mm-imdb (JsonlDataset), MMBT mmbt/data (JsonlDataset)",
    "mmf": "MMF mmf/datasets/builders/mmimdb (MMIMDbImageDataset)",
    "arrow": "missing_aware_prompts vilt/datasets (MMIMDBDataset)",
    "hdf5": "MultiBench datasets/imdb/get_data.py (IMDBDataset)",
    "fiftyone": "FiftyOne fiftyone.load_dataset(NAME); browse it with `fiftyone app launch NAME`",
}
#: Files whose sha256 the manifest records (the posters are the build's own bytes).
_INDEX_SUFFIXES = (".jsonl", ".arrow", ".txt", ".hdf5")

__all__ = ["FORMATS", "GENRE_CHOICES", "TEXT_CHOICES", "export"]


def _default_out(root: Path, format: str) -> Path:
    if format == "jsonl":
        # MMBT reads <data_path>/<task>/train.jsonl with task 'mmimdb'.
        return default_out(root, format) / "mmimdb"
    return default_out(root, format)


@lock.reads_root("mmimdb export")
def export(format: str, root: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
           text: str = "longest", genres: str = "23", test_hard_ids: str | os.PathLike | None = None,
           progress: bool = False, protocol: str | None = None, name: str | None = None,
           results: str | os.PathLike | None = None) -> dict[str, Any]:
    """Export the built dataset under ``root`` as ``format`` into ``out``; return a summary.

    ``out`` defaults to ``<root>/exports/<format>`` (``.../jsonl/mmimdb`` for jsonl). It is
    replaced as a whole when the export succeeds, and only if it is empty or a previous
    export. ``text`` and ``genres`` are the choices of :mod:`mmimdb.export.rows`;
    ``test_hard_ids`` (jsonl only) names a file of ids for MMBT's ``test_hard_gt.jsonl``.
    ``name`` and ``results`` (fiftyone only): the FiftyOne dataset's name and the benchmark
    folder whose predictions it carries (default ``ROOT/benchmark`` when it has results).
    The summary (counts per split, warnings) is also recorded in the manifest.
    """
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    choices = Choices(text, genres)
    if protocol is not None:
        if choices != Choices():
            raise UsageError("--protocol sets the text and the genres; drop --text/--genres")
        if format == "hdf5" and protocol not in ("paper", "multibench"):
            raise UsageError(f"--format hdf5 is the paper's file; --protocol {protocol} needs jsonl, mmf or arrow")
    if test_hard_ids is not None and format != "jsonl":
        raise UsageError("--test-hard-ids is for --format jsonl (MMBT's test_hard_gt.jsonl)")
    if format != "fiftyone" and (name is not None or results is not None):
        raise UsageError(f"{'--name' if name is not None else '--results'} is for --format fiftyone")
    if format == "fiftyone":
        fiftyone_dataset.check_installed()
    root = paths.data_root(root)
    check_built(root)
    for split in SPLITS:  # a truncated or overwritten split file: one line before any folder is made
        check_readable(paths.parquet_path(root, split))
    if protocol is not None and format != "hdf5":
        from ..protocols import prepare

        prepared = prepare(root, protocol)
        choices = Choices(protocol=protocol, prepared=prepared)
    hard_ids = jsonl.read_id_list(test_hard_ids) if test_hard_ids is not None else None
    if hard_ids is not None and not set(hard_ids) & {file_id(i) for i in split_ids(root, "test")}:
        raise UsageError(f"none of the {len(set(hard_ids))} ids of --test-hard-ids is in this build's test split")
    target = Path(out).expanduser() if out is not None else _default_out(root, format)
    with staged_folder(target) as staging:
        if format == "jsonl":
            summary = jsonl.write(root, staging, choices, hard_ids, progress)
        elif format == "mmf":
            summary = mmf.write(root, staging, choices, progress)
        elif format == "arrow":
            summary = arrow.write(root, staging, choices, progress)
        elif format == "fiftyone":
            from ..report.benchmark import benchmark_folder

            summary = fiftyone_dataset.write(root, staging, target, choices, name or fiftyone_dataset.default_name(root),
                                             benchmark_folder(root, results), progress)
        else:
            summary = hdf5.write(root, staging, choices, progress)
        files = {str(path.relative_to(staging)): sha256_of(path) for path in sorted(staging.rglob("*"))
                 if path.is_file() and path.suffix in _INDEX_SUFFIXES}
        entry = {"format": format, "reader": READERS[format], "out": str(target.resolve()),
                 "text": choices.text, "genres": choices.genres, **summary, "files": files}
        if protocol is not None:
            entry["protocol"] = protocol
            if choices.prepared is not None:
                entry["dropped"] = {rule: len(ids) for rule, ids in choices.prepared.dropped.items()}
        (staging / MARKER).write_text(json.dumps(entry, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    record_export(root, format, entry)
    return entry
