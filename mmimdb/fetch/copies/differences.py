"""What a copy differs in from the release: ids, split, label set, missing modalities, and
one sample per plot. Pure data in, data out; the importer feeds it what it read.

>>> seen = {"0000001": Seen("train", ["Drama"], 1, 1, True)}
>>> differences(seen, None)["label_set"]["kind"]
'23'
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...records.genres import DROPPED_GENRES, GENRES
from ...records.split_file import SPLITS, SplitFile
from ...records.record import file_id

#: Ids a report lists in full before it gives only the count.
LISTED = 50


@dataclass
class Seen:
    """One movie of a copy, as the report needs it."""

    split: str | None
    genres: list[str]
    texts: int          # distinct plot texts
    samples: int        # rows or lines of the copy that carry the movie
    poster: bool
    label_width: int | None = None


def _listed(ids: list[str]) -> dict[str, Any]:
    ids = sorted(ids)
    return {"count": len(ids), "ids": ids[:LISTED], **({"more": len(ids) - LISTED} if len(ids) > LISTED else {})}


def label_set(genres: set[str], widths: set[int]) -> dict[str, Any]:
    """``23`` (within the release's labels), ``27`` (the 23 plus the four genres the release
    dropped: News, Adult, Talk-Show, Reality-TV), or ``other``."""
    outside = sorted(genres - set(GENRES))
    if not outside and widths <= {len(GENRES)}:
        kind = "23"
    elif set(outside) <= set(DROPPED_GENRES) and widths <= {len(GENRES), len(GENRES) + len(DROPPED_GENRES)}:
        kind = "27"
    else:
        kind = "other"
    return {"kind": kind, "outside_the_23": outside, "label_widths": sorted(widths)}


def split_kind(copy: dict[str, str], release: dict[str, str]) -> dict[str, Any]:
    """Compare the copy's split with the release's on the ids both hold.

    ``release`` when every such movie is in its release split; ``random re-split`` when they
    agree about as often as independent draws with the copy's split sizes would (within
    three standard errors); ``another split`` otherwise.
    """
    common = [i for i in copy if i in release]
    counts = {name: sum(1 for s in copy.values() if s == name) for name in SPLITS}
    if not common:
        return {"kind": "no movie in the release split", "counts": counts}
    agree = sum(1 for i in common if copy[i] == release[i]) / len(common)
    share = {s: sum(1 for i in common if copy[i] == s) / len(common) for s in SPLITS}
    share_release = {s: sum(1 for i in common if release[i] == s) / len(common) for s in SPLITS}
    chance = sum(share[s] * share_release[s] for s in SPLITS)
    moved = sum(1 for i in common if copy[i] != release[i])
    if moved == 0:
        kind = "release"
    elif abs(agree - chance) <= 3 * math.sqrt(max(chance * (1 - chance), 1e-9) / len(common)):
        kind = "random re-split"
    else:
        kind = "another split"
    return {"kind": kind, "counts": counts, "moved": moved, "compared": len(common),
            "agreement": round(agree, 4), "agreement_by_chance": round(chance, 4)}


def differences(seen: dict[str, Seen], release: SplitFile | None) -> dict[str, Any]:
    """The report's ``differences`` section for the movies ``seen`` (7-digit id -> Seen)."""
    genres = set().union(*(set(s.genres) for s in seen.values())) if seen else set()
    widths = {s.label_width for s in seen.values() if s.label_width is not None}
    several = [i for i, s in seen.items() if s.samples > 1]
    result: dict[str, Any] = {
        "movies": len(seen),
        "samples": sum(s.samples for s in seen.values()),
        "per_plot": {"movies_with_several_samples": len(several),
                     "movies_with_several_plots": sum(1 for s in seen.values() if s.texts > 1),
                     "note": "one sample per plot: collapsed back into one movie each" if several else "one sample per movie"},
        "label_set": label_set(genres, widths),
        "missing": {"poster": _listed([i for i, s in seen.items() if not s.poster]),
                    "plot": _listed([i for i, s in seen.items() if not s.texts]),
                    "genres": _listed([i for i, s in seen.items() if not s.genres])},
    }
    if release is None:
        result["release"] = "no release split.json to compare with (import the release, or pass --release-split)"
        return result
    release_of = {file_id(i): name for name in SPLITS for i in release.ids[name]}
    result["not_in_release"] = _listed([i for i in seen if i not in release_of])
    result["release_not_in_copy"] = {name: sum(1 for i in release.ids[name] if file_id(i) not in seen) for name in SPLITS}
    with_split = {i: s.split for i, s in seen.items() if s.split}
    result["split"] = split_kind(with_split, release_of) if with_split else {"kind": "the copy names no split"}
    return result
