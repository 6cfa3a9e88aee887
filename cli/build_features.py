"""``mmimdb build-features``: not built yet."""
from __future__ import annotations

import click

from mmimdb.errors import UsageError


@click.command("build-features", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def build_features(args: tuple[str, ...]) -> None:
    """(Not built yet) word2vec, VGG16 and the paper's other features."""
    raise UsageError("build-features is not built yet (issue 5); nothing was done")
