"""``mmimdb fetch``: get movie records into the records store."""
from __future__ import annotations

import click

from mmimdb.errors import UsageError

from .options import root_option


@click.command("fetch")
@click.option("--from-archive", "archive", metavar="PATH_OR_URL", help="Import the original MM-IMDb release.")
@root_option
def fetch(archive: str | None, root: str | None) -> None:
    """Fetch movie records (the original release, or MovieLens ids from today's sources)."""
    raise UsageError("fetch is being built (issue 2/4); nothing was done")
