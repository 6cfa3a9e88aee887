"""``mmimdb card``: dataset card (README.md), figures and croissant.json of the built dataset."""
from __future__ import annotations

import click

from mmimdb.card import write_card

from .options import folder_option, root_option, show_progress


@click.command("card")
@folder_option("--out", default=None, metavar="DIR",
              help="Folder for README.md, croissant.json and figures/ [default: ROOT, beside the data].")
@root_option
def card(out: str | None, root: str | None) -> None:
    """Write a dataset card (Hugging Face header + Datasheets for Datasets), PNG figures and
    Croissant 1.1 metadata for the built dataset."""
    entry = write_card(root, out, progress=show_progress())
    movies = entry["movies"]
    click.echo(f"card for {movies['total']} movies (train {movies['train']}, dev {movies['dev']}, test {movies['test']}):")
    for name in entry["files"]:
        click.echo(f"  {entry['out']}/{name}")
