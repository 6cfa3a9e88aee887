"""What is on disk under a data root: counts, a genre table, paths and checksums.

>>> summary = describe(data_root())  # doctest: +SKIP
>>> summary["records"], summary["genres"]["Drama"]  # doctest: +SKIP
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ..records import genres as genre_vocabulary
from .. import paths
from ..storage.checksums import file_digest
from ..errors import MmimdbError, UsageError
from ..records.split_file import read_split_file
from ..records.store import RecordStore


_NO_DATA = "{root}: no data here yet; run `mmimdb fetch` first (or pass --root / set {env})"


def _not_outputs(root: Path) -> set[Path]:
    """Folders whose files are not listed: the records (counted instead), downloads, exports
    (a copy of every poster: hashing them would make `info` slow), and caches (Hugging Face's
    Arrow files and lock files with 150-character names, the encoders')."""
    return {paths.dataset_dir(root), paths.downloads_dir(root), paths.exports_dir(root),
            paths.huggingface_cache_dir(root), paths.features_cache_dir(root)}


def _output_files(root: Path) -> list[Path]:
    """Files under ``root`` that the stages wrote, sorted; hidden ones (locks, staging,
    partial results) and the folders of :func:`_not_outputs` are left out, unvisited."""
    skipped = _not_outputs(root)
    found = []
    for folder, folders, files in os.walk(root):
        here = Path(folder)
        folders[:] = [name for name in folders if not name.startswith(".") and here / name not in skipped]
        found += [here / name for name in files if not name.startswith(".") and (here / name).is_file()]
    return sorted(found, key=lambda path: path.relative_to(root).parts)


def describe(root: str | Path | None = None, checksums: bool = True, progress: bool = False) -> dict[str, Any]:
    """A summary of the data under ``root`` as a JSON-ready dict; ``progress`` shows bars
    (on stderr) while records are read and files hashed."""
    from tqdm import tqdm

    root = paths.data_root(root)
    if not root.is_dir():
        raise UsageError(_NO_DATA.format(root=root, env=paths.ENV_HOME))
    store = RecordStore(paths.dataset_dir(root))
    ids = store.ids()
    if not ids and not _output_files(root):  # a folder, but nothing a stage wrote: as for a missing one
        raise UsageError(_NO_DATA.format(root=root, env=paths.ENV_HOME))
    genre_counts: Counter[str] = Counter()
    labels_by_id: dict[str, list[str]] = {}
    unreadable: list[str] = []
    for imdb_id in tqdm(ids, desc="records", unit="movie", disable=not progress, leave=False, file=sys.stderr):
        try:
            movie = store.read(imdb_id, validate=False)
        except MmimdbError:
            unreadable.append(imdb_id)
            continue
        labels_by_id[imdb_id] = genre_vocabulary.labels_of(movie.get("genres") or [])
        genre_counts.update(movie.get("genres") or [])
    posters = sum(1 for imdb_id in ids if store.poster_path(imdb_id).is_file())

    split_summary = None
    per_split: dict[str, Counter[str]] = {}
    # The build's split when there is one, else the imported release's.
    split_file = next((path for path in (paths.split_path(root), paths.release_split_path(root)) if path.is_file()), None)
    if split_file is not None:
        try:
            split = read_split_file(split_file).ids
        except UsageError as error:
            split_summary = {"path": str(split_file), "error": f"unreadable: {error}"}
        else:
            split_summary = {"path": str(split_file), "counts": {part: len(ids_) for part, ids_ in split.items()},
                             "ids_without_record": sum(1 for part in split.values() for i in part if i not in labels_by_id)}
            for part, part_ids in split.items():
                per_split[part] = Counter(g for i in part_ids for g in labels_by_id.get(i, []))

    table = []
    for name in genre_vocabulary.GENRES:
        row = {"genre": name, "movies": genre_counts.get(name, 0), "original": genre_vocabulary.ORIGINAL_COUNTS[name]}
        for part, counts in per_split.items():
            row[part] = counts.get(name, 0)
        table.append(row)
    others = {name: count for name, count in genre_counts.items() if name not in genre_vocabulary.GENRE_INDEX}

    files = [{"path": str(path.relative_to(root)), "bytes": path.stat().st_size} for path in _output_files(root)]
    if checksums:
        with tqdm(total=sum(entry["bytes"] for entry in files), desc="sha256", unit="B", unit_scale=True,
                  disable=not progress, leave=False, file=sys.stderr) as bar:
            for entry in files:
                bar.set_postfix_str(entry["path"][-40:], refresh=False)
                entry["sha256"] = file_digest(root / entry["path"], on_bytes=bar.update)
    return {
        "root": str(root),
        "records_dir": str(store.directory),
        "records": len(ids),
        "posters": posters,
        "unreadable_records": unreadable,
        "labelled_movies": sum(1 for labels in labels_by_id.values() if labels),
        "labels_per_movie": round(sum(map(len, labels_by_id.values())) / max(1, len(labels_by_id)), 3),
        "genres": {row["genre"]: row["movies"] for row in table},
        "genre_table": table,
        "other_genres": dict(sorted(others.items(), key=lambda item: -item[1])),
        "split": split_summary,
        "files": files,
    }
