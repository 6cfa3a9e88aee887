"""The normalized movie record, its JSON Schema, and the mapping to the original layout.

A *normalized record* is a dict with snake_case keys described by
``schemas/movie.schema.json``. The original release stores each movie as IMDbPY's keys
(``"plot outline"``, ``"cover url"``, ``"director"``, ...) with the id in the file name;
:func:`from_imdbpy` and :func:`to_imdbpy` convert between the two without losing a key:
keys the schema does not name travel in ``extra`` and come back out verbatim, and the
fields IMDbPY has no key for (provenance, the poster checksum) travel under ``_mmimdb``.

>>> record = from_imdbpy("0114709", {"title": "Toy Story", "director": [{"name": "John Lasseter"}]})
>>> record["imdb_id"], record["directors"][0]["name"]
('tt0114709', 'John Lasseter')
>>> to_imdbpy(record)["director"]
[{'name': 'John Lasseter'}]
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from ..errors import RecordError, UsageError

#: Normalized field -> IMDbPY key of the original records. The schema gives the types.
IMDBPY_KEYS: dict[str, str] = {
    "title": "title",
    "year": "year",
    "kind": "kind",
    "genres": "genres",
    "plot": "plot",
    "plot_outline": "plot outline",
    "synopsis": "synopsis",
    "original_title": "original title",
    "localized_title": "localized title",
    "canonical_title": "canonical title",
    "long_imdb_title": "long imdb title",
    "long_imdb_canonical_title": "long imdb canonical title",
    "smart_canonical_title": "smart canonical title",
    "smart_long_imdb_canonical_title": "smart long imdb canonical title",
    "imdb_index": "imdbIndex",
    "akas": "akas",
    "directors": "director",
    "writers": "writer",
    "cast": "cast",
    "producers": "producer",
    "composers": "composer",
    "original_music": "original music",
    "cinematographers": "cinematographer",
    "editors": "editor",
    "casting_directors": "casting director",
    "production_designers": "production design",
    "art_directors": "art direction",
    "set_decorators": "set decoration",
    "costume_designers": "costume designer",
    "makeup_department": "make up",
    "production_managers": "production manager",
    "assistant_directors": "assistant director",
    "art_department": "art department",
    "sound_crew": "sound crew",
    "special_effects": "special effects",
    "visual_effects": "visual effects",
    "stunt_performers": "stunt performer",
    "camera_department": "camera and electrical department",
    "animation_department": "animation department",
    "casting_department": "casting department",
    "costume_department": "costume department",
    "editorial_department": "editorial department",
    "location_management": "location management",
    "music_department": "music department",
    "transportation_department": "transportation department",
    "miscellaneous_crew": "miscellaneous crew",
    "thanks": "thanks",
    "runtimes": "runtimes",
    "countries": "countries",
    "country_codes": "country codes",
    "languages": "languages",
    "language_codes": "language codes",
    "certificates": "certificates",
    "mpaa": "mpaa",
    "color_info": "color info",
    "aspect_ratio": "aspect ratio",
    "sound_mix": "sound mix",
    "rating": "rating",
    "votes": "votes",
    "top_250_rank": "top 250 rank",
    "bottom_100_rank": "bottom 100 rank",
    "production_companies": "production companies",
    "distributors": "distributors",
    "special_effects_companies": "special effects companies",
    "other_companies": "miscellaneous companies",
    "keywords": "keywords",
    "taglines": "taglines",
    "filming_locations": "locations",
    "release_dates": "release dates",
    "original_air_date": "original air date",
    "box_office": "box office",
    "adult": "adult",
    "awards": "awards",
    "metascore": "metascore",
    "tmdb_id": "tmdb id",
    "movielens_id": "movielens id",
}
IMDBPY_TO_FIELD: dict[str, str] = {key: field for field, key in IMDBPY_KEYS.items()}

#: Keys inside person and company dicts that get a snake_case name; others pass through.
NESTED_KEYS: dict[str, str] = {
    "canonical_name": "canonical name",
    "long_imdb_name": "long imdb name",
    "long_imdb_canonical_name": "long imdb canonical name",
    "smart_canonical_name": "smart canonical name",
    "smart_long_imdb_canonical_name": "smart long imdb canonical name",
    "person_id": "personID",
    "company_id": "companyID",
}
NESTED_FROM_IMDBPY: dict[str, str] = {key: field for field, key in NESTED_KEYS.items()}

#: Poster fields stored under IMDbPY keys; the rest of ``poster`` goes under ``_mmimdb``.
POSTER_URL_KEYS: dict[str, str] = {"url": "cover url", "full_size_url": "full-size cover url"}

#: Key of the original-layout JSON that carries what IMDbPY has no key for.
MMIMDB_KEY = "_mmimdb"

_ID_DIGITS = re.compile(r"^(?:tt)?([0-9]{7,})$")
_FILE_ID = re.compile(r"^[0-9]{7,}$")


class NotAnImdbId(UsageError, ValueError):
    """Text that is not an IMDb title id: one line for the user (exit 2), and still a
    ``ValueError`` for callers that test ids with ``try``/``except ValueError``."""


def ascii_digits(text: str) -> bool:
    """True when ``text`` is ASCII digits only. ``str.isdigit()`` also accepts '²' (which
    ``int()`` refuses) and Arabic-Indic or Devanagari digits (no IMDb id has them).

    >>> ascii_digits("0114709"), ascii_digits("٠١١٤٧٠٩"), "٠١١٤٧٠٩".isdigit()
    (True, False, True)
    """
    return text.isascii() and text.isdigit()


def is_file_id(name: str) -> bool:
    """True when ``name`` (a file's stem) is an id as the original layout names its files:
    at least 7 ASCII digits."""
    return _FILE_ID.match(name) is not None


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The movie record JSON Schema (2020-12), read from the installed package."""
    text = resources.files("mmimdb.schemas").joinpath("movie.schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _field_kind(field: str) -> str | None:
    """'people', 'companies', 'strings' or the JSON type of a top-level field."""
    spec = schema()["properties"].get(field, {})
    ref = spec.get("items", {}).get("$ref", "") or spec.get("$ref", "")
    if ref.endswith("/person"):
        return "people"
    if ref.endswith("/company"):
        return "companies"
    if ref.endswith("/strings"):
        return "strings"
    return spec.get("type")


def normalize_id(imdb_id: str | int) -> str:
    """``'tt0114709'`` from ``'0114709'``, ``'tt0114709'``, ``114709`` or ``'114709'``.

    >>> normalize_id(114709), normalize_id("tt0114709"), normalize_id("12345678")
    ('tt0114709', 'tt0114709', 'tt12345678')
    """
    text = str(imdb_id).strip()
    if ascii_digits(text) and len(text) < 7:
        text = text.zfill(7)
    match = _ID_DIGITS.match(text)
    if not match:
        raise NotAnImdbId(f"not an IMDb title id: {imdb_id!r}")
    return "tt" + match.group(1)


def file_id(imdb_id: str | int) -> str:
    """The id as the original layout names files: digits only, at least 7 (``'0114709'``)."""
    return normalize_id(imdb_id)[2:]


def validate(record: dict[str, Any]) -> dict[str, Any]:
    """Return ``record`` if it matches the schema; else raise :class:`RecordError`.

    The error names the record's id and the first failing field (its JSON path).
    """
    error = jsonschema.exceptions.best_match(_validator().iter_errors(record))
    if error is None:
        return record
    imdb_id = record.get("imdb_id") if isinstance(record, dict) else None
    field = ".".join(str(part) for part in error.absolute_path) or None
    if error.validator == "required" and field is None:
        field = error.message.split("'")[1] if "'" in error.message else None
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    raise RecordError(str(imdb_id or "<no id>"), field, message)


def all_from(record: dict[str, Any], source: str) -> dict[str, str]:
    """The ``sources`` of a record that came whole from one ``source``: each of its fields
    (not the id, ``extra`` or ``sources`` itself) -> ``source``.

    >>> all_from({"imdb_id": "tt0114709", "title": "Toy Story", "extra": {}}, "archive")
    {'title': 'archive'}
    """
    return {field: source for field in record if field not in ("imdb_id", "extra", "sources")}


def missing_for_dataset(record: dict[str, Any]) -> str | None:
    """Why a record cannot enter the dataset (the paper's rule), or None if it can.

    A movie is kept only if it has genres, a non-empty plot and a poster file.
    """
    if not record.get("genres"):
        return "no genres"
    if not any(text.strip() for text in record.get("plot") or []):
        return "no plot"
    if not (record.get("poster") or {}).get("file"):
        return "no poster"
    return None


def plot_texts(record: dict[str, Any]) -> list[str]:
    """Every plot text, in record order, without IMDbPY's ``::author`` suffix."""
    return [text.rsplit("::", 1)[0] if "::" in text else text for text in record.get("plot") or []]


def longest_plot(record: dict[str, Any]) -> str:
    """The longest plot text without IMDbPY's ``::author`` suffix (what the paper used)."""
    return max(plot_texts(record), key=len, default="")


#: ``--text`` choices that give one text per movie (what a build's ``plot`` column holds):
#: ``longest`` (the paper's), ``first`` (the record's first plot), ``outline`` (the plot
#: outline, or the longest plot when the movie has none). Exports add ``all``.
TEXT_CHOICES: tuple[str, ...] = ("longest", "first", "outline")


def chosen_plot(record: dict[str, Any], choice: str = "longest") -> str:
    """The movie's text under ``--text choice`` (one of :data:`TEXT_CHOICES`)."""
    if choice == "first":
        return next((text for text in plot_texts(record) if text.strip()), "")
    if choice == "outline":
        outline = (record.get("plot_outline") or "").strip()
        return outline or longest_plot(record)
    if choice != "longest":
        raise ValueError(f"unknown text choice {choice!r}")
    return longest_plot(record)


def _nested_from_imdbpy(value: Any) -> Any:
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict):
        return {NESTED_FROM_IMDBPY.get(k, k): v for k, v in value.items()}
    return value


def _nested_to_imdbpy(value: Any) -> Any:
    if isinstance(value, dict):
        return {NESTED_KEYS.get(k, k): v for k, v in value.items()}
    return value


def _coerce(field: str, value: Any) -> Any:
    """Light, lossless-in-practice type fixes for values older dumps wrote as text."""
    kind = _field_kind(field)
    if kind in ("people", "companies"):
        items = value if isinstance(value, list) else [value]
        return [_nested_from_imdbpy(item) for item in items]
    if kind == "strings" and isinstance(value, str):
        return [value]
    if kind == "integer" and isinstance(value, str) and ascii_digits(value.replace(",", "")):
        return int(value.replace(",", ""))
    if kind == "number" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def from_imdbpy(imdb_id: str | int, data: dict[str, Any]) -> dict[str, Any]:
    """Normalized record from an original-layout JSON object (IMDbPY keys).

    Does not validate: call :func:`validate` on the result.
    """
    record: dict[str, Any] = {"imdb_id": normalize_id(imdb_id)}
    extra: dict[str, Any] = {}
    poster: dict[str, Any] = {}
    for key, value in data.items():
        if key == MMIMDB_KEY and isinstance(value, dict):
            if value.get("sources"):
                record["sources"] = dict(value["sources"])
            poster.update(value.get("poster") or {})
        elif key in IMDBPY_TO_FIELD:
            if value is not None:
                record[IMDBPY_TO_FIELD[key]] = _coerce(IMDBPY_TO_FIELD[key], value)
        elif key in POSTER_URL_KEYS.values():
            poster[next(f for f, k in POSTER_URL_KEYS.items() if k == key)] = value
        else:
            extra[key] = value
    if poster:
        record["poster"] = poster
    if extra:
        record["extra"] = extra
    return record


def to_imdbpy(record: dict[str, Any]) -> dict[str, Any]:
    """Original-layout JSON object (IMDbPY keys) from a normalized record.

    ``imdb_id`` is left out (the original layout keeps it in the file name).
    """
    data: dict[str, Any] = {}
    mmimdb: dict[str, Any] = {}
    for field, value in record.items():
        if field == "imdb_id":
            continue
        if field == "extra":
            data.update(value)
        elif field == "sources":
            mmimdb["sources"] = value
        elif field == "poster":
            for name, item in value.items():
                if name in POSTER_URL_KEYS:
                    data[POSTER_URL_KEYS[name]] = item
                else:
                    mmimdb.setdefault("poster", {})[name] = item
        elif _field_kind(field) in ("people", "companies"):
            data[IMDBPY_KEYS[field]] = [_nested_to_imdbpy(item) for item in value]
        else:
            data[IMDBPY_KEYS[field]] = value
    if mmimdb:
        data[MMIMDB_KEY] = mmimdb
    return data
