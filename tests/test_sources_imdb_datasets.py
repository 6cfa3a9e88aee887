"""imdb-datasets: IMDb TSV files in the real format (header, ``\\N``, gzip, all seven)
built from the greatest-films values, imported through cinemagoer's s3 importer into
SQLite, answered by id, and combined with OMDb in a crawl."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from mmimdb import demo as greatest_films
from conftest import shared_path
from loopback import ServerThread, mmimdb
from omdb_server import API_KEY, make_handler
from mmimdb.errors import UsageError
from mmimdb.fetch.http import PoliteSession
from mmimdb.fetch.movielens import Link
from mmimdb.records.record import validate
from mmimdb.fetch.sources.base import NotFound
from mmimdb.fetch.sources.imdb_datasets import TSV_FILES, ImdbDatasetsSource
from mmimdb.records.store import RecordStore

NULL = "\\N"
CITIZEN_KANE = "tt0033467"


def _names(value: str) -> list[str]:
    import re

    return [re.sub(r"\s*\(.*\)$", "", part.strip()) for part in value.split(",") if part.strip() and part.strip() != "N/A"]


def write_tsvs(folder: Path) -> dict[str, str]:
    """The seven IMDb TSV files for the greatest films; returns name -> nconst."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = greatest_films.read_films()
    people: dict[str, str] = {}

    def nconst(name: str) -> str:
        return people.setdefault(name, f"nm{len(people) + 1:07d}")

    basics, ratings, crew, principals, akas = [], [], [], [], []
    for row in rows:
        tconst = row["imdb_id"]
        runtime = row["runtime"].split()[0] if row["runtime"][:1].isdigit() else NULL
        genres = ",".join(_names(row["genre"])[:3]) or NULL
        basics.append([tconst, "movie", row["title"], row["title"], "0", row["year"] or NULL, NULL, runtime, genres])
        if row["imdb_rating"] not in ("", "N/A"):
            ratings.append([tconst, row["imdb_rating"], row["imdb_votes"].replace(",", "")])
        directors = [nconst(name) for name in _names(row["director"])]
        writers = [nconst(name) for name in _names(row["writer"])]
        crew.append([tconst, ",".join(directors) or NULL, ",".join(writers) or NULL])
        for order, name in enumerate(_names(row["actors"]), 1):
            principals.append([tconst, str(order), nconst(name), "actor", NULL, NULL])
        if row["alternate_title"] not in ("", "N/A"):
            akas.append([tconst, "1", row["alternate_title"], "US", NULL, NULL, NULL, "0"])
    names = [[n, name, NULL, NULL, NULL, NULL] for name, n in people.items()]
    tables = {
        "title.basics.tsv.gz": (["tconst", "titleType", "primaryTitle", "originalTitle", "isAdult", "startYear", "endYear", "runtimeMinutes", "genres"], basics),
        "title.ratings.tsv.gz": (["tconst", "averageRating", "numVotes"], ratings),
        "title.crew.tsv.gz": (["tconst", "directors", "writers"], crew),
        "title.principals.tsv.gz": (["tconst", "ordering", "nconst", "category", "job", "characters"], principals),
        "title.akas.tsv.gz": (["titleId", "ordering", "title", "region", "language", "types", "attributes", "isOriginalTitle"], akas),
        "name.basics.tsv.gz": (["nconst", "primaryName", "birthYear", "deathYear", "primaryProfession", "knownForTitles"], names),
        "title.episode.tsv.gz": (["tconst", "parentTconst", "seasonNumber", "episodeNumber"], []),
    }
    for name, (header, body) in tables.items():
        with gzip.open(folder / name, "wt", encoding="utf-8") as handle:
            handle.write("\t".join(header) + "\n")
            for values in body:
                handle.write("\t".join(value.replace("\t", " ") for value in values) + "\n")
    return people


@pytest.fixture(scope="module")
def tsv_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("imdb-tsv")
    write_tsvs(folder)
    return folder


def test_import_once_and_answer_by_id(tsv_folder, tmp_path):
    source = ImdbDatasetsSource(str(tsv_folder))
    session = PoliteSession(rate=0)
    source.prepare(session, tmp_path, progress=False)
    found = source.lookup(Link("1", CITIZEN_KANE, None), session)
    fields = found.fields
    assert fields["title"] == "Citizen Kane" and fields["year"] == 1941 and fields["kind"] == "movie"
    assert fields["genres"] == ["Drama", "Mystery"]
    assert fields["directors"][0]["name"] == "Orson Welles"
    assert fields["rating"] == 8.4 and fields["votes"] == 299497 and fields["runtimes"] == ["119"]
    assert [p["name"] for p in fields["cast"]][:2] == ["Joseph Cotten", "Dorothy Comingore"]
    assert found.poster_url is None  # the TSVs have no posters (nor plots)
    validate({"imdb_id": CITIZEN_KANE, **fields})
    noir = source.lookup(Link("2", "tt0038355", None), session).fields  # The Big Sleep
    assert "Film-Noir" in noir["genres"]  # cinemagoer lowercases 'film-noir'; mapped back
    with pytest.raises(NotFound):
        source.lookup(Link("3", "tt0000001", None), session)
    database = tmp_path / "imdb-datasets" / "imdb.sqlite"
    modified = database.stat().st_mtime_ns
    ImdbDatasetsSource(str(tsv_folder)).prepare(session, tmp_path, progress=False)  # nothing to import again
    assert database.stat().st_mtime_ns == modified


def test_all_seven_files_are_needed(tsv_folder, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in TSV_FILES:
        if name != "title.episode.tsv.gz":
            (partial / name).write_bytes((tsv_folder / name).read_bytes())
    with pytest.raises(UsageError, match="title.episode.tsv.gz"):
        ImdbDatasetsSource(str(partial)).prepare(PoliteSession(), tmp_path, progress=False)
    with pytest.raises(UsageError, match="not a folder"):
        ImdbDatasetsSource(str(tmp_path / "nowhere"))


def test_crawl_imdb_datasets_then_omdb(tsv_folder, tmp_path):
    links = tmp_path / "links.csv"
    links.write_text("movieId,imdbId,tmdbId\n1,0033467,\n2,0113497,8844\n")
    root = tmp_path / "root"
    with ServerThread(make_handler(shared_path(""))) as omdb:
        result = mmimdb("fetch", "--movielens", str(links), "--source", "imdb-datasets,omdb", "--imdb-datasets", str(tsv_folder),
                        "--omdb-key", API_KEY, "--omdb-url", omdb.url, "--rate", "0", "--root", str(root), "--no-progress")
    assert result.returncode == 0, result.stderr
    kane = RecordStore(root / "dataset").read(CITIZEN_KANE)
    assert kane["sources"]["genres"] == "imdb-datasets" and kane["sources"]["directors"] == "imdb-datasets"
    assert kane["sources"]["plot"] == "omdb" and kane["sources"]["poster"] == "omdb"
    assert kane["directors"][0].get("person_id", "").startswith("nm")
    assert RecordStore(root / "dataset").ids() == [CITIZEN_KANE]


def test_tsv_files_are_downloaded_from_a_url_once(tsv_folder, tmp_path):
    from loopback import handler_from

    log: list[str] = []

    def answer(handler):
        path = tsv_folder / handler.path.lstrip("/")
        return (200, {}, path.read_bytes()) if path.is_file() else (404, {}, b"")

    with ServerThread(handler_from(answer, log)) as server:
        session = PoliteSession(rate=0, allow_private=True)
        source = ImdbDatasetsSource(server.url + "/")
        source.prepare(session, tmp_path, progress=False)
        assert source.lookup(Link("1", CITIZEN_KANE, None), session).fields["title"] == "Citizen Kane"
        ImdbDatasetsSource(server.url + "/").prepare(session, tmp_path, progress=False)
    assert sorted(log) == sorted(f"/{name}" for name in TSV_FILES)  # each file once
    assert all((tmp_path / "downloads" / "imdb-datasets" / name).is_file() for name in TSV_FILES)


def test_the_import_into_postgresql_answers_as_the_sqlite_one(tsv_folder, tmp_path, postgres):
    import uuid

    url = postgres.create_database("imdb_" + uuid.uuid4().hex[:8])
    session = PoliteSession(rate=0)
    on_server = ImdbDatasetsSource(str(tsv_folder), db_url=url)
    on_server.prepare(session, tmp_path / "server", progress=False)
    embedded = ImdbDatasetsSource(str(tsv_folder))
    embedded.prepare(session, tmp_path / "embedded", progress=False)
    assert not (tmp_path / "server" / "imdb-datasets").exists()  # nothing went to SQLite
    ids = [row["imdb_id"] for row in greatest_films.read_films()][::40]
    for imdb_id in ids:
        assert on_server.lookup(Link("1", imdb_id, None), session).fields == embedded.lookup(Link("1", imdb_id, None), session).fields
    with pytest.raises(NotFound):
        on_server.lookup(Link("3", "tt0000001", None), session)
    from mmimdb.fetch.sources.imdb_datasets import _imported

    marks = _imported(on_server.db_url)
    assert sorted(marks) == sorted(TSV_FILES)
    ImdbDatasetsSource(str(tsv_folder), db_url=url).prepare(session, tmp_path / "server", progress=False)
    assert _imported(on_server.db_url) == marks  # nothing imported twice


def test_an_unreachable_database_is_a_one_line_error(tsv_folder, tmp_path):
    source = ImdbDatasetsSource(str(tsv_folder), db_url="postgresql://u:secret@127.0.0.1:1/imdb")
    with pytest.raises(UsageError, match="cannot use the database") as raised:
        source.prepare(PoliteSession(), tmp_path, progress=False)
    assert "secret" not in str(raised.value)
