"""The missing-modality protocol: which movies lose their plot or their poster, reproducibly.

A *missing table* gives each movie of a split a code: 0 complete, 1 text missing, 2 image
missing (never both), as the ViLT-based missing-modality works use them (Ma et al. 2022;
Lee et al. 2023, ``vilt/datasets/mmimdb_dataset.py``). For a split of N movies and a rate
r, ``int(N * r)`` movies are drawn without replacement; with ``type="both"``,
``int(k * both_ratio)`` of those k are then switched from text-missing to image-missing.
The draw uses ``numpy.random.default_rng([seed, split index])``, so a seed gives the same
tables on every machine, and each split its own draw.

``mmimdb missing`` writes, per split, into ``<root>/missing/seed-<N>/`` (the folder the ViLT
readers take as ``missing_table_root``):

* ``mmimdb_<split>_missing_<type>_<ratio>.pt``: ``torch.save`` of a float tensor (N,), the
  readers' layout and names (``<ratio>`` is the rate without its dot: 0.7 -> ``07``);
* ``mmimdb_<split>_missing_<type>_<ratio>.parquet``: ``imdb_id`` + ``missing`` (int8), for
  everyone else and for ``mmimdb.load(..., missing=...)``.

Writing the same tables twice gives byte-identical files.

>>> spec = MissingSpec(rate=0.7, type="both", seed=0)
>>> codes = draw(10, spec, "train"); int((codes == 1).sum() + (codes == 2).sum())
7
"""
from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .. import paths
from ..errors import MmimdbError, UsageError
from ..storage import atomic, lock, manifest
from ..storage.checksums import sha256_of
from ..records.split_file import SPLITS

TYPES: tuple[str, ...] = ("text", "image", "both")
COMPLETE, TEXT_MISSING, IMAGE_MISSING = 0, 1, 2
#: The ViLT readers' default share of image-missing rows among the missing ones ("both").
DEFAULT_BOTH_RATIO = 0.5
#: Parquet columns blanked where the text (to "") or the poster (to None) is missing.
TEXT_COLUMNS: tuple[str, ...] = ("plot", "plot_outline")
IMAGE_COLUMNS: tuple[str, ...] = ("poster", "poster_sha256")


@dataclass(frozen=True)
class MissingSpec:
    """A missing-modality setting: ``rate`` in (0, 1], ``type`` text|image|both, the share
    of image-missing rows under ``both``, and the seed."""

    rate: float
    type: str = "both"
    both_ratio: float = DEFAULT_BOTH_RATIO
    seed: int = 0

    def __post_init__(self) -> None:
        try:
            rate, both_ratio, seed = float(self.rate), float(self.both_ratio), int(self.seed)
        except (TypeError, ValueError):
            raise UsageError(f"missing: rate, both ratio and seed must be numbers, got {self.rate!r}, "
                             f"{self.both_ratio!r}, {self.seed!r}") from None
        if not 0 < rate <= 1:
            raise UsageError(f"missing rate {self.rate} is outside (0, 1]")
        if self.type not in TYPES:
            raise UsageError(f"unknown missing type {self.type!r}; use one of {', '.join(TYPES)}")
        if not 0 <= both_ratio <= 1:
            raise UsageError(f"both ratio {self.both_ratio} is outside [0, 1]")
        if seed < 0:
            raise UsageError(f"seed {self.seed} is negative")
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "both_ratio", both_ratio)
        object.__setattr__(self, "seed", seed)

    @classmethod
    def of(cls, value: "MissingSpec | Mapping[str, Any]") -> "MissingSpec":
        """A spec from itself or a dict such as ``{"rate": 0.7, "type": "both", "seed": 0}``."""
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"rate", "type", "both_ratio", "seed"}
            if unknown or "rate" not in value:
                raise UsageError(f"missing= takes rate (required), type, both_ratio and seed; got {sorted(value)}")
            return cls(**value)
        raise UsageError(f"missing= takes a MissingSpec or a dict with rate, type, both_ratio, seed; got {value!r}")

    @property
    def ratio_tag(self) -> str:
        """The rate as the ViLT readers put it in file names: ``str(rate)`` without the dot."""
        return str(self.rate).replace(".", "")

    @property
    def folder_name(self) -> str:
        """``seed-<N>`` (plus the both ratio when it is not the readers' 0.5)."""
        suffix = "" if self.both_ratio == DEFAULT_BOTH_RATIO else "-both-" + str(self.both_ratio).replace(".", "")
        return f"seed-{self.seed}{suffix}"

    @property
    def name(self) -> str:
        """The manifest key: ``seed-0/both_07``."""
        return f"{self.folder_name}/{self.type}_{self.ratio_tag}"

    def file_name(self, split: str, suffix: str) -> str:
        """``mmimdb_<split>_missing_<type>_<ratio><suffix>``, the ViLT readers' name."""
        return f"mmimdb_{split}_missing_{self.type}_{self.ratio_tag}{suffix}"

    def describe(self) -> str:
        """The ``mmimdb missing`` options that write this table."""
        both = f" --both-ratio {self.both_ratio}" if self.type == "both" and self.both_ratio != DEFAULT_BOTH_RATIO else ""
        return f"--rate {self.rate} --type {self.type}{both} --seed {self.seed}"


def draw(n: int, spec: MissingSpec, split: str) -> np.ndarray:
    """The missing codes (n,) float32 of a split of ``n`` movies under ``spec``."""
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    rng = np.random.default_rng([spec.seed, SPLITS.index(split)])
    codes = np.zeros(n, dtype=np.float32)
    # int(), not round(): the readers' own count, so tables of the same size agree.
    chosen = rng.choice(n, int(n * spec.rate), replace=False)
    if spec.type == "image":
        codes[chosen] = IMAGE_MISSING
    else:
        codes[chosen] = TEXT_MISSING
        if spec.type == "both":
            codes[rng.choice(chosen, int(len(chosen) * spec.both_ratio), replace=False)] = IMAGE_MISSING
    return codes


def blank(column: str, values: Sequence[Any], codes: Sequence[Any]) -> list[Any]:
    """``values`` of a Parquet column with the missing modality blanked per ``codes``: text
    columns become ``""`` where the text is missing, poster columns ``None`` where the
    poster is; other columns are returned as they are."""
    if column in TEXT_COLUMNS:
        return ["" if code == TEXT_MISSING else value for value, code in zip(values, codes)]
    if column in IMAGE_COLUMNS:
        return [None if code == IMAGE_MISSING else value for value, code in zip(values, codes)]
    return list(values)


def folder(root: Path, spec: MissingSpec) -> Path:
    return paths.missing_dir(root) / spec.folder_name


def _pt_bytes(codes: np.ndarray) -> bytes:
    try:
        import torch
    except ImportError:
        raise UsageError("the ViLT .pt tables need torch: pip install torch (see README)") from None
    buffer = io.BytesIO()
    # Saved from a buffer so the archive's inner name is fixed ('archive'): same bytes each time.
    torch.save(torch.from_numpy(codes.copy()), buffer)
    return buffer.getvalue()


def _parquet_bytes(ids: Sequence[str], codes: np.ndarray, spec: MissingSpec) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"imdb_id": pa.array(ids, pa.string()), "missing": pa.array(codes.astype(np.int8), pa.int8())},
                     metadata={b"mmimdb_missing": str(asdict(spec)).encode()})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _split_ids(root: Path, split: str) -> list[str]:
    from .built import BuiltDataset

    return BuiltDataset(root).parquet_ids(split)


@lock.reads_root("mmimdb missing")
def write_tables(spec: MissingSpec, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Write the tables of every split under ``root`` (see the module docstring); record them
    in the manifest; return the manifest entry."""
    root = paths.data_root(root)
    ids = {split: _split_ids(root, split) for split in SPLITS}  # says to build first if not built
    target = folder(root, spec)
    entry: dict[str, Any] = {**asdict(spec), "folder": str(target.relative_to(root)), "files": {}, "counts": {}}
    new_files: list[Path] = []
    if target.is_dir():  # what a killed run left (a live one's stays)
        atomic.remove_stale_temporaries(target)
    try:
        for split in SPLITS:
            codes = draw(len(ids[split]), spec, split)
            for suffix, data in ((".pt", _pt_bytes(codes)), (".parquet", _parquet_bytes(ids[split], codes, spec))):
                path = target / spec.file_name(split, suffix)
                if not path.exists():
                    new_files.append(path)
                atomic.write_bytes(path, data)
                entry["files"][path.name] = sha256_of(path)
            entry["counts"][split] = {"movies": len(codes), "complete": int((codes == COMPLETE).sum()),
                                      "text_missing": int((codes == TEXT_MISSING).sum()),
                                      "image_missing": int((codes == IMAGE_MISSING).sum())}
        manifest.record(root, "missing", spec.name, entry,
                        outputs=[str((target / name).relative_to(root)) for name in entry["files"]])
    except BaseException:
        # A full disk or Ctrl-C halfway: no table of this run stays without its manifest entry
        # (the earlier tables of the same spec are byte-identical, so replacing them lost nothing).
        for path in new_files:
            path.unlink(missing_ok=True)
        raise
    return entry


def read_codes(split: str, spec: MissingSpec, root: str | os.PathLike | None = None,
               imdb_ids: Sequence[str] | None = None) -> np.ndarray:
    """The codes (int8) of ``split`` from the table ``mmimdb missing`` wrote, checked against
    ``imdb_ids`` (the split's rows) when given."""
    import pyarrow.parquet as pq

    root = paths.data_root(root)
    path = folder(root, spec) / spec.file_name(split, ".parquet")
    if not path.is_file():
        raise UsageError(f"no missing table {path}; run `mmimdb missing {spec.describe()}` first")
    table = pq.read_table(str(path))
    if imdb_ids is not None and table.column("imdb_id").to_pylist() != list(imdb_ids):
        raise MmimdbError(f"{path} was drawn for another build of {split}; rerun `mmimdb missing {spec.describe()}`")
    return table.column("missing").to_numpy().astype(np.int8)
