"""A preset applied to a build: per split, the movies the lineage keeps, their texts (one
sample per text) and genres, and the movies it drops, by rule.

The build's split and row order are the input (MMBT's script walks ``split.json`` in its
order; so does missing-aware-prompts'); the raw records (``<root>/dataset``) give what the
build's Parquet files do not keep: every raw plot with IMDbPY's ``::author`` suffix, and
every genre.

>>> prepared = prepare("~/.cache/mmimdb", "mmbt")  # doctest: +SKIP
>>> len(prepared.splits["train"]), sorted(prepared.dropped)  # doctest: +SKIP
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import UsageError
from ..records.genres import labels_of
from ..records.record import plot_texts
from ..records.split_file import SPLITS, read_split_file
from ..records.store import RecordStore
from . import presets as rules
from .presets import PRESETS, Preset


@dataclass
class Sample:
    """One movie as a preset gives it: one sample per text."""

    imdb_id: str
    split: str
    texts: list[str]
    genres: list[str]


@dataclass
class Prepared:
    """A preset applied to a build."""

    preset: Preset
    splits: dict[str, list[Sample]]
    #: Rule -> ids (``tt...``) the preset drops, in build order.
    dropped: dict[str, list[str]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    #: Whether the build's split is the release's (presets assume it).
    release_split: bool | None = None

    def kept(self, split: str) -> dict[str, Sample]:
        return {sample.imdb_id: sample for sample in self.splits[split]}

    def summary(self) -> dict[str, Any]:
        """Counts per split, label set, text field, drops and duplicates (for ``mmimdb protocols``)."""
        several = [s.imdb_id for split in SPLITS for s in self.splits[split] if len(s.texts) > 1]
        return {
            "preset": self.preset.name, "summary": self.preset.summary, "source": self.preset.source,
            "movies": {split: len(self.splits[split]) for split in SPLITS},
            "samples": {split: sum(len(s.texts) for s in self.splits[split]) for split in SPLITS},
            "labels": self.labels, "text_field": self.preset.text_field,
            "dropped": {rule: ids for rule, ids in self.dropped.items() if ids},
            "duplicated": {"movies": len(several), "ids": several,
                           "rule": "one sample per plot" if self.preset.per_plot else None},
            "release_split": self.release_split,
            "note": self._rows_note(),
        }

    def _rows_note(self) -> str | None:
        """Where the lineage's reader hard-codes row ranges this build does not have."""
        fixed = self.preset.fixed_rows
        built = {split: len(self.splits[split]) for split in SPLITS}
        if fixed is None or fixed == built:
            return None
        return ("its reader hard-codes the release's rows (" + ", ".join(f"{s} {n}" for s, n in fixed.items())
                + "); this build has " + ", ".join(f"{s} {n}" for s, n in built.items()) + ": it would read wrong rows")


def _raw_longest(record: dict[str, Any]) -> str:
    plots = [text for text in record.get("plot") or [] if isinstance(text, str)]
    # numpy's argmax over the lengths: the first of the longest.
    return max(plots, key=len) if plots else ""


def _texts(preset: Preset, record: dict[str, Any]) -> list[str]:
    raw = [text for text in record.get("plot") or [] if isinstance(text, str)]
    if preset.text == "longest-raw":
        return [_raw_longest(record)]
    if preset.text == "all-raw":
        return raw
    if preset.text == "first-raw":
        return raw[:1]
    plain = plot_texts(record)
    if preset.text == "first":
        return plain[:1]
    return [max(plain, key=len)] if plain else [""]


def _build_ids(root: Path) -> dict[str, list[str]]:
    from ..export.rows import split_ids

    return {split: split_ids(root, split) for split in SPLITS}


def _is_release_split(root: Path, ids: dict[str, list[str]]) -> bool | None:
    path = paths.release_split_path(root)
    if not path.is_file():
        return None
    release = read_split_file(path).ids
    built = {i: split for split in SPLITS for i in ids[split]}
    return all(built.get(i, split) == split for split in SPLITS for i in release[split])


def prepare(root: str | os.PathLike | None, name: str) -> Prepared:
    """Apply preset ``name`` to the build under ``root``."""
    if name not in PRESETS:
        raise UsageError(f"unknown protocol {name!r}; use one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    root = paths.data_root(root)
    ids = _build_ids(root)
    store = RecordStore(paths.dataset_dir(root))
    prepared = Prepared(preset, {split: [] for split in SPLITS}, release_split=_is_release_split(root, ids))
    train_genres: set[str] = set()
    for split in SPLITS:
        for imdb_id in ids[split]:
            if imdb_id not in store:
                raise UsageError(f"{store.directory} has no record of {imdb_id}, which the protocols read; rebuild")
            record = store.read(imdb_id, validate=False)
            # 'all': the record's genres as written (MMBT and missing-aware-prompts copy the list).
            genres = list(record.get("genres") or []) if preset.genres == "all" else labels_of(record.get("genres") or [])
            texts = _texts(preset, record)
            reason = None
            if preset.mmbt_rules:
                raw_genres = list(record.get("genres") or [])
                if "News" in raw_genres:
                    reason = rules.NEWS
                elif split == "train":
                    train_genres.update(raw_genres)  # before the text check, as the script does
                elif any(g not in train_genres for g in raw_genres):
                    reason = rules.UNSEEN_IN_TRAIN
                if reason is None and not texts[0]:
                    reason = rules.EMPTY_TEXT
            if reason is None and preset.train_and_dev_only and split == "test":
                reason = rules.NO_TEST
            if reason is None and preset.test_only and split != "test":
                reason = rules.TEST_ONLY
            if reason is None and preset.drop_outside_labels and any(g not in preset.labels for g in genres):
                reason = rules.OUTSIDE_LABELS
            if reason is not None:
                prepared.dropped.setdefault(reason, []).append(imdb_id)
                continue
            prepared.splits[split].append(Sample(imdb_id, split, texts, genres))
    if preset.labels is not None:
        prepared.labels = list(preset.labels)
    else:  # MMBT: label list in order of first appearance in the written train file
        prepared.labels = list(dict.fromkeys(g for s in prepared.splits["train"] for g in s.genres))
    return prepared


def sample_rows(prepared: Prepared, split: str, ids: list[str]) -> tuple[list[int], list[str], list[list[str]]]:
    """For a split's rows (their ``ids``, in row order): the row of each of the preset's
    samples (a per-plot preset repeats a movie's row), its text and its genres."""
    kept = prepared.kept(split)
    indices: list[int] = []
    texts: list[str] = []
    genres: list[list[str]] = []
    for row, imdb_id in enumerate(ids):
        sample = kept.get(imdb_id)
        for text in (sample.texts if sample is not None else []):
            indices.append(row)
            texts.append(text)
            genres.append(sample.genres)
    return indices, texts, genres


def select_rows(prepared: Prepared, split: str, table: Any, arrays: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The rows of a split's table (and of row-aligned ``arrays``) as the preset gives them:
    its movies only, one row per sample (a per-plot preset repeats a movie), ``plot`` = the
    sample's text and ``genres`` = the preset's genres. ``labels`` stays the 23-genre vector."""
    import numpy as np
    import pyarrow as pa

    indices, texts, genres = sample_rows(prepared, split, table.column("imdb_id").to_pylist())
    taken = table.take(pa.array(indices, type=pa.int64()))
    for name, values in (("plot", pa.array(texts, pa.string())), ("genres", pa.array(genres, pa.list_(pa.string())))):
        if name in taken.column_names:
            taken = taken.set_column(taken.column_names.index(name), name, values)
    return taken, {name: np.asarray(values)[indices] for name, values in arrays.items()}
