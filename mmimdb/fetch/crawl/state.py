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
from typing import Any, Iterable

from ..movielens import Link

STATUSES = ("pending", "done", "no-poster", "not-found", "error", "blocked")
#: Statuses a rerun never fetches again.
FINAL_STATUSES = ("done", "no-poster", "not-found")
STATE_FILE = "fetch-state.sqlite"


def state_path(root: Path) -> Path:
    return Path(root) / STATE_FILE


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


