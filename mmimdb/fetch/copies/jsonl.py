"""JSON-lines copies: MMBT's and the transformers example's, and MMF's annotation folders.

* MMBT / transformers (``{train,dev,test}.jsonl``, each line ``{"id", "text", "label":
  [genre names], "image"|"img"}``): MMBT's ``scripts/mmimdb.py`` writes ``image`` relative to
  the folder above the jsonl files (``mmimdb/dataset/<id>.jpeg``), the transformers example
  reads ``img`` relative to the jsonl's folder; both are tried.
* MMF (``annotations/{train,dev,test}.jsonl``, under ``datasets/mmimdb/defaults/`` in MMF's
  data folder; each line ``{"id", "plot": str | [str], "genres", "img"}``, posters under
  ``images/``, whose name MMF finds by trying other extensions).

A line that is not JSON is skipped with its file and line number; the other lines are read.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO, Iterator

from ..archive import MAX_JSON_BYTES
from .samples import Problems, Sample, copy_id, find_files, genre_names, image_file, plot_list, split_name

MMBT = "mmbt-jsonl"
MMF = "mmf"
DESCRIPTIONS = {MMBT: "MMBT / transformers mm-imdb JSON lines ({train,dev,test}.jsonl + posters)",
                MMF: "MMF annotation folder (annotations/{train,dev,test}.jsonl + images/)"}
#: MMF's image lookup replaces the extension with each of these.
_MMF_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPEG", ".JPG")
_SPLIT_FILES = ("train", "dev", "val", "test")
#: A line holds one movie's record: as large as a release JSON may be.
MAX_LINE_BYTES = MAX_JSON_BYTES


def _split_files(folder: Path) -> list[Path]:
    return [folder / f"{name}.jsonl" for name in _SPLIT_FILES if (folder / f"{name}.jsonl").is_file()]


def mmf_folders(folder: Path) -> list[Path]:
    """Annotation folders: ``annotations/`` holding split jsonl files."""
    return [path.parent for path in find_files(folder, "annotations/train.jsonl")]


def mmbt_folders(folder: Path) -> list[Path]:
    """Folders with ``train.jsonl`` that are not MMF annotation folders."""
    return [path.parent for path in find_files(folder, "train.jsonl") if path.parent.name != "annotations"]


def _raw_lines(handle: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """The lines of ``handle``; None for a line over ``limit`` bytes (read past in blocks, never held)."""
    while True:
        raw = handle.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(limit)
            yield None
        else:
            yield raw


def _lines(path: Path, problems: Problems) -> Iterator[tuple[str, dict]]:
    with open(path, "rb") as handle:
        for number, raw in enumerate(_raw_lines(handle, MAX_LINE_BYTES), 1):
            where = f"{path.name}:{number}"
            if raw is None:
                problems.skip(where, "line too long", f"{where}: over the {MAX_LINE_BYTES}-byte cap; line skipped")
                continue
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                if not isinstance(line, dict):
                    raise ValueError("not a JSON object")
            except (UnicodeDecodeError, ValueError) as error:
                problems.skip(where, "line is not JSON", f"{where}: not a JSON object ({str(error)[:80]}); line skipped")
                continue
            yield where, line


def _sample(copy_root: Path, path: Path, where: str, line: dict, problems: Problems, text_key: str, genre_key: str,
            image_bases: list[Path], image_keys: tuple[str, ...], suffixes: tuple[str, ...] = ()) -> Sample | None:
    file_id = copy_id(line.get("id"))
    if file_id is None:
        problems.skip(where, "no IMDb id", f"{where}: id {line.get('id')!r} is not an IMDb id; line skipped")
        return None
    sample = Sample(file_id, where, split_name(path.stem), plot_list(line.get(text_key)), genre_names(line.get(genre_key)))
    image = next((line[key] for key in image_keys if key in line), None)
    if image is None:
        sample.poster_problem = "no image named"
    else:
        sample.poster, sample.poster_problem = image_file(copy_root, image_bases, image, suffixes)
    return sample


def mmbt_samples(copy_root: Path, problems: Problems) -> Iterator[Sample]:
    for folder in mmbt_folders(copy_root):
        for path in _split_files(folder):
            for where, line in _lines(path, problems):
                sample = _sample(copy_root, path, where, line, problems, "text", "label", [folder, folder.parent],
                                 ("img", "image"))
                if sample is not None:
                    yield sample


def mmf_samples(copy_root: Path, problems: Problems) -> Iterator[Sample]:
    for annotations in mmf_folders(copy_root):
        base = annotations.parent
        # MMF's default config names images/mmimdb/dataset/ (the release's tree); others use images/.
        bases = [base / "images" / "mmimdb" / "dataset", base / "images", base]
        for path in _split_files(annotations):
            for where, line in _lines(path, problems):
                sample = _sample(copy_root, path, where, line, problems, "plot", "genres", bases, ("img", "image"),
                                 _MMF_SUFFIXES)
                if sample is not None:
                    yield sample
