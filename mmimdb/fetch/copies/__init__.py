"""Import a copy of MM-IMDb that is not the release archive: the layouts other projects wrote.

Each layout has a reader (what a row or line of it means) in this package:

* ``vilt-arrow``: :mod:`.vilt_arrow` (ViLT / missing-aware-prompts ``mmimdb_<split>.arrow``);
* ``mmbt-jsonl``: :mod:`.jsonl` (MMBT's and the transformers example's ``<split>.jsonl``);
* ``mmf``: :mod:`.jsonl` (MMF's ``annotations/<split>.jsonl`` + ``images/``);
* ``relayout``: :mod:`.relayout` (``split.json`` + ``images/`` + ``labels/`` or ``annotations/``);
* ``chat``: :mod:`.chat` (conversations: the plot asked, the genres answered; LLaVA, ShareGPT,
  Hugging Face ``messages`` + ``images``);

and a Hugging Face Hub dataset repository is fetched by :mod:`.hub`, then read as one of
these. The importer (:mod:`.importer`) collapses the samples of one id back into one movie,
writes it to the records store with provenance naming the copy, and reports what the copy
differs in from the release (:mod:`.differences`).

>>> report = import_copy("~/data/mmimdb-arrow", root="~/.cache/mmimdb")  # doctest: +SKIP
>>> report.layout, len(report.imported), report.differences["split"]["kind"]  # doctest: +SKIP
('vilt-arrow', 25959, 'release')
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ... import paths
from ...errors import UsageError
from . import chat, hub, jsonl, relayout, vilt_arrow
from .importer import COPY_SPLIT_NAME, REPORT_NAME, CopyReport, import_samples
from .samples import Problems, Sample

Reader = Callable[[Path, Problems], Iterator[Sample]]
#: Layout name -> (what it is, detect(folder), reader), in the order detection tries them.
LAYOUTS: dict[str, tuple[str, Callable[[Path], bool], Reader]] = {
    vilt_arrow.NAME: (vilt_arrow.DESCRIPTION, vilt_arrow.detect, vilt_arrow.samples),
    # Before the jsonl layouts: a chat copy's train.jsonl holds conversations, not MMBT's lines.
    chat.NAME: (chat.DESCRIPTION, chat.detect, chat.samples),
    jsonl.MMF: (jsonl.DESCRIPTIONS[jsonl.MMF], lambda folder: bool(jsonl.mmf_folders(folder)), jsonl.mmf_samples),
    jsonl.MMBT: (jsonl.DESCRIPTIONS[jsonl.MMBT], lambda folder: bool(jsonl.mmbt_folders(folder)), jsonl.mmbt_samples),
    relayout.NAME: (relayout.DESCRIPTION, relayout.detect, relayout.samples),
}

__all__ = ["LAYOUTS", "CopyReport", "REPORT_NAME", "COPY_SPLIT_NAME", "detect", "import_copy"]


def detect(folder: Path) -> str:
    """The layout of the copy in ``folder`` (the first of :data:`LAYOUTS` found in it)."""
    for name, (_, found, _) in LAYOUTS.items():
        if found(folder):
            return name
    if (folder / "dataset").is_dir() or (folder / "mmimdb" / "dataset").is_dir():
        raise UsageError(f"{folder}: this is the release's own layout; import it with --from-archive")
    raise UsageError(f"{folder}: no copy of MM-IMDb found in it (looked for {', '.join(LAYOUTS)}: "
                     "mmimdb_<split>.arrow, conversations in JSON, JSON lines or Parquet, annotations/<split>.jsonl, <split>.jsonl, "
                     "split.json + images/ + labels/)")


def records_reference(root: str | os.PathLike) -> chat.Reference:
    """The plots of the records under ``root`` as a :class:`.chat.Reference`; a
    :class:`UsageError` when ``root`` is no folder or holds no records."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{root}: no such data root (--reference)")
    reference = chat.Reference.of_records(folder)
    if reference is None:
        raise UsageError(f"{root}: --reference needs a data root with the release's records "
                         f"({paths.dataset_dir(folder)}) or a build, to match the copy's plots to ids")
    return reference


def import_copy(source: str | os.PathLike, root: str | os.PathLike | None = None, *, layout: str | None = None,
                release_split: str | os.PathLike | None = None, revision: str | None = None,
                hub_include: Sequence[str] | None = None,
                reference: str | os.PathLike | chat.Reference | None = None,
                progress: bool = True) -> CopyReport:
    """Import the copy at ``source`` (a folder, or a Hub dataset id such as ``user/mmimdb``)
    into ``<root>/dataset``; return the report (also saved as ``<root>/copy-report.json``).

    ``layout`` forces one of :data:`LAYOUTS` (default: detected). ``release_split`` is the
    release's ``split.json`` to compare with (default: ``<root>/release-split.json``, which
    ``--from-archive`` keeps). ``revision`` and ``hub_include`` (file patterns) apply to a Hub
    id (:func:`.hub.snapshot`). ``reference`` (a data root with the release's records, or a
    :class:`.chat.Reference` of other plots, such as a build's) gives a chat copy without ids
    its ids, by plot text (:mod:`.chat`). Movies already
    in the store are left as they are. Raises
    :class:`UsageError` for a wrong path or layout, :class:`~mmimdb.errors.MmimdbError` after
    the import for a damaged file (the movies read before the damage are kept).
    """
    root = paths.data_root(root)
    text = str(source)
    folder = Path(text).expanduser()
    if not folder.exists() and hub.is_hub_id(text):
        folder, name = hub.snapshot(text, root, revision=revision, include=hub_include)
    elif not folder.exists():
        raise UsageError(f"{folder}: no such folder (nor a Hub dataset id such as user/name)")
    elif not folder.is_dir():
        raise UsageError(f"{folder}: a copy is a folder (for mmimdb.tar.gz use --from-archive)")
    else:
        name = str(folder.resolve())
    if layout is not None and layout not in LAYOUTS:
        raise UsageError(f"unknown --layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    chosen = layout or detect(folder)
    reader = LAYOUTS[chosen][2]
    if reference is not None:
        if chosen != chat.NAME:
            raise UsageError(f"--reference matches a chat copy's plots to ids; this copy is {chosen}, whose ids it keeps")
        # Read before the import starts: a wrong reference writes nothing.
        if not isinstance(reference, chat.Reference):
            reference = records_reference(reference)
        reader = functools.partial(chat.samples, index=reference)
    return import_samples(reader, folder, chosen, name, root, release_split, progress)
