"""The movies of a built root as the report's browser shows them.

Three parts per movie: a small row the page holds for every movie (id, title, year, genres,
split, poster, missing-modality codes), the chosen plot for search (written in chunks beside
the page, loaded after it opens), and a detail (every plot, the fields, provenance, and with
a benchmark the models' predictions), in chunks loaded only when a movie is opened, so that
the page stays small.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from .. import paths
from ..records.genres import GENRES
from ..records.split_file import SPLITS
from ..errors import ImageError
from ..storage.atomic import write_bytes
from ..records.posters import thumbnail_jpeg

#: Parquet columns shown in a movie's detail, with their names on the page.
DETAIL_FIELDS: dict[str, str] = {
    "kind": "Kind", "directors": "Directors", "writers": "Writers", "cast": "Cast", "countries": "Countries",
    "languages": "Languages", "runtimes": "Runtimes (minutes)", "certificates": "Certificates",
    "rating": "IMDb rating", "votes": "IMDb votes",
}
#: Cast names kept in a detail (the billing order's first).
CAST_SHOWN = 15
_ROW_COLUMNS = ("imdb_id", "title", "year", "genres", "labels", "plot", "plot_outline", "poster", "poster_sha256",
                *DETAIL_FIELDS)


@dataclass
class Movies:
    """Every movie's row and detail, in split order (train, dev, test), and the missing tables."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)  # names, e.g. "seed-0/both_07"


def _batches(root: Path, split: str, columns: tuple[str, ...]) -> Iterator[list[dict[str, Any]]]:
    """The split file's rows, a row group at a time (posters never all in memory at once)."""
    from ..dataset.built import BuiltDataset

    for batch in BuiltDataset(root).batches(split, columns):  # says to build first when there is none
        yield batch.to_pylist()


def _store(root: Path):
    from ..records.store import RecordStore

    directory = paths.dataset_dir(root)
    return RecordStore(directory) if directory.is_dir() else None


def _provenance(store: Any, imdb_id: str, row: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The record's plots and where its fields came from (the records store keeps both)."""
    provenance: dict[str, Any] = {"poster sha256": row.get("poster_sha256")}
    if store is None or imdb_id not in store:
        provenance["record"] = "not in this root's records store"
        return [], provenance
    from ..records.record import plot_texts
    from ..errors import MmimdbError

    try:
        record = store.read(imdb_id, validate=False)
    except MmimdbError as error:
        provenance["record"] = f"unreadable: {error}"
        return [], provenance
    written = datetime.fromtimestamp(store.json_path(imdb_id).stat().st_mtime, timezone.utc)
    provenance["record file"] = f"{store.directory.name}/{store.json_path(imdb_id).name}"
    provenance["record written (UTC)"] = written.strftime("%Y-%m-%d %H:%M")
    for name, source in sorted((record.get("sources") or {}).items()):
        provenance[f"source of {name}"] = source
    return plot_texts(record), provenance


def _missing_codes(root: Path) -> dict[str, dict[str, dict[str, int]]]:
    """Per missing table ``mmimdb missing`` wrote (manifest name): split -> id -> code; a
    table that is gone or was drawn for another build is left out."""
    from ..dataset.built import BuiltDataset
    from ..dataset.missing import MissingSpec
    from ..errors import MmimdbError

    data = BuiltDataset(root)
    tables = {}
    for name, entry in sorted(data.manifest.get("missing", {}).items()):
        spec = MissingSpec(entry["rate"], entry["type"], entry["both_ratio"], entry["seed"])
        try:
            tables[name] = {split: dict(zip(ids, data.missing_codes(split, spec, ids).tolist()))
                            for split in SPLITS for ids in [data.parquet_ids(split)]}
        except MmimdbError:  # UsageError included: a table the manifest lists but that is gone
            continue
    return tables


def thumbnail_key(sha256: str | None) -> str:
    """What the page holds of a movie's thumbnail name: the poster's digest, shortened."""
    return (sha256 or "nosha")[:10]


def thumbnail_name(imdb_id: str, key: str) -> str:
    """The thumbnail's file name (the page's ``posterPath`` builds the same from the id and
    the key): the poster's digest in it, so that a changed poster gets a new thumbnail."""
    return f"{imdb_id.removeprefix('tt')}-{key}.jpg"


def collect_movies(root: Path, thumbnails: Path, log: Callable[[str], None] = lambda message: None) -> Movies:
    """Read every split of the build under ``root``; write each poster's thumbnail into
    ``thumbnails`` (kept when already there, so a rerun only adds what changed)."""
    movies = Movies()
    store = _store(root)
    missing = _missing_codes(root)
    movies.missing_tables = list(missing)
    thumbnails.mkdir(parents=True, exist_ok=True)
    for split_index, split in enumerate(SPLITS):
        made = 0
        for batch in _batches(root, split, _ROW_COLUMNS):
            for row in batch:
                imdb_id = row["imdb_id"]
                key = thumbnail_key(row.get("poster_sha256"))
                name = thumbnail_name(imdb_id, key)
                poster = (row.get("poster") or {}).get("bytes")
                if poster and not (thumbnails / name).is_file():
                    try:
                        write_bytes(thumbnails / name, thumbnail_jpeg(poster, f"poster of {imdb_id}"))
                        made += 1
                    except ImageError as error:
                        log(f"warning: {error}; shown without a poster")
                has_poster = (thumbnails / name).is_file()
                labels = row.get("labels") or []
                codes = {table: by_split.get(split, {}).get(imdb_id) for table, by_split in missing.items()}
                movies.rows.append({
                    "id": imdb_id, "title": row.get("title") or imdb_id, "year": row.get("year"),
                    "genres": [i for i, value in enumerate(labels) if value],
                    "split": split_index, "plot": row.get("plot") or "",
                    "poster": key if has_poster else None,  # in thumbnails/, named by thumbnail_name
                    "missing": [codes[table] for table in movies.missing_tables],
                })
                plots, provenance = _provenance(store, imdb_id, row)
                fields = {}
                for column, title in DETAIL_FIELDS.items():
                    value = row.get(column)
                    if column == "cast" and value:
                        value = value[:CAST_SHOWN] + ([f"... {len(value) - CAST_SHOWN} more"] if len(value) > CAST_SHOWN else [])
                    if value not in (None, [], ""):
                        fields[title] = ", ".join(map(str, value)) if isinstance(value, list) else value
                movies.details.append({"plots": plots or [row.get("plot") or ""], "outline": row.get("plot_outline"),
                                       "other_genres": [g for g in (row.get("genres") or []) if g not in GENRES],
                                       "fields": fields, "provenance": provenance})
        log(f"{split}: {sum(1 for r in movies.rows if r['split'] == split_index)} movies, {made} new thumbnails")
    return movies
