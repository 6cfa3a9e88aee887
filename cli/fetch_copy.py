"""``mmimdb fetch --from-copy``: import a copy of MM-IMDb and print what it differs in."""
from __future__ import annotations

import sys

import click

from mmimdb import paths
from mmimdb.dataset.built import BuiltDataset
from mmimdb.errors import EXIT_ERROR
from mmimdb.fetch.copies import REPORT_NAME, chat, import_copy, records_reference

from .fetch_archive import _ids, echo_imported
from .options import show_progress


def import_copy_command(source: str, layout: str | None, release_split: str | None, revision: str | None,
                        hub_include: tuple[str, ...], root: str | None, reference: str | None = None) -> None:
    """Run the import; one line per problem, a summary, the differences; exit 1 if any movie was skipped."""
    data_root = paths.data_root(root)
    report = import_copy(source, data_root, layout=layout, release_split=release_split, revision=revision,
                         hub_include=hub_include or None, reference=plot_reference(reference),
                         progress=show_progress())
    echo_imported(report, f" from the {report.layout} copy", data_root)
    if chat.NAME in report.layout_notes:
        for line in chat_lines(report.layout_notes[chat.NAME]):
            click.echo(f"chat copy: {line}")
    for line in difference_lines(report.differences, report.layout):
        click.echo(f"differs from the release: {line}")
    if report.copy_split:
        click.echo(f"the copy's split: {report.copy_split} (mmimdb build --split file --split-file {report.copy_split})")
    click.echo(f"report: {data_root / REPORT_NAME}")
    if not report.complete:
        sys.exit(EXIT_ERROR)


def plot_reference(root: str | None) -> chat.Reference | None:
    """``--reference ROOT``: the release's records under ROOT, else the chosen plots of the
    build in ROOT (read here, through the build's owner: the fetch stage does not read builds)."""
    if root is None:
        return None
    folder = paths.data_root(root)
    reference = chat.Reference.of_records(folder) if folder.is_dir() else None
    if reference is not None:
        return reference
    data = BuiltDataset(folder)
    if folder.is_dir() and data.is_built():
        return chat.Reference(zip(data.ids, data.plots()), f"the build in {folder} (its chosen plot per movie)")
    return records_reference(root)  # the one-line error naming what ROOT lacks


def difference_lines(found: dict, layout: str = "") -> list[str]:
    """One line per way the copy differs from the release (none when it does not)."""
    lines = []
    several = found["per_plot"]["movies_with_several_samples"]
    if several:
        lines.append(f"one sample per plot: {found['samples']} samples of {found['movies']} movies, collapsed")
    plots = found["per_plot"]["movies_with_several_plots"]
    if layout == "vilt-arrow" and plots:
        lines.append(f"one sample per plot in its readers (ViLT's index_mapper): {plots} movies have several plots")
    labels = found["label_set"]
    if labels["kind"] != "23":
        lines.append(f"label set {labels['kind']} (outside the 23: {', '.join(labels['outside_the_23']) or 'none'}; "
                     f"label widths {labels['label_widths']})")
    for modality, listed in found["missing"].items():
        if listed["count"]:
            lines.append(f"no {modality}: {listed['count']} movies ({_ids(listed['ids'])})")
    if "release" in found:
        lines.append(found["release"])
        return lines
    if found["not_in_release"]["count"]:
        lines.append(f"not in the release's split.json: {found['not_in_release']['count']} ids "
                     f"({_ids(found['not_in_release']['ids'])})")
    absent = found["release_not_in_copy"]
    if any(absent.values()):
        lines.append("release movies not in the copy: " + ", ".join(f"{name} {n}" for name, n in absent.items()))
    split = found["split"]
    if split["kind"] != "release":
        detail = f": {split['moved']} of {split['compared']} movies in another split than the release's" if "moved" in split else ""
        lines.append(f"split: {split['kind']}{detail}")
    return lines


def chat_lines(found: dict) -> list[str]:
    """How a chat copy's ids, plots and genres were recovered, one line each."""
    ids = ", ".join(f"{how} {n}" for how, n in found["ids"].items() if n)
    lines = [f"ids: {ids or 'none'}" + (f" (reference: {found['reference']})" if found["reference"] else "")]
    if found["no_ids"]:
        lines.append(found["no_ids"])
    lines.append("plot taken from: " + (", ".join(f"{rule} {n}" for rule, n in found["plot_taken_from"].items()) or "none"))
    answers = found["answers"]
    if answers["with pieces that are no genre"]:
        pieces = ", ".join(f"{piece!r} {n}" for piece, n in answers["pieces"].items())
        lines.append(f"answers with words that are no genre (not imported as genres): {answers['with pieces that are no genre']}"
                     f" ({pieces}{', ...' if answers.get('more_pieces') else ''})")
    return lines
