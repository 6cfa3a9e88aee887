"""``mmimdb build``: records -> split -> Parquet + HDF5 + split report + manifest."""
from __future__ import annotations

import click

from mmimdb import paths
from mmimdb.dataset.build import build as build_dataset
from mmimdb.records.genres import GENRE_CHOICES
from mmimdb.records.record import TEXT_CHOICES
from mmimdb.dataset.split import METHODS
from mmimdb.errors import StoppedEarly

from .options import root_option, show_progress


@click.command("build")
@click.option("--split", "method", type=click.Choice(METHODS), default="original", show_default=True,
              help="original: the release's procedure; iterative: multilabel iterative stratification; "
                   "file: the split in --split-file.")
@click.option("--split-file", type=click.Path(dir_okay=False), default=None,
              help="split.json to use with --split file (ids with or without 'tt').")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=None,  # numpy's seed range
              help="Seed of the shuffle (default: the original's [2014, 8, 6]; 20140806 for iterative).")
@click.option("--strict", is_flag=True, help="Stop on an unreadable record or poster, or an unknown id in "
                                               "--split-file, instead of leaving it out and reporting it.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes for the posters (default: all cores).")
@click.option("--text", type=click.Choice(TEXT_CHOICES), default="longest", show_default=True,
              help="The plot each movie keeps (and its text features read): the longest (the paper's), the first, "
                   "or the outline (the longest when there is none).")
@click.option("--genres", type=click.Choice(GENRE_CHOICES), default="23", show_default=True,
              help="23: the genres column holds the paper's 23 labels; all: also the others (News, Adult, ...). "
                   "The labels are the 23 either way.")
@root_option
def build(method: str, split_file: str | None, seed: int | None, strict: bool, workers: int | None, text: str,
          genres: str, root: str | None) -> None:
    """Split the records 60/10/30 and write Parquet, HDF5, the split report and a manifest."""
    data_root = paths.data_root(root)
    try:
        manifest = build_dataset(root, method=method, split_file=split_file, seed=seed, strict=strict,
                                 workers=workers, progress=show_progress(), text=text, genres=genres,
                                 log=lambda message: click.echo(message, err=True))
    except KeyboardInterrupt:
        # The build stages everything and moves it into place at the end: nothing to resume.
        raise StoppedEarly(f"interrupted before the new outputs were moved into place: the previous ones in {data_root} "
                           "are as they were; a build does not resume, rerun the same command to build again from the start") from None
    click.echo(paths.split_report_md_path(data_root).read_text("utf-8"))
    counts = manifest["counts"]
    click.echo(f"built {counts['total']} movies (train {counts['train']}, dev {counts['dev']}, test {counts['test']}; "
               f"{counts['excluded']} left out, see {paths.split_report_md_path(data_root)}) in {data_root}")
