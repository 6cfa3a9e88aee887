"""``mmimdb report``: one HTML page to browse the build (and its benchmark) from disk."""
from __future__ import annotations

import click

from .options import folder_option, root_option


@click.command("report")
@root_option
@click.option("--results", "results", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="A benchmark folder (results.json, plots, runs/) to show [default: ROOT/benchmark when it exists].")
@folder_option("--out", "out", default=None, metavar="DIR",
               help="Where index.html, posters/ and details/ go [default: ROOT/report].")
def report(root: str | None, results: str | None, out: str | None) -> None:
    """Write a self-contained HTML report: Table 1, the card's figures, a movie browser
    (search, genre, split and missing-modality filters, each movie's plots, fields and
    provenance) and, with a benchmark, Table 2 and 3, every plot, per-genre errors, the
    qualitative examples and each test movie's predictions. Open it from disk: no server.

    \b
    mmimdb report                           # ROOT/report/index.html
    mmimdb report --results runs/benchmark  # another benchmark run
    """
    from mmimdb.report.page import write_report

    path = write_report(root, results, out, log=lambda message: click.echo(message, err=True))
    click.echo(f"wrote {path}")
