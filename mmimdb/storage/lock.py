"""One writer per data root: a second import or crawl on the same root stops at once
instead of interleaving with the first."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import UsageError

LOCK_NAME = ".mmimdb.lock"


@contextmanager
def exclusive(root: Path, job: str) -> Iterator[None]:
    """Hold an exclusive lock on ``root`` for ``job``; raise :class:`UsageError` if taken.

    The lock is an ``flock`` on ``root/.mmimdb.lock``: the kernel drops it when the process
    dies, so a killed run never leaves a stale lock behind.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UsageError(f"{root}: busy, {holder} is writing here; wait for it or use another --root") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{job} (pid {os.getpid()})")
        handle.flush()
        yield
    finally:
        handle.close()
