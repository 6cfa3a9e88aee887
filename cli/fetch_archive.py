"""``mmimdb fetch --from-archive``: import the original release and print its summary."""
from __future__ import annotations

import sys

import click

from mmimdb import paths
from mmimdb.fetch.archive import REPORT_NAME, ImportReport, import_release
from mmimdb.errors import EXIT_ERROR

from .options import show_progress

#: How many ids a summary line lists before it says "and N more".
SHOWN_IDS = 10


def _ids(ids: list[str]) -> str:
    shown = ", ".join(sorted(ids)[:SHOWN_IDS])
    return shown + (f", and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


def echo_imported(report: ImportReport, what: str, data_root) -> None:
    """The warnings, then what was imported (``what``: e.g. ' from the vilt-arrow copy'),
    kept and skipped: the lines every import prints."""
    for message in report.messages:
        click.echo(f"warning: {message}", err=True)
    click.echo(f"imported {len(report.imported)} movies{what} into {paths.dataset_dir(data_root)}")
    if report.already_present:
        click.echo(f"already present (kept as they were): {len(report.already_present)}")
    for reason, ids in sorted(report.skipped.items()):
        click.echo(f"skipped, {reason}: {len(ids)} ({_ids(ids)})")


def import_archive_command(archive: str, sha256: str | None, root: str | None) -> None:
    """Run the import, print one line per skipped movie and a summary; exit 1 if any was skipped."""
    data_root = paths.data_root(root)
    report = import_release(archive, data_root, sha256=sha256, progress=show_progress())
    echo_imported(report, "", data_root)
    if report.split:
        counts = report.split["counts"]
        click.echo(f"split.json: train {counts['train']}, dev {counts['dev']}, test {counts['test']} -> {report.split['kept']}")
    click.echo(f"report: {data_root / REPORT_NAME}")
    if not report.complete:
        sys.exit(EXIT_ERROR)
