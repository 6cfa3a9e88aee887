"""One writer per data root, and readers that never see a writer's half-done work.

The policy, for every command (``docs/faults.md``):

- **writers** change what others read: ``fetch`` (crawl and ``--from-archive``), ``build``,
  ``build-features`` (also with ``--ray``: the driver holds the lock). They hold the root's
  lock exclusively (:func:`writes_root`, :func:`exclusive`).
- **readers that publish** read the built dataset and write only their own outputs:
  ``export``, ``card``, ``missing``, ``benchmark``. They hold it shared
  (:func:`reads_root`, :func:`reading`): several may run at once, never beside a writer.
  Their manifest updates are serialised by :func:`manifest_update` (a short, waiting lock).
- A command that finds the lock taken the other way **refuses at once** with one line
  naming the holder (exit 2) instead of waiting: a build that silently waits hours for a
  crawl looks hung, and the user can always rerun. The lock is an ``flock``: the kernel
  drops it when its process dies, so a killed run never leaves a stale lock behind.
- A root that cannot be written (read-only, permission denied) stops a writer with one
  line (exit 2); a reader of such a root reads it without a lock when none can be taken
  (no writer can be writing there either).
"""
from __future__ import annotations

import fcntl
import functools
import inspect
import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterator, TypeVar

from .. import paths
from ..errors import NOT_WRITABLE, MmimdbError, UsageError, from_os_error

LOCK_NAME = ".mmimdb.lock"
#: A second, short-held lock: one read-modify-write of ``manifest.json`` at a time.
MANIFEST_LOCK_NAME = ".mmimdb.manifest.lock"

_Function = TypeVar("_Function", bound=Callable[..., Any])


def not_writable(root: Path, error: OSError) -> MmimdbError:
    """The one line for a root the user cannot write (exit 2)."""
    return from_os_error(OSError(error.errno, error.strerror, str(root))) or MmimdbError(f"{root}: {error}")


def _open(root: Path, create: bool) -> IO[str]:
    try:
        if create:
            root.mkdir(parents=True, exist_ok=True)
        return open(root / LOCK_NAME, "a+")
    except OSError as error:
        if error.errno in NOT_WRITABLE:
            raise not_writable(root, error) from None
        raise


def _take(handle: IO[str], root: Path, mode: int) -> None:
    try:
        fcntl.flock(handle, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        raise UsageError(f"{root}: busy, {holder} is using this root; wait for it to end or use another --root") from None


def _sign(handle: IO[str], job: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(f"{job} (pid {os.getpid()})")
    handle.flush()


@contextmanager
def exclusive(root: Path, job: str, when_alone: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``root`` for ``job``; raise :class:`UsageError` if taken.

    The lock is an ``flock`` on ``root/.mmimdb.lock``. ``when_alone()`` (cleaning up what a
    killed writer left) runs first.
    """
    handle = _open(root, create=True)
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
    PostgreSQL queue, readers of a build), never with an exclusive holder. ``when_alone()``
    runs only if no one else holds the lock, and while it is held exclusively: cleaning up
    what a killed writer left must not delete the temporary files of a live one."""
    with exclusive_if_free(root, job) as alone:
        if alone and when_alone is not None:
            when_alone()
    handle = _open(root, create=True)
    try:
        _take(handle, root, fcntl.LOCK_SH)
        yield
    finally:
        handle.close()


@contextmanager
def exclusive_if_free(root: Path, job: str) -> Iterator[bool]:
    """The exclusive lock if nobody holds any (yields True), else nothing (yields False)."""
    handle = _open(root, create=True)
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


@contextmanager
def writing(root: Path, job: str) -> Iterator[None]:
    """A writer's lock on an existing ``root`` (a missing root is left to the command, whose
    own error names what to run first; nothing else can be writing there)."""
    if not root.is_dir():
        yield
        return
    with exclusive(root, job):
        yield


def _open_for_reading(root: Path) -> IO[str] | None:
    try:
        return open(root / LOCK_NAME, "a+")
    except OSError:
        pass
    try:  # a read-only root: a lock file left by its writer still tells whether one runs
        return open(root / LOCK_NAME)
    except OSError:
        return None


@contextmanager
def reading(root: Path, job: str) -> Iterator[None]:
    """A reader's shared lock on ``root``: refused while a writer holds it. A root that does
    not exist, or whose lock file cannot be created (read-only), is read without one."""
    if not root.is_dir():
        yield
        return
    handle = _open_for_reading(root)
    if handle is None:
        yield
        return
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if handle.writable():
                _sign(handle, job)
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)  # converts: no gap for a writer
        except BlockingIOError:
            _take(handle, root, fcntl.LOCK_SH)  # other readers only: share; a writer: refuse
        yield
    finally:
        handle.close()


@contextmanager
def manifest_update(root: Path) -> Iterator[None]:
    """One read-modify-write of ``root/manifest.json`` at a time: readers that publish run
    side by side and each records its outputs; this waits (it is held for milliseconds)."""
    try:
        handle = open(root / MANIFEST_LOCK_NAME, "a+")
    except OSError as error:
        raise not_writable(root, error) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


def _around(hold: Callable[[Path, str], Any], job: str) -> Callable[[_Function], _Function]:
    def decorate(function: _Function) -> _Function:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def locked(*args: Any, **kwargs: Any) -> Any:
            root = paths.data_root(signature.bind_partial(*args, **kwargs).arguments.get("root"))
            with hold(root, job):
                return function(*args, **kwargs)
        return locked  # type: ignore[return-value]
    return decorate


def writes_root(job: str) -> Callable[[_Function], _Function]:
    """Decorate a library entry point that writes its ``root`` argument: it runs under
    :func:`writing` (``job`` names it to whoever finds the lock taken)."""
    return _around(writing, job)


def reads_root(job: str) -> Callable[[_Function], _Function]:
    """Decorate a library entry point that reads its ``root`` argument's build and writes
    only its own outputs: it runs under :func:`reading`."""
    return _around(reading, job)
