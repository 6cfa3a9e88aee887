"""Entry point of the ``mmimdb`` console script.

Commands parse options and call the library. A :class:`mmimdb.errors.MmimdbError` ends as
one line on stderr and its exit code; so does a wrong option or value (click's own three
lines, ``Usage:``, ``Try ...``, ``Error: ...``, become one ``error:`` line, exit 2); Ctrl-C
ends with exit code 3 (resumable).
"""
from __future__ import annotations

import sys

import click

from mmimdb import __version__
from mmimdb.errors import EXIT_STOPPED_EARLY, EXIT_USAGE, MmimdbError, from_os_error

from .benchmark import benchmark
from .build import build
from .build_features import build_features
from .card import card
from .export import export
from .fetch import fetch
from .info import info
from .missing import missing
from .options import ROOT_KEY
from .protocols import protocols
from .report import report


def one_line(message: str) -> str:
    """``message`` on one line (pyarrow's and click's messages hold newlines)."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def _usage_line(error: click.UsageError) -> str:
    command = error.ctx.command_path if error.ctx is not None else "mmimdb"
    return f"error: {one_line(error.format_message())} (see {command} --help)"


class _Group(click.Group):
    def main(self, *args, **kwargs):
        if not kwargs.pop("standalone_mode", True):
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            # Not standalone, so that click's errors reach this handler instead of its printer;
            # what a command returns is then its exit status (--help and ctx.exit(n) give an int).
            status = super().main(*args, standalone_mode=False, **kwargs)
            sys.exit(status if isinstance(status, int) else 0)
        except click.UsageError as error:  # a wrong option or value, here or in a command
            click.echo(_usage_line(error), err=True)
            sys.exit(EXIT_USAGE)
        except click.exceptions.Abort:
            _interrupted()
        except click.ClickException as error:
            click.echo(f"error: {one_line(error.format_message())}", err=True)
            sys.exit(error.exit_code)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MmimdbError as error:
            _end_line()
            click.echo(f"error: {one_line(str(error))}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            _interrupted()
        except OSError as error:  # a full or read-only disk: one line; any other OSError is a bug
            converted = from_os_error(error, ctx.meta.get(ROOT_KEY))
            if converted is None:
                raise
            _end_line()
            click.echo(f"error: {one_line(str(converted))}", err=True)
            sys.exit(converted.exit_code)


def _end_line() -> None:
    """End a progress bar's unfinished line on a terminal, so that the message that follows
    starts on a line of its own (Ctrl-C arrives mid-bar)."""
    if sys.stderr.isatty():
        sys.stderr.write("\n")
        sys.stderr.flush()


def _interrupted() -> None:
    _end_line()
    click.echo("interrupted: what was done is kept; rerun the same command to resume", err=True)
    sys.exit(EXIT_STOPPED_EARLY)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mmimdb")
def cli() -> None:
    """Build, load and benchmark MM-IMDb, the multimodal movie-genre dataset."""


cli.add_command(fetch)
cli.add_command(info)
cli.add_command(build)
cli.add_command(build_features)
cli.add_command(benchmark)
cli.add_command(export)
cli.add_command(missing)
cli.add_command(protocols)
cli.add_command(card)
cli.add_command(report)


def main() -> None:
    cli(prog_name="mmimdb")


if __name__ == "__main__":
    main()
