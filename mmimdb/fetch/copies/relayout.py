"""Raw re-layouts of the release: ``split.json`` + ``images/<id>.jpeg`` + ``labels/<id>.json``
(what missing-aware-prompts' ``write_mmimdb.py`` reads) or ``annotations/<id>.json`` (Hub
copies). Each JSON is the release's record (IMDbPY keys), so the whole record is kept.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ...records import record as records
from ..archive import MAX_JSON_BYTES, MAX_SPLIT_BYTES
from .samples import Problems, Sample, find_files, genre_names, image_file, inside, plot_list

NAME = "relayout"
DESCRIPTION = "raw re-layout (split.json + images/<id>.jpeg + labels/ or annotations/<id>.json)"
_RECORD_DIRS = ("labels", "annotations")
_SUFFIXES = (".jpeg", ".jpg", ".png")


def folders(folder: Path) -> list[Path]:
    """Folders holding ``split.json``, ``images/`` and a folder of per-id JSON records."""
    found = []
    for split_file in find_files(folder, "split.json"):
        base = split_file.parent
        if (base / "images").is_dir() and any((base / name).is_dir() and next((base / name).glob("*.json"), None)
                                              for name in _RECORD_DIRS):
            found.append(base)
    return found


def detect(folder: Path) -> bool:
    return bool(folders(folder))


def _split_of(path: Path, problems: Problems) -> dict[str, str]:
    """id -> split from the copy's ``split.json`` (any keys: a copy may name dev 'val')."""
    from .samples import split_name

    if path.stat().st_size > MAX_SPLIT_BYTES:
        problems.damaged(f"{path.name}: over the {MAX_SPLIT_BYTES}-byte cap; movies read without a split")
        return {}
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, ValueError) as error:
        problems.damaged(f"{path.name}: not JSON ({str(error)[:80]}); movies read without a split")
        return {}
    result: dict[str, str] = {}
    if isinstance(data, dict):
        for key, ids in data.items():
            name = split_name(key)
            if name and isinstance(ids, list):
                for value in ids:
                    if isinstance(value, (str, int)) and not isinstance(value, bool):
                        try:
                            result[records.file_id(value)] = name
                        except ValueError:
                            pass
    return result


def samples(copy_root: Path, problems: Problems) -> Iterator[Sample]:
    for base in folders(copy_root):
        split = _split_of(base / "split.json", problems)
        record_dir = next(base / name for name in _RECORD_DIRS if (base / name).is_dir())
        for path in sorted(record_dir.glob("*.json")):
            where = f"{record_dir.name}/{path.name}"
            if not records.is_file_id(path.stem):
                problems.skip(where, "no IMDb id", f"{where}: the name is not an IMDb id; skipped")
                continue
            if not path.is_file() or not inside(copy_root, path):  # a dangling link, or one out of the copy
                problems.skip("tt" + path.stem, "not a file in the copy", f"{where}: not a file inside the copy; skipped")
                continue
            if path.stat().st_size > MAX_JSON_BYTES:
                problems.skip("tt" + path.stem, "json too large", f"{where}: over the {MAX_JSON_BYTES}-byte cap")
                continue
            try:
                data = json.loads(path.read_bytes())
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except (UnicodeDecodeError, ValueError) as error:
                problems.skip("tt" + path.stem, "invalid JSON", f"{where}: invalid JSON ({str(error)[:80]}); skipped")
                continue
            sample = Sample(path.stem, where, split.get(path.stem), plot_list(data.get("plot")),
                            genre_names(data.get("genres")), record=data)
            sample.poster, sample.poster_problem = image_file(copy_root, [base / "images"], path.stem + ".jpeg", _SUFFIXES)
            yield sample
