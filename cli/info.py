"""``mmimdb info``: what is on disk."""
from __future__ import annotations

import click

from mmimdb.errors import UsageError

from .options import root_option


@click.command("info")
@root_option
def info(root: str | None) -> None:
    """Counts, genre table, paths and checksums of the data on disk."""
    raise UsageError("info is being built (issue 2); nothing was done")
