"""Options shared by several commands, and the one check of the folders they name."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import click

from mmimdb.errors import UsageError
from mmimdb.paths import ENV_HOME, data_root


#: Where the data root of the running command is kept in click's shared ``ctx.meta``.
ROOT_KEY = "mmimdb.root"
#: ``MMIMDB_PROGRESS=1`` shows progress bars even when stderr is no terminal; ``0`` never.
ENV_PROGRESS = "MMIMDB_PROGRESS"


def show_progress(no_progress: bool = False) -> bool:
    """Progress bars only on a terminal (a log redirected to a file gets no bar lines),
    unless ``$MMIMDB_PROGRESS`` says otherwise."""
    wanted = os.environ.get(ENV_PROGRESS, "")
    return not no_progress and (wanted == "1" or (wanted != "0" and sys.stderr.isatty()))


def check_folder(path: Path, option: str) -> None:
    """A one-line :class:`UsageError` unless ``path`` is a folder or one can be made there.

    Checked before any work, so a command never ends in a ``NotADirectoryError`` or
    ``FileNotFoundError`` traceback halfway through.
    """
    if path.is_dir():
        return
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        where = "it" if existing == path else str(existing)
        raise UsageError(f"{option} {path}: {where} is a file, not a folder")
    try:  # permissions, read-only or virtual file systems (/proc): only trying tells
        os.rmdir(tempfile.mkdtemp(prefix=".mmimdb-check-", dir=existing))
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot make a folder in {existing} ({error.strerror or error})") from None


def _checked_root(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    label = "--root" if value is not None else f"${ENV_HOME}" if os.environ.get(ENV_HOME) else "the data root"
    check_folder(data_root(value), label)
    ctx.meta[ROOT_KEY] = data_root(value)  # named by the one line of a full disk (cli/main.py)
    return value


def _checked_folder(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        check_folder(Path(value).expanduser(), param.opts[0])
    return value


root_option = click.option(
    "--root",
    type=click.Path(),  # the callback says what is wrong with it, in one line
    default=None,
    callback=_checked_root,
    help=f"Data root (default: ${ENV_HOME}, else ~/.cache/mmimdb).",
)


def folder_option(*names: str, **kwargs: Any) -> Callable:
    """A click option naming a folder that a command writes into (checked like ``--root``)."""
    return click.option(*names, type=click.Path(), callback=_checked_folder, **kwargs)
