"""The crawl state in PostgreSQL: one id queue shared by crawler processes (claims with
FOR UPDATE SKIP LOCKED, leases that a dead crawler stops renewing), against a real server
started by the test session and a loopback OMDb-style server."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from conftest import shared_path
from loopback import ServerProcess, mmimdb
from omdb_server import API_KEY
from test_crawl import _check_store, _expected, _some_films, _write_links
from mmimdb.errors import UsageError
from mmimdb.fetch.crawl import open_state
from mmimdb.fetch.crawl.state_postgres import TABLE, PostgresStateDb
from mmimdb.fetch.postgres import connect, masked
from mmimdb.fetch.movielens import Link, read_links
from mmimdb.records.store import RecordStore


@pytest.fixture
def database(postgres) -> str:
    return postgres.create_database("crawl_" + uuid.uuid4().hex[:8])


def _links(count: int) -> list[Link]:
    return [Link(str(k), f"tt{k:07d}", None) for k in range(1, count + 1)]


def test_claims_never_overlap_skip_locked_rows_and_a_dead_claimers_ids_come_back(database):
    first = PostgresStateDb(database, lease=1.0, batch=3, worker="first")
    second = PostgresStateDb(database, lease=1.0, batch=3, worker="second")
    links = _links(12)
    first.add(links)
    second.add(links)
    a = first.claim()
    b = second.claim()
    assert [l.imdb_id for l in a] == ["tt0000001", "tt0000002", "tt0000003"]  # links order
    assert [l.imdb_id for l in b] == ["tt0000004", "tt0000005", "tt0000006"]

    # A row another transaction has locked is skipped, not waited for.
    locker = connect(database)
    locker.autocommit = False
    locker.execute(f"SELECT imdb_id FROM {TABLE} WHERE imdb_id = 'tt0000007' FOR UPDATE")
    second.connection.execute("SET statement_timeout = 5000")  # a wait would fail, not hang
    assert [l.imdb_id for l in second.claim(2)] == ["tt0000008", "tt0000009"]
    locker.rollback()
    locker.close()

    # The first crawler dies (no release, no renewal): its ids come back after the lease;
    # the second one, alive, keeps its own past the lease by renewing them.
    first._stop_renewing.set()
    first.connection.close()
    assert [l.imdb_id for l in second.claim(10)] == ["tt0000007", "tt0000010", "tt0000011", "tt0000012"]
    assert second.claim() == [] and 0 < second.held_by_others() <= 1.0
    time.sleep(1.6)
    third = PostgresStateDb(database, lease=1.0, batch=10, worker="third")
    third.add(links)
    assert [l.imdb_id for l in third.claim()] == ["tt0000001", "tt0000002", "tt0000003"]
    for link in b:
        second.set(link.imdb_id, "done")
    assert third.row("tt0000004")["finished_by"] == "second" and third.row("tt0000001")["claims"] == 2
    second.close()  # gives back what it held and did not finish
    assert {l.imdb_id for l in third.claim()} == {"tt0000007", "tt0000008", "tt0000009", "tt0000010", "tt0000011", "tt0000012"}
    third.close()


def test_retry_failed_retries_an_old_error_once_per_run(database):
    state = PostgresStateDb(database, lease=30, batch=5, worker="w")
    state.add(_links(2))
    state.set("tt0000001", "error", "HTTP 500")
    state.set("tt0000002", "done")
    state.close()
    again = PostgresStateDb(database, lease=30, batch=5, worker="w2")
    again.add(_links(2))
    assert again.claim() == []  # errors wait for --retry-failed
    claimed = again.claim(retry_failed=True)
    assert [l.imdb_id for l in claimed] == ["tt0000001"]
    again.set("tt0000001", "error", "HTTP 500 again")
    assert again.claim(retry_failed=True) == [] and again.held_by_others(True) is None
    assert again.counts()["error"] == 1 and again.top_errors()[0][1] == 1
    again.close()


def test_a_server_that_is_not_there_is_a_one_line_usage_error(tmp_path):
    pytest.importorskip("psycopg", reason="connecting needs the driver: pip install 'mmimdb[postgres]'")
    with pytest.raises(UsageError, match="cannot connect"):
        open_state("postgresql://nobody:secret@127.0.0.1:1/none", tmp_path)


def test_bad_state_urls_are_one_line_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="postgresql://"):
        open_state("mysql://host/db", tmp_path)
    assert masked("postgresql://u:secret@h:5/d") == "postgresql://u:***@h:5/d"
    result = mmimdb("fetch", "--movielens", str(tmp_path / "links.csv"), "--source", "omdb", "--omdb-key", "k",
                    "--state-url", "postgresql://nobody:secret@127.0.0.1:1/none", "--root", str(tmp_path / "root"))
    # (links.csv is missing: the command stops there, before any connection)
    assert result.returncode == 2 and "secret" not in result.stderr


def test_without_the_driver_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(UsageError, match=r"pip install 'mmimdb\[postgres\]'"):
        open_state("postgresql://u@127.0.0.1:1/d", tmp_path)


def _api_requests(log: Path) -> Counter:
    """How often each id's OMDb answer (not its poster) was asked for."""
    counts: Counter = Counter()
    for line in log.read_text().splitlines():
        path, key = line.split()
        if path == "/":
            counts[key] += 1
    return counts


@pytest.mark.slow
def test_two_crawlers_on_one_queue_one_killed_every_id_ends_fetched_once(database, tmp_path):
    films = _some_films(150)
    in_films = {link.imdb_id for link in films}
    absent = [link for link in read_links(shared_path("ml-20m-links.csv"))[:400] if link.imdb_id not in in_films][:90]
    links = films + absent
    links_file = _write_links(tmp_path / "links.csv", links)
    wanted = {link.imdb_id for link in links}
    root, log = tmp_path / "root", tmp_path / "requests.log"
    with ServerProcess(shared_path(""), "--latency", "0.04", "--log", str(log)) as server:
        args = [sys.executable, "-m", "mmimdb_cli.main", "fetch", "--movielens", str(links_file), "--source", "omdb",
                "--omdb-key", API_KEY, "--omdb-url", server.url, "--rate", "0", "--concurrency", "2",
                "--state-url", database, "--lease", "2", "--root", str(root), "--no-progress"]
        killed = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        survivor = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len(list((root / "dataset").glob("*.json"))) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        with connect(database) as connection:
            orphaned = {imdb_id for (imdb_id,) in connection.execute(
                f"SELECT imdb_id FROM {TABLE} WHERE claimed_by LIKE %s", (f"%:{killed.pid}:%",))}
        _, stderr = survivor.communicate(timeout=120)
        assert survivor.returncode == 0, stderr
        lines_before = len(log.read_text().splitlines())
        alone = mmimdb(*args[3:])  # a third run on the finished queue: nothing to do
        assert alone.returncode == 0, alone.stderr
        assert len(log.read_text().splitlines()) == lines_before

    # What the killed crawler held: its ids in flight (2 x concurrency) and the rest of its
    # last claimed batch (2 x concurrency).
    assert 0 < len(orphaned) <= 8
    with connect(database) as connection:
        rows = connection.execute(f"SELECT imdb_id, status, claims, finished_by, claimed_by FROM {TABLE}").fetchall()
    assert {row[0] for row in rows} == wanted
    assert {row[1] for row in rows} <= {"done", "not-found"} and not any(row[4] for row in rows)
    finishers = Counter(row[3].split(":")[1] for row in rows)
    assert set(finishers) == {str(killed.pid), str(survivor.pid)}  # both did work
    assert {row[0] for row in rows if row[2] > 1} <= orphaned  # claimed twice: only what the dead one held

    asked = _api_requests(log)
    assert set(asked) == wanted  # every id was asked for
    assert {imdb_id for imdb_id, count in asked.items() if count > 1} <= orphaned  # ... once, but for the orphans
    with_poster, _ = _expected()
    assert set(_check_store(root)) == with_poster & wanted  # no record lost
    assert set(RecordStore(root / "dataset").ids()) == {row[0] for row in rows if row[1] == "done"}
    assert not list((root / "dataset").glob(".*.tmp"))  # the lone third run cleaned up


def test_a_crawler_with_ids_in_flight_never_waits_on_the_others(database):
    """Two crawlers that each hold ids in flight must not wait for each other's ids (that
    deadlocks: neither records its own): "nothing now" comes back at once."""
    import threading

    first = PostgresStateDb(database, lease=30, batch=2, worker="first")
    second = PostgresStateDb(database, lease=30, batch=2, worker="second")
    for state in (first, second):
        state.add(_links(4))
    mine, theirs = first.claims([]), second.claims([])
    assert [next(mine).imdb_id, next(mine).imdb_id] == ["tt0000001", "tt0000002"]
    assert [next(theirs).imdb_id, next(theirs).imdb_id] == ["tt0000003", "tt0000004"]
    answer: list = []
    asking = threading.Thread(target=lambda: answer.append(next(mine, None)), daemon=True)
    asking.start()
    asking.join(timeout=5)
    assert not asking.is_alive() and answer == [None]
    first.set("tt0000001", "done")
    first.set("tt0000002", "done")
    second.close()  # gives its two back: the first crawler takes them over
    assert [link.imdb_id for link in mine] == ["tt0000003", "tt0000004"]
    first.close()
