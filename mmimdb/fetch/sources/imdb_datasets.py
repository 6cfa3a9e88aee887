"""IMDb's bulk TSV files through cinemagoer's SQL import: genres and metadata, no network
per movie.

IMDb publishes seven non-commercial TSV files (https://datasets.imdbws.com/,
``\\N`` = missing). cinemagoer (IMDbPY's successor, ``s32cinemagoer.py``) imports them into
an SQL database (SQLite by default; PostgreSQL with ``postgresql://...`` and the ``postgres``
extra; any SQLAlchemy URL whose driver is installed) and answers
``get_movie`` from it. This source downloads the files once (or reads a local folder),
imports each file once (one transaction per file, so a killed import resumes at the file
it was in), then answers every id from the database. No plots and no posters: combine it
with omdb, tmdb or imdb-web for those. At most three genres a title (cinemagoer lowercases
them; they are mapped back to IMDb's spelling).
"""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...errors import UsageError
from ..http import PoliteSession
from ..postgres import is_postgres, masked, require_driver, sqlalchemy_url
from ..movielens import Link
from ...paths import downloads_dir
from .base import Found, NotFound, Source, SourceFailed, SourceUnavailable, canonical_genres

DATASETS_URL = "https://datasets.imdbws.com/"
#: The files cinemagoer needs: without title.episode ``get_movie`` fails ("no such table").
TSV_FILES = (
    "name.basics.tsv.gz", "title.akas.tsv.gz", "title.basics.tsv.gz", "title.crew.tsv.gz",
    "title.episode.tsv.gz", "title.principals.tsv.gz", "title.ratings.tsv.gz",
)
#: title.principals category -> normalized record field (others go to ``extra``).
CATEGORIES = {
    "actor": "cast", "actress": "cast", "self": "cast", "cast": "cast", "director": "directors",
    "writer": "writers", "producer": "producers", "composer": "composers",
    "cinematographer": "cinematographers", "editor": "editors",
    "production_designer": "production_designers", "casting_director": "casting_directors",
}
_MARKER_TABLE = "mmimdb_imported_files"


class ImdbDatasetsSource(Source):
    name = "imdb-datasets"
    default_url = DATASETS_URL

    def __init__(self, location: str | None = None, db_url: str | None = None):
        location = location or DATASETS_URL
        self.folder: Path | None = None
        if urlsplit(location).scheme in ("http", "https"):
            super().__init__(location)
        else:
            self.base_url = DATASETS_URL.rstrip("/")
            self.folder = Path(location).expanduser()
            if not self.folder.is_dir():
                raise UsageError(f"--imdb-datasets: {self.folder} is not a folder (give the folder of the seven *.tsv.gz files or a URL)")
        if is_postgres(db_url):
            require_driver(db_url, "--db-url")
        self.db_url = sqlalchemy_url(db_url) if db_url else None
        self._access = None
        self._lock = threading.Lock()

    def database_url(self, root: Path) -> str:
        return self.db_url or f"sqlite:///{(root / 'imdb-datasets' / 'imdb.sqlite').resolve()}"

    def prepare(self, session: PoliteSession, root: Path, progress: bool = True) -> None:
        """Download the TSV files (unless a folder was given) and import each into the
        database once; then open cinemagoer on it."""
        from tqdm import tqdm

        from imdb.parser.s3.importer import importer_for_uri

        url = self.database_url(root)
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        folder = self.folder or self._download(session, root)
        missing = [name for name in TSV_FILES if not (folder / name).is_file()]
        if missing:
            raise UsageError(f"{folder}: missing {', '.join(missing)} (cinemagoer needs all seven IMDb TSV files)")
        done = _imported(url)
        todo = [name for name in TSV_FILES if done.get(name) != _signature(folder / name)]
        if todo:
            importer = importer_for_uri(url)
            try:
                for name in tqdm(todo, desc="import IMDb TSVs", unit="file", disable=not progress):
                    importer.import_file(str(folder / name))
                    _mark_imported(url, name, _signature(folder / name))
            finally:
                importer.close()
        from imdb import Cinemagoer

        self._access = Cinemagoer("s3", url)

    def _download(self, session: PoliteSession, root: Path) -> Path:
        from ..download import download

        folder = downloads_dir(root) / "imdb-datasets"
        for name in TSV_FILES:
            if not (folder / name).is_file():
                download(f"{self.base_url}/{name}", folder / name, max_bytes=8 * 1024**3,
                         allowed_hosts=[urlsplit(self.base_url).hostname], session=session)
        return folder

    def lookup(self, link: Link, session: PoliteSession) -> Found:
        if self._access is None:
            raise SourceFailed("imdb-datasets: the database is not prepared")
        from imdb import IMDbError
        from imdb._exceptions import IMDbDataAccessError

        try:
            with self._lock:  # one query at a time keeps SQLite happy and is fast enough
                movie = self._access.get_movie(link.imdb_id[2:])
        except (IMDbDataAccessError, *_database_errors()) as error:
            # The database cannot be read (gone, locked, a server that is down): several in
            # a row stop the crawl rather than fail every id.
            raise SourceUnavailable(f"imdb-datasets: the database cannot be read ({type(error).__name__}: {str(error)[:200]})") from None
        except IMDbError as error:
            raise SourceFailed(f"imdb-datasets: {error}") from None
        if not movie.get("title"):
            raise NotFound("imdb-datasets: not in IMDb's title.basics")
        return parse_cinemagoer(movie)

    def close(self) -> None:
        self._access = None


def _database_errors() -> tuple[type[BaseException], ...]:
    """Errors of the database layers cinemagoer may let through."""
    import sqlite3

    errors: list[type[BaseException]] = [sqlite3.Error, OSError]
    try:
        from sqlalchemy.exc import SQLAlchemyError

        errors.append(SQLAlchemyError)
    except ImportError:
        pass
    return tuple(errors)


def _signature(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{int(stat.st_mtime)}"


def _run(url: str, *statements: tuple[str, dict]) -> list[tuple]:
    """Run SQL statements (``:name`` parameters) in one transaction; rows of the last one."""
    rows: list[tuple] = []
    if url.startswith("sqlite:"):
        import sqlite3

        from imdb.parser.s3.adapters import sqlite_path_from_uri

        connection = sqlite3.connect(sqlite_path_from_uri(url))
        try:
            with connection:
                for sql, params in statements:
                    rows = connection.execute(sql, params).fetchall()
        finally:
            connection.close()
        return rows
    try:
        import sqlalchemy  # server databases: cinemagoer[sqlalchemy] and the database's driver
    except ImportError:
        raise UsageError(f"--db-url {masked(url)}: a server database needs SQLAlchemy: pip install 'mmimdb[postgres]'") from None
    try:
        engine = sqlalchemy.create_engine(url)
    except (ImportError, sqlalchemy.exc.ArgumentError) as error:
        raise UsageError(f"--db-url {masked(url)}: {error}") from None
    try:
        with engine.begin() as connection:
            for sql, params in statements:
                result = connection.execute(sqlalchemy.text(sql), params)
                rows = [tuple(row) for row in result] if result.returns_rows else []
    except sqlalchemy.exc.OperationalError as error:
        reason = " ".join(str(error.orig or error).split())[:300]
        raise UsageError(f"--db-url {masked(url)}: cannot use the database ({reason})") from None
    finally:
        engine.dispose()
    return rows


_CREATE_MARKER = (f"CREATE TABLE IF NOT EXISTS {_MARKER_TABLE} (name VARCHAR(64) PRIMARY KEY, signature VARCHAR(64), imported_at FLOAT)", {})


def _imported(url: str) -> dict[str, str]:
    """Files already imported into the database at ``url``: name -> size:mtime signature."""
    return dict(_run(url, _CREATE_MARKER, (f"SELECT name, signature FROM {_MARKER_TABLE}", {})))


def _mark_imported(url: str, name: str, signature: str) -> None:
    _run(
        url,
        _CREATE_MARKER,
        (f"DELETE FROM {_MARKER_TABLE} WHERE name = :name", {"name": name}),
        (f"INSERT INTO {_MARKER_TABLE} (name, signature, imported_at) VALUES (:name, :signature, :at)",
         {"name": name, "signature": signature, "at": time.time()}),
    )


def _person(person: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": str(person.get("name"))}
    if getattr(person, "personID", None):
        entry["person_id"] = f"nm{int(person.personID):07d}"
    role = getattr(person, "currentRole", None)
    role_text = str(role) if role else ""
    if role_text.startswith("["):
        try:
            roles = [str(r) for r in json.loads(role_text)]
            entry["role"] = roles[0] if len(roles) == 1 else roles
        except ValueError:
            entry["role"] = role_text
    elif role_text:
        entry["role"] = role_text
    notes = getattr(person, "notes", None)
    if notes:
        entry["notes"] = f"({notes})"
    return entry


def parse_cinemagoer(movie: Any) -> Found:
    """Normalized fields from a cinemagoer ``Movie`` of the s3 access system."""
    fields: dict[str, Any] = {"title": str(movie["title"])}
    if movie.get("original title") and movie["original title"] != movie["title"]:
        fields["original_title"] = str(movie["original title"])
    year = re.match(r"^([0-9]{4})", str(movie.get("year") or ""))
    if year:
        fields["year"] = int(year.group(1))
    if movie.get("kind"):
        fields["kind"] = str(movie["kind"])
    genres = canonical_genres([str(g) for g in movie.get("genres") or []])
    if genres:
        fields["genres"] = genres
    if movie.get("runtimes"):
        fields["runtimes"] = [str(r) for r in movie["runtimes"]]
    if movie.get("rating") is not None:
        fields["rating"] = float(movie["rating"])
    if movie.get("votes") is not None:
        fields["votes"] = int(movie["votes"])
    if isinstance(movie.get("adult"), (bool, int)):  # SQLite gives 0/1, PostgreSQL a boolean
        fields["adult"] = bool(movie["adult"])
    akas = []
    for aka in movie.get("akas") or []:
        if isinstance(aka, dict) and aka.get("title"):
            akas.append(f"{aka['title']}::{aka['region']}" if aka.get("region") else str(aka["title"]))
    if akas:
        fields["akas"] = list(dict.fromkeys(akas))
    extra: dict[str, Any] = {}
    for key in movie.keys():
        people = movie.get(key)
        if not isinstance(people, list) or not people or not hasattr(people[0], "personID"):
            continue
        target = CATEGORIES.get(key)
        entries = [_person(p) for p in people if p.get("name")]
        if not entries:
            continue
        if target:
            existing = fields.setdefault(target, [])
            existing.extend(e for e in entries if e["name"] not in {x["name"] for x in existing})
        else:
            extra[key.replace("_", " ")] = entries
    for key in ("seasonNr", "episodeNr"):
        if movie.get(key) is not None:
            extra[{"seasonNr": "season", "episodeNr": "episode"}[key]] = movie[key]
    if extra:
        fields["extra"] = extra
    return Found(fields)
