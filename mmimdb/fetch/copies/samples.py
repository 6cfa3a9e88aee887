"""What every copy's reader gives: samples (one per row or line of the copy), and the checks
that keep a copy's paths and posters from reaching outside it.

A copy can hold one sample per movie or one per plot; the importer
(:mod:`mmimdb.fetch.copies.importer`) collapses samples of one id back into one movie.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

from ...records import posters as images
from ...records import record as records
from ...records.genres import canonical_genre

#: The split names copies use, mapped to ours (MMF and the Hub copies call dev "val").
SPLIT_NAMES: dict[str, str] = {"train": "train", "dev": "dev", "val": "dev", "valid": "dev", "validation": "dev",
                               "test": "test"}


class PosterTooLarge(Exception):
    """A poster over :data:`mmimdb.records.posters.MAX_POSTER_BYTES`: never read."""


@dataclass
class Sample:
    """One row or line of a copy."""

    file_id: str                  # the release's 7-digit id, as the copy wrote it
    where: str                    # 'train.jsonl:12', for messages
    split: str | None = None      # train, dev, test, or None when the copy does not say
    texts: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    #: Reads the poster's bytes (capped); None when the copy has no poster for the sample.
    poster: Callable[[], bytes] | None = None
    #: Why the poster cannot be read, when the copy names one that cannot be used.
    poster_problem: str | None = None
    #: Length of the copy's label vector, where it has one (ViLT's ``label``).
    label_width: int | None = None
    #: The release's whole record (IMDbPY keys), where the copy kept it (raw re-layouts).
    record: dict | None = None


class Problems(Protocol):
    """Where readers report what they could not read (the importer's report)."""

    def skip(self, imdb_id: str, reason: str, message: str | None = None) -> None: ...

    def damaged(self, message: str) -> None: ...

    def note(self, section: str, found: dict) -> None:
        """What a layout's reader found that the report's other sections do not say (how a
        chat copy's ids were recovered, say)."""


def copy_id(value: object) -> str | None:
    """The 7-digit id of a copy's id field (``'0114709'``, ``'tt0114709'``, ``114709``), or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    try:
        return records.file_id(value)
    except ValueError:
        return None


def split_name(value: object) -> str | None:
    return SPLIT_NAMES.get(str(value).strip().lower()) if value is not None else None


def genre_names(values: object) -> list[str]:
    """Genre names in IMDb's spelling (``'sci-fi'`` -> ``'Sci-Fi'``); unknown names kept as given."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return []
    names = [canonical_genre(v) or v.strip() for v in values if isinstance(v, str) and v.strip()]
    return list(dict.fromkeys(names))


def plot_list(value: object) -> list[str]:
    """Plot texts of a field that holds a string or a list of strings."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [text for text in value if isinstance(text, str) and text.strip()]


def inside(copy_root: Path, path: Path) -> bool:
    """True when ``path``, links resolved, lies inside ``copy_root``."""
    try:
        path.resolve().relative_to(copy_root.resolve())
    except (ValueError, OSError):
        return False
    return True


def file_poster(copy_root: Path, path: Path) -> Callable[[], bytes]:
    """A reader of the poster file ``path``: refused when it is larger than the cap (its
    size, not its bytes, is read first) or when it resolves outside ``copy_root``."""
    def read() -> bytes:
        if not inside(copy_root, path):
            raise PermissionError(f"{path}: image path outside the copy")
        size = os.stat(path).st_size
        if size > images.MAX_POSTER_BYTES:
            raise PosterTooLarge(f"{path.name} is {size} bytes, over the {images.MAX_POSTER_BYTES}-byte cap")
        with open(path, "rb") as handle:
            return handle.read(images.MAX_POSTER_BYTES + 1)
    return read


def image_file(copy_root: Path, bases: list[Path], value: object,
               suffixes: tuple[str, ...] = ()) -> tuple[Callable[[], bytes] | None, str | None]:
    """The poster named by an image field: (reader, None), or (None, why not).

    ``value`` is tried relative to each of ``bases`` in turn; with ``suffixes`` the name's
    own extension is also swapped for each (MMF strips it and tries ``.jpg``, ``.jpeg``, ...).
    A name that leaves the copy is refused without looking further.
    """
    if not isinstance(value, str) or not value.strip():
        return None, "no image named"
    relative = Path(value)
    for base in bases:
        candidates = [base / relative] + [(base / relative).with_suffix(s) for s in suffixes]
        for candidate in candidates:
            if not inside(copy_root, candidate):
                return None, f"image path outside the copy ({value})"
            if candidate.is_file():
                return file_poster(copy_root, candidate), None
    return None, f"image not found ({value})"


def find_files(folder: Path, pattern: str, depth: int = 3) -> Iterator[Path]:
    """Files matching ``pattern`` in ``folder`` and its subfolders down to ``depth``, sorted,
    links never followed out of ``folder``."""
    for level in range(depth + 1):
        for path in sorted(folder.glob("/".join(["*"] * level + [pattern]))):
            if path.is_file() and inside(folder, path):
                yield path
