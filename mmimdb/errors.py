"""Errors a user can act on. Each carries the exit code the command line ends with.

The command line prints ``str(error)`` as one line and exits with ``error.exit_code``;
anything else that escapes is a bug and keeps its traceback.
"""
from __future__ import annotations

import errno
import os

#: Exit codes shared by every command (success is 0, as everywhere).
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STOPPED_EARLY = 3


class MmimdbError(Exception):
    """Base class: a problem with the input or the environment, explained in one line."""

    exit_code = EXIT_ERROR


class UsageError(MmimdbError):
    """A wrong path, a missing file or option: the user must change the command."""

    exit_code = EXIT_USAGE


class StoppedEarly(MmimdbError):
    """Work stopped before the end (blocked, rate-limited, interrupted); rerun to resume."""

    exit_code = EXIT_STOPPED_EARLY


class RecordError(MmimdbError):
    """A movie record that cannot be used: invalid JSON, a schema violation, a bad poster."""

    def __init__(self, imdb_id: str, field: str | None, message: str):
        self.imdb_id = imdb_id
        self.field = field
        self.message = message
        where = f"field '{field}'" if field else "record"
        super().__init__(f"{imdb_id}: {where}: {message}")


class ImageError(MmimdbError):
    """A poster that is not an image, is truncated, or is too large to decode safely."""


class ArchiveError(MmimdbError):
    """An archive that is truncated, not gzip/tar, or has an unsafe member."""


class DownloadError(MmimdbError):
    """An HTTP download that failed, was refused, or did not match its checksum."""


#: errno values of a file system that is full (or over quota), and of one that refuses writes.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def from_os_error(error: OSError, where: str | os.PathLike | None = None) -> MmimdbError | None:
    """The one-line error for a file system that refused a write: full (exit 1; what was
    written is cleaned up by the writers, the earlier outputs stay), read-only or not
    permitted (exit 2); None for any other ``OSError``. ``where`` names the place when the
    error does not (the data root)."""
    path = error.filename or where or "a file"
    if error.errno in NO_SPACE:
        return MmimdbError(f"{path}: no space left on device; free some space and rerun the same command "
                           "(the outputs already there are as they were)")
    if error.errno in NOT_WRITABLE:
        reason = "read-only file system" if error.errno == errno.EROFS else (error.strerror or str(error)).lower()
        return UsageError(f"{path}: cannot write here ({reason}); use a root you can write (--root DIR or $MMIMDB_HOME)")
    return None
