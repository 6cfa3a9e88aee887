"""The crawl engine: MovieLens links in, complete records in the records store out.

For each IMDb id the engine asks every source (in the order given, which is the merge
priority), merges their partial records, downloads the first poster that decodes, and
writes record + poster to the :class:`~mmimdb.store.RecordStore`. Movies without a poster
are not written (as in the paper); their reason stays in the state database.

Merge rule: for every field, the first source (in ``--source`` order) that gives a
non-empty value wins, and ``record["sources"][field]`` names it; ``extra`` keys are
collected from all sources (each source prefixes its own); the poster is the first
source's poster URL that downloads and decodes. ``movielens_id`` and ``tmdb_id`` come from
links.csv (provenance ``movielens``).

State: an SQLite database (WAL) at ``<root>/fetch-state.sqlite`` with one row per id:
status (``pending``, ``done``, ``no-poster``, ``not-found``, ``error``, ``blocked``),
attempts, last error, sources, timestamps. A rerun continues where the last one stopped:
``done``/``no-poster``/``not-found`` ids are never fetched again, ``blocked`` and
``pending`` ones are, ``error`` ones with ``retry_failed``. The store writes the poster
first and the JSON last, atomically, so a process killed at any moment leaves whole
records only; a record on disk whose state row was not yet updated counts as done.
"""
from __future__ import annotations

import re
import sqlite3
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import requests
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

from . import images
from .atomic import write_json
from .errors import MmimdbError, RecordError, StoppedEarly
from .http import PoliteSession
from .movielens import Link
from .sources.base import Blocked, Found, NotFound, RateLimited, Source, SourceFailed
from .store import RecordStore

STATUSES = ("pending", "done", "no-poster", "not-found", "error", "blocked")
#: Statuses a rerun never fetches again.
FINAL_STATUSES = ("done", "no-poster", "not-found")
STATE_FILE = "fetch-state.sqlite"
REPORT_FILE = "fetch-report.json"
#: The command that turns the records store into the dataset (splits, Parquet, HDF5).
BUILD_COMMAND = "mmimdb build"


class StateDb:
    """The crawl state: one row per IMDb id, in SQLite with write-ahead logging.

    Only the thread that created it writes (the engine's main thread).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(self.path, timeout=30)
        self.connection.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a killed process (not a power cut); fast enough
        # to commit after every movie.
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute(
            """CREATE TABLE IF NOT EXISTS movies (
                imdb_id TEXT PRIMARY KEY, movielens_id TEXT, tmdb_id TEXT,
                status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT, sources TEXT, created_at REAL, updated_at REAL)"""
        )
        self.connection.commit()
        self._last_commit = time.monotonic()

    def close(self) -> None:
        self.connection.close()

    def add(self, links: Iterable[Link]) -> None:
        """Register ids not seen before as pending."""
        now = time.time()
        with self.connection:
            self.connection.executemany(
                "INSERT OR IGNORE INTO movies (imdb_id, movielens_id, tmdb_id, status, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?)",
                [(link.imdb_id, link.movielens_id, link.tmdb_id, now, now) for link in links],
            )

    def statuses(self, ids: Iterable[str] | None = None) -> dict[str, str]:
        rows = self.connection.execute("SELECT imdb_id, status FROM movies").fetchall()
        if ids is None:
            return dict(rows)
        wanted = set(ids)
        return {imdb_id: status for imdb_id, status in rows if imdb_id in wanted}

    def set(self, imdb_id: str, status: str, error: str | None = None, sources: list[str] | None = None,
            attempted: bool = True, commit: bool = True) -> None:
        """Record ``imdb_id``'s status. ``commit=False`` lets a busy crawl commit a few times
        a second instead of after every movie (a lost update only means the id is asked
        again; a written record is recognised from the store)."""
        self.connection.execute(
            "UPDATE movies SET status = ?, last_error = ?, sources = ?, attempts = attempts + ?, updated_at = ? WHERE imdb_id = ?",
            (status, error, ",".join(sources or []) or None, int(attempted), time.time(), imdb_id),
        )
        if commit or time.monotonic() - self._last_commit > 0.2:
            self.commit()

    def commit(self) -> None:
        self.connection.commit()
        self._last_commit = time.monotonic()

    def row(self, imdb_id: str) -> dict[str, Any] | None:
        cursor = self.connection.execute("SELECT * FROM movies WHERE imdb_id = ?", (imdb_id,))
        values = cursor.fetchone()
        return dict(zip([c[0] for c in cursor.description], values)) if values else None

    def counts(self, ids: Iterable[str] | None = None) -> dict[str, int]:
        counts = Counter(self.statuses(ids).values())
        return {status: counts.get(status, 0) for status in STATUSES}

    def top_errors(self, ids: Iterable[str] | None = None, limit: int = 5) -> list[tuple[str, int]]:
        wanted = set(ids) if ids is not None else None
        rows = self.connection.execute("SELECT imdb_id, last_error FROM movies WHERE status IN ('error', 'blocked') AND last_error IS NOT NULL").fetchall()
        counts = Counter(_error_kind(error) for imdb_id, error in rows if wanted is None or imdb_id in wanted)
        return counts.most_common(limit)


def _error_kind(message: str) -> str:
    """An error message with ids and numbers blurred, so that alike errors count together."""
    message = re.sub(r"tt[0-9]{7,}", "tt…", message)
    message = re.sub(r"/[0-9]{7,}\b", "/…", message)
    return re.sub(r"(127\.0\.0\.1|localhost):[0-9]+", r"\1:…", message)


@dataclass
class Outcome:
    """How one id ended in this run."""

    imdb_id: str
    status: str
    error: str | None = None
    sources: list[str] = field(default_factory=list)
    found_by: list[str] = field(default_factory=list)
    not_found_by: list[str] = field(default_factory=list)
    failed_at: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What a crawl did: counts, per-source figures, top errors, why it stopped."""

    sources: list[str]
    ids: int
    started: float
    finished: float = 0.0
    this_run: dict[str, int] = field(default_factory=dict)
    state: dict[str, int] = field(default_factory=dict)
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)
    top_errors: list[tuple[str, int]] = field(default_factory=list)
    skipped_done: int = 0
    stopped: str | None = None
    store: str = ""
    state_db: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "ids": self.ids,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "seconds": round(self.finished - self.started, 3),
            "this_run": self.this_run,
            "state": self.state,
            "already_final_before_this_run": self.skipped_done,
            "per_source": self.per_source,
            "top_errors": [{"message": message, "count": count} for message, count in self.top_errors],
            "stopped": self.stopped,
            "records_store": self.store,
            "state_db": self.state_db,
            "next": f"{BUILD_COMMAND} builds the dataset (splits, Parquet, HDF5) from the records store",
        }

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            "fetch: " + ", ".join(f"{count} {status}" for status, count in self.state.items() if count) + f" (of {self.ids} ids)",
            "this run: " + (", ".join(f"{count} {status}" for status, count in self.this_run.items() if count) or "nothing to do")
            + f" in {self.finished - self.started:.1f} s",
        ]
        for name, figures in self.per_source.items():
            lines.append(f"  {name}: " + ", ".join(f"{count} {what}" for what, count in figures.items()))
        for message, count in self.top_errors:
            lines.append(f"  {count} x {message}")
        return "\n".join(lines)


def describe(error: BaseException) -> str:
    """One line for an exception raised while fetching one id."""
    if isinstance(error, MmimdbError):
        return str(error)
    reason = getattr(error.args[0], "reason", None) if getattr(error, "args", None) else None
    if isinstance(error, requests.Timeout) or isinstance(reason, (ReadTimeoutError, ConnectTimeoutError)):
        return f"timed out: {_url_of(error)}"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return f"connection broken mid-body (truncated answer): {_url_of(error)}"
    if isinstance(error, requests.ConnectionError):
        return f"connection failed: {_url_of(error)}"
    if isinstance(error, requests.RequestException):
        return f"{type(error).__name__}: {_url_of(error)}"
    return f"{type(error).__name__}: {error}"


def _url_of(error: requests.RequestException) -> str:
    url = getattr(getattr(error, "request", None), "url", None) or ""
    return url.split("?", 1)[0] or str(error).splitlines()[0][:200]


class _PosterMissing(Exception):
    pass


def fetch_poster(url: str, source: Source, session: PoliteSession, imdb_id: str) -> tuple[bytes, images.PosterInfo]:
    """Download the poster at ``url`` from ``source``'s hosts and check that it decodes."""
    response = session.fetch(url, allowlist=source.allowlist(), max_bytes=images.MAX_POSTER_BYTES)
    if response.status_code in (404, 410):
        raise _PosterMissing(f"poster {url} answered HTTP {response.status_code}")
    if response.status_code != 200:
        raise SourceFailed(f"poster {url}: HTTP {response.status_code}")
    return response.content, images.check_poster(response.content, f"{imdb_id} poster")


def merge(link: Link, founds: list[tuple[Source, Found]]) -> dict[str, Any]:
    """The merged record of ``link``'s movie: first non-empty value per field wins."""
    record: dict[str, Any] = {"imdb_id": link.imdb_id}
    provenance: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for source, found in founds:
        for key, value in found.fields.items():
            if key == "extra":
                for extra_key, extra_value in value.items():
                    extra.setdefault(extra_key, extra_value)
            elif key not in record and value not in (None, "", [], {}):
                record[key] = value
                provenance[key] = source.name
    record["movielens_id"] = link.movielens_id
    provenance["movielens_id"] = "movielens"
    if link.tmdb_id:
        record["tmdb_id"] = link.tmdb_id
        provenance["tmdb_id"] = "movielens"
    if extra:
        record["extra"] = extra
    record["sources"] = provenance
    return record


def crawl_one(link: Link, sources: list[Source], session: PoliteSession, store: RecordStore) -> Outcome:
    """Ask every source about ``link``, merge, get the poster, write. Raises
    :class:`Blocked` / :class:`RateLimited` (stop everything); every other failure ends
    in the returned :class:`Outcome`."""
    outcome = Outcome(link.imdb_id, "error")
    founds: list[tuple[Source, Found]] = []
    errors: list[str] = []
    for source in sources:
        try:
            if source.needs_tmdb_id and not link.tmdb_id:
                raise NotFound(f"{source.name}: no tmdbId in links.csv")
            founds.append((source, source.lookup(link, session)))
            outcome.found_by.append(source.name)
        except (Blocked, RateLimited):
            raise
        except NotFound:
            outcome.not_found_by.append(source.name)
        except StoppedEarly:
            raise
        except MmimdbError as error:
            if error.exit_code == 2:  # a bad key: no id can succeed
                raise
            errors.append(describe(error))
            outcome.failed_at.append(source.name)
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            errors.append(f"{source.name}: {describe(error)}")
            outcome.failed_at.append(source.name)
    if errors:
        # A source failed for a reason that may pass: try the id again later rather than
        # write a record that lacks that source's fields.
        outcome.error = "; ".join(errors)
        return outcome
    if not founds:
        outcome.status = "not-found"
        outcome.error = "not found by " + ", ".join(outcome.not_found_by)
        return outcome
    record = merge(link, founds)
    poster_errors: list[str] = []
    for source, found in founds:
        if not found.poster_url and found.poster_data is None:
            continue
        try:
            if found.poster_data is not None:  # a local source (the release) has the file
                data, info = found.poster_data, images.check_poster(found.poster_data, f"{link.imdb_id} poster")
            else:
                data, info = fetch_poster(found.poster_url, source, session, link.imdb_id)
        except _PosterMissing as missing:
            poster_errors.append(str(missing))
            continue
        except (Blocked, RateLimited):
            raise
        except (MmimdbError, requests.RequestException) as error:
            poster_errors.append(describe(error))
            outcome.failed_at.append(source.name)
            continue
        poster = {"url": found.poster_url} if found.poster_url else {}
        if found.full_size_poster_url:
            poster["full_size_url"] = found.full_size_poster_url
        record["poster"] = {**poster, "sha256": info.sha256, "width": info.width, "height": info.height}
        record["sources"]["poster"] = source.name
        try:
            store.write(record, data)
        except RecordError as error:
            outcome.error = str(error)
            return outcome
        outcome.status = "done"
        outcome.sources = sorted(set(record["sources"].values()) - {"movielens"})
        return outcome
    if outcome.failed_at:
        outcome.error = "; ".join(poster_errors)
        return outcome
    outcome.status = "no-poster"
    outcome.error = "; ".join(poster_errors) or "no source gave a poster"
    outcome.sources = [source.name for source, _ in founds]
    return outcome


def state_path(root: Path) -> Path:
    return Path(root) / STATE_FILE


def crawl(
    links: list[Link],
    sources: list[Source],
    root: Path,
    *,
    session: PoliteSession,
    concurrency: int = 4,
    retry_failed: bool = False,
    progress: bool = True,
    report_path: Path | None = None,
) -> Report:
    """Crawl ``links`` with ``sources`` into ``root``'s records store; return the report
    (also written as JSON to ``report_path``, default ``<root>/fetch-report.json``).

    Raises :class:`~mmimdb.errors.StoppedEarly` (exit 3; its ``report`` attribute is the
    report) after writing the report when a source is blocked or rate-limited, or on
    Ctrl-C; everything done so far is kept.
    """
    from .lock import exclusive

    root = Path(root)
    with exclusive(root, "mmimdb fetch --movielens"):
        return _crawl(links, sources, root, session=session, concurrency=concurrency, retry_failed=retry_failed,
                      progress=progress, report_path=report_path)


def _crawl(links: list[Link], sources: list[Source], root: Path, *, session: PoliteSession, concurrency: int,
           retry_failed: bool, progress: bool, report_path: Path | None) -> Report:
    from tqdm import tqdm

    from .paths import dataset_dir

    store = RecordStore(dataset_dir(root))
    store.clean()
    state = StateDb(state_path(root))
    report = Report([s.name for s in sources], len(links), time.time(), store=str(store.directory), state_db=str(state.path))
    report_path = Path(report_path) if report_path else root / REPORT_FILE
    per_source: dict[str, Counter] = {s.name: Counter() for s in sources}
    this_run: Counter = Counter()
    stop_message: str | None = None
    try:
        state.add(links)
        ids = [link.imdb_id for link in links]
        statuses = state.statuses(ids)
        # A record on disk is complete (the store writes its JSON last): if the process
        # died before the state row said so, say so now instead of fetching it again.
        for imdb_id, status in statuses.items():
            if status != "done" and imdb_id in store:
                state.set(imdb_id, "done", attempted=False)
                statuses[imdb_id] = "done"
        wanted = {"pending", "blocked"} | ({"error"} if retry_failed else set())
        todo = [link for link in links if statuses.get(link.imdb_id) in wanted]
        report.skipped_done = sum(1 for status in statuses.values() if status in FINAL_STATUSES)
        for source in sources:
            source.prepare(session, root, progress)
        stop = threading.Event()

        def work(link: Link) -> Outcome | None:
            if stop.is_set():
                return None
            try:
                return crawl_one(link, sources, session, store)
            except (Blocked, RateLimited):
                stop.set()  # at once: queued ids must not knock on a closed door
                raise

        bar = tqdm(total=len(todo), unit="movie", desc="fetch", file=sys.stderr, disable=not progress, smoothing=0.05)
        pending = iter(todo)
        in_flight: dict[Future, Link] = {}
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="fetch") as pool:
            try:
                while True:
                    while not stop.is_set() and len(in_flight) < concurrency * 2:
                        link = next(pending, None)
                        if link is None:
                            break
                        in_flight[pool.submit(work, link)] = link
                    if not in_flight:
                        break
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        link = in_flight.pop(future)
                        try:
                            outcome = future.result()
                        except (Blocked, RateLimited) as error:
                            stop_message = stop_message or str(error)
                            stop.set()
                            state.set(link.imdb_id, "blocked", str(error))
                            this_run["blocked"] += 1
                            continue
                        except MmimdbError as error:  # a usage error from a source (bad key)
                            stop_message = stop_message or str(error)
                            stop.set()
                            state.set(link.imdb_id, "pending", str(error), attempted=False)
                            raise
                        if outcome is None:
                            continue
                        state.set(outcome.imdb_id, outcome.status, outcome.error, outcome.sources, commit=False)
                        this_run[outcome.status] += 1
                        for name in outcome.found_by:
                            per_source[name]["found"] += 1
                        for name in outcome.not_found_by:
                            per_source[name]["not found"] += 1
                        for name in outcome.failed_at:
                            per_source[name]["errors"] += 1
                        if outcome.status == "done":
                            for name in outcome.sources:
                                per_source[name]["in records"] += 1
                        bar.update(1)
                        bar.set_postfix_str(f"done={this_run['done']} no-poster={this_run['no-poster']} not-found={this_run['not-found']} error={this_run['error']}", refresh=False)
            except KeyboardInterrupt:
                stop.set()
                stop_message = "interrupted"
                for future in in_flight:
                    future.cancel()
                for future, link in in_flight.items():
                    if future.cancelled():
                        continue
                    try:
                        outcome = future.result()
                    except Exception:
                        continue
                    if outcome is not None:
                        state.set(outcome.imdb_id, outcome.status, outcome.error, outcome.sources)
                        this_run[outcome.status] += 1
            finally:
                bar.close()
                state.commit()
    finally:
        for source in sources:
            source.close()
        report.finished = time.time()
        report.this_run = {status: this_run.get(status, 0) for status in STATUSES if status != "pending"}
        report.state = state.counts([link.imdb_id for link in links])
        report.per_source = {name: dict(counts) for name, counts in per_source.items()}
        report.top_errors = state.top_errors([link.imdb_id for link in links])
        report.stopped = stop_message
        state.close()
        write_json(report_path, report.to_json())
    if stop_message:
        if stop_message == "interrupted":
            stop_message = f"interrupted; everything fetched is kept ({report_path}); rerun the same command to resume"
        stopped = StoppedEarly(stop_message)
        stopped.report = report  # type: ignore[attr-defined]  # the command line prints its summary
        raise stopped
    return report
