"""``mmimdb card``: a dataset card for the built dataset, its figures and ``croissant.json``.

Written next to the data by default (``<root>/README.md``, ``<root>/croissant.json``,
``<root>/figures/*.png``) so that the card's relative paths (Hugging Face ``data_files``,
Croissant ``contentUrl``) point at the build's files; with ``out`` they are made relative
to that folder instead.

>>> written = write_card("~/.cache/mmimdb")    # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import paths
from ..storage import atomic, lock, manifest
from ..storage.checksums import sha256_of
from ..dataset.built import BuiltDataset
from ..errors import MmimdbError, UsageError
from . import croissant, datasheet, figures, stats as dataset_stats
from .stats import summary


@lock.reads_root("mmimdb card")
def write_card(root: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
               progress: bool = False) -> dict[str, Any]:
    """Write the card, the figures and ``croissant.json`` for the build under ``root``;
    record them in the manifest; return the manifest entry (paths and sha256)."""
    root = paths.data_root(root)
    build = BuiltDataset(root).manifest
    folder = Path(out).expanduser() if out is not None else root
    # The build is read first: a wrong --root says so without leaving a new empty folder there.
    stats = dataset_stats.collect(root, progress)  # says to build first when there is no dataset
    _check_published(root, build)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out {folder}: cannot write there ({error.strerror or error})") from None
    figures_folder = paths.figures_dir(folder)
    for written_before in (folder, figures_folder):  # what a killed card left (a live one's stays)
        if written_before.is_dir():
            atomic.remove_stale_temporaries(written_before)
    written = figures.draw_all(stats, figures_folder)
    card_file, croissant_file = paths.card_path(folder), paths.croissant_path(folder)
    atomic.write_bytes(card_file, datasheet.card(root, folder, figures_folder, stats, build).encode("utf-8"))
    document = croissant.metadata(root, folder, stats, build)
    atomic.write_bytes(croissant_file, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    written += [card_file, croissant_file]
    entry = {"out": str(folder.resolve()), **summary(stats),
             "files": {os.path.relpath(path, folder): sha256_of(path) for path in written}}
    # One entry per place a card was written ("." = beside the data).
    where = os.path.relpath(folder.resolve(), root.resolve())
    inside = not where.startswith("..")
    manifest.record(root, "card", where if inside else str(folder.resolve()), entry,
                    outputs=[os.path.relpath(path.resolve(), root.resolve()) for path in written] if inside else ())
    return entry


def _check_published(root: Path, build: dict[str, Any]) -> None:
    """The files croissant.json publishes (with their sha256 and size) must be the ones the
    build wrote: a truncated or changed file is one line (exit 1), not a card that vouches
    for it."""
    listed = build.get(manifest.OUTPUTS, {})
    published = [name for name in croissant.published_files(root) if name in listed]
    problems = manifest.verify(root, only=published)
    if problems:
        raise MmimdbError(f"{problems[0]}{f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''}; "
                          "the card would publish it: rebuild with `mmimdb build`")
