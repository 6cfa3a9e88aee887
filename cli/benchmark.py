"""``mmimdb benchmark``: not built yet."""
from __future__ import annotations

import click

from mmimdb.errors import UsageError


@click.command("benchmark", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def benchmark(args: tuple[str, ...]) -> None:
    """(Not built yet) train the GMU and the paper's baselines."""
    raise UsageError("benchmark is not built yet (issue 6); nothing was done")
