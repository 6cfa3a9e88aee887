"""OMDb: answers read into the schema, "Movie not found!", "Request limit reached!",
persistent 429 and a bad or missing key, each with its exit code (a missing key is a usage
error, exit 2; a key the server refuses stops the crawl like any refusal, exit 3)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import shared_path
from loopback import ServerThread, handler_from, mmimdb
from omdb_server import API_KEY, load_films, make_handler
from mmimdb.fetch.http import PoliteSession
from mmimdb.fetch.movielens import Link
from mmimdb.records.record import validate
from mmimdb.fetch.sources.base import KeyRefused, NotFound, RateLimited
from mmimdb.fetch.sources.omdb import OmdbSource, parse_omdb

CITIZEN_KANE = "tt0033467"


def _session() -> PoliteSession:
    return PoliteSession(rate=0, retries=1, backoff=0.01, allow_private=True)


def test_a_real_answer_becomes_a_valid_partial_record():
    answer = dict(load_films(shared_path(""))[CITIZEN_KANE], Poster="https://m.media-amazon.com/images/M/x._V1_SX300.jpg")
    found = parse_omdb(answer)
    fields = found.fields
    assert fields["title"] == "Citizen Kane" and fields["year"] == 1941
    assert fields["genres"] == ["Drama", "Mystery"]
    assert fields["directors"] == [{"name": "Orson Welles"}]
    assert {"name": "Herman J. Mankiewicz", "notes": "(original screen play)"} in fields["writers"]
    assert fields["plot"][0].startswith("Following the death of a publishing tycoon")
    assert fields["votes"] == 299497 and fields["runtimes"] == ["119"]
    assert found.poster_url.startswith("https://m.media-amazon.com/")
    validate({"imdb_id": CITIZEN_KANE, **fields})


def test_lookup_not_found_and_quota():
    with ServerThread(make_handler(shared_path(""), faults={"tt0000002": "limit"})) as server:
        source = OmdbSource(API_KEY, server.url)
        assert source.lookup(Link("1", CITIZEN_KANE, None), _session()).fields["title"] == "Citizen Kane"
        with pytest.raises(NotFound, match="Movie not found!"):
            source.lookup(Link("2", "tt0000001", None), _session())
        with pytest.raises(RateLimited, match="Request limit reached!"):
            source.lookup(Link("3", "tt0000002", None), _session())
        with pytest.raises(KeyRefused, match="Invalid API key!"):
            OmdbSource("wrong", server.url).lookup(Link("1", CITIZEN_KANE, None), _session())
    # The real OMDb answers a spent quota with HTTP 401 too: still a rate limit, not a bad key.
    quota = json.dumps({"Response": "False", "Error": "Request limit reached!"}).encode()
    with ServerThread(handler_from(lambda h: (401, {"Content-Type": "application/json"}, quota))) as server:
        with pytest.raises(RateLimited, match="Request limit reached!"):
            OmdbSource(API_KEY, server.url).lookup(Link("1", CITIZEN_KANE, None), _session())


def _links(tmp_path, *ids: str):
    path = tmp_path / "links.csv"
    path.write_text("movieId,imdbId,tmdbId\n" + "".join(f"{n},{imdb_id[2:]},\n" for n, imdb_id in enumerate(ids, 1)))
    return path


def test_request_limit_stops_the_crawl_with_exit_3(tmp_path):
    links = _links(tmp_path, CITIZEN_KANE, "tt0000002", "tt0047478")
    root = tmp_path / "root"
    with ServerThread(make_handler(shared_path(""), faults={"tt0000002": "limit"})) as server:
        result = mmimdb("fetch", "--movielens", str(links), "--source", "omdb", "--omdb-key", API_KEY, "--omdb-url", server.url,
                        "--rate", "0", "--concurrency", "1", "--root", str(root), "--no-progress")
    assert result.returncode == 3
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: omdb is rate-limiting this crawl: ") and "Request limit reached!" in last
    states = dict(sqlite3.connect(root / "fetch-state.sqlite").execute("SELECT imdb_id, status FROM movies"))
    assert states[CITIZEN_KANE] == "done" and states["tt0000002"] == "blocked" and states["tt0047478"] == "pending"
    assert "Request limit reached!" in json.loads((root / "fetch-report.json").read_text())["stopped"]


def test_persistent_429_stops_the_crawl_with_exit_3(tmp_path):
    links = _links(tmp_path, CITIZEN_KANE)
    with ServerThread(handler_from(lambda h: (429, {"Retry-After": "0"}, b""))) as server:
        result = mmimdb("fetch", "--movielens", str(links), "--source", "omdb", "--omdb-key", API_KEY, "--omdb-url", server.url,
                        "--rate", "0", "--retries", "1", "--root", str(tmp_path / "root"), "--no-progress")
    assert result.returncode == 3 and "omdb is rate-limiting this crawl" in result.stderr


def test_a_missing_key_is_a_usage_error_and_a_refused_key_stops_the_crawl(tmp_path, monkeypatch):
    links = _links(tmp_path, CITIZEN_KANE)
    monkeypatch.delenv("OMDB_API_KEY", raising=False)
    missing = mmimdb("fetch", "--movielens", str(links), "--source", "omdb", "--root", str(tmp_path / "root"))
    assert missing.returncode == 2 and "needs an API key" in missing.stderr
    with ServerThread(make_handler(shared_path(""))) as server:
        wrong = mmimdb("fetch", "--movielens", str(links), "--source", "omdb", "--omdb-url", server.url, "--rate", "0",
                       "--root", str(tmp_path / "root"), "--no-progress", env={"OMDB_API_KEY": "wrong"})
    assert wrong.returncode == 3 and "Invalid API key!" in wrong.stderr and "--omdb-key" in wrong.stderr
    unknown = mmimdb("fetch", "--movielens", str(links), "--source", "imdbpy", "--root", str(tmp_path / "root"))
    assert unknown.returncode == 2 and "unknown source 'imdbpy'" in unknown.stderr
    nothing = mmimdb("fetch", "--root", str(tmp_path / "root"))
    assert nothing.returncode == 2 and "--movielens" in nothing.stderr
