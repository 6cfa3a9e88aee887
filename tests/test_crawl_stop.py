"""A crawl stops when a source refuses it: a firewall's 202 with an empty body, 403, a
refused key (401), 429 or 5xx after the retries, a poster host that keeps refusing, a
download that is refused. Each stop comes within a few requests, keeps everything fetched,
exits 3 with one line naming the source and what it answered, and a rerun resumes.

Generated films on loopback servers: these run without ../shared."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import generated_films
from loopback import ServerThread, handler_from
from omdb_server import API_KEY, generated, make_handler
from mmimdb.records.store import RecordStore
from mmimdb.fetch.crawl.health import STOP_AFTER, SourceHealth
from mmimdb.fetch.crawl.pipeline import Outcome
from mmimdb.fetch.movielens import Link
from mmimdb.fetch.sources.base import SourceStopped, SourceUnavailable
from mmimdb_cli.main import cli

NEXT_STEP = "everything fetched is kept; rerun the same command to resume"


def _states(root: Path) -> dict[str, str]:
    connection = sqlite3.connect(root / "fetch-state.sqlite")
    try:
        return dict(connection.execute("SELECT imdb_id, status FROM movies"))
    finally:
        connection.close()


def _fetch(root: Path, links: Path, *args: str):
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["fetch", "--movielens", str(links), "--rate", "0", "--concurrency", "4",
                                      "--retries", "1", "--timeout", "5", "--root", str(root), "--no-progress", *args])
    return result, time.monotonic() - started


def _last_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_a_source_that_starts_blocking_stops_the_crawl_within_a_few_requests_and_a_rerun_resumes(tmp_path):
    count, block_after = 200, 30
    links = generated_films.write_links(tmp_path / "links.csv", count)
    faults: dict[str, str] = {}
    log: list[str] = []
    firewall = {"on": True}
    base = make_handler(None, faults=faults, log=log, films=generated(count))

    class Handler(base):  # a firewall that closes after the 30th request
        def do_GET(self):
            if firewall["on"] and len(log) >= block_after:
                faults["*"] = "blocked"
            super().do_GET()

    root = tmp_path / "root"
    with ServerThread(Handler) as server:
        first, seconds = _fetch(root, links, "--source", "omdb", "--omdb-key", API_KEY, "--omdb-url", server.url)
        assert first.exit_code == 3, first.output
        assert _last_line(first) == (f"error: omdb is blocked: {server.url}/ answered HTTP 202 with an empty body "
                                     f"(how a blocking firewall answers); {NEXT_STEP}")
        asked_while_blocked = len(log) - block_after
        assert asked_while_blocked <= 8, asked_while_blocked  # the requests in flight, no more
        assert seconds < 30
        states = _states(root)
        done = {imdb_id for imdb_id, status in states.items() if status == "done"}
        assert len(done) >= 10 and "error" not in states.values()
        assert "blocked" in states.values() and "pending" in states.values()
        assert set(RecordStore(root / "dataset").ids()) == done  # everything fetched is kept
        report = json.loads((root / "fetch-report.json").read_text())
        assert report["stopped"] == _last_line(first)[len("error: "):]

        firewall["on"] = False  # the firewall opens again
        faults.clear()
        before = len(log)
        second, _ = _fetch(root, links, "--source", "omdb", "--omdb-key", API_KEY, "--omdb-url", server.url)
    assert second.exit_code == 0, second.output
    assert set(_states(root).values()) == {"done"} and len(RecordStore(root / "dataset").ids()) == count
    asked_again = {path.split("i=")[1].split("&")[0] for path in log[before:] if "i=" in path}
    assert not asked_again & done  # resumed where it stopped


TMDB_KEY_REFUSED = json.dumps({"status_code": 7, "status_message": "Invalid API key: You must be granted a valid key."}).encode()


@pytest.mark.parametrize("source,status,body,said", [
    ("omdb", 202, b"", "omdb is blocked: {url}/ answered HTTP 202 with an empty body"),
    ("tmdb", 202, b"", "tmdb is blocked: {url}/3/movie/"),
    ("imdb-web", 202, b"", "imdb-web is blocked: {url}/title/"),
    ("omdb", 403, b"Forbidden", "omdb is blocked: {url}/ answered HTTP 403 Forbidden"),
    ("tmdb", 401, TMDB_KEY_REFUSED, "tmdb refuses the key: {url}/3/movie/"),
    ("omdb", 429, b"", "omdb is rate-limiting this crawl: {url}/ answered HTTP 429"),
    ("omdb", 500, b"boom", f"omdb keeps failing: {STOP_AFTER} ids in a row got no answer (last: omdb: {{url}}/ answered HTTP 500, still after the retries)"),
    ("tmdb", 503, b"", "tmdb keeps failing: "),
])
def test_every_source_stops_on_a_refusal_with_exit_3_and_one_line(tmp_path, source, status, body, said):
    links = generated_films.write_links(tmp_path / "links.csv", 60)
    log: list[str] = []
    options = {"omdb": ["--omdb-key", API_KEY, "--omdb-url"], "tmdb": ["--tmdb-key", "k", "--tmdb-url"],
               "imdb-web": ["--imdb-url"]}[source]
    with ServerThread(handler_from(lambda handler: (status, {}, body), log)) as server:
        result, seconds = _fetch(tmp_path / "root", links, "--source", source, *options, server.url)
    assert result.exit_code == 3, result.output
    line = _last_line(result)
    assert line.startswith("error: " + said.format(url=server.url)) and line.endswith(NEXT_STEP), line
    assert "Traceback" not in result.output
    if status == 401:
        assert "Invalid API key" in line and "--tmdb-key" in line
    # At most the failing run, the ids queued and in flight, two requests each: not 60 ids' worth.
    assert len(log) <= 2 * (STOP_AFTER + 8), len(log)
    assert seconds < 20
    states = _states(tmp_path / "root")
    assert "error" not in states.values() and "blocked" in states.values()  # a rerun asks them again


def test_a_poster_host_that_keeps_refusing_stops_the_crawl_but_one_refused_poster_does_not(tmp_path):
    links = generated_films.write_links(tmp_path / "links.csv", 40)
    films = generated(40)
    one_id = generated_films.imdb_id(3)
    faults = {one_id: "poster-403"}
    with ServerThread(make_handler(None, faults=faults, films=films)) as server:
        args = ["--source", "omdb", "--omdb-key", API_KEY, "--omdb-url", server.url]
        one, _ = _fetch(tmp_path / "one", links, *args)
        faults["*"] = "poster-403"
        every, _ = _fetch(tmp_path / "every", links, *args)
    assert one.exit_code == 1, one.output  # one id failed; the crawl went on
    states = _states(tmp_path / "one")
    assert states[one_id] == "error" and sum(s == "done" for s in states.values()) == 39
    assert every.exit_code == 3, every.output
    line = _last_line(every)
    assert line.startswith(f"error: omdb keeps failing: {STOP_AFTER} ids in a row got no answer (last: omdb: poster {server.url}/posters/tt9")
    assert "answered HTTP 403 Forbidden" in line
    states = _states(tmp_path / "every")
    assert "error" not in states.values() and sum(s == "blocked" for s in states.values()) >= STOP_AFTER
    assert sum(s == "pending" for s in states.values()) >= 40 - STOP_AFTER - 8


def test_a_refused_download_of_the_imdb_files_stops_the_crawl(tmp_path):
    links = generated_films.write_links(tmp_path / "links.csv", 5)
    log: list[str] = []
    with ServerThread(handler_from(lambda handler: (202, {}, b""), log)) as server:
        result, _ = _fetch(tmp_path / "root", links, "--source", "imdb-datasets", "--imdb-datasets", server.url + "/")
    assert result.exit_code == 3, result.output
    assert _last_line(result).startswith(f"error: {server.url}/name.basics.tsv.gz: 127.0.0.1 answered HTTP 202 with an empty body")
    assert len(log) == 1 and set(_states(tmp_path / "root").values()) == {"pending"}


def test_a_release_folder_that_goes_away_stops_rather_than_marking_every_id_not_found(tmp_path):
    from mmimdb.fetch.sources.archive import ArchiveSource

    release = generated_films.write_release(tmp_path, count=3)
    source = ArchiveSource(str(release))
    assert source.lookup(Link("1", generated_films.imdb_id(0), None), None).fields["title"] == "Generated film 0"
    for path in (release / "dataset").iterdir():
        path.unlink()
    (release / "dataset").rmdir()  # an unmounted disk
    with pytest.raises(SourceStopped, match="is no longer there"):
        source.lookup(Link("2", generated_films.imdb_id(1), None), None)


def test_an_unreadable_imdb_database_is_unavailable_not_a_traceback(tmp_path):
    import sqlite3 as sqlite

    from mmimdb.fetch.sources.imdb_datasets import ImdbDatasetsSource

    class LockedDatabase:
        def get_movie(self, movie_id):
            raise sqlite.OperationalError("database is locked")

    source = ImdbDatasetsSource(str(tmp_path))
    source._access = LockedDatabase()
    with pytest.raises(SourceUnavailable, match="database is locked"):
        source.lookup(Link("1", "tt0114709", None), None)


def test_any_answer_resets_a_sources_run_of_failures():
    health = SourceHealth(["omdb", "tmdb"], stop_after=3)
    failed = {"omdb": "omdb: HTTP 503"}
    assert health.record(Outcome("tt0000001", "error", unavailable=failed)) is None
    assert health.record(Outcome("tt0000002", "error", unavailable=failed)) is None
    assert health.record(Outcome("tt0000003", "not-found", answered=["omdb"])) is None  # an answer
    assert health.record(Outcome("tt0000004", "error", unavailable=failed, answered=["tmdb"])) is None
    assert health.record(Outcome("tt0000005", "error", unavailable=failed)) is None
    stopped = health.record(Outcome("tt0000006", "error", unavailable=failed))
    assert stopped.startswith("omdb keeps failing: 3 ids in a row got no answer (last: omdb: HTTP 503)")
