"""Options shared by several commands."""
from __future__ import annotations

import click

from mmimdb.paths import ENV_HOME

root_option = click.option(
    "--root",
    type=click.Path(file_okay=False),
    default=None,
    help=f"Data root (default: ${ENV_HOME}, else ~/.cache/mmimdb).",
)
