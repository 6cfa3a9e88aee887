"""One writer per data root: a second import or crawl on the same root stops at once
instead of interleaving with the first."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator

from ..errors import UsageError

LOCK_NAME = ".mmimdb.lock"


def _take(handle: IO[str], root: Path, mode: int) -> None:
    try:
        fcntl.flock(handle, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        raise UsageError(f"{root}: busy, {holder} is writing here; wait for it or use another --root") from None


def _sign(handle: IO[str], job: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(f"{job} (pid {os.getpid()})")
    handle.flush()


@contextmanager
def exclusive(root: Path, job: str, when_alone: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``root`` for ``job``; raise :class:`UsageError` if taken.

    The lock is an ``flock`` on ``root/.mmimdb.lock``: the kernel drops it when the process
    dies, so a killed run never leaves a stale lock behind. ``when_alone()`` (cleaning up
    what a killed writer left) runs first.
    """
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / LOCK_NAME, "a+")
    try:
        _take(handle, root, fcntl.LOCK_EX)
        _sign(handle, job)
        if when_alone is not None:
            when_alone()
        yield
    finally:
        handle.close()


@contextmanager
def shared(root: Path, job: str, when_alone: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold ``root``'s lock shared with other holders of a shared lock (crawlers of one
    PostgreSQL queue), never with an exclusive holder. ``when_alone()`` runs only if no
    one else holds the lock, and while it is held exclusively: cleaning up what a killed
    writer left must not delete the temporary files of a live one."""
    with exclusive_if_free(root, job) as alone:
        if alone and when_alone is not None:
            when_alone()
    handle = open(root / LOCK_NAME, "a+")
    try:
        _take(handle, root, fcntl.LOCK_SH)
        yield
    finally:
        handle.close()


@contextmanager
def exclusive_if_free(root: Path, job: str) -> Iterator[bool]:
    """The exclusive lock if nobody holds any (yields True), else nothing (yields False)."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / LOCK_NAME, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        _sign(handle, job)
        yield True
    finally:
        handle.close()
