"""The crawl engine end to end: all 27,278 ml-20m ids against a loopback OMDb answering
from the real greatest-films values and posters, kill -9 and resume, and each fault (429,
500s, timeouts, truncated / non-image / foreign posters) ending as specified."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path


import generated_films
from mmimdb import demo as greatest_films
from conftest import SHARED_DATA, shared_path
from loopback import ServerProcess, ServerThread, mmimdb
from omdb_server import API_KEY, generated, make_handler
from mmimdb.records import posters as images, record
from mmimdb.fetch.crawl import StateDb, merge
from mmimdb.fetch.movielens import Link, read_links
from mmimdb.fetch.sources.base import Found
from mmimdb.records.store import RecordStore

#: Films of greatest-films that are in ml-20m and have genres, a plot and a poster.
COMPLETE_IN_ML20M = 1178


def _states(root: Path) -> dict[str, str]:
    return dict(sqlite3.connect(root / "fetch-state.sqlite").execute("SELECT imdb_id, status FROM movies"))


def _expected() -> tuple[set[str], set[str]]:
    """(ids with a poster, ids complete for the dataset) among greatest films in ml-20m."""
    in_ml20m = {link.imdb_id for link in read_links(shared_path("ml-20m-links.csv"))}
    with_poster, complete = set(), set()
    for row in greatest_films.read_films():
        if row["imdb_id"] in in_ml20m and row["poster"].strip() not in ("", "N/A") and greatest_films.poster_file(row["imdb_id"]):
            with_poster.add(row["imdb_id"])
            if greatest_films.is_complete(row):
                complete.add(row["imdb_id"])
    return with_poster, complete


def _check_store(root: Path) -> list[str]:
    """Every record in the store is whole: valid JSON, a poster that decodes and matches."""
    store = RecordStore(root / "dataset")
    for imdb_id in store.ids():
        movie = store.read(imdb_id)
        data = store.read_poster(imdb_id)
        info = images.check_poster(data, imdb_id)
        assert movie["poster"]["sha256"] == info.sha256 == hashlib.sha256(data).hexdigest()
        assert (movie["poster"]["width"], movie["poster"]["height"]) == (info.width, info.height)
    return store.ids()


def test_all_ml20m_ids_give_the_1178_films_in_both_with_posters(tmp_path):
    root = tmp_path / "root"
    with ServerProcess(SHARED_DATA if SHARED_DATA.exists() else shared_path("")) as server:
        result = mmimdb("fetch", "--movielens", str(shared_path("ml-20m-links.csv")), "--source", "omdb",
                        "--omdb-key", API_KEY, "--omdb-url", server.url, "--rate", "0", "--concurrency", "16",
                        "--root", str(root), "--no-progress")
    assert result.returncode == 0, result.stderr
    with_poster, complete = _expected()
    ids = _check_store(root)
    assert set(ids) == with_poster
    store = RecordStore(root / "dataset")
    kept = {imdb_id for imdb_id in ids if record.missing_for_dataset(store.read(imdb_id)) is None}
    assert kept == complete and len(kept) == COMPLETE_IN_ML20M
    for imdb_id in sorted(kept)[:50]:
        poster = greatest_films.poster_file(imdb_id).read_bytes()
        assert store.read_poster(imdb_id) == poster
    states = _states(root)
    assert len(states) == 27278
    assert sum(status == "done" for status in states.values()) == len(with_poster)
    assert sum(status == "not-found" for status in states.values()) > 26000
    report = json.loads((root / "fetch-report.json").read_text())
    assert report["ids"] == 27278 and report["state"]["done"] == len(with_poster) and report["stopped"] is None
    assert report["per_source"]["omdb"]["in records"] == len(with_poster)
    toy_story_like = store.read(sorted(kept)[0])
    assert toy_story_like["sources"]["plot"] == "omdb" and toy_story_like["sources"]["movielens_id"] == "movielens"
    assert "mmimdb build" in result.stderr


def test_kill_9_and_resume_fetches_nothing_twice_and_leaves_nothing_half_written(tmp_path):
    links = shared_path("ml-20m-links.csv").read_text().splitlines()
    subset = tmp_path / "links.csv"
    subset.write_text("\n".join(links[:2001]) + "\n")
    log = tmp_path / "requests.log"
    root = tmp_path / "root"
    args = [sys.executable, "-m", "mmimdb_cli.main", "fetch", "--movielens", str(subset), "--source", "omdb",
            "--omdb-key", API_KEY, "--rate", "0", "--concurrency", "4", "--root", str(root), "--no-progress"]
    with ServerProcess(shared_path(""), "--latency", "0.01", "--log", str(log)) as server:
        process = subprocess.Popen([*args, "--omdb-url", server.url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        store = RecordStore(root / "dataset")
        deadline = time.monotonic() + 60
        while len(list((root / "dataset").glob("*.json"))) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        done_before_kill = set(store.ids())
        assert len(done_before_kill) >= 40
        _check_store(root)  # whole records only (a temporary file may remain; its name is not a record's)
        lines_before = len(log.read_text().splitlines())
        second = subprocess.run([*args, "--omdb-url", server.url], capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    asked_again = [line.split()[1] for line in log.read_text().splitlines()[lines_before:]]
    assert not set(asked_again) & done_before_kill  # nothing that was done is fetched twice
    assert not list((root / "dataset").glob(".*.tmp"))  # the rerun cleaned up after the killed writer
    with_poster, _ = _expected()
    wanted = {"tt" + line.split(",")[1] for line in links[1:2001]}
    assert set(_check_store(root)) == with_poster & wanted
    states = _states(root)
    assert set(states.values()) <= {"done", "not-found", "no-poster"} and len(states) == 2000


def _some_films(count: int) -> list[Link]:
    """The first ``count`` complete greatest films that are in ml-20m, as MovieLens links."""
    by_id = {link.imdb_id: link for link in read_links(shared_path("ml-20m-links.csv"))}
    _, complete = _expected()
    return [by_id[imdb_id] for imdb_id in sorted(complete)[:count]]


def _write_links(path: Path, links: list[Link]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["movieId", "imdbId", "tmdbId"])
        for link in links:
            writer.writerow([link.movielens_id, link.imdb_id[2:], link.tmdb_id or ""])
    return path


def test_each_fault_ends_as_specified_and_retry_failed_recovers(tmp_path):
    films = _some_films(9)
    ids = [link.imdb_id for link in films]
    behaviour = ["429-once", "500", "slow", "truncated-poster", "text-poster", "foreign-poster", "500-twice", None, None]
    faults = {imdb_id: fault for imdb_id, fault in zip(ids, behaviour) if fault}
    links = _write_links(tmp_path / "links.csv", films)
    root = tmp_path / "root"
    requests_seen: list[str] = []
    with ServerThread(make_handler(shared_path(""), faults=faults, log=requests_seen)) as server:
        args = ["fetch", "--movielens", str(links), "--source", "omdb", "--omdb-key", API_KEY, "--omdb-url", server.url,
                "--rate", "0", "--concurrency", "4", "--timeout", "1", "--retries", "2", "--root", str(root), "--no-progress"]
        first = mmimdb(*args)
        assert first.returncode == 1, first.stderr
        assert "--retry-failed" in first.stderr.strip().splitlines()[-1]
        states = _states(root)
        db = StateDb(root / "fetch-state.sqlite")
        errors = {imdb_id: db.row(imdb_id)["last_error"] for imdb_id in ids}
        expected = {
            "429-once": "done", "500": "error", "slow": "error", "truncated-poster": "error", "text-poster": "error",
            "foreign-poster": "error", "500-twice": "done", None: "done",
        }
        for imdb_id, fault in zip(ids, behaviour):
            assert states[imdb_id] == expected[fault], (fault, errors[imdb_id])
            assert (imdb_id in RecordStore(root / "dataset")) == (expected[fault] == "done")
        by_fault = {fault: errors[imdb_id] for imdb_id, fault in zip(ids, behaviour)}
        assert "HTTP 500" in by_fault["500"]
        assert "timed out" in by_fault["slow"]
        assert "truncated" in by_fault["truncated-poster"] or "not a readable image" in by_fault["truncated-poster"]
        assert "not a readable image" in by_fault["text-poster"]
        assert "refused" in by_fault["foreign-poster"] and "posters.example.net" in by_fault["foreign-poster"]
        assert sum(f"i={ids[0]}" in path for path in requests_seen) == 2  # 429 once, then the answer
        assert sum(f"i={ids[6]}" in path for path in requests_seen) == 3  # two 500s, then the answer
        assert all(db.row(imdb_id)["attempts"] == 1 for imdb_id in ids)
        db.close()
        report = json.loads((root / "fetch-report.json").read_text())
        assert report["state"]["error"] == 5 and report["top_errors"]

        # Without --retry-failed a rerun leaves errors alone and asks nothing.
        before = len(requests_seen)
        assert mmimdb(*args).returncode == 1 and len(requests_seen) == before
        faults.clear()  # the server recovers
        third = mmimdb(*args, "--retry-failed")
    assert third.returncode == 0, third.stderr
    assert set(_states(root).values()) == {"done"}
    assert set(_check_store(root)) == set(ids)


def test_merge_rule_first_source_wins_per_field_with_provenance():
    class Named:
        def __init__(self, name):
            self.name = name

    link = Link("1", "tt0114709", "862")
    founds = [
        (Named("imdb-datasets"), Found({"title": "Toy Story", "genres": ["Animation", "Comedy"], "plot": []})),
        (Named("omdb"), Found({"title": "Toy Story!", "genres": ["Adventure"], "plot": ["A cowboy doll..."], "extra": {"omdb DVD": "x"}})),
    ]
    merged = merge(link, founds)
    assert merged["title"] == "Toy Story" and merged["genres"] == ["Animation", "Comedy"]
    assert merged["plot"] == ["A cowboy doll..."]
    assert merged["sources"] == {"title": "imdb-datasets", "genres": "imdb-datasets", "plot": "omdb",
                                 "movielens_id": "movielens", "tmdb_id": "movielens"}
    assert merged["extra"] == {"omdb DVD": "x"} and merged["tmdb_id"] == "862"
    record.validate(merged)


def test_a_second_crawl_on_the_same_root_is_refused(tmp_path):
    from mmimdb.storage.lock import exclusive

    links = _write_links(tmp_path / "links.csv", _some_films(1))
    with exclusive(tmp_path / "root", "another crawl"):
        result = mmimdb("fetch", "--movielens", str(links), "--source", "omdb", "--omdb-key", "k",
                        "--omdb-url", "http://127.0.0.1:9", "--root", str(tmp_path / "root"))
    assert result.returncode == 2 and "busy" in result.stderr


def _default_sigint() -> None:
    # A child inherits an ignored SIGINT (a suite started in the background by a
    # non-interactive shell, as CI may do), and Python then installs no KeyboardInterrupt
    # handler: the crawl would ignore the Ctrl-C this test sends and finish with exit 0.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_with_exit_3_and_keeps_what_was_done(tmp_path):
    count = 60
    links = generated_films.write_links(tmp_path / "links.csv", count)
    root = tmp_path / "root"
    # The server answers the first FREE lookups, then holds every other request until the
    # test has sent Ctrl-C: the crawl cannot finish first, however slow the machine.
    free, asked, lock, release = 3, [], threading.Lock(), threading.Event()
    base = make_handler(None, films=generated(count))

    class Gated(base):
        def do_GET(self) -> None:
            if "/posters/" not in self.path:
                with lock:
                    asked.append(self.path)
                    held = len(asked) > free
                if held:
                    release.wait(60)
            super().do_GET()

    with ServerThread(Gated) as server:
        process = subprocess.Popen([sys.executable, "-m", "mmimdb_cli.main", "fetch", "--movielens", str(links), "--source", "omdb",
                                    "--omdb-key", API_KEY, "--omdb-url", server.url, "--rate", "0", "--concurrency", "2",
                                    "--root", str(root), "--no-progress"], stderr=subprocess.PIPE, text=True,
                                   preexec_fn=_default_sigint)
        try:
            deadline = time.monotonic() + 120
            while len(RecordStore(root / "dataset").ids()) < free and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(RecordStore(root / "dataset").ids()) == free, "the first records were never written"
            process.send_signal(signal.SIGINT)
        finally:
            release.set()  # the ids in flight finish; the rest stay pending
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    states = _states(root)
    written = set(RecordStore(root / "dataset").ids())
    assert len(written) >= free and all(states[imdb_id] == "done" for imdb_id in written)
    assert list(states.values()).count("pending") >= count - len(asked)
    assert json.loads((root / "fetch-report.json").read_text())["stopped"] == "interrupted"


def test_ids_and_limit_choose_a_subset(tmp_path):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("# films to fetch\ntt0033467\n0052357\n")
    with ServerThread(make_handler(shared_path(""))) as server:
        common = ["fetch", "--movielens", str(shared_path("ml-20m-links.csv")), "--source", "omdb", "--omdb-key", API_KEY,
                  "--omdb-url", server.url, "--rate", "0", "--no-progress"]
        by_file = mmimdb(*common, "--ids", str(ids_file), "--root", str(tmp_path / "a"))
        by_list = mmimdb(*common, "--ids", "tt0033467,tt0052357", "--limit", "1", "--root", str(tmp_path / "b"))
        bad = mmimdb(*common, "--ids", "tt0033467,Vertigo", "--root", str(tmp_path / "c"))
    assert by_file.returncode == 0 and set(_states(tmp_path / "a")) == {"tt0033467", "tt0052357"}
    assert by_list.returncode == 0 and set(_states(tmp_path / "b")) == {"tt0052357"}  # links.csv order: Vertigo comes first
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --ids: 'Vertigo' is not an IMDb title id"
