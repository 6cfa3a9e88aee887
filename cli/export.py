"""``mmimdb export``: the built dataset in the formats other projects read unchanged."""
from __future__ import annotations

import click

from mmimdb.export import FORMATS, GENRE_CHOICES, TEXT_CHOICES, export as export_dataset

from .options import folder_option, root_option, show_progress


# Choices are checked by the library, so a wrong value ends as one line like every error.
@click.command("export")
@click.option("--format", "format_", required=True, metavar="|".join(FORMATS),
              help="jsonl: transformers mm-imdb example + MMBT; mmf: MMF's layout; arrow: ViLT missing-modality "
                   "readers; hdf5: the original HDF5 file (MultiBench); fiftyone: a FiftyOne dataset with a "
                   "benchmark's predictions.")
@folder_option("--out", default=None, metavar="DIR",
              help="Folder to write [default: ROOT/exports/FORMAT; ROOT/exports/jsonl/mmimdb for jsonl].")
@click.option("--text", default="longest", show_default=True, metavar="|".join(TEXT_CHOICES),
              help="longest: the paper's longest plot; first; outline (else the longest plot); "
                   "all: every plot (one sample per plot).")
@click.option("--genres", default="23", show_default=True, metavar="|".join(GENRE_CHOICES),
              help="23: the release's labels (drops News, Adult, Talk-Show, Reality-TV, ...); all: keep every genre.")
@click.option("--test-hard-ids", type=click.Path(dir_okay=False), default=None,
              help="jsonl: ids of MMBT's hard test subset (JSON list, {\"mmimdb\": [...]} or one a line) "
                   "-> test_hard_gt.jsonl.")
@click.option("--protocol", default=None, metavar="NAME",
              help="A lineage's data (see `mmimdb protocols`): paper, multibench, mmbt, transformers, mmf, map, "
                   "map-single; it sets the movies, texts and genres.")
@click.option("--name", default=None, metavar="NAME",
              help="fiftyone: the dataset's name in FiftyOne [default: mmimdb-<root folder name>].")
@click.option("--results", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="fiftyone: the benchmark folder whose test predictions and GMU gates the samples carry "
                   "[default: ROOT/benchmark when it exists].")
@root_option
def export(format_: str, out: str | None, text: str, genres: str, test_hard_ids: str | None, protocol: str | None,
           name: str | None, results: str | None, root: str | None) -> None:
    """Export the built dataset (`mmimdb build`) for another project's loader.

    \b
    mmimdb export --format jsonl --test-hard-ids hard_gt_ids.json
    mmimdb export --format arrow --text all
    mmimdb export --format mmf --out ~/.cache/torch/mmf/data
    mmimdb export --format fiftyone --results runs/benchmark
    """
    summary = export_dataset(format_, root=root, out=out, text=text, genres=genres, test_hard_ids=test_hard_ids,
                             progress=show_progress(), protocol=protocol, name=name, results=results)
    for warning in summary["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    counts = ", ".join(f"{split} {summary['movies'][split]}" for split in summary["movies"])
    extra = "" if summary["samples"] == summary["movies"] else \
        " (" + ", ".join(f"{split} {n}" for split, n in summary["samples"].items()) + " samples)"
    click.echo(f"exported {format_} (text {summary['text']}, genres {summary['genres']}): {counts} movies{extra} "
               f"to {summary['out']}")
    click.echo(f"reader: {summary['reader']}".replace("NAME", summary.get("dataset", "NAME")))
    if "predictions" in summary:
        made = ", ".join(f"{label} {count}" for label, count in summary["predictions"].items())
        click.echo(f"FiftyOne dataset {summary['dataset']}: predictions of {made or 'no model'} (test movies)")
    for rule, count in summary.get("dropped", {}).items():
        click.echo(f"protocol {protocol}: dropped {count} movies: {rule}")
