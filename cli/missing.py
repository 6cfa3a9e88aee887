"""``mmimdb missing``: reproducible missing-modality tables (ViLT .pt layout + Parquet)."""
from __future__ import annotations

import click

from mmimdb.dataset.missing import DEFAULT_BOTH_RATIO, TYPES, MissingSpec, write_tables

from .options import root_option


# Values are checked by the library, so a wrong one ends as one line like every error.
@click.command("missing")
@click.option("--rate", required=True, help="Share of each split's movies with a modality missing, in (0, 1].")
@click.option("--type", "type_", default="both", show_default=True, metavar="|".join(TYPES),
              help="text: plots missing; image: posters missing; both: some of each (never both at once).")
@click.option("--both-ratio", default=str(DEFAULT_BOTH_RATIO), show_default=True,
              help="With --type both: share of the missing movies that lose the poster (the rest lose the plot).")
@click.option("--seed", default="0", show_default=True, help="Seed of the draw (same seed, same tables, byte for byte).")
@root_option
def missing(rate: str, type_: str, both_ratio: str, seed: str, root: str | None) -> None:
    """Write a missing-modality table per split (0 complete, 1 text missing, 2 image missing).

    \b
    mmimdb missing --rate 0.7 --type both --seed 0
    # -> ROOT/missing/seed-0/mmimdb_{train,dev,test}_missing_both_07.{pt,parquet}
    """
    spec = MissingSpec(rate=_number(rate, "--rate"), type=type_, both_ratio=_number(both_ratio, "--both-ratio"),
                       seed=_number(seed, "--seed", int))
    entry = write_tables(spec, root)
    for split, counts in entry["counts"].items():
        click.echo(f"{split:5s} {counts['movies']:>6} movies: {counts['complete']} complete, "
                   f"{counts['text_missing']} text missing, {counts['image_missing']} image missing")
    click.echo(f"wrote {len(entry['files'])} files to {entry['folder']}/ under the data root (recorded in manifest.json)")


def _number(text: str, option: str, kind: type = float):
    from mmimdb.errors import UsageError

    try:
        return kind(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a{'n integer' if kind is int else ' number'}") from None
