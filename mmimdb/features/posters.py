"""Poster features: a CNN encoder over every poster, batched by a DataLoader whose workers
decode and preprocess posters, in resumable chunks.

Each finished chunk is saved under ``<root>/features/.partial/<name>/``, so an interrupted
run continues from the last finished chunk; mixed precision is used on a GPU only when it
matches fp32 on the first batch.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import paths
from ..dataset.store import RecordStore
from ..device import resolve_device
from ..errors import ImageError
from ..storage import atomic, manifest
from .encoders import ImageEncoder
from .rows import Rows
from .writer import DEFAULT_CHUNK_ROWS, Log, save_dense, stderr_log

#: Largest max-abs difference of mixed-precision features to fp32, relative to the
#: largest fp32 value, that keeps autocast on.
AUTOCAST_TOLERANCE = 1e-2




class PosterInputs:
    """Map-style dataset for DataLoader workers: row -> (row, preprocessed poster, error).

    A poster that cannot be read gives a zero input and its error text, so the run goes
    on and the row is flagged.
    """

    def __init__(self, dataset_dir: Path, ids: Sequence[str], preprocess: Any):
        self.store = RecordStore(dataset_dir)
        self.ids = list(ids)
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, row: int) -> tuple[int, np.ndarray, str]:
        imdb_id = self.ids[row]
        try:
            return row, self.preprocess(self.store.read_poster(imdb_id), imdb_id), ""
        except ImageError as error:
            message = str(error)
        except OSError as error:
            message = f"{imdb_id}: poster not readable ({error.strerror or type(error).__name__})"
        size = self.preprocess.size
        return row, np.zeros((3, size, size), dtype=np.float32), message


@dataclass
class ExtractionReport:
    """What one image-encoder run did."""

    name: str
    rows: int
    computed_chunks: list[int] = field(default_factory=list)
    reused_chunks: int = 0
    failed_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    precision: str = "fp32"
    skipped: bool = False
    computed_rows: int = 0


def _partial_dir(root: Path, name: str) -> Path:
    return paths.features_dir(Path(root)) / ".partial" / name


def _chunk_path(directory: Path, chunk: int) -> Path:
    return directory / f"chunk-{chunk:05d}.npz"


def _load_chunk(directory: Path, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(_chunk_path(directory, chunk), allow_pickle=False) as saved:
        return saved["features"], saved["ok"]


def _autocast_checked(model: Any, images: Any, device: Any, log: Log) -> tuple[bool, str]:
    """Whether mixed precision on ``device`` matches fp32 on this batch (and how closely)."""
    import torch

    if device.type != "cuda":
        return False, "fp32"
    with torch.inference_mode():
        exact = model(images).float()
        with torch.autocast("cuda", dtype=torch.float16):
            mixed = model(images).float()
    scale = float(exact.abs().max().clamp_min(1e-6))
    difference = float((mixed - exact).abs().max()) / scale
    if difference > AUTOCAST_TOLERANCE:
        log(f"fp16 autocast differs from fp32 by {difference:.2e} (relative) on the first batch; using fp32")
        return False, f"fp32 (fp16 autocast differed by {difference:.2e})"
    return True, f"fp16 autocast (max difference to fp32 on the first batch: {difference:.2e} of the largest value)"


#: Batch sizes tried on the CPU when none is given. Bigger is not always faster there:
#: EfficientNet-Lite0 ran 53 posters/s at batch 1 and 24 at batch 32 on a 2-core machine
#: (its activations at large batches fall out of the caches).
CPU_BATCH_CANDIDATES = (1, 4, 16, 64)
GPU_BATCH_SIZE = 64


def choose_batch_size(model: Any, image_size: int, device: Any, log: Log = stderr_log, seconds: float = 0.4) -> int:
    """The batch size to use on ``device``: :data:`GPU_BATCH_SIZE` on a GPU; on the CPU the
    fastest of :data:`CPU_BATCH_CANDIDATES`, timed on random inputs for ``seconds`` each."""
    import torch

    if device.type != "cpu":
        return GPU_BATCH_SIZE
    rates = {}
    with torch.inference_mode():
        for size in CPU_BATCH_CANDIDATES:
            batch = torch.randn(size, 3, image_size, image_size)
            model(batch)  # warm-up: allocations and kernel choice
            started, done = time.perf_counter(), 0
            while time.perf_counter() - started < seconds:
                model(batch)
                done += size
            rates[size] = done / (time.perf_counter() - started)
    best = max(rates, key=rates.get)
    log("batch size " + str(best) + " (fastest on this CPU: "
        + ", ".join(f"{size}: {rate:.0f}/s" for size, rate in rates.items()) + ")")
    return best


def extract_image_features(root: Path, rows: Rows, encoder: ImageEncoder, device: str = "auto", batch_size: int | None = None,
                           workers: int | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS, force: bool = False,
                           progress: bool = True, on_chunk: Callable[[int], None] | None = None,
                           log: Log = stderr_log) -> ExtractionReport:
    """Run ``encoder`` on every poster, in resumable chunks, and save ``encoder.output``.

    ``batch_size`` None picks one (:func:`choose_batch_size`). ``on_chunk(chunk_index)`` is
    called after each newly computed chunk is saved (a hook
    for progress reports and tests). An interrupted run keeps its finished chunks; the next
    run with the same encoder, weights, preprocessing and rows continues after them.
    """
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    report = ExtractionReport(encoder.output, len(rows.ids))
    plan = plan_chunks(Path(root).expanduser(), rows, encoder, chunk_rows, force, report, log)
    if plan is None:
        return report
    partial, chunks, pending = plan.partial, plan.chunks, plan.pending
    started = time.perf_counter()
    if pending:
        torch_device = resolve_device(device, log)
        model = encoder.build().to(torch_device)
        if batch_size is None:
            batch_size = choose_batch_size(model, encoder.preprocess.size, torch_device, log)
        if workers is None:
            workers = default_workers()
        batches = [list(range(s, min(s + batch_size, chunks[k][1]))) for k in pending for s in range(chunks[k][0], chunks[k][1], batch_size)]
        loader = DataLoader(PosterInputs(paths.dataset_dir(root), rows.ids, encoder.preprocess), batch_sampler=batches,
                            num_workers=workers, pin_memory=torch_device.type == "cuda",
                            persistent_workers=False, prefetch_factor=2 if workers else None)
        use_autocast: bool | None = None
        bar = tqdm(total=sum(chunks[k][1] - chunks[k][0] for k in pending), unit="poster", desc=encoder.output,
                   file=sys.stderr, disable=not progress)
        current, buffer, ok, filled = -1, None, None, 0
        try:
            with torch.inference_mode():
                for batch_rows, images, errors in loader:
                    images = images.to(torch_device, non_blocking=True)
                    if use_autocast is None:
                        use_autocast, report.precision = _autocast_checked(model, images, torch_device, log)
                    if use_autocast:
                        with torch.autocast("cuda", dtype=torch.float16):
                            output = model(images)
                    else:
                        output = model(images)
                    output = output.float().cpu().numpy()
                    chunk = int(batch_rows[0]) // chunk_rows
                    if chunk != current:
                        current, filled = chunk, 0
                        size = chunks[chunk][1] - chunks[chunk][0]
                        buffer, ok = np.zeros((size, encoder.dim), np.float32), np.ones(size, bool)
                    offsets = batch_rows.numpy() - chunks[chunk][0]
                    buffer[offsets] = output
                    for offset, error in zip(offsets, errors):
                        if error:
                            buffer[offset], ok[offset] = 0.0, False
                            log(f"warning: {error}; its {encoder.output} row is zeros and flagged")
                    filled += len(offsets)
                    bar.update(len(offsets))
                    if filled == len(buffer):
                        save_chunk(partial, chunk, buffer, ok)
                        report.computed_chunks.append(chunk)
                        if on_chunk is not None:
                            on_chunk(chunk)
        finally:
            bar.close()
    report.seconds = time.perf_counter() - started
    finish_extraction(Path(root), rows, encoder, plan, report, log)
    return report


@dataclass
class ChunkPlan:
    """Where an extraction keeps its finished chunks, the chunks' row ranges, and which
    of them are still to compute."""

    partial: Path
    chunks: list[tuple[int, int]]
    pending: list[int]


def plan_chunks(root: Path, rows: Rows, encoder: ImageEncoder, chunk_rows: int, force: bool,
                report: ExtractionReport, log: Log) -> ChunkPlan | None:
    """The chunks of ``encoder.output`` left to compute (partial results of the same job
    are kept, of another job discarded); None, with ``report.skipped``, if it is built."""
    job = {"encoder": encoder.name, "sha256": encoder.info.get("sha256"), "preprocessing": encoder.info.get("preprocessing"),
           "ids_sha256": rows.ids_sha256(), "chunk_rows": chunk_rows}
    done = manifest.feature_entries(root).get(encoder.output, {})
    if not force and all(done.get(key) == job[key] for key in ("encoder", "sha256", "preprocessing", "ids_sha256")):
        import h5py
        with h5py.File(paths.hdf5_path(root), "r") as handle:
            if encoder.output in handle:
                log(f"{encoder.output}: already built with {encoder.name} for these rows (--force rebuilds it)")
                report.skipped = True
                return None
    # ``force`` rebuilds a finished output; the chunks of an interrupted run of this same job
    # are what a rerun of the same command resumes from, with or without ``force``.
    partial = _partial_dir(root, encoder.output)
    job_path = partial / "job.json"
    if partial.is_dir() and (not job_path.is_file() or json.loads(job_path.read_text("utf-8")) != job):
        log(f"{encoder.output}: discarding partial results of a different run in {partial}")
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    atomic.write_json(job_path, job)

    chunks = [(start, min(start + chunk_rows, len(rows.ids))) for start in range(0, len(rows.ids), chunk_rows)]
    pending = [k for k in range(len(chunks)) if not _chunk_path(partial, k).is_file()]
    report.reused_chunks = len(chunks) - len(pending)
    if report.reused_chunks and pending:
        log(f"{encoder.output}: resuming, {report.reused_chunks} of {len(chunks)} chunks already done")
    return ChunkPlan(partial, chunks, pending)


def save_chunk(partial: Path, chunk: int, features: np.ndarray, ok: np.ndarray) -> None:
    """Keep one finished chunk (its features and which rows were readable), atomically."""
    with atomic.atomic_open(_chunk_path(partial, chunk), "wb") as handle:
        np.savez(handle, features=features, ok=ok)


def finish_extraction(root: Path, rows: Rows, encoder: ImageEncoder, plan: ChunkPlan, report: ExtractionReport,
                      log: Log) -> None:
    """Write the finished chunks as ``encoder.output`` (HDF5, Parquet, manifest) and drop them."""
    partial, chunks = plan.partial, plan.chunks
    flags = [_load_chunk(partial, k)[1] for k in range(len(chunks))]
    report.failed_ids = [rows.ids[i] for i in np.flatnonzero(~np.concatenate(flags))]
    entry = {"modality": "image", "encoder": encoder.name, **encoder.info, "precision": report.precision}
    save_dense(root, rows, encoder.output, lambda: (_load_chunk(partial, k)[0] for k in range(len(chunks))),
                encoder.dim, entry, ok=flags)
    shutil.rmtree(partial)
    report.computed_rows = computed_rows = sum(chunks[k][1] - chunks[k][0] for k in report.computed_chunks)
    rate = f", {computed_rows / report.seconds:.1f} posters/s" if report.seconds and computed_rows else ""
    log(f"{encoder.output}: {encoder.name} {encoder.dim}-d for {len(rows.ids)} posters "
        f"({len(report.failed_ids)} flagged unreadable){rate}")


def default_workers() -> int:
    """DataLoader workers: one core is left to the model's own threads."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))

