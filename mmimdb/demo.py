"""Demo data: the 1,234 "greatest films" (real OMDb-style values + real IMDb posters).

Maps the CSV rows to IMDbPY-style records (the keys of the original MM-IMDb release) and
lays them out as the release does: ``mmimdb/dataset/<id>.json`` + ``<id>.jpeg``, optionally
packed into ``mmimdb.tar.gz``. The files are third-party data read where they lie
(``$MMIMDB_SHARED_DATA``, default ``../shared/data`` beside the repository); they are never
copied into the repository. Used by ``scripts/setup-and-run.sh --demo``, the benchmarks and
the tests.

    python -m mmimdb.demo OUT_DIR [--limit N]   # OUT_DIR/mmimdb.tar.gz of the complete films
"""
from __future__ import annotations

import csv
import os
import json
import re
import tarfile
from pathlib import Path
from typing import Any

from .errors import UsageError

#: Where the shared real data lies unless ``$MMIMDB_SHARED_DATA`` says otherwise.
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

CSV_RELATIVE = "greatest-films/master_list_greatest_films.csv"
POSTERS_RELATIVE = "greatest-films/posters"
#: Distinct films with a poster file, a plot and a genre (what the paper's filter keeps).
COMPLETE_FILMS = 1222


def shared_data_dir() -> Path:
    return Path(os.environ.get("MMIMDB_SHARED_DATA") or DEFAULT_SHARED_DATA)


class DemoDataMissing(UsageError):
    """A demo data file is not under :func:`shared_data_dir` (the tests skip on it)."""


def locate(relative: str) -> Path:
    """The demo data file ``relative`` under :func:`shared_data_dir`; :class:`DemoDataMissing`
    if it is not there."""
    path = shared_data_dir() / relative
    if not path.exists():
        raise DemoDataMissing(f"demo data not found: {path} (set MMIMDB_SHARED_DATA to the shared/data folder)")
    return path


def _present(value: str) -> bool:
    return value.strip() not in ("", "N/A")


def _split_names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if _present(value) else []


def _person(credit: str) -> dict[str, str]:
    # OMDb writes "Name (story)"; IMDbPY keeps the name and puts the rest in notes.
    match = re.match(r"^(.*?)\s*(\(.*\))?$", credit)
    name, notes = match.group(1), match.group(2)
    return {"name": name, "notes": notes} if notes else {"name": name}


def read_films() -> list[dict[str, str]]:
    """The CSV rows, one per distinct imdb_id (the file repeats tt0297884), in file order."""
    with open(locate(CSV_RELATIVE), encoding="latin-1", newline="") as handle:
        rows, seen = [], set()
        for row in csv.DictReader(handle):
            if row["imdb_id"] not in seen:
                seen.add(row["imdb_id"])
                rows.append(row)
    return rows


def poster_file(imdb_id: str) -> Path | None:
    path = locate(POSTERS_RELATIVE) / f"{imdb_id}.jpg"
    return path if path.is_file() else None


def imdbpy_record(row: dict[str, str]) -> dict[str, Any]:
    """The CSV row as an original-release JSON object (IMDbPY keys; missing values left out)."""
    data: dict[str, Any] = {"title": row["title"], "kind": "movie"}
    if row["year"].strip().isdigit():
        data["year"] = int(row["year"])
    if _present(row["genre"]):
        data["genres"] = _split_names(row["genre"])
    if _present(row["plot"]):
        data["plot"] = [row["plot"]]
    if _present(row["poster"]):
        data["cover url"] = row["poster"]
    for key, column in (("director", "director"), ("writer", "writer"), ("cast", "actors")):
        if _present(row[column]):
            data[key] = [_person(name) for name in _split_names(row[column])]
    for key, column in (("languages", "language"), ("countries", "country")):
        if _present(row[column]):
            data[key] = _split_names(row[column])
    if _present(row["runtime"]):
        data["runtimes"] = [row["runtime"].split()[0]]
    if _present(row["rated"]):
        data["certificates"] = [f"USA:{row['rated']}"]
    if _present(row["released"]):
        data["release dates"] = [f"USA::{row['released']}"]
    if _present(row["imdb_rating"]):
        data["rating"] = float(row["imdb_rating"])
    if _present(row["imdb_votes"]):
        data["votes"] = int(row["imdb_votes"].replace(",", ""))
    if _present(row["metascore"]):
        data["metascore"] = int(row["metascore"])
    if _present(row["awards"]):
        data["awards"] = row["awards"]
    if _present(row["alternate_title"]):
        data["akas"] = [row["alternate_title"]]
    return data


def is_complete(row: dict[str, str]) -> bool:
    """Has genres, a plot and a poster file: the films the paper would keep."""
    return _present(row["genre"]) and _present(row["plot"]) and poster_file(row["imdb_id"]) is not None


def write_release(directory: Path, rows: list[dict[str, str]] | None = None) -> Path:
    """Lay ``rows`` (default: every distinct film with a poster file) out as the original
    release does under ``directory/mmimdb``; return that folder. Films without a poster
    file get no JPEG, as in the release."""
    top = directory / "mmimdb"
    dataset = top / "dataset"
    dataset.mkdir(parents=True, exist_ok=True)
    for row in rows if rows is not None else read_films():
        digits = row["imdb_id"][2:]
        (dataset / f"{digits}.json").write_text(json.dumps(imdbpy_record(row)), encoding="utf-8")
        poster = poster_file(row["imdb_id"])
        if poster is not None:
            (dataset / f"{digits}.jpeg").write_bytes(poster.read_bytes())
    return top


def write_store(root: Path, rows: list[dict[str, str]] | None = None) -> Path:
    """Write the complete films among ``rows`` (default: all) straight into the records store
    ``root/dataset``, posters checked, provenance "greatest-films"; return ``root``."""
    from .records import posters as images, record
    from .records.store import RecordStore

    store = RecordStore(root / "dataset")
    for row in rows if rows is not None else read_films():
        if not is_complete(row):
            continue
        normalized = record.from_imdbpy(row["imdb_id"], imdbpy_record(row))
        poster = poster_file(row["imdb_id"]).read_bytes()
        info = images.check_poster(poster, row["imdb_id"])
        normalized["poster"] = {**normalized.get("poster", {}), **info.record_fields()}
        normalized["sources"] = record.all_from(normalized, "greatest-films")
        store.write(normalized, poster)
    return root


def write_archive(directory: Path, rows: list[dict[str, str]] | None = None) -> Path:
    """``directory/mmimdb.tar.gz`` in the release layout (members under ``mmimdb/``)."""
    top = write_release(directory / "release", rows)
    archive = directory / "mmimdb.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(top, arcname="mmimdb")
    return archive


def main(argv: list[str] | None = None) -> None:
    """``python -m mmimdb.demo OUT_DIR [--limit N]``: a release-layout archive of the
    complete greatest films (the first N), for trying the pipeline locally."""
    import argparse
    import shutil
    import sys

    parser = argparse.ArgumentParser(prog="python -m mmimdb.demo", description=main.__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="only the first N complete films")
    args = parser.parse_args(argv)
    try:
        films = [row for row in read_films() if is_complete(row)][: args.limit]
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
    archive = write_archive(args.out, films)
    shutil.rmtree(args.out / "release")
    print(archive)


if __name__ == "__main__":
    main()
