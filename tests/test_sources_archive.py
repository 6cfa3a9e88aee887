"""The original release as a source: its records and posters first, today's sources for
the ids it lacks."""
from __future__ import annotations

from mmimdb import demo as greatest_films
from conftest import shared_path
from loopback import ServerThread, mmimdb
from omdb_server import API_KEY, make_handler
from mmimdb.records.store import RecordStore

CITIZEN_KANE, VERTIGO = "tt0033467", "tt0052357"


def test_release_records_first_then_omdb_for_the_rest(tmp_path):
    rows = [row for row in greatest_films.read_films() if row["imdb_id"] == CITIZEN_KANE]
    release = greatest_films.write_release(tmp_path / "release", rows)
    links = tmp_path / "links.csv"
    links.write_text("movieId,imdbId,tmdbId\n1,0033467,\n2,0052357,\n")
    root = tmp_path / "root"
    with ServerThread(make_handler(shared_path(""))) as omdb:
        result = mmimdb("fetch", "--movielens", str(links), "--source", "archive,omdb", "--archive-dir", str(release),
                        "--omdb-key", API_KEY, "--omdb-url", omdb.url, "--rate", "0", "--root", str(root), "--no-progress")
    assert result.returncode == 0, result.stderr
    store = RecordStore(root / "dataset")
    kane, vertigo = store.read(CITIZEN_KANE), store.read(VERTIGO)
    assert kane["sources"]["plot"] == "archive" and kane["sources"]["poster"] == "archive"
    assert store.read_poster(CITIZEN_KANE) == greatest_films.poster_file(CITIZEN_KANE).read_bytes()
    assert vertigo["sources"]["plot"] == "omdb" and vertigo["sources"]["poster"] == "omdb"


def test_archive_source_needs_a_release_folder(tmp_path):
    links = tmp_path / "links.csv"
    links.write_text("movieId,imdbId,tmdbId\n1,0033467,\n")
    missing = mmimdb("fetch", "--movielens", str(links), "--source", "archive", "--root", str(tmp_path / "root"))
    assert missing.returncode == 2 and "--archive-dir" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = mmimdb("fetch", "--movielens", str(links), "--source", "archive", "--archive-dir", str(tmp_path / "empty"),
                   "--root", str(tmp_path / "root"))
    assert empty.returncode == 2 and "holds no extracted release" in empty.stderr
