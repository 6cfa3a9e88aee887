"""Errors a user can act on. Each carries the exit code the command line ends with.

The command line prints ``str(error)`` as one line and exits with ``error.exit_code``;
anything else that escapes is a bug and keeps its traceback.
"""
from __future__ import annotations

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
