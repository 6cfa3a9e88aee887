"""Entry point of the ``mmimdb`` console script.

Commands parse options and call the library. A :class:`mmimdb.errors.MmimdbError` ends as
one line on stderr and its exit code; Ctrl-C ends with exit code 3 (resumable).
"""
from __future__ import annotations

import sys

import click

from mmimdb import __version__
from mmimdb.errors import EXIT_STOPPED_EARLY, MmimdbError

from .benchmark import benchmark
from .build import build
from .build_features import build_features
from .card import card
from .export import export
from .fetch import fetch
from .info import info
from .missing import missing


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MmimdbError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
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
cli.add_command(card)


def main() -> None:
    cli(prog_name="mmimdb")


if __name__ == "__main__":
    main()
