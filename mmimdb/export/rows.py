"""What every export reads: the built rows of a split, with the text and genre choices applied.

The rows come from the build's Parquet files (``<root>/parquet/<split>.parquet``): ids,
labels, the longest plot, the outline and the poster bytes, in split order. The choices
that the Parquet files do not hold (the first plot, every plot, genres outside the 23) are
read from the records store the build read (``<root>/dataset``).

Text (``--text``):

* ``longest``: the longest plot, what the paper used (the default);
* ``first``: the first plot of the record;
* ``outline``: the plot outline, or the longest plot when the movie has none (counted);
* ``all``: every plot, for readers that make one sample per plot.

Genres (``--genres``): ``23``, the release's labels (the default; News, Adult, Talk-Show,
Reality-TV and any other genre are dropped, as some readers crash on a 24th name), or
``all``, every genre of the record (the 23 in label order, then the others).
"""
from __future__ import annotations

import os
import shutil
from collections import Counter
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import paths
from ..storage import atomic, manifest
from ..errors import UsageError
from ..dataset.built import BuiltDataset
from ..records.genres import GENRE_CHOICES, all_genres, labels_of
from ..records.record import chosen_plot, file_id, plot_texts
from ..records.split_file import SPLITS
from ..records.store import RecordStore

TEXT_CHOICES: tuple[str, ...] = ("longest", "first", "outline", "all")
#: Parquet rows read at once: posters are about 30 kB, so a batch is a few MB.
BATCH_ROWS = 256
#: File that marks a folder as an mmimdb export (so that a rerun may replace it).
MARKER = "mmimdb-export.json"
_COLUMNS = ["imdb_id", "genres", "labels", "plot", "plot_outline", "poster"]
#: Leading bytes of the image formats a poster can have -> file suffix.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", ".jpeg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"GIF87a", ".gif"), (b"GIF89a", ".gif"),
)


@dataclass(frozen=True)
class Choices:
    """The text and genre choices of an export (see the module docstring)."""

    text: str = "longest"
    genres: str = "23"
    #: A protocol preset (:mod:`mmimdb.protocols`) applied to the build: its movies, texts and
    #: genres replace the choices above.
    protocol: str | None = None
    prepared: Any = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.text not in TEXT_CHOICES:
            raise UsageError(f"unknown --text {self.text!r}; use one of {', '.join(TEXT_CHOICES)}")
        if self.genres not in GENRE_CHOICES:
            raise UsageError(f"unknown --genres {self.genres!r}; use one of {', '.join(GENRE_CHOICES)}")

    @property
    def needs_records(self) -> bool:
        """Whether the records store must be read (the Parquet files lack what is asked)."""
        return self.text in ("first", "all") or self.genres == "all"


@dataclass
class Movie:
    """One movie of a split as the exports write it."""

    imdb_id: str            # 'tt0114709'
    split: str
    texts: list[str]        # one text, or every plot with --text all
    genres: list[str]       # genre names, per the genre choice
    labels: list[int]       # the 23-entry multi-hot vector, in GENRES order (always the 23)
    poster: bytes
    outline_missing: bool = False  # --text outline fell back to the longest plot

    @property
    def file_id(self) -> str:
        """The id as the release names files: 7 digits, no 'tt'."""
        return file_id(self.imdb_id)

    @property
    def poster_name(self) -> str:
        """The poster's file name, with the extension of its real format."""
        return self.file_id + poster_suffix(self.poster)


def poster_suffix(data: bytes) -> str:
    """``.jpeg``, ``.png`` or ``.gif`` from the leading bytes (the store names every poster
    ``.jpeg``; readers that pick a decoder by extension need the true one)."""
    for signature, suffix in _SIGNATURES:
        if data.startswith(signature):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return ".jpeg"


def _texts(choices: Choices, row: dict[str, Any], record: dict[str, Any] | None,
           build_text: str = "longest") -> tuple[list[str], bool]:
    # The Parquet ``plot`` is the build's text choice: the longest plot unless the build chose another.
    longest = row["plot"] if build_text == "longest" else chosen_plot(record or {}, "longest")
    if choices.text == "longest":
        return [longest], False
    if choices.text == "outline":
        outline = (row.get("plot_outline") or "").strip()
        return ([outline], False) if outline else ([longest], True)
    plots = [text for text in plot_texts(record or {}) if text.strip()]
    return (plots if choices.text == "all" else plots[:1]), False


def check_built(root: Path) -> BuiltDataset:
    """The built dataset of ``root``; :class:`UsageError` (saying to run ``mmimdb build``)
    unless every split is built, :class:`MmimdbError` if a split file's bytes differ from
    the manifest (an export publishes them)."""
    data = BuiltDataset(root)
    data.check_digests([data.require_split(split) for split in SPLITS])
    return data


def split_size(root: Path, split: str) -> int:
    """Movies in ``split`` (from the Parquet footer, without reading rows)."""
    return BuiltDataset(root).row_count(split)


def split_ids(root: Path, split: str) -> list[str]:
    """The ids (``tt...``) of ``split``, in row order."""
    return BuiltDataset(root).parquet_ids(split)


def movies(root: Path, split: str, choices: Choices, tally: Counter[str] | None = None) -> Iterator[Movie]:
    """The movies of ``split`` in the build's row order, with ``choices`` applied, read one
    row group at a time.

    ``tally["outline_fallbacks"]`` counts the movies whose outline was missing (``--text
    outline`` then gives the longest plot)."""
    data = BuiltDataset(root)
    kept = choices.prepared.kept(split) if choices.prepared is not None else None
    build_text = data.text_choice
    needs_records = kept is None and (choices.needs_records or (build_text != "longest" and choices.text in ("longest", "outline")))
    store = RecordStore(paths.dataset_dir(root)) if needs_records else None
    for batch in data.batches(split, _COLUMNS, BATCH_ROWS):
        for row in batch.to_pylist():
            if kept is not None:  # the preset chose the movies, their texts and genres
                if row["imdb_id"] in kept:
                    sample = kept[row["imdb_id"]]
                    yield Movie(row["imdb_id"], split, sample.texts, sample.genres, [int(v) for v in row["labels"]],
                                row["poster"]["bytes"])
                continue
            record = None
            if store is not None:
                if row["imdb_id"] not in store:
                    raise UsageError(f"{store.directory} has no record of {row['imdb_id']}, which --text {choices.text} / "
                                     f"--genres {choices.genres} need; rebuild or use --text longest --genres 23")
                record = store.read(row["imdb_id"], validate=False)
            texts, outline_missing = _texts(choices, row, record, build_text)
            if tally is not None and outline_missing:
                tally["outline_fallbacks"] += 1
            genres = all_genres(record.get("genres") or []) if choices.genres == "all" and record else labels_of(row["genres"])
            yield Movie(row["imdb_id"], split, texts, genres, [int(v) for v in row["labels"]],
                        row["poster"]["bytes"], outline_missing)


def default_out(root: Path, format: str) -> Path:
    return paths.exports_dir(root) / format


def _remove_dead_stagings(out: Path) -> None:
    """Remove the staging and old folders of ``out`` whose export was killed (its pid is in
    the name and no longer runs); a live export's stay."""
    for leftover in out.parent.glob(f".{out.name}.*"):
        kind, _, rest = leftover.name[len(out.name) + 2:].partition("-")
        pid = rest.split("-")[0]
        if kind in ("partial", "old") and pid.isdigit() and leftover.is_dir() and not atomic.process_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A staging folder beside ``out`` that replaces ``out`` when the block succeeds.

    An interrupted or failed export leaves the previous one as it was. ``out`` may be
    missing, empty, or a previous export (it holds :data:`MARKER`); anything else is
    refused rather than deleted.
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UsageError(f"--out {out}: the folder is not empty and is not an mmimdb export; choose another --out")
    made = [folder for folder in (out.parent, *out.parent.parents) if not folder.exists()]  # innermost first
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_stagings(out)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=out.parent))
    except OSError as error:
        raise UsageError(f"--out {out}: cannot write there ({error.strerror or error})") from None
    try:
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            for folder in made:  # no empty exports/jsonl/ left behind by a failed export
                try:
                    folder.rmdir()
                except OSError:
                    break
            raise
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(staging, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def record_export(root: Path, format: str, entry: dict[str, Any]) -> None:
    """Say in the manifest what the export of ``format`` wrote, with which choices."""
    manifest.record(root, "exports", format, entry)
