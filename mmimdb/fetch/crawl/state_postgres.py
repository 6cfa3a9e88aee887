"""The crawl state in PostgreSQL: one id queue that several crawler processes or machines share.

Same rows and statuses as the SQLite :class:`~.state.StateDb` (table ``mmimdb_crawl``), plus
who holds each id: a crawler *claims* a batch of open ids at a time with
``SELECT ... FOR UPDATE SKIP LOCKED`` (two crawlers never get the same id), stamps them with
its name and a lease (``lease_until``, the server's clock), and a background thread renews
the leases of the ids it still holds every third of the lease. A crawler that dies (kill -9,
a lost machine) stops renewing: once its lease ends, its ids go back to the queue and the
others pick them up. A crawler that stops cleanly (done, Ctrl-C, a blocked source) gives
its unfinished claims back at once.

Commits use ``synchronous_commit = off``: the server acknowledges before the WAL reaches
disk, so a status update costs a round trip, not a disk flush. A server crash can lose the
last fraction of a second of updates; those ids are asked again, or recognised from the
records store, as with the SQLite state.

>>> state = PostgresStateDb("postgresql://crawler@db.example.org/mmimdb")  # doctest: +SKIP
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Any, Iterable, Iterator

from ...errors import MmimdbError, UsageError
from ..movielens import Link
from ..postgres import connect, masked
from .state import FINAL_STATUSES, StateBackend

TABLE = "mmimdb_crawl"
#: Statuses a crawler may claim (``error`` only with ``retry_failed``, once per run).
OPEN_STATUSES = ("pending", "blocked")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    imdb_id TEXT PRIMARY KEY, movielens_id TEXT, tmdb_id TEXT,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, sources TEXT, created_at DOUBLE PRECISION, updated_at DOUBLE PRECISION,
    seq BIGSERIAL, claimed_by TEXT, lease_until TIMESTAMPTZ, claims INTEGER NOT NULL DEFAULT 0,
    finished_by TEXT);
CREATE INDEX IF NOT EXISTS {TABLE}_open ON {TABLE} (seq) WHERE status NOT IN ('done', 'no-poster', 'not-found');
"""


def _session(url: str) -> Any:
    """A connection whose commits do not wait for the disk (see the module's text)."""
    connection = connect(url)
    connection.execute("SET synchronous_commit TO off")
    return connection


class PostgresStateDb(StateBackend):
    """The crawl state in PostgreSQL, with claims and leases (see the module's text).

    ``lease``: seconds an id stays with a crawler that stopped renewing it; ``batch``: ids
    claimed per round trip. Only the thread that created it calls it (the engine's main
    thread); the lease renewal has its own connection.
    """

    shared = True  # crawlers on one queue may share a data root

    def __init__(self, url: str, lease: float = 300.0, batch: int = 8, worker: str | None = None):
        if lease <= 0 or batch < 1:
            raise UsageError(f"lease must be positive and batch at least 1 (got {lease}, {batch})")
        self.url, self.lease, self.batch = url, float(lease), int(batch)
        self.path = masked(url)  # what reports show as the state database
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.connection = _session(url)
        with self.connection.transaction():
            # Concurrent CREATE ... IF NOT EXISTS can still collide in the catalog: one at a time.
            self.connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            self.connection.execute(_SCHEMA)
        self._started = time.time()
        self._has_run = False
        self.held: set[str] = set()  # ids handed out by claims() and not yet set()
        self._renewer: threading.Thread | None = None
        self._stop_renewing = threading.Event()

    # -- the StateDb interface -------------------------------------------------------------

    def add(self, links: Iterable[Link]) -> None:
        """Register ids not seen before as pending, and remember them (and their order) as
        this run's ids: the only ones :meth:`claims` hands out."""
        unique = list({link.imdb_id: link for link in links}.values())
        now = time.time()
        with self.connection.transaction():
            self.connection.execute("CREATE TEMPORARY TABLE IF NOT EXISTS mmimdb_run "
                                    "(imdb_id TEXT PRIMARY KEY, movielens_id TEXT, tmdb_id TEXT, pos INTEGER)")
            self.connection.execute("TRUNCATE mmimdb_run")
            with self.connection.cursor().copy("COPY mmimdb_run (imdb_id, movielens_id, tmdb_id, pos) FROM STDIN") as copy:
                for pos, link in enumerate(unique):
                    copy.write_row((link.imdb_id, link.movielens_id, link.tmdb_id, pos))
            self.connection.execute("ANALYZE mmimdb_run")
            # In links order, so that seq (the queue's order) follows it.
            self.connection.execute(
                f"INSERT INTO {TABLE} (imdb_id, movielens_id, tmdb_id, status, created_at, updated_at) "
                "SELECT imdb_id, movielens_id, tmdb_id, 'pending', %s, %s FROM mmimdb_run ORDER BY pos "
                "ON CONFLICT (imdb_id) DO NOTHING", (now, now))
        self._has_run = True

    def status_rows(self) -> list[tuple[str, str]]:
        return self.connection.execute(f"SELECT imdb_id, status FROM {TABLE}").fetchall()

    def set(self, imdb_id: str, status: str, error: str | None = None, sources: list[str] | None = None,
            attempted: bool = True, commit: bool = True) -> None:
        """Record ``imdb_id``'s status and give up its claim (``commit`` is accepted for the
        SQLite interface: every update is its own cheap transaction here)."""
        self.held.discard(imdb_id)
        self.connection.execute(
            f"UPDATE {TABLE} SET status = %s, last_error = %s, sources = %s, attempts = attempts + %s, updated_at = %s, "
            "claimed_by = NULL, lease_until = NULL, finished_by = CASE WHEN %s THEN %s ELSE finished_by END "
            "WHERE imdb_id = %s",
            (status, error, ",".join(sources or []) or None, int(attempted), time.time(),
             status in FINAL_STATUSES, self.worker, imdb_id))

    def commit(self) -> None:
        """Nothing to do: updates commit as they are made."""

    def row(self, imdb_id: str) -> dict[str, Any] | None:
        cursor = self.connection.execute(f"SELECT * FROM {TABLE} WHERE imdb_id = %s", (imdb_id,))
        values = cursor.fetchone()
        return dict(zip([c.name for c in cursor.description], values)) if values else None

    def failed_errors(self) -> list[tuple[str, str]]:
        return self.connection.execute(
            f"SELECT imdb_id, last_error FROM {TABLE} WHERE status IN ('error', 'blocked') AND last_error IS NOT NULL").fetchall()

    def close(self) -> None:
        """Stop renewing leases and give back the ids claimed but not finished."""
        self._stop_renewing.set()
        if self._renewer is not None:
            self._renewer.join(timeout=10)
        try:
            if not self.connection.closed:
                self.release()
        finally:
            self.connection.close()

    # -- the queue -------------------------------------------------------------------------

    def _claimable(self, retry_failed: bool) -> tuple[str, tuple]:
        """SQL condition (and its parameters) on row ``m`` for ids this crawler may take."""
        condition = "(m.status = ANY(%s)"
        params: tuple = (list(OPEN_STATUSES),)
        if retry_failed:
            # An error from before this run is retried once; one made during it is not
            # (else a crawler would retry its own failures forever).
            condition += " OR (m.status = 'error' AND m.updated_at < %s)"
            params += (self._started,)
        return condition + ")", params

    def claim(self, limit: int | None = None, retry_failed: bool = False) -> list[Link]:
        """Take up to ``limit`` (default: ``batch``) open ids of this run that nobody holds
        (or whose holder's lease ran out), in links order."""
        if not self._has_run:
            raise MmimdbError("claim() before add(): the run's ids are not known")
        condition, params = self._claimable(retry_failed)
        rows = self.connection.execute(
            f"""WITH picked AS (
                    SELECT m.imdb_id, r.pos FROM {TABLE} m JOIN mmimdb_run r ON r.imdb_id = m.imdb_id
                    WHERE {condition} AND (m.lease_until IS NULL OR m.lease_until < now())
                    ORDER BY m.seq LIMIT %s FOR UPDATE OF m SKIP LOCKED)
                UPDATE {TABLE} m SET claimed_by = %s, lease_until = now() + make_interval(secs => %s),
                       claims = m.claims + 1
                FROM picked WHERE m.imdb_id = picked.imdb_id
                RETURNING picked.pos, m.imdb_id, m.movielens_id, m.tmdb_id""",
            (*params, limit or self.batch, self.worker, self.lease)).fetchall()
        self._start_renewing()
        return [Link(movielens_id, imdb_id, tmdb_id) for _, imdb_id, movielens_id, tmdb_id in sorted(rows)]

    def held_by_others(self, retry_failed: bool = False) -> float | None:
        """Seconds until the first lease of another crawler on this run's open ids ends
        (0 if one has ended), or None when nobody else holds any."""
        condition, params = self._claimable(retry_failed)
        (seconds,) = self.connection.execute(
            f"""SELECT EXTRACT(EPOCH FROM min(m.lease_until) - now())::float8 FROM {TABLE} m
                JOIN mmimdb_run r ON r.imdb_id = m.imdb_id
                WHERE {condition} AND m.lease_until IS NOT NULL AND m.claimed_by IS DISTINCT FROM %s""",
            (*params, self.worker)).fetchone()
        return None if seconds is None else max(0.0, seconds)

    def claims(self, todo: list[Link], store: Any = None, retry_failed: bool = False) -> Iterator[Link]:
        """The ids this crawler works on, claimed a batch at a time (:class:`Claims`)."""
        return Claims(self, store, retry_failed)

    def release(self) -> int:
        """Give back the ids this crawler claimed and did not finish; return how many."""
        cursor = self.connection.execute(
            f"UPDATE {TABLE} SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = %s", (self.worker,))
        return cursor.rowcount

    def _start_renewing(self) -> None:
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, name="mmimdb-lease", daemon=True)
            self._renewer.start()

    def _renew(self) -> None:
        """Every third of the lease, push the leases of the ids this crawler holds forward."""
        import psycopg

        try:
            connection = _session(self.url)
        except (UsageError, psycopg.Error):
            return  # the server went away: the leases run out and others take the ids over
        try:
            while not self._stop_renewing.wait(self.lease / 3):
                connection.execute(f"UPDATE {TABLE} SET lease_until = now() + make_interval(secs => %s) "
                                   "WHERE claimed_by = %s", (self.lease, self.worker))
        except psycopg.Error:
            pass  # likewise
        finally:
            connection.close()


class Claims:
    """The ids one crawler works on: an iterator the engine asks with ``next(it, None)``.

    It claims a batch at a time and hands the ids out one by one; an id whose record is
    already in ``store`` (its crawler died between writing it and saying so) is marked done,
    not handed out. When nothing is left to claim it answers "nothing now" (StopIteration)
    while this crawler still has ids in flight, so that the engine records them (and so gives
    up their claims) before asking again: two crawlers that each waited for the other's
    ids, without finishing their own, would wait forever. With nothing in flight, it waits
    (polling) while other crawlers hold open ids of this run, since a dead one's ids come
    back when its lease ends; when nobody holds any, it is done.
    """

    def __init__(self, state: PostgresStateDb, store: Any, retry_failed: bool):
        self.state, self.store, self.retry_failed = state, store, retry_failed
        self.batch: list[Link] = []

    def __iter__(self) -> "Claims":
        return self

    def __next__(self) -> Link:
        state = self.state
        while True:
            while self.batch:
                link = self.batch.pop(0)
                if self.store is not None and link.imdb_id in self.store:
                    state.set(link.imdb_id, "done", attempted=False)
                    continue
                state.held.add(link.imdb_id)
                return link
            self.batch = state.claim(retry_failed=self.retry_failed)
            if self.batch:
                continue
            if state.held:
                raise StopIteration  # nothing now: finish what is in flight first
            wait = state.held_by_others(self.retry_failed)
            if wait is None:
                raise StopIteration
            time.sleep(min(1.0, state.lease / 4, max(0.05, wait)))
