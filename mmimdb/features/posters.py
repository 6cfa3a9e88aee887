"""Poster features: a CNN encoder over every poster, batched by a DataLoader whose workers
decode and preprocess posters, in resumable chunks.

Each finished chunk is saved under ``<root>/features/.partial/<name>/``, so an interrupted
run continues from the last finished chunk. Before a run, :func:`choose_precision` tries the
ways the device offers on the job's first real posters and keeps the fastest whose features
match fp32: on a GPU fp16 autocast; on a CPU eager fp32, a frozen TorchScript graph (oneDNN
fusions), ONNX Runtime, and, with bfloat16 instructions (AVX-512 BF16 or AMX), bf16 autocast
on channels-last activations when every feature vector is within cosine
:data:`CPU_BF16_MIN_COSINE` of fp32. The manifest records which ran (``precision``). The
choice is the job's: a resumed run reads it back from ``precision.json`` beside the chunks
instead of checking again, so one output is computed in one precision.
``precision="fp32"`` skips all of it.
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
from ..dataset import hdf5
from ..dataset.built import BuiltDataset
from ..records.store import RecordStore
from ..device import resolve_device
from ..errors import ImageError, MmimdbError, UsageError
from ..storage import atomic
from .encoders import ImageEncoder
from .rows import Rows
from .writer import DEFAULT_CHUNK_ROWS, Log, save_dense, stderr_log

#: Largest max-abs difference of mixed-precision features to fp32, relative to the
#: largest fp32 value, that keeps fp16 autocast on (GPU).
AUTOCAST_TOLERANCE = 1e-2
#: Smallest cosine similarity between a poster's bf16 and fp32 features that keeps bf16
#: autocast on (CPU).
CPU_BF16_MIN_COSINE = 0.999


class PosterInputs:
    """Map-style dataset for DataLoader workers: row -> (row, preprocessed poster, error).

    A poster that cannot be read gives a zero input and its error text, so the run goes
    on and the row is flagged. With ``encode`` (a model and its :class:`Precision`), a batch
    comes back as (row, features, error) instead, computed in the worker that decoded it:
    on a CPU each worker is then one core's whole job, decoding and encoding with one torch
    thread, and no thread of a forward pass waits for another or for a decoding process.
    """

    def __init__(self, dataset_dir: Path | None, ids: Sequence[str], preprocess: Any,
                 encode: tuple[Any, "Precision"] | None = None, read: Callable[[str], bytes] | None = None):
        # ``read(id)`` gives a poster's bytes: the records store's by default (a benchmark reads files).
        self.read = read or RecordStore(dataset_dir).read_poster
        self.ids = list(ids)
        self.preprocess = preprocess
        self.encode = encode

    def __getitems__(self, rows: Sequence[int]) -> list[tuple[int, np.ndarray, str]]:
        items = [self[row] for row in rows]
        if self.encode is None or not items:
            return items
        import torch

        model, precision = self.encode
        with torch.inference_mode():
            features = precision.run(model, torch.from_numpy(np.stack([image for _, image, _ in items]))).float().numpy()
        return [(row, vector, error) for (row, _, error), vector in zip(items, features)]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, row: int) -> tuple[int, np.ndarray, str]:
        imdb_id = self.ids[row]
        try:
            return row, self.preprocess(self.read(imdb_id), imdb_id), ""
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
    seconds: float = 0.0  # the whole job: the precision check and batch-size trial included
    extract_seconds: float = 0.0  # the posters alone (what the progress bar's rate shows)
    precision: str = "fp32"
    precision_requested: str = "auto"
    skipped: bool = False
    computed_rows: int = 0


def _partial_dir(root: Path, name: str) -> Path:
    return paths.features_dir(Path(root)) / ".partial" / name


def _chunk_path(directory: Path, chunk: int) -> Path:
    return directory / f"chunk-{chunk:05d}.npz"


def _load_chunk(directory: Path, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(_chunk_path(directory, chunk), allow_pickle=False) as saved:
        return saved["features"], saved["ok"]


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 matrix work natively through oneDNN (AVX-512 BF16 or AMX)."""
    import torch

    if not torch.backends.mkldnn.is_available():
        return False
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


@dataclass
class Precision:
    """How the encoder runs: ``autocast`` dtype (None: fp32), channels-last activations, or a
    frozen fp32 ``graph`` that stands in for the model."""

    autocast: Any = None
    channels_last: bool = False
    description: str = "fp32"
    graph: Any = None
    #: The encoder as an ONNX model (bytes), run by ONNX Runtime on the CPU.
    onnx: bytes | None = None
    # ONNX Runtime sessions by (process, threads): a DataLoader worker makes its own, with
    # its one thread (a session's thread pool does not survive fork, nor is it picklable).
    _sessions: dict = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_sessions": {}}

    @property
    def kind(self) -> str:
        """``fp32``, ``frozen``, ``onnx``, ``fp16`` or ``bf16``: what :func:`precision_of_kind` rebuilds."""
        if self.graph is not None:
            return "frozen"
        if self.onnx is not None:
            return "onnx"
        if self.autocast is None:
            return "fp32"
        return {"torch.float16": "fp16", "torch.bfloat16": "bf16"}[str(self.autocast)]

    def prepare(self, model: Any) -> Any:
        """``model`` with its weights in this precision's memory layout."""
        import torch

        return model.to(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)

    def run(self, model: Any, images: Any) -> Any:
        import torch

        if self.onnx is not None:
            return torch.from_numpy(self.session().run(None, {ONNX_INPUT: np.ascontiguousarray(images.cpu().numpy())})[0])
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if self.graph is not None:
            return self.graph(images)
        if self.autocast is None:
            return model(images)
        with torch.autocast(images.device.type, dtype=self.autocast):
            return model(images)

    def session(self) -> Any:
        """This process's ONNX Runtime session of :attr:`onnx`, with torch's present thread count."""
        import torch

        key = (os.getpid(), torch.get_num_threads())
        if key not in self._sessions:
            self._sessions[key] = onnx_session(self.onnx, key[1])
        return self._sessions[key]


#: What ``precision=`` accepts: ``auto`` (:func:`choose_precision`) or the model's own ``fp32``.
PRECISIONS = ("auto", "fp32")


def check_precision(precision: str) -> None:
    """A one-line :class:`UsageError` unless ``precision`` is one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision '{precision}' (known: {', '.join(PRECISIONS)})")


#: The precision a job chose, kept beside its partial results (:func:`job_precision`).
PRECISION_FILE = "precision.json"
#: Posters the precision is checked on before a run (the first ones it computes).
SAMPLE_POSTERS = 8
#: Posters the precision trial on a CPU encodes at the most: the first :data:`SAMPLE_POSTERS`
#: in each of the four ways (eager fp32, bf16, a frozen graph, ONNX Runtime) to compare their
#: features, then a warm-up and two timed passes of each.
PRECISION_TRIAL_POSTERS = SAMPLE_POSTERS * 4 * (1 + 3)
#: Smallest cosine between the features of another fp32 implementation (a frozen graph, ONNX
#: Runtime) and the model's that keeps it: both fp32, only the order of operations differs.
EXACT_MIN_COSINE = 0.99999
#: How much faster than the fastest fp32 way bf16 must be to be chosen on a CPU: exact
#: arithmetic wins a near tie (VGG16, one thread: 129 ms a poster in bf16, 133 under ONNX
#: Runtime in fp32).
MIXED_MIN_SPEEDUP = 1.1
#: The input name of the ONNX models made here.
ONNX_INPUT = "images"


def choose_precision(model: Any, images: Any, device: Any, log: Log, threads: int | None = None) -> Precision:
    """The fastest way to run ``model`` whose features on ``images`` (real posters) match fp32.

    GPU: fp16 autocast, kept when its largest difference is within :data:`AUTOCAST_TOLERANCE`
    of the largest fp32 value. CPU: the ways of :func:`cpu_candidates` that match, each timed
    on ``images`` with ``threads`` torch threads (what each DataLoader worker will have;
    default: as now); bf16 is taken only when :data:`MIXED_MIN_SPEEDUP` times faster than the
    fastest fp32 way. ``model`` is left in the chosen way's memory layout.
    """
    import torch

    Precision().prepare(model)
    with torch.inference_mode():
        exact = model(images).float().flatten(1)
    if device.type == "cuda":
        candidate = Precision(torch.float16, False, "fp16 autocast")
        with torch.inference_mode():
            mixed = candidate.run(model, images).float().flatten(1)
        scale = float(exact.abs().max().clamp_min(1e-6))
        difference = float((mixed - exact).abs().max()) / scale
        if difference > AUTOCAST_TOLERANCE:
            log(f"fp16 autocast differs from fp32 by {difference:.2e} (relative) on the first posters; using fp32")
            return Precision(description=f"fp32 (fp16 autocast differed by {difference:.2e})")
        candidate.description += f" (max difference to fp32 on the first posters: {difference:.2e} of the largest value)"
        return candidate
    if device.type != "cpu":
        return Precision()
    candidates, refused = cpu_candidates(model, images, exact, log)
    before = torch.get_num_threads()
    threads = threads or before
    torch.set_num_threads(threads)
    seconds = []
    try:
        for candidate, _ in candidates:
            candidate.prepare(model)  # each timed in its own memory layout (bf16: channels-last weights)
            seconds.append(_seconds(candidate, model, images) / len(images))
    finally:
        torch.set_num_threads(before)
    exact_ways = [k for k, (candidate, _) in enumerate(candidates) if candidate.autocast is None]
    chosen = min(exact_ways, key=seconds.__getitem__)
    fastest = min(range(len(candidates)), key=seconds.__getitem__)
    if seconds[fastest] * MIXED_MIN_SPEEDUP <= seconds[chosen]:
        chosen = fastest
    log(f"image encoder: {candidates[chosen][0].description} (per poster on {threads} thread(s): "
        + ", ".join(f"{c.kind} {t * 1000:.3g} ms" for (c, _), t in zip(candidates, seconds)) + ")")
    winner, agreement = candidates[chosen]
    winner.prepare(model)
    winner.description += (f" ({agreement + '; ' if agreement else ''}{seconds[chosen] * 1000:.3g} ms a poster on "
                           f"{threads} thread(s), eager fp32 {seconds[0] * 1000:.3g} ms{refused})")
    return winner


def cpu_candidates(model: Any, images: Any, exact: Any, log: Log) -> tuple[list[tuple[Precision, str]], str]:
    """The ways to run ``model`` on a CPU whose features on ``images`` match ``exact`` (its fp32
    features), each with how closely, eager fp32 first; and what was refused, for the manifest.

    bf16 autocast on channels-last activations where the CPU has bfloat16 instructions
    (:func:`cpu_bf16_supported`), kept when every poster's features are within cosine
    :data:`CPU_BF16_MIN_COSINE` of fp32; two other fp32 implementations, kept within cosine
    :data:`EXACT_MIN_COSINE`: a frozen TorchScript graph with oneDNN's fusions (batch norm
    folded into the convolutions), and ONNX Runtime (when installed; EfficientNet-Lite0 took
    4.2 ms a poster there on one core, 10.4 in the frozen graph, 15.9 eagerly).
    """
    import torch

    candidates, refused = [(Precision(), "")], ""
    if cpu_bf16_supported():
        candidate = Precision(torch.bfloat16, True, "bf16 autocast, channels-last")
        with torch.inference_mode():
            mixed = candidate.run(candidate.prepare(model), images).float().flatten(1)
        Precision().prepare(model)
        cosine = feature_cosine(mixed, exact)
        if cosine >= CPU_BF16_MIN_COSINE:
            candidates.append((candidate, f"min cosine to fp32 on the first {len(exact)} posters: {cosine:.5f}"))
        else:
            log(f"bf16 autocast features reach only cosine {cosine:.5f} to fp32 on the first posters "
                f"(< {CPU_BF16_MIN_COSINE}); keeping fp32")
            refused = f"; bf16 autocast refused: min cosine {cosine:.5f} to fp32 on the first {len(exact)} posters"
    for candidate in (Precision(graph=_frozen_graph(model, images),
                                description="fp32, frozen graph (TorchScript, oneDNN fusions)"),
                      Precision(onnx=_onnx_model(model, images), description="fp32, ONNX Runtime")):
        if candidate.graph is None and candidate.onnx is None:
            continue  # it could not take this model
        try:
            with torch.inference_mode():
                cosine = feature_cosine(candidate.run(model, images).float().flatten(1), exact)
        except Exception:  # e.g. an operator without an ONNX Runtime kernel: the model runs otherwise
            continue
        if cosine >= EXACT_MIN_COSINE:
            candidates.append((candidate, f"min cosine to the model {cosine:.6f}"))
    return candidates, refused


def first_posters(inputs: PosterInputs, plan: "ChunkPlan") -> Any:
    """The first :data:`SAMPLE_POSTERS` posters a job still has to compute, preprocessed (a
    tensor): what its precision is checked and timed on."""
    import torch

    first = [row for k in plan.pending for row in range(*plan.chunks[k])][:SAMPLE_POSTERS]
    return torch.from_numpy(np.stack([inputs[row][1] for row in first]))


def job_precision(partial: Path, model: Any, images: Any, device: Any, log: Log, threads: int | None = None,
                  trial: bool = True) -> Precision:
    """The precision of the job whose partial results are in ``partial``: chosen by
    :func:`choose_precision` on ``images`` when the job starts (``trial`` False: the model's
    own fp32, untried, for a job smaller than the trial), read back when it resumes (a second
    check, on other posters, could choose otherwise and leave one output in two precisions)."""
    record = partial / PRECISION_FILE
    if record.is_file():
        try:
            saved = json.loads(record.read_text("utf-8"))
            kind, description = saved["kind"], saved["description"]
        except (ValueError, KeyError, TypeError) as error:
            raise MmimdbError(f"{record} is damaged ({type(error).__name__}); delete {partial} to compute the output "
                              "again") from None
        log(f"resuming in the precision the job started with: {description}")
        return precision_of_kind(kind, description, model, images, partial)
    if trial:
        chosen = choose_precision(model, images, device, log, threads=threads)
    else:
        chosen = Precision(description="fp32 (no precision trial: the job is smaller than the trial)")
    atomic.write_json(record, {"kind": chosen.kind, "description": chosen.description})
    return chosen


def precision_of_kind(kind: str, description: str, model: Any, images: Any, partial: Path) -> Precision:
    """The :class:`Precision` of ``kind`` that an earlier part of a job chose (and checked on
    its first posters), rebuilt for ``model`` without checking again: one output, one precision."""
    import torch

    rewrites = {"frozen": (_frozen_graph, "graph", "the frozen fp32 graph"),
                "onnx": (_onnx_model, "onnx", "the ONNX Runtime model")}
    if kind in rewrites:  # another fp32 implementation, made again from the model
        make, attribute, what = rewrites[kind]
        rewrite = make(model, images)
        if rewrite is None:
            raise MmimdbError(f"{what} this job started with cannot be made here ({description}); delete {partial} "
                              "to compute the output again")
        return Precision(description=description, **{attribute: rewrite})
    dtypes = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
    if kind not in dtypes:
        raise MmimdbError(f"unknown precision '{kind}' in {partial / PRECISION_FILE}; delete {partial} to compute the "
                          "output again")
    chosen = Precision(dtypes[kind], kind == "bf16", description)
    chosen.prepare(model)
    return chosen


def _frozen_graph(model: Any, images: Any) -> Any:
    """``model`` traced, frozen and optimised for inference, or None if that fails on ``images``."""
    import copy
    import warnings

    import torch

    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(copy.deepcopy(model).eval(), images.clone())
            graph = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            graph(images)  # oneDNN's versions of some layers refuse some shapes only when run
            return graph
    except Exception:  # whatever TorchScript or oneDNN cannot take runs eagerly
        return None


def _seconds(precision: Precision, model: Any, images: Any) -> float:
    """The best of two timed forward passes of ``model`` run by ``precision`` (after one warm-up)."""
    import torch

    with torch.inference_mode():
        precision.run(model, images)
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            precision.run(model, images)
            best = min(best, time.perf_counter() - started)
    return best


def _onnx_model(model: Any, images: Any) -> bytes | None:
    """``model`` exported to ONNX (any batch size), or None without ONNX Runtime or if the
    export fails on ``images``."""
    import copy
    import io
    import warnings

    import torch

    try:
        import onnx  # noqa: F401  (the exporter writes through it)
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            # The TorchScript-based exporter: it needs no onnxscript and takes any traceable model.
            torch.onnx.export(copy.deepcopy(model).eval(), (images.clone(),), buffer, input_names=[ONNX_INPUT],
                              output_names=["features"], dynamic_axes={ONNX_INPUT: {0: "batch"}}, dynamo=False)
    except Exception:  # whatever the exporter cannot take runs otherwise
        return None
    return buffer.getvalue()


def onnx_session(onnx: bytes, threads: int) -> Any:
    """An ONNX Runtime CPU session of the model ``onnx`` with ``threads`` threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its notes on the graph are not the user's business
    return onnxruntime.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])


def feature_cosine(mixed: Any, exact: Any) -> float:
    """The smallest cosine similarity between matching rows; rows that are zero in both count as 1."""
    import torch

    norms = mixed.norm(dim=1) * exact.norm(dim=1)
    both_zero = (mixed.abs().amax(dim=1) == 0) & (exact.abs().amax(dim=1) == 0)
    cosine = (mixed * exact).sum(dim=1) / norms.clamp_min(1e-30)
    return float(torch.where(both_zero, torch.ones_like(cosine), cosine).min())


#: Batch sizes tried on the CPU when none is given. Bigger is not always faster there:
#: EfficientNet-Lite0 ran 53 posters/s at batch 1 and 24 at batch 32 on a 2-core machine
#: (its activations at large batches fall out of the caches).
CPU_BATCH_CANDIDATES = (1, 2, 4, 16, 64)
GPU_BATCH_SIZE = 64
#: Posters the batch-size trial encodes at the least (a warm-up and a timed batch of each
#: candidate): a job with fewer is smaller than its trial and takes the first candidate.
BATCH_TRIAL_POSTERS = 2 * sum(CPU_BATCH_CANDIDATES)


def trial_posters(device: Any, precision_trial: bool, batch_trial: bool) -> int:
    """The posters a job's timed trials on ``device`` would encode: on a CPU the precision
    trial's (:data:`PRECISION_TRIAL_POSTERS`) and the batch-size trial's
    (:data:`BATCH_TRIAL_POSTERS`), those that would run; elsewhere none are timed (a GPU
    checks fp16 untimed on :data:`SAMPLE_POSTERS` posters and takes :data:`GPU_BATCH_SIZE`).
    A job with fewer posters than that runs no trial: it would spend longer choosing than computing."""
    if device.type != "cpu":
        return 0
    return PRECISION_TRIAL_POSTERS * precision_trial + BATCH_TRIAL_POSTERS * batch_trial


def choose_batch_size(model: Any, image_size: int, device: Any, log: Log = stderr_log, seconds: float = 0.4,
                      precision: Precision | None = None, threads: int | None = None) -> int:
    """The batch size to use on ``device``: :data:`GPU_BATCH_SIZE` on a GPU; on the CPU the
    fastest of :data:`CPU_BATCH_CANDIDATES` in ``precision`` (default fp32) with ``threads``
    torch threads (default: as now), timed on random inputs for ``seconds`` each."""
    import torch

    if device.type != "cpu":
        return GPU_BATCH_SIZE
    precision = precision or Precision()
    rates = {}
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        with torch.inference_mode():
            for size in CPU_BATCH_CANDIDATES:
                batch = torch.randn(size, 3, image_size, image_size)
                precision.run(model, batch)  # warm-up: allocations and kernel choice
                started, done = time.perf_counter(), 0
                while time.perf_counter() - started < seconds:
                    precision.run(model, batch)
                    done += size
                rates[size] = done / (time.perf_counter() - started)
    finally:
        torch.set_num_threads(before)
    best = max(rates, key=rates.get)
    log("batch size " + str(best) + " (fastest on this CPU: "
        + ", ".join(f"{size}: {rate:.0f}/s" for size, rate in rates.items()) + ")")
    return best


def extract_image_features(root: Path, rows: Rows, encoder: ImageEncoder, device: str = "auto", batch_size: int | None = None,
                           workers: int | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS, force: bool = False,
                           progress: bool = True, on_chunk: Callable[[int], None] | None = None,
                           log: Log = stderr_log, precision: str = "auto") -> ExtractionReport:
    """Run ``encoder`` on every poster, in resumable chunks, and save ``encoder.output``.

    ``batch_size`` None picks one (:func:`choose_batch_size`). ``precision`` ``"auto"``
    checks the faster ways to run the model on the job's first posters
    (:func:`choose_precision`) and keeps what it chose for the whole job, resumed parts
    included (:func:`job_precision`); ``"fp32"`` never leaves the model's own fp32.
    ``on_chunk(chunk_index)`` is called after each newly computed chunk is saved (a hook
    for progress reports and tests). An interrupted run keeps its finished chunks; the next
    run with the same encoder, weights, preprocessing and rows continues after them.
    """
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    report = ExtractionReport(encoder.output, len(rows.ids), precision_requested=precision)
    plan = plan_chunks(Path(root).expanduser(), rows, encoder, chunk_rows, force, report, log, precision=precision)
    if plan is None:
        return report
    partial, chunks, pending = plan.partial, plan.chunks, plan.pending
    started = time.perf_counter()
    if pending:
        torch_device = resolve_device(device, log)
        model = encoder.build().to(torch_device).eval()
        inputs = PosterInputs(None, rows.ids, encoder.preprocess, read=BuiltDataset(root).poster_reader())
        if workers is None:
            workers = default_workers(torch_device)
        # On a CPU the workers encode too (one torch thread each: DataLoader workers run so).
        in_workers = torch_device.type == "cpu" and workers > 0
        todo = sum(chunks[k][1] - chunks[k][0] for k in pending)
        precision_trial = precision == "auto" and not (partial / PRECISION_FILE).is_file()  # (a resumed job reads it)
        trial = trial_posters(torch_device, precision_trial, batch_size is None)
        small = todo < trial
        chosen = Precision()
        if precision == "auto":
            sample = first_posters(inputs, plan).to(torch_device)
            chosen = job_precision(partial, model, sample, torch_device, log, threads=1 if in_workers else None,
                                   trial=not small)
        report.precision = chosen.description
        if small:
            untried = ["fp32"] if precision_trial else []
            if batch_size is None:
                batch_size = CPU_BATCH_CANDIDATES[0]
                untried.append(f"batch size {batch_size}")
            log(f"{', '.join(untried)} (no timing trial: it would encode {trial} posters, more than the {todo} of "
                "this job)")
        if batch_size is None:
            batch_size = choose_batch_size(model, encoder.preprocess.size, torch_device, log, precision=chosen,
                                           threads=1 if in_workers else None)
        if in_workers:
            inputs.encode = (model, chosen)
        batches = [list(range(s, min(s + batch_size, chunks[k][1]))) for k in pending for s in range(chunks[k][0], chunks[k][1], batch_size)]
        loader = DataLoader(inputs, batch_sampler=batches,
                            num_workers=workers, pin_memory=torch_device.type == "cuda",
                            persistent_workers=False, prefetch_factor=2 if workers else None)
        bar = tqdm(total=sum(chunks[k][1] - chunks[k][0] for k in pending), unit="poster", desc=encoder.output,
                   file=sys.stderr, disable=not progress)
        current, buffer, ok, filled = -1, None, None, 0
        extracting = time.perf_counter()
        try:
            with torch.inference_mode():
                for batch_rows, images, errors in loader:
                    if in_workers:  # already features
                        output = images.numpy()
                    else:
                        output = chosen.run(model, images.to(torch_device, non_blocking=True)).float().cpu().numpy()
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
        report.extract_seconds = time.perf_counter() - extracting
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
                report: ExtractionReport, log: Log, precision: str = "auto") -> ChunkPlan | None:
    """The chunks of ``encoder.output`` left to compute (partial results of the same job
    are kept, of another job discarded); None, with ``report.skipped``, if it is built.
    ``precision`` (:data:`PRECISIONS`) is part of the job: fp32 chunks are not mixed with
    chunks an ``auto`` run computed in bf16, and an ``fp32`` request rebuilds an output that
    an ``auto`` run built."""
    check_precision(precision)
    job = {"encoder": encoder.name, "sha256": encoder.info.get("sha256"), "preprocessing": encoder.info.get("preprocessing"),
           "ids_sha256": rows.ids_sha256(), "chunk_rows": chunk_rows, "precision": precision}
    done = BuiltDataset(root).feature_entries.get(encoder.output, {})
    same_job = all(done.get(key) == job[key] for key in ("encoder", "sha256", "preprocessing", "ids_sha256"))
    if not force and same_job and precision == "fp32" and done.get("precision_requested") != "fp32":
        log(f"{encoder.output}: built in {done.get('precision', 'fp32')}; rebuilding in fp32 as asked")
    elif not force and same_job:
        if encoder.output in hdf5.dataset_names(paths.hdf5_path(root)):
            log(f"{encoder.output}: already built with {encoder.name} for these rows (--force rebuilds it)")
            leftover = _partial_dir(root, encoder.output)
            if leftover.is_dir():
                # A run stopped after it wrote the output and before it dropped its chunks
                # (finish_extraction): they are of the job just found built.
                shutil.rmtree(leftover)
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
    entry = {"modality": "image", "encoder": encoder.name, **encoder.info, "precision": report.precision,
             "precision_requested": report.precision_requested}
    save_dense(root, rows, encoder.output, lambda: (_load_chunk(partial, k)[0] for k in range(len(chunks))),
                encoder.dim, entry, ok=flags)
    shutil.rmtree(partial)
    report.computed_rows = computed_rows = sum(chunks[k][1] - chunks[k][0] for k in report.computed_chunks)
    rate = ""
    if report.seconds and computed_rows:
        # both: the bar's rate is the posters alone; the job's counts the precision check and the trial too
        rate = f", {computed_rows / report.seconds:.1f} posters/s for the whole job ({report.seconds:.0f} s"
        if report.extract_seconds:
            setup = report.seconds - report.extract_seconds
            rate += (f", of which {setup:.0f} s choosing how to run the model; "
                     f"{computed_rows / report.extract_seconds:.1f} posters/s while extracting, as the bar showed")
        rate += ")"
    log(f"{encoder.output}: {encoder.name} {encoder.dim}-d for {len(rows.ids)} posters "
        f"({len(report.failed_ids)} flagged unreadable){rate}")


#: The most DataLoader workers a job starts by default (``--workers`` may ask for more).
MAX_DEFAULT_WORKERS = 8


def default_workers(device: Any = None) -> int:
    """DataLoader workers: on a CPU one per core (each decodes and encodes); beside a GPU
    one core is left to the process that drives it; at most :data:`MAX_DEFAULT_WORKERS`."""
    cores = os.cpu_count() or 2
    if device is not None and getattr(device, "type", device) == "cpu":
        return max(1, min(MAX_DEFAULT_WORKERS, cores))
    return max(1, min(MAX_DEFAULT_WORKERS, cores - 1))

