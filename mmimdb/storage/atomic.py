"""Atomic file writes: a killed process leaves the old file or the new one, never half of one."""
from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Iterator


def _umask_from_proc() -> int | None:
    """The process umask as Linux reports it (``Umask:`` in /proc/self/status), or None."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


@lru_cache(maxsize=1)
def _probed_mode() -> int:
    """Where /proc is missing: the mode a file created with 0o666 gets, seen on a probe
    file in a private temporary folder (computed once)."""
    with tempfile.TemporaryDirectory(prefix="mmimdb-umask-") as folder:
        fd = os.open(os.path.join(folder, "probe"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        try:
            return os.fstat(fd).st_mode & 0o777
        finally:
            os.close(fd)


def _new_file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (0o666 less the umask).

    Never by setting the umask and back (``os.umask`` is the only way to read it in
    Python): for that moment every file another thread creates would get mode 0o666."""
    umask = _umask_from_proc()
    return 0o666 & ~umask if umask is not None else _probed_mode()


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is untouched. The file gets
    the mode a plain ``open()`` would give it (mkstemp's temporary files are private). The
    temporary file is ``.<name>.<pid>-<random>.tmp``: see :func:`remove_stale_temporaries`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid in the name tells a killed writer's leftover from a live one's.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), _new_file_mode())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_json(path: str | os.PathLike, value: Any, indent: int | None = 2) -> None:
    """Write ``value`` as UTF-8 JSON to ``path`` atomically."""
    with atomic_open(path, "w") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=indent)
        handle.write("\n")


#: ``.<name>.<pid>-<random>.tmp`` (:func:`atomic_open`; mkstemp's eight random characters).
_TEMPORARY_PID = re.compile(r"^\..+\.(\d+)-[a-z0-9_]{8}\.tmp$")


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs (another user's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(directory: str | os.PathLike, recursive: bool = False) -> int:
    """Delete the temporary files killed writers left in ``directory`` (and below it, if
    ``recursive``); return how many.

    Only files named as :func:`atomic_open` names them, whose writer no longer runs: readers
    that publish (``card``, ``missing``, ``benchmark``) share the root and may write one
    folder side by side, and an ``--out`` the user chose may hold other programs' files.
    (A pid the system has since given to another process keeps its file until that process
    ends: a hidden file left a while, never a live write broken.)"""
    count = 0
    directory = Path(directory)
    for leftover in (directory.rglob if recursive else directory.glob)(".*.tmp"):
        writer = _TEMPORARY_PID.match(leftover.name)
        if writer is not None and not process_alive(int(writer.group(1))):
            leftover.unlink(missing_ok=True)
            count += 1
    return count
