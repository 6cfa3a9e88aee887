"""From a copy's samples to records: one movie per id, written to the store, and the report.

Samples of one id (one per plot, or repeated rows) are collapsed into one movie: its plots
are the distinct texts in the order they came, its genres and split the first sample's (a
sample that disagrees is reported). The first readable poster of the movie waits in a
staging folder inside the data root until the whole copy is read; then each movie is
checked as the release import checks one (schema, the paper's filter, a full poster decode)
and written. Nothing is written outside the data root.
"""
from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from tqdm import tqdm

from ... import paths
from ...records import posters as images, record as records, split_file as splits
from ...records.store import RecordStore
from ...errors import ImageError, MmimdbError, RecordError
from ...storage import atomic, lock
from ..archive import ImportReport
from .differences import Seen, differences
from .samples import PosterTooLarge, Sample

REPORT_NAME = "copy-report.json"
#: The copy's own split of the imported movies (for ``mmimdb build --split file``).
COPY_SPLIT_NAME = "copy-split.json"
STAGING_NAME = ".copy-staging"


class CopyDamaged(MmimdbError):
    """A file of the copy is damaged; the movies read before the damage were imported."""


@dataclass
class CopyReport(ImportReport):
    """An import report (:class:`~mmimdb.fetch.archive.ImportReport`) plus the copy's layout,
    its damaged files and what it differs in from the release."""

    layout: str = ""
    damaged_files: list[str] = field(default_factory=list)
    differences: dict[str, Any] = field(default_factory=dict)
    copy_split: str | None = None
    #: Per layout, what its reader found (:meth:`note`).
    layout_notes: dict[str, Any] = field(default_factory=dict)

    def damaged(self, message: str) -> None:
        self.damaged_files.append(message)
        self.messages.append(message)

    def note(self, section: str, found: dict[str, Any]) -> None:
        self.layout_notes[section] = found

    @property
    def complete(self) -> bool:
        return super().complete and not self.damaged_files

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "layout": self.layout, "damaged_files": self.damaged_files,
                "differences": self.differences, "copy_split": self.copy_split, **self.layout_notes}


@dataclass
class _Movie:
    """What the copy says about one id so far."""

    first: Sample
    texts: list[str] = field(default_factory=list)
    samples: int = 0
    poster: Path | None = None
    poster_problem: str | None = None


class _Collector:
    def __init__(self, staging: Path, report: CopyReport):
        self.staging = staging
        self.report = report
        self.movies: dict[str, _Movie] = {}

    def add(self, sample: Sample) -> None:
        movie = self.movies.get(sample.file_id)
        if movie is None:
            movie = self.movies[sample.file_id] = _Movie(sample)
        elif (sample.genres and sample.genres != movie.first.genres) or (sample.split and sample.split != movie.first.split):
            self.report.messages.append(f"tt{sample.file_id}: {sample.where} gives other genres or another split than "
                                        f"{movie.first.where}; kept the first")
        movie.samples += 1
        movie.texts.extend(text for text in sample.texts if text not in movie.texts)
        if movie.poster is None:
            self._stage_poster(movie, sample)

    def _stage_poster(self, movie: _Movie, sample: Sample) -> None:
        if sample.poster is None:
            movie.poster_problem = movie.poster_problem or sample.poster_problem
            return
        try:
            data = sample.poster()
        except (PosterTooLarge, PermissionError) as error:
            movie.poster_problem = str(error)
            return
        except OSError as error:
            movie.poster_problem = f"image unreadable ({error.strerror or error})"
            return
        if len(data) > images.MAX_POSTER_BYTES:
            movie.poster_problem = f"image over the {images.MAX_POSTER_BYTES}-byte cap"
            return
        movie.poster = self.staging / f"{sample.file_id}.poster"
        movie.poster.write_bytes(data)
        movie.poster_problem = None


def _record(file_id: str, movie: _Movie, provenance: str) -> dict[str, Any]:
    """The normalized record of a collapsed movie (no poster yet)."""
    sample = movie.first
    if sample.record is not None:
        record = records.from_imdbpy(file_id, sample.record)
        # The poster's URLs are the record's; its file, digest and size are this import's.
        urls = {k: v for k, v in (record.pop("poster", None) or {}).items() if k in records.POSTER_URL_KEYS}
        if urls:
            record["poster"] = urls
    else:
        # The copy carries no title: the record says so rather than invent one.
        record = {"imdb_id": "tt" + file_id, "title": ""}
        if sample.genres:
            record["genres"] = list(sample.genres)
        if movie.texts:
            record["plot"] = list(movie.texts)
    record["sources"] = {name: provenance for name in record if name not in ("imdb_id", "extra", "sources", "title")
                         or (name == "title" and record["title"])}
    return record


def _write(store: RecordStore, file_id: str, movie: _Movie, provenance: str, report: CopyReport) -> None:
    imdb_id = "tt" + file_id
    try:
        record = _record(file_id, movie, provenance)
    except (RecordError, ValueError) as error:
        report.skip(imdb_id, "invalid record", f"{imdb_id}: {error}")
        return
    if movie.poster is None:
        reason = movie.poster_problem or "no poster"
        report.skip(imdb_id, "no poster" if reason in ("no poster", "no image named", "no image in the row")
                    else "poster refused", f"{imdb_id}: {reason} ({movie.first.where})")
        return
    poster = movie.poster.read_bytes()
    try:
        info = images.check_poster(poster, f"{imdb_id}: poster ({movie.first.where})")
    except ImageError as error:
        report.skip(imdb_id, "unreadable image", str(error))
        return
    record["poster"] = {**record.get("poster", {}), "file": f"{file_id}.jpeg", "sha256": info.sha256,
                        "width": info.width, "height": info.height}
    record["sources"]["poster"] = provenance
    try:
        # Checked against the schema before the dataset's rule reads it: a copy's plot list
        # may hold a null (benchmarks/fuzz.py found missing_for_dataset failing on one).
        records.validate(record)
    except RecordError as error:
        report.skip(imdb_id, "invalid record", str(error))
        return
    missing = records.missing_for_dataset(record)
    if missing:
        report.skip(imdb_id, missing, f"{imdb_id}: {missing} ({movie.first.where})")
        return
    store.write(record, poster)  # validated above: the store's own check passes
    report.imported.append(imdb_id)


def _release_split(root: Path, given: str | Path | None) -> splits.SplitFile | None:
    if given is not None:
        return splits.read_split_file(given)
    path = paths.release_split_path(root)
    return splits.read_split_file(path) if path.is_file() else None


def import_samples(reader: Callable[[Path, Any], Iterator[Sample]], folder: Path, layout: str, name: str, root: Path,
                   release_split: str | Path | None, progress: bool) -> CopyReport:
    """Read every sample of the copy, write its movies, save and return the report."""
    release = _release_split(root, release_split)
    report = CopyReport(source=name, layout=layout)
    provenance = f"copy:{layout}:{name}"
    with lock.exclusive(root, "mmimdb fetch --from-copy"):
        store = RecordStore(paths.dataset_dir(root))
        store.directory.mkdir(parents=True, exist_ok=True)
        store.clean()
        staging = root / STAGING_NAME
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        collector = _Collector(staging, report)
        try:
            bar = tqdm(unit=" samples", desc=f"read {layout}", disable=not progress, file=sys.stderr)
            for sample in reader(folder, report):
                if "tt" + sample.file_id in store:
                    if sample.file_id not in collector.movies:
                        report.already_present.append("tt" + sample.file_id)
                    collector.movies.setdefault(sample.file_id, _Movie(sample)).samples += 1
                    continue
                collector.add(sample)
                bar.update()
            bar.close()
            present = set(report.already_present)
            for file_id, movie in tqdm(collector.movies.items(), unit=" movies", desc="import", disable=not progress,
                                       file=sys.stderr):
                if "tt" + file_id not in present:
                    _write(store, file_id, movie, provenance, report)
        except BaseException as error:
            report.fatal = str(error) or type(error).__name__
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            seen = {file_id: Seen(m.first.split, m.first.genres, len(m.texts), m.samples,
                                  m.poster is not None or "tt" + file_id in report.already_present, m.first.label_width)
                    for file_id, m in collector.movies.items()}
            report.differences = differences(seen, release)
            kept = set(report.imported) | set(report.already_present)
            by_split = {part: ["tt" + i for i, m in collector.movies.items() if "tt" + i in kept and m.first.split == part]
                        for part in splits.SPLITS}
            if kept and sum(len(ids) for ids in by_split.values()) == len(kept):
                splits.write_split_file(root / COPY_SPLIT_NAME, by_split)
                report.copy_split = str(root / COPY_SPLIT_NAME)
            atomic.write_json(root / REPORT_NAME, report.to_json())
    if report.damaged_files:
        raise CopyDamaged(f"{report.damaged_files[0]}; {len(report.imported)} movies imported, rerun with a whole file "
                          "for the rest")
    return report
