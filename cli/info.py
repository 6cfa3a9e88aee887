"""``mmimdb info``: what is on disk."""
from __future__ import annotations

import json

import click

from mmimdb import paths
from mmimdb.dataset.built import BuiltDataset
from mmimdb.dataset.info import describe
from mmimdb.records.split_file import SPLITS
from mmimdb.errors import EXIT_ERROR
from mmimdb.storage import manifest

from .options import root_option, show_progress


#: Width of the path column of the files table; longer paths keep their start and end.
PATH_WIDTH = 40


def _fit(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: the middle of a longer one becomes '...'."""
    if len(text) <= width:
        return text
    head = (width - 3) // 2
    return text[:head] + "..." + text[len(text) - (width - 3 - head):]


@click.command("info")
@root_option
@click.option("--checksums/--no-checksums", default=True, show_default=True, help="Compute the sha256 of each output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--verify", is_flag=True, help="Check every output against the sha256 the manifest recorded; exit 1 if any differs.")
def info(root: str | None, checksums: bool, as_json: bool, verify: bool) -> None:
    """Counts, genre table, paths and checksums of the data on disk."""
    if verify:
        _verify(paths.data_root(root))
        return
    summary = describe(root, checksums=checksums, progress=not as_json and show_progress())  # --json: nothing but the JSON
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"root:     {summary['root']}")
    click.echo(f"records:  {summary['records']} in {summary['records_dir']} ({summary['posters']} posters, "
               f"{summary['labels_per_movie']} labels per movie)")
    if summary["unreadable_records"]:
        click.echo(f"unreadable records: {len(summary['unreadable_records'])} ({', '.join(summary['unreadable_records'][:10])})")
    split = summary["split"]
    parts = [p for p in SPLITS if split and p in split.get("counts", {})]
    if split:
        detail = split.get("error") or ", ".join(f"{p} {split['counts'][p]}" for p in parts)
        click.echo(f"split:    {detail} ({split['path']}; ids without a record: {split.get('ids_without_record', '?')})")
    header = f"{'genre':<12} {'movies':>7} {'original':>8}" + "".join(f" {p:>6}" for p in parts)
    click.echo("\n" + header)
    for row in summary["genre_table"]:
        click.echo(f"{row['genre']:<12} {row['movies']:>7} {row['original']:>8}" + "".join(f" {row[p]:>6}" for p in parts))
    if summary["other_genres"]:
        click.echo("not labels: " + ", ".join(f"{name} {count}" for name, count in summary["other_genres"].items()))
    from mmimdb.benchmark.provenance import stale_results

    data_root = paths.data_root(root)
    stale = stale_results(data_root / "benchmark" / "results.json", paths.hdf5_path(data_root))
    if stale:
        click.echo(f"\nstale: {stale}; rerun `mmimdb benchmark`")
    if summary["files"]:
        click.echo("\nfiles:")
        for entry in summary["files"]:
            click.echo(f"  {_fit(entry['path'], PATH_WIDTH):<{PATH_WIDTH}} {entry['bytes']:>12,} B  {entry.get('sha256', '')}")


def _verify(root) -> None:
    from tqdm import tqdm

    data = BuiltDataset(root)
    listed = data.manifest.get(manifest.OUTPUTS, {})
    with tqdm(total=len(listed), unit="file", desc="verify", disable=not show_progress()) as bar:
        problems = data.verify(on_file=lambda name: (bar.set_postfix_str(name[-40:]), bar.update(1)))
    for problem in problems:
        click.echo(f"differs: {problem}", err=True)
    if problems:
        click.echo(f"error: {len(problems)} of {len(listed)} output(s) differ from {paths.manifest_path(root)}; "
                   "rebuild them (`mmimdb build`, `mmimdb build-features`)", err=True)
        raise SystemExit(EXIT_ERROR)
    click.echo(f"verified: {len(listed)} outputs match {paths.manifest_path(root)}")
