"""The records store: a directory in the original release layout.

Each movie is ``<7-digit id>.json`` (IMDbPY keys) plus ``<id>.jpeg`` (its poster). The
poster is written first and the JSON last, both atomically, so a record whose JSON exists
is complete: a killed writer leaves either the whole movie or no JSON at all.

>>> import tempfile
>>> store = RecordStore(Path(tempfile.mkdtemp()) / "dataset")
>>> store.write({"imdb_id": "tt0114709", "title": "Toy Story"})
>>> store.read("0114709")["title"]
'Toy Story'
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from ..storage import atomic
from . import record as records
from ..errors import RecordError, UsageError

POSTER_SUFFIX = ".jpeg"


class RecordStore:
    """Read and write normalized records in a directory of ``<id>.json`` + ``<id>.jpeg``."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory).expanduser()

    def __repr__(self) -> str:
        return f"RecordStore({str(self.directory)!r})"

    def json_path(self, imdb_id: str | int) -> Path:
        return self.directory / f"{records.file_id(imdb_id)}.json"

    def poster_path(self, imdb_id: str | int) -> Path:
        return self.directory / f"{records.file_id(imdb_id)}{POSTER_SUFFIX}"

    def __contains__(self, imdb_id: object) -> bool:
        try:
            return self.json_path(imdb_id).is_file()  # type: ignore[arg-type]
        except ValueError:
            return False

    def ids(self) -> list[str]:
        """Ids (``tt...``) of the complete records, sorted."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob("*.json"):
            # Only the layout's names: '٠١١٤٧٠٩.json' passes isdigit() but is no record of ours.
            if records.is_file_id(path.stem):
                found.append("tt" + path.stem)
        return sorted(found)

    def __len__(self) -> int:
        return len(self.ids())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for imdb_id in self.ids():
            yield self.read(imdb_id)

    def read_raw(self, imdb_id: str | int) -> dict[str, Any]:
        """The JSON object of a record as stored (IMDbPY keys)."""
        path = self.json_path(imdb_id)
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{path}: no such record") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RecordError(records.normalize_id(imdb_id), None, f"invalid JSON in {path.name}: {error}") from None
        if not isinstance(data, dict):
            raise RecordError(records.normalize_id(imdb_id), None, f"{path.name} is not a JSON object")
        return data

    def read(self, imdb_id: str | int, validate: bool = True) -> dict[str, Any]:
        """The normalized record of ``imdb_id``; ``poster.file`` is set when the poster exists."""
        record = records.from_imdbpy(imdb_id, self.read_raw(imdb_id))
        if self.poster_path(imdb_id).is_file():
            record.setdefault("poster", {})["file"] = self.poster_path(imdb_id).name
        return records.validate(record) if validate else record

    def read_poster(self, imdb_id: str | int) -> bytes:
        return self.poster_path(imdb_id).read_bytes()

    def write(self, record: dict[str, Any], poster: bytes | None = None) -> None:
        """Validate and write ``record`` (and its poster bytes), atomically, poster first."""
        records.validate(record)
        if poster is not None:
            atomic.write_bytes(self.poster_path(record["imdb_id"]), poster)
            record = {**record, "poster": {**record.get("poster", {}), "file": self.poster_path(record["imdb_id"]).name}}
        atomic.write_json(self.json_path(record["imdb_id"]), records.to_imdbpy(record))

    def clean(self) -> int:
        """Remove temporary files a killed writer left behind; return how many."""
        return atomic.remove_stale_temporaries(self.directory) if self.directory.is_dir() else 0
