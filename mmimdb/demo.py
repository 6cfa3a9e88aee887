"""Demo data: the 1,222 complete "greatest films" (real OMDb-style values + real IMDb posters).

The films are the list of the public repository owentemple/greatest-films
(:data:`REPOSITORY`, at commit :data:`COMMIT`): ``master_list_greatest_films.csv`` and
``posters/tt*.jpg``. They are third-party data, read where they lie and never copied into
this repository: ``$MMIMDB_SHARED_DATA`` (default ``../shared/data`` beside the repository)
when it holds them, else the data root's ``downloads/greatest-films/``, where
:func:`download_films` fetches them once from the repository at :data:`COMMIT`, each file
checked against :data:`CHECKSUMS`. Offline, :func:`prepare` falls back to generated films
(:mod:`mmimdb.generated`, not real) and says so.

Maps the CSV rows to IMDbPY-style records (the keys of the original MM-IMDb release) and
lays them out as the release does: ``mmimdb/dataset/<id>.json`` + ``<id>.jpeg``, optionally
packed into ``mmimdb.tar.gz``; each JSON names its source (``_mmimdb.sources``:
"greatest-films"), which the archive import keeps, so the card says where the films come
from. Used by ``scripts/setup-and-run.sh --demo``, the benchmarks and the tests.

    python -m mmimdb.demo DEMO_DIR [--limit N]   # prints ROOT<TAB>ARCHIVE for the set-up script
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any, Iterator

from .errors import DownloadError, UsageError

#: Where the shared real data lies unless ``$MMIMDB_SHARED_DATA`` says otherwise.
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: The public repository the films come from, and the commit whose files the checksums are.
REPOSITORY = "owentemple/greatest-films"
COMMIT = "89ed3bef33b8b40b1463d74fa4cd01ac1476c8f4"
DOWNLOAD_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/"
DOWNLOAD_HOSTS = ("raw.githubusercontent.com",)
#: A mirror of the repository's files (the same paths), e.g. a local server.
ENV_DOWNLOAD_URL = "MMIMDB_DEMO_URL"
#: Package data: ``sha256  path`` of each file at :data:`COMMIT` (paths in the repository).
CHECKSUMS = "greatest_films.sha256"
#: What the records name as their source (the card turns it into words).
SOURCE = "greatest-films"

FOLDER = "greatest-films"
CSV_RELATIVE = f"{FOLDER}/master_list_greatest_films.csv"
POSTERS_RELATIVE = f"{FOLDER}/posters"
#: Distinct films with a poster file, a plot and a genre (what the paper's filter keeps).
COMPLETE_FILMS = 1222
#: Posters fetched at once (small files from one host).
DOWNLOAD_THREADS = 8


def shared_data_dir() -> Path:
    return Path(os.environ.get("MMIMDB_SHARED_DATA") or DEFAULT_SHARED_DATA)


#: Folders that hold ``greatest-films/`` besides the shared data (a data root's downloads/),
#: searched in order after it; :func:`prepare` adds the folder it downloaded into.
extra_data_dirs: list[Path] = []


class DemoDataMissing(UsageError):
    """A demo data file is neither under :func:`shared_data_dir` nor downloaded (the tests skip on it)."""


def locate(relative: str) -> Path:
    """The demo data file ``relative`` under :func:`shared_data_dir`, else under a folder of
    :data:`extra_data_dirs`; :class:`DemoDataMissing` if it is in none."""
    for folder in (shared_data_dir(), *extra_data_dirs):
        if (folder / relative).exists():
            return folder / relative
    raise DemoDataMissing(f"demo data not found: {shared_data_dir() / relative} (set MMIMDB_SHARED_DATA to the "
                          "shared/data folder, or run `python -m mmimdb.demo DIR` to download the films)")


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


def release_files(rows: list[dict[str, str]] | None = None) -> Iterator[tuple[str, bytes]]:
    """(path under the release's top folder, bytes) of ``rows`` (default: every distinct film
    with a poster file) in the original release's layout: ``dataset/<digits>.json``, and
    ``dataset/<digits>.jpeg`` where the film has a poster file (films without one get none,
    as in the release)."""
    from .records import record

    for row in rows if rows is not None else read_films():
        digits = row["imdb_id"][2:]
        data = imdbpy_record(row)
        fields = [field for field in record.from_imdbpy(row["imdb_id"], data) if field != "imdb_id"]
        data[record.MMIMDB_KEY] = {"sources": {field: SOURCE for field in fields + ["poster"]}}
        yield f"dataset/{digits}.json", json.dumps(data).encode("utf-8")
        poster = poster_file(row["imdb_id"])
        if poster is not None:
            yield f"dataset/{digits}.jpeg", poster.read_bytes()


def write_release(directory: Path, rows: list[dict[str, str]] | None = None) -> Path:
    """Lay ``rows`` (:func:`release_files`) out as the original release does under
    ``directory/mmimdb``; return that folder."""
    top = directory / "mmimdb"
    (top / "dataset").mkdir(parents=True, exist_ok=True)
    for name, data in release_files(rows):
        (top / name).write_bytes(data)
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
        normalized["sources"] = record.all_from(normalized, SOURCE)
        store.write(normalized, poster)
    return root


def write_archive(directory: Path, rows: list[dict[str, str]] | None = None) -> Path:
    """``directory/mmimdb.tar.gz`` in the release layout (members under ``mmimdb/``), written
    straight from :func:`release_files` (no copy of the posters on disk first), written again
    byte for byte by the same rows (member times 0); atomic."""
    from .storage.atomic import atomic_open

    archive = Path(directory) / "mmimdb.tar.gz"
    # Stored, not compressed: nearly all its bytes are JPEGs. gzip's fastest level made the
    # 1,222 films 7% smaller (39.3 MB, not 42.4: tar headers and JSON) for 4x the CPU time
    # (2.2-2.6 s, not 0.6; a 2-core machine at load average 11), on a file read once, locally.
    with atomic_open(archive) as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=0, mtime=0) as packed, \
            tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in release_files(rows):
            member = tarfile.TarInfo(f"mmimdb/{name}")
            member.size, member.mode = len(data), 0o644
            tar.addfile(member, io.BytesIO(data))
    return archive


def checksums() -> dict[str, str]:
    """Repository path -> sha256 of every file of the list at :data:`COMMIT`."""
    from importlib import resources

    table = {}
    for line in resources.files("mmimdb").joinpath(CHECKSUMS).read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            table[name] = digest
    return table


def download_url() -> str:
    url = os.environ.get(ENV_DOWNLOAD_URL) or DOWNLOAD_URL
    return url if url.endswith("/") else url + "/"


def download_films(downloads: Path, limit: int | None = None, progress: bool = False) -> Path:
    """Download the list and the posters of its complete films (the first ``limit`` of them)
    into ``downloads/greatest-films/`` (the repository's paths): a file already there with the
    right sha256 is kept, each new one is checked; return ``downloads``. Raises
    :class:`DownloadError` (a :class:`~mmimdb.fetch.download.DownloadStopped` when the network
    fails: rerun to resume)."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from .fetch.download import download
    from .fetch.hosts import allows_private
    from .fetch.http import PoliteSession

    base, table = download_url(), checksums()
    folder = Path(downloads) / FOLDER
    session = PoliteSession(rate=0, concurrency=DOWNLOAD_THREADS, timeout=(10.0, 60.0), retries=2,
                            allow_private=allows_private([base]))
    hosts = None if os.environ.get(ENV_DOWNLOAD_URL) else DOWNLOAD_HOSTS  # a mirror: its own host only

    def fetch(name: str) -> Path:
        return download(base + name, folder / name, sha256=table[name], max_bytes=8 * 1024**2,
                        allowed_hosts=hosts, session=session, progress=False)

    csv_name = Path(CSV_RELATIVE).name
    fetch(csv_name)
    with open(folder / csv_name, encoding="latin-1", newline="") as handle:
        complete = [row["imdb_id"] for row in csv.DictReader(handle) if _present(row["genre"]) and _present(row["plot"])
                    and f"posters/{row['imdb_id']}.jpg" in table]
    posters = [f"posters/{imdb_id}.jpg" for imdb_id in dict.fromkeys(complete)][:limit]
    with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool, \
            tqdm(total=len(posters), unit="poster", desc="greatest-films posters", disable=not progress) as bar:
        for _ in pool.map(fetch, posters):
            bar.update(1)
    return Path(downloads)


def whole_demo_limit(limit: int | None, available: int, say=lambda message: None) -> int | None:
    """``limit``, or None (the whole demo, said) when it is not below the ``available`` films:
    a subset gets a root of its own, and one as large as the whole would be a second copy."""
    if limit is not None and limit >= available:
        say(f"MMIMDB_DEMO_LIMIT={limit} is not below the {available} films: the whole demo")
        return None
    return limit


def prepare(demo_dir: Path, limit: int | None = None, progress: bool = False,
            say=lambda message: None) -> tuple[Path, Path]:
    """The demo's data root and release-layout archive under ``demo_dir``: the real films
    (the shared data, else downloaded into ``demo_dir/root/downloads``), else, when they cannot
    be downloaded because the network fails, generated films (said in one line through
    ``say``; a file that does not match its checksum is an error). A ``limit`` takes the first
    ``limit`` films into a root of its own (``root-first-N``), so that films of a larger run
    never mix in; one at or above the number of films is the whole demo."""
    from . import generated
    from .fetch.download import DownloadStopped

    demo_dir = Path(demo_dir)
    kind = "real"
    if not (shared_data_dir() / CSV_RELATIVE).is_file():
        downloads = demo_dir / "root" / "downloads"
        try:
            say(f"downloading the greatest films from {download_url()} into {downloads / FOLDER} "
                "(once, about 36 MB; files already there are checked, not fetched again)")
            download_films(downloads, whole_demo_limit(limit, COMPLETE_FILMS), progress)
            if downloads not in extra_data_dirs:
                extra_data_dirs.append(downloads)
        except DownloadStopped as error:  # no network (a refused connection, DNS): offline
            kind = "generated"
            reason = str(error).removesuffix("; rerun to resume")  # the line ends with what a rerun does
            say(f"offline: the greatest films could not be downloaded ({reason}); the demo runs on generated films "
                "instead: not real films, and the card and the reports say so (rerun with network for the real ones)")
    limit = whole_demo_limit(limit, COMPLETE_FILMS, say)
    suffix = ("-generated" if kind == "generated" else "") + (f"-first-{limit}" if limit else "")
    out = demo_dir / f"archive{suffix}"
    if kind == "generated":
        archive = generated.write_archive(out, count=limit or COMPLETE_FILMS)
    else:
        archive = write_archive(out, [row for row in read_films() if is_complete(row)][:limit])
    shutil.rmtree(out / "release", ignore_errors=True)  # generated.write_archive's tree (and an earlier version's)
    return demo_dir / f"root{suffix}", archive


def main(argv: list[str] | None = None) -> None:
    """``python -m mmimdb.demo DEMO_DIR [--limit N]``: prepare the demo (:func:`prepare`) and
    print ``ROOT<TAB>ARCHIVE`` on the last line, for ``scripts/setup-and-run.sh --demo``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mmimdb.demo", description=main.__doc__)
    parser.add_argument("demo_dir", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="only the first N complete films")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        root, archive = prepare(args.demo_dir, args.limit, progress=sys.stderr.isatty(),
                                say=lambda message: print(message, file=sys.stderr))
    except (UsageError, DownloadError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
    print(f"{root}\t{archive}")


if __name__ == "__main__":
    main()
