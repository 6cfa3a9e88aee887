"""The crawl state: one row per IMDb id, so that a rerun continues where the last one stopped.

An SQLite database (WAL) at ``<root>/fetch-state.sqlite``: status (``pending``, ``done``,
``no-poster``, ``not-found``, ``error``, ``blocked``), attempts, last error, sources,
timestamps. ``done``/``no-poster``/``not-found`` ids are never fetched again, ``blocked`` and
``pending`` ones are, ``error`` ones with ``retry_failed``.
"""
from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..movielens import Link

STATUSES = ("pending", "done", "no-poster", "not-found", "error", "blocked")
#: Statuses a rerun never fetches again.
FINAL_STATUSES = ("done", "no-poster", "not-found")
STATE_FILE = "fetch-state.sqlite"


def state_path(root: Path) -> Path:
    return Path(root) / STATE_FILE


def open_state(url: str | None, root: Path, *, lease: float = 300.0, batch: int = 8):
    """The crawl state at ``url``: None for the embedded SQLite file under ``root``, or a
    ``postgresql://`` URL for a queue that several crawler processes or machines share
    (:class:`~.state_postgres.PostgresStateDb`, ``lease`` seconds per claim, ``batch`` ids
    claimed at a time)."""
    if url is None:
        return StateDb(state_path(root))
    from ..postgres import is_postgres

    if is_postgres(url):
        from .state_postgres import PostgresStateDb

        return PostgresStateDb(url, lease=lease, batch=batch)
    from ...errors import UsageError

    raise UsageError(f"--state-url: give a postgresql://user@host:port/database URL (got '{url.split('://', 1)[0]}://...')")


class StateBackend:
    """What the engine needs of a crawl state (:class:`StateDb`, or the PostgreSQL queue of
    :mod:`.state_postgres`); counts per status and top errors derive from the rows."""

    #: Whether several crawlers may work on it (and on one data root) at once.
    shared: bool = False
    path: Any  # what reports name as the state database

    def add(self, links: Iterable[Link]) -> None:
        raise NotImplementedError

    def status_rows(self) -> list[tuple[str, str]]:
        """(imdb_id, status) of every id."""
        raise NotImplementedError

    def statuses(self, ids: Iterable[str] | None = None) -> dict[str, str]:
        rows = self.status_rows()
        if ids is None:
            return dict(rows)
        wanted = set(ids)
        return {imdb_id: status for imdb_id, status in rows if imdb_id in wanted}

    def set(self, imdb_id: str, status: str, error: str | None = None, sources: list[str] | None = None,
            attempted: bool = True, commit: bool = True) -> None:
        raise NotImplementedError

    def claims(self, todo: list[Link], store: Any = None, retry_failed: bool = False) -> Iterator[Link]:
        """The ids of ``todo`` this crawler should work on, in order."""
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def failed_errors(self) -> list[tuple[str, str]]:
        """(imdb_id, last error) of the ids whose status is ``error`` or ``blocked``."""
        raise NotImplementedError

    def counts(self, ids: Iterable[str] | None = None) -> dict[str, int]:
        counts = Counter(self.statuses(ids).values())
        return {status: counts.get(status, 0) for status in STATUSES}

    def top_errors(self, ids: Iterable[str] | None = None, limit: int = 5) -> list[tuple[str, int]]:
        wanted = set(ids) if ids is not None else None
        counts = Counter(_error_kind(error) for imdb_id, error in self.failed_errors() if wanted is None or imdb_id in wanted)
        return counts.most_common(limit)


class StateDb(StateBackend):
    """The crawl state: one row per IMDb id, in SQLite with write-ahead logging.

    Only the thread that created it writes (the engine's main thread). One crawler per
    data root (``shared`` is False): the engine holds the root's exclusive lock.
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

    def status_rows(self) -> list[tuple[str, str]]:
        return self.connection.execute("SELECT imdb_id, status FROM movies").fetchall()

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

    def claims(self, todo: list[Link], store: Any = None, retry_failed: bool = False) -> Iterator[Link]:
        """The ids this crawler works on, in order: all of ``todo`` (it is the only one)."""
        return iter(todo)

    def row(self, imdb_id: str) -> dict[str, Any] | None:
        cursor = self.connection.execute("SELECT * FROM movies WHERE imdb_id = ?", (imdb_id,))
        values = cursor.fetchone()
        return dict(zip([c[0] for c in cursor.description], values)) if values else None

    def failed_errors(self) -> list[tuple[str, str]]:
        return self.connection.execute("SELECT imdb_id, last_error FROM movies WHERE status IN ('error', 'blocked') AND last_error IS NOT NULL").fetchall()


def _error_kind(message: str) -> str:
    """An error message with ids and numbers blurred, so that alike errors count together."""
    message = re.sub(r"tt[0-9]{7,}", "tt…", message)
    message = re.sub(r"/[0-9]{7,}\b", "/…", message)
    return re.sub(r"(127\.0\.0\.1|localhost):[0-9]+", r"\1:…", message)


