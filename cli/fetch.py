"""``mmimdb fetch``: get movie records into the records store."""
from __future__ import annotations

import click

from mmimdb.errors import UsageError

from .options import root_option


@click.command("fetch")
@click.option("--from-archive", "archive", metavar="PATH_OR_URL", help="Import the original MM-IMDb release (mmimdb.tar.gz, its folder, or a URL).")
@click.option("--sha256", metavar="HEX", default=None, help="Expected sha256 of the archive.")
@root_option
def fetch(archive: str | None, sha256: str | None, root: str | None) -> None:
    """Fetch movie records (the original release, or MovieLens ids from today's sources)."""
    if archive:
        from .fetch_archive import import_archive_command

        import_archive_command(archive=archive, sha256=sha256, root=root)
        return
    raise UsageError("give --from-archive PATH_OR_URL (the MovieLens crawler is being built, issue 4)")
