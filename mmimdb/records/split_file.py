"""The ``split.json`` format: the original release's split file, and any other.

The release ships it beside the records (``fetch --from-archive`` keeps it), and
``build --split file`` reads one; both go through :func:`parse_split`. An object with the keys
``train``, ``dev`` and ``test``, each a list of IMDb title ids (written without ``tt``).

>>> parse_split({"train": ["0114709"], "dev": [], "test": ["tt0113497"]}).ids["test"]
['tt0113497']
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import UsageError
from ..storage import atomic
from .record import file_id, normalize_id

#: Split names, in the row order of the HDF5 file.
SPLITS: tuple[str, ...] = ("train", "dev", "test")


@dataclass
class SplitFile:
    """A ``split.json``: ids (``tt...``) per split, in file order."""

    ids: dict[str, list[str]]
    path: Path | None = None


def parse_split(data: Any, source: str = "split.json") -> SplitFile:
    """Validate a decoded ``split.json`` object; raise :class:`UsageError` naming the problem.

    Ids may be written with or without ``tt``. An id listed twice (in one split or in two)
    is an error: it would put a movie in two places.
    """
    if not isinstance(data, dict) or set(data) != set(SPLITS):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise UsageError(f"{source}: expected an object with keys train, dev, test, got {keys}")
    ids: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for name in SPLITS:
        if not isinstance(data[name], list):
            raise UsageError(f"{source}: '{name}' is not a list of ids")
        ids[name] = []
        for value in data[name]:
            try:
                imdb_id = normalize_id(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
            except ValueError:
                imdb_id = None
            if imdb_id is None:
                raise UsageError(f"{source}: '{name}' holds {value!r}, which is not an IMDb title id")
            if imdb_id in seen:
                duplicates.append(f"{file_id(imdb_id)} ({seen[imdb_id]}/{name})")
            else:
                seen[imdb_id] = name
                ids[name].append(imdb_id)
    if duplicates:
        shown = ", ".join(duplicates[:5]) + (f" and {len(duplicates) - 5} more" if len(duplicates) > 5 else "")
        raise UsageError(f"{source}: {len(duplicates)} duplicate id(s): {shown}")
    return SplitFile(ids)


def read_split_file(path: str | os.PathLike) -> SplitFile:
    """Read and validate a ``split.json`` (see :func:`parse_split`)."""
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such split file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: not a JSON split file ({error})") from None
    split = parse_split(data, str(path))
    split.path = path
    return split


def write_split_file(path: str | os.PathLike, ids: dict[str, Sequence[str]]) -> None:
    """Write ``split.json`` in the original format: 7-character ids without ``tt``."""
    atomic.write_json(path, {name: [file_id(i) for i in ids[name]] for name in SPLITS}, indent=None)
