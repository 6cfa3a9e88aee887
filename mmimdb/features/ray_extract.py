"""Poster features on a Ray cluster (``mmimdb build-features --ray [ADDRESS]``).

The same job as :func:`.posters.extract_image_features`, spread out: Ray Data reads the
built Parquet files (``imdb_id`` and the poster bytes, the same bytes as the records
store), decodes and preprocesses posters in CPU tasks, and runs the encoder in an actor pool
(one model load per actor, one GPU per actor when the cluster has GPUs), sized by
:func:`mmimdb.ray_cluster.pool` so that the decoding tasks always keep a CPU. The driver
gathers the features by row into the local path's resumable chunks
(``<root>/features/.partial/<name>/``; a run stopped by either path resumes with either)
and writes the outputs with the same writer: HDF5, Parquet and manifest, row-aligned with
the built HDF5.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow.fs

from .. import paths
from ..records.split_file import SPLITS
from ..errors import ImageError, MmimdbError
from ..dataset.built import BuiltDataset
from ..ray_cluster import pool as plan_pool
from .encoders import ImageEncoder
from .posters import GPU_BATCH_SIZE, PRECISION_FILE, ExtractionReport, PosterInputs, Precision, choose_precision, \
    finish_extraction, first_posters, job_precision, plan_chunks, precision_of_kind, save_chunk, trial_posters
from .rows import Rows
from .writer import DEFAULT_CHUNK_ROWS, Log, stderr_log

#: Posters per batch on CPU actors when none is given (the local path times a few sizes
#: on the driver instead; the driver of a cluster is rarely a worker).
CPU_BATCH_SIZE = 16


def parquet_files(root: Path, rows: Rows) -> list[str]:
    """The split files, checked to hold the HDF5's rows in its order (train, dev, test)."""
    data = BuiltDataset(root)
    files = [data.require_split(split) for split in SPLITS]
    for split in SPLITS:
        data.check_parquet_rows(split)
    if data.ids != rows.ids:
        raise MmimdbError(f"{paths.parquet_dir(root)}: the Parquet rows differ from the HDF5 rows; rebuild with `mmimdb build`")
    return [str(f) for f in files]


def decode_posters(batch: dict[str, Any], wanted: dict[str, int], preprocess: Any) -> dict[str, np.ndarray]:
    """A Ray Data batch of (``imdb_id``, ``poster``) -> (``row``, ``image``, ``error``) for
    the rows still to compute; an unreadable poster gives a zero image and its error."""
    if not isinstance(wanted, dict):  # an ObjectRef that Ray did not resolve for us
        import ray

        wanted = ray.get(wanted)
    out_rows, images, errors = [], [], []
    for imdb_id, poster in zip(batch["imdb_id"], batch["poster"]):
        row = wanted.get(str(imdb_id))
        if row is None:
            continue
        error = ""
        try:
            data = poster["bytes"] if poster is not None else None
            if not data:
                raise ImageError(f"{imdb_id}: no poster bytes in the Parquet file")
            image = preprocess(bytes(data), str(imdb_id))
        except ImageError as failure:
            image, error = np.zeros((3, preprocess.size, preprocess.size), np.float32), str(failure)
        out_rows.append(row)
        images.append(image)
        errors.append(error)
    size = preprocess.size
    return {"row": np.asarray(out_rows, np.int64),
            "image": np.stack(images) if images else np.zeros((0, 3, size, size), np.float32),
            "error": np.asarray(errors, dtype=object)}


class EncodeActor:
    """One model per actor; batches of preprocessed posters -> features."""

    def __init__(self, encoder: ImageEncoder, device: str, threads: int, precision: tuple[str, str] | None = None,
                 partial: str = ""):
        import torch

        from ..device import resolve_device

        torch.set_num_threads(threads)
        self.torch = torch
        self.device = resolve_device(device)
        self.model = encoder.build().to(self.device).eval()
        # (kind, description) the driver chose for the job; None: a GPU actor checks fp16 itself.
        self.chosen, self.partial = precision, Path(partial)
        self.precision: Precision | None = None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        images = torch.from_numpy(np.ascontiguousarray(batch["image"])).to(self.device)
        if self.precision is None:
            if self.chosen is not None:  # the job's way, made again here (a frozen graph, an ONNX model)
                self.precision = precision_of_kind(*self.chosen, self.model, images, self.partial)
            else:  # fp16 checked on a GPU actor's first batch
                self.precision = choose_precision(self.model, images, self.device, lambda message: None)
        with torch.inference_mode():
            output = self.precision.run(self.model, images)
        return {"row": batch["row"], "features": output.float().cpu().numpy(), "error": batch["error"],
                "precision": np.asarray([self.precision.description] * len(batch["row"]), dtype=object)}


def _import_fsspec_http() -> None:
    try:
        import fsspec.implementations.http  # noqa: F401
    except ImportError:
        pass  # (without aiohttp; the ray extra brings it)


def _no_extra_args() -> dict[str, Any]:
    """Given as ``ray_remote_args_fn``, it keeps Ray Data from fusing the decoding into the
    encoder actors: decoding stays in CPU tasks, the actors only run the model."""
    return {}


def extract_image_features_ray(root: Path, rows: Rows, encoder: ImageEncoder, device: str = "auto",
                               batch_size: int | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS, force: bool = False,
                               progress: bool = True, on_chunk: Callable[[int], None] | None = None,
                               log: Log = stderr_log, precision: str = "auto") -> ExtractionReport:
    """:func:`.posters.extract_image_features` on the Ray cluster this process is connected
    to (:func:`mmimdb.ray_cluster.cluster`): same outputs, same chunks, same resume.
    ``precision`` ``"auto"``: for CPU actors the way is chosen here, once, as a local run
    chooses it (:func:`.posters.job_precision`), and each actor makes it again; GPU actors
    check fp16 on their first batch. ``"fp32"``: every actor runs the model's own fp32."""
    import ray
    import ray.data
    from tqdm import tqdm

    root = Path(root)
    report = ExtractionReport(encoder.output, len(rows.ids), precision_requested=precision)
    plan = plan_chunks(root, rows, encoder, chunk_rows, force, report, log, precision=precision)
    if plan is None:
        return report
    started = time.perf_counter()
    if plan.pending:
        files = parquet_files(root, rows)
        use_gpus = device in ("auto", "cuda")
        workers = plan_pool(ray, use_gpus=use_gpus)
        actor_device = "cuda" if workers.gpus else ("cpu" if device == "auto" else device)
        batch_size = batch_size or (GPU_BATCH_SIZE if workers.gpus else CPU_BATCH_SIZE)
        chosen = ("fp32", "fp32") if precision == "fp32" else None
        if actor_device == "cpu" and precision == "auto":
            # Chosen once, here, on the job's first posters and timed with an actor's threads;
            # every actor makes the same way again: one output, one precision (resumes too).
            import torch

            model = encoder.build().eval()
            inputs = PosterInputs(None, rows.ids, encoder.preprocess, read=BuiltDataset(root).poster_reader())
            todo = sum(plan.chunks[k][1] - plan.chunks[k][0] for k in plan.pending)
            trial = trial_posters(torch.device("cpu"), not (plan.partial / PRECISION_FILE).is_file(), False)
            if todo < trial:
                log(f"fp32 (no timing trial: it would encode {trial} posters, more than the {todo} of this job)")
            way = job_precision(plan.partial, model, first_posters(inputs, plan), torch.device("cpu"), log,
                                threads=workers.threads, trial=todo >= trial)
            chosen = (way.kind, way.description)
            del model, way
        wanted = {rows.ids[i]: i for k in plan.pending for i in range(*plan.chunks[k])}
        log(f"{encoder.output}: {len(wanted)} posters on Ray, {workers.workers} encoder actor(s) on {actor_device}, "
            f"batch {batch_size}")
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # our bar and log lines say what it does
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        # The files are paths of this machine's file system (shared with the workers on a
        # cluster). Ray Data still imports fsspec's HTTP file system while resolving them,
        # from several threads: import it here first, once.
        _import_fsspec_http()
        dataset = ray.data.read_parquet(files, filesystem=pyarrow.fs.LocalFileSystem(), num_cpus=workers.feeder_cpus)
        dataset = dataset.select_columns(["imdb_id", "poster"])
        dataset = dataset.map_batches(decode_posters, fn_args=(ray.put(wanted), encoder.preprocess), batch_size=batch_size,
                                      batch_format="numpy", num_cpus=workers.feeder_cpus)
        dataset = dataset.map_batches(EncodeActor, fn_constructor_args=(encoder, actor_device, workers.threads, chosen, str(plan.partial)),
                                      batch_size=batch_size, batch_format="numpy",
                                      compute=ray.data.ActorPoolStrategy(size=workers.workers),
                                      num_cpus=workers.cpus, num_gpus=workers.gpus, ray_remote_args_fn=_no_extra_args)
        buffers: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        bar = tqdm(total=len(wanted), unit="poster", desc=encoder.output, file=sys.stderr, disable=not progress)
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                if len(batch["row"]):
                    report.precision = str(batch["precision"][0])
                for row, vector, error in zip(batch["row"], batch["features"], batch["error"]):
                    chunk = int(row) // chunk_rows
                    start, stop = plan.chunks[chunk]
                    features, ok, filled = buffers.get(chunk) or (np.zeros((stop - start, encoder.dim), np.float32),
                                                                  np.ones(stop - start, bool), 0)
                    features[row - start] = vector
                    if error:
                        features[row - start], ok[row - start] = 0.0, False
                        log(f"warning: {error}; its {encoder.output} row is zeros and flagged")
                    buffers[chunk] = (features, ok, filled + 1)
                    if filled + 1 == stop - start:
                        save_chunk(plan.partial, chunk, features, ok)
                        del buffers[chunk]
                        report.computed_chunks.append(chunk)
                        if on_chunk is not None:
                            on_chunk(chunk)
                bar.update(len(batch["row"]))
        finally:
            bar.close()
        if buffers:
            raise MmimdbError(f"{encoder.output}: Ray returned no features for {sum(len(b[1]) - b[2] for b in buffers.values())} posters")
    report.seconds = time.perf_counter() - started
    finish_extraction(root, rows, encoder, plan, report, log)
    return report
