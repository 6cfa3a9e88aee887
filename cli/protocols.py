"""``mmimdb protocols``: every protocol preset applied to this build, side by side."""
from __future__ import annotations

import json

import click

from .options import root_option

#: Ids a line lists before it gives only the count.
SHOWN_IDS = 8


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f", and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


@click.command("protocols")
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON (every id listed).")
@root_option
def protocols(as_json: bool, root: str | None) -> None:
    """Each lineage's data on this build: movies and samples per split, label set, text field,
    and the ids each preset drops or duplicates against the build, with the rule."""
    from mmimdb.protocols import PRESETS, prepare

    summaries = [prepare(root, name).summary() for name in PRESETS]
    if as_json:
        click.echo(json.dumps(summaries, indent=2, ensure_ascii=False))
        return
    if summaries and summaries[0]["release_split"] is False:
        click.echo("note: this build's split is not the release's; the presets apply their rules to it")
    for item in summaries:
        movies, samples = item["movies"], item["samples"]
        click.echo(f"{item['preset']}: {item['summary']}")
        click.echo(f"  source: {item['source']}")
        click.echo("  movies: " + ", ".join(f"{s} {n}" for s, n in movies.items())
                   + ("" if samples == movies else "; samples: " + ", ".join(f"{s} {n}" for s, n in samples.items())))
        labels = item["labels"]
        click.echo(f"  labels: {len(labels)} ({', '.join(labels)})")
        click.echo(f"  text: {item['text_field']}")
        if item["note"]:
            click.echo(f"  note: {item['note']}")
        for rule, ids in item["dropped"].items():
            click.echo(f"  drops {len(ids)}: {rule}: {_ids(ids)}")
        if item["duplicated"]["movies"] and item["duplicated"]["rule"]:
            extra = sum(samples.values()) - sum(movies.values())
            click.echo(f"  duplicates {item['duplicated']['movies']} movies ({extra} extra samples): "
                       f"{item['duplicated']['rule']}: {_ids(item['duplicated']['ids'])}")
