"""Build the paper's features for a built dataset: word vectors, CNN poster features,
char/word TF-IDF and token-id sequences.

Rows follow the built HDF5 (``imdb_ids``, ordered train, dev, test); plots and posters come
from the records store. Every output lands in three places:

- the HDF5 ``<root>/multimodal_imdb.hdf5`` under the original name (``features``,
  ``vgg_features``, ``three_grams``, ``word_grams``, ``sequences``; offline encoders use
  their own names, e.g. ``glove_features``, ``efficientnet_features``);
- ``<root>/features/<name>.parquet``, one row per movie, aligned by ``imdb_id``;
- ``<root>/manifest.json`` under ``features``: encoder, weights sha256, preprocessing, dims.

Poster features are extracted in chunks by a DataLoader whose workers decode and preprocess
posters; each finished chunk is saved under ``<root>/features/.partial/<name>/``, so an
interrupted run continues from the last finished chunk.

>>> from mmimdb.features import build_features
>>> build_features("~/.cache/mmimdb", text=["glove-50"], image=["efficientnet-lite0"])  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from . import atomic, hdf5, paths
from .encoders import EncoderOptions, ImageEncoder, TextEncoder, image_encoder, text_encoder
from .errors import ImageError, MmimdbError, UsageError
from .record import longest_plot, normalize_id
from .store import RecordStore
from .text import tokenize

FEATURES_DIR = "features"
#: Outputs that do not need an encoder, and their original HDF5 names.
TFIDF_OUTPUTS = {"three_grams": dict(analyzer="char", ngram_range=(3, 3), min_df=2),
                 "word_grams": dict(min_df=10)}
SEQUENCES = "sequences"
#: Word vectors of the sequence ids (not row-aligned): what RNN_transfer starts from.
EMBEDDINGS = "embeddings"
#: Groups ``--only`` accepts: the chosen encoders' outputs, and the encoder-free outputs.
OUTPUT_GROUPS = ("text", "image", "three_grams", "word_grams", "sequences")
UNKNOWN_TOKEN = "<unk>"
#: A word enters the sequences vocabulary if it occurs at least this often in train plots.
SEQUENCE_MIN_COUNT = 2
DEFAULT_CHUNK_ROWS = 1024
#: Largest max-abs difference of mixed-precision features to fp32, relative to the
#: largest fp32 value, that keeps autocast on.
AUTOCAST_TOLERANCE = 1e-2

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    from tqdm import tqdm
    tqdm.write(message, file=sys.stderr)


# --------------------------------------------------------------------------- dataset rows

@dataclass(frozen=True)
class Rows:
    """The dataset's rows in HDF5 order and the split's row ranges."""

    ids: list[str]
    split: dict[str, tuple[int, int]]

    def indices(self, name: str) -> np.ndarray:
        start, stop = self.split[name]
        return np.arange(start, stop)

    def ids_sha256(self) -> str:
        return hashlib.sha256("\n".join(self.ids).encode()).hexdigest()


def hdf5_path(root: str | os.PathLike) -> Path:
    return paths.hdf5_path(Path(root))


def read_rows(root: str | os.PathLike) -> Rows:
    """Ids and split ranges of the built dataset; :class:`UsageError` if it is not built."""
    path = hdf5_path(root)
    raw_ids = hdf5.read_rows(path, hdf5.IMDB_IDS, 0, None)
    ids = [normalize_id(value.decode() if isinstance(value, bytes) else str(value)) for value in raw_ids]
    return Rows(ids, hdf5.read_split_ranges(path))


def plot_tokens(root: Path, ids: Sequence[str]) -> list[list[str]]:
    """Tokens of each movie's longest plot (the paper's text input), in row order."""
    store = RecordStore(paths.dataset_dir(Path(root)))
    return [tokenize(longest_plot(store.read(imdb_id, validate=False))) for imdb_id in ids]


# --------------------------------------------------------------------------- writers

def _write_parquet(path: Path, ids: Sequence[str], columns: Iterator[dict[str, Any]], metadata: dict[str, Any]) -> None:
    """Stream column batches (dicts of pyarrow arrays, row-aligned with ``ids``) to Parquet, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    start = 0
    with atomic.atomic_open(path, "wb") as handle:
        for batch in columns:
            rows = len(next(iter(batch.values())))
            table = pa.table({"imdb_id": pa.array(ids[start:start + rows], pa.string()), **batch})
            if writer is None:
                schema = table.schema.with_metadata({"mmimdb": json.dumps(metadata)})
                writer = pq.ParquetWriter(handle, schema, compression="zstd")
            writer.write_table(table.cast(writer.schema))
            start += rows
        if writer is not None:
            writer.close()


def _dense_parquet_columns(chunks: Iterable[np.ndarray], ok: Iterable[np.ndarray] | None = None) -> Iterator[dict[str, Any]]:
    import pyarrow as pa

    for index, chunk in enumerate(chunks):
        flat = pa.array(np.ascontiguousarray(chunk, dtype=np.float32).reshape(-1))
        batch = {"features": pa.FixedSizeListArray.from_arrays(flat, chunk.shape[1])}
        if ok is not None:
            batch["ok"] = pa.array(ok[index])
        yield batch


def update_manifest(root: Path, name: str, entry: dict[str, Any]) -> None:
    """Set ``manifest["features"][name]`` (read-modify-write, atomic)."""
    path = paths.manifest_path(Path(root))
    manifest = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    manifest.setdefault("features", {})[name] = entry
    atomic.write_json(path, manifest)


def read_manifest_features(root: Path) -> dict[str, Any]:
    path = paths.manifest_path(Path(root))
    return json.loads(path.read_text("utf-8")).get("features", {}) if path.is_file() else {}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _save_dense(root: Path, rows: Rows, name: str, chunks: Callable[[], Iterable[np.ndarray]], dim: int,
                entry: dict[str, Any], ok: list[np.ndarray] | None = None) -> dict[str, Any]:
    """Write a dense float32 feature to the HDF5, to Parquet and to the manifest."""
    failed = [] if ok is None else [rows.ids[i] for i in np.flatnonzero(~np.concatenate(ok))]
    entry = {**entry, "dims": [len(rows.ids), dim], "dtype": "float32", "hdf5": f"{hdf5.FILE_NAME}:/{name}",
             "parquet": f"{FEATURES_DIR}/{name}.parquet", "ids_sha256": rows.ids_sha256(), "built": _now()}
    if ok is not None:
        entry["failed_ids"] = failed
    hdf5.add_dataset(hdf5_path(root), name, chunks(), attrs={k: v for k, v in entry.items() if k != "built"})
    _write_parquet(Path(root) / FEATURES_DIR / f"{name}.parquet", rows.ids, _dense_parquet_columns(chunks(), ok), entry)
    update_manifest(root, name, entry)
    return entry


# --------------------------------------------------------------------------- text outputs

def build_text_encoder_output(root: Path, rows: Rows, tokens: Sequence[Sequence[str]], encoder: TextEncoder, log: Log) -> dict[str, Any]:
    """Mean word vectors of every plot under ``encoder.output``."""
    started = time.perf_counter()
    features = encoder.encode(tokens)
    covered = int(np.count_nonzero(np.abs(features).sum(axis=1)))
    entry = {"modality": "text", "encoder": encoder.name, **encoder.info, "plots_with_known_words": covered}
    entry = _save_dense(root, rows, encoder.output, lambda: _row_chunks(features), features.shape[1], entry)
    log(f"{encoder.output}: {encoder.name} {features.shape[1]}-d for {len(rows.ids)} plots "
        f"({covered} with known words) in {time.perf_counter() - started:.1f} s")
    return entry


def _row_chunks(array: Any, rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[np.ndarray]:
    for start in range(0, array.shape[0], rows):
        part = array[start:start + rows]
        yield np.asarray(part.toarray() if hasattr(part, "toarray") else part, dtype=np.float32)


def _identity(tokens: Sequence[str]) -> Sequence[str]:
    return tokens


def build_tfidf_output(root: Path, rows: Rows, tokens: Sequence[Sequence[str]], name: str, log: Log) -> dict[str, Any]:
    """Char 3-gram (``three_grams``) or word (``word_grams``) TF-IDF, fitted on train rows only."""
    import pyarrow as pa
    from sklearn.feature_extraction.text import TfidfVectorizer

    started = time.perf_counter()
    settings = TFIDF_OUTPUTS[name]
    if settings.get("analyzer") == "char":
        vectorizer = TfidfVectorizer(dtype=np.float32, lowercase=False, **settings)
        documents: Sequence[Any] = [" ".join(t) for t in tokens]
    else:
        vectorizer = TfidfVectorizer(dtype=np.float32, analyzer=_identity, **settings)
        documents = tokens
    train = rows.indices("train")
    try:
        vectorizer.fit([documents[i] for i in train])
    except ValueError as error:
        raise MmimdbError(f"{name}: cannot fit TF-IDF on {len(train)} train plots ({error})") from None
    matrix = vectorizer.transform(documents).tocsr()
    terms = vectorizer.get_feature_names_out().tolist()
    vocabulary_path = Path(root) / FEATURES_DIR / f"{name}.vocabulary.json"
    atomic.write_json(vocabulary_path, {"terms": terms, "idf": vectorizer.idf_.astype(float).tolist()}, indent=None)
    entry = {"modality": "text", "encoder": "tfidf", "fitted_on": "train",
             "preprocessing": f"mmimdb.text.tokenize, then sklearn TfidfVectorizer({', '.join(f'{k}={v!r}' for k, v in settings.items())})",
             "dims": [len(rows.ids), len(terms)], "dtype": "float32", "vocabulary": str(vocabulary_path.relative_to(root)),
             "hdf5": f"{hdf5.FILE_NAME}:/{name}", "parquet": f"{FEATURES_DIR}/{name}.parquet (sparse: indices, values)",
             "ids_sha256": rows.ids_sha256(), "built": _now()}
    hdf5.add_dataset(hdf5_path(root), name, _row_chunks(matrix), attrs={k: v for k, v in entry.items() if k != "built"},
                compression="gzip")

    def sparse_columns() -> Iterator[dict[str, Any]]:
        for start in range(0, matrix.shape[0], DEFAULT_CHUNK_ROWS):
            part = matrix[start:start + DEFAULT_CHUNK_ROWS]
            offsets = pa.array(part.indptr.astype(np.int32))
            yield {"indices": pa.ListArray.from_arrays(offsets, pa.array(part.indices.astype(np.int32))),
                   "values": pa.ListArray.from_arrays(offsets, pa.array(part.data.astype(np.float32)))}

    _write_parquet(Path(root) / FEATURES_DIR / f"{name}.parquet", rows.ids, sparse_columns(), entry)
    update_manifest(root, name, entry)
    log(f"{name}: TF-IDF {len(terms)} terms (fitted on {len(train)} train plots) in {time.perf_counter() - started:.1f} s")
    return entry


def build_embeddings_output(root: Path, encoder: TextEncoder, log: Log) -> dict[str, Any]:
    """``embeddings`` (V, dim): row i is the text encoder's vector of ``sequences`` id i
    (row 0, the unknown word, is zeros), so RNN_transfer starts from pretrained vectors."""
    vocabulary = json.loads((Path(root) / FEATURES_DIR / f"{SEQUENCES}.vocabulary.json").read_text("utf-8"))
    vectors = np.asarray(encoder.encode([[word] for word in vocabulary]), dtype=np.float32)
    vectors[0] = 0.0
    entry = {"modality": "text", "encoder": encoder.name, **encoder.info, "dims": list(vectors.shape),
             "rows": f"one per id of {SEQUENCES}", "hdf5": f"{hdf5.FILE_NAME}:/{EMBEDDINGS}", "built": _now()}
    hdf5.add_array(hdf5_path(root), EMBEDDINGS, vectors, attrs={k: v for k, v in entry.items() if k != "built"})
    update_manifest(root, EMBEDDINGS, entry)
    known = int(np.count_nonzero(np.abs(vectors).sum(axis=1)))
    log(f"{EMBEDDINGS}: {encoder.name} vectors for {known} of {len(vocabulary)} sequence ids")
    return entry


def build_sequences_output(root: Path, rows: Rows, tokens: Sequence[Sequence[str]], log: Log) -> dict[str, Any]:
    """Token ids per plot (``sequences``, variable length int32; 0 = unknown word).

    The vocabulary is the train plots' words seen at least :data:`SEQUENCE_MIN_COUNT`
    times, most frequent first; it is saved as a JSON list whose position is the id.
    """
    import h5py
    import pyarrow as pa

    counts = Counter(token for i in rows.indices("train") for token in tokens[i])
    words = sorted((w for w, c in counts.items() if c >= SEQUENCE_MIN_COUNT), key=lambda w: (-counts[w], w))
    vocabulary = [UNKNOWN_TOKEN] + words
    index = {word: i for i, word in enumerate(vocabulary)}
    sequences = np.empty(len(tokens), dtype=h5py.vlen_dtype(np.int32))
    for row, plot in enumerate(tokens):
        sequences[row] = np.fromiter((index.get(t, 0) for t in plot), dtype=np.int32, count=len(plot))
    vocabulary_path = Path(root) / FEATURES_DIR / f"{SEQUENCES}.vocabulary.json"
    atomic.write_json(vocabulary_path, vocabulary, indent=None)
    entry = {"modality": "text", "encoder": "token ids", "fitted_on": "train",
             "preprocessing": f"mmimdb.text.tokenize; train words with count >= {SEQUENCE_MIN_COUNT}, most frequent first; 0 = {UNKNOWN_TOKEN}",
             "dims": [len(rows.ids), None], "dtype": "vlen int32", "vocabulary": str(vocabulary_path.relative_to(root)),
             "vocabulary_size": len(vocabulary), "hdf5": f"{hdf5.FILE_NAME}:/{SEQUENCES}",
             "parquet": f"{FEATURES_DIR}/{SEQUENCES}.parquet", "ids_sha256": rows.ids_sha256(), "built": _now()}
    hdf5.add_dataset(hdf5_path(root), SEQUENCES, sequences, attrs={k: v for k, v in entry.items() if k != "built"})
    column = pa.array([s.tolist() for s in sequences], pa.list_(pa.int32()))
    _write_parquet(Path(root) / FEATURES_DIR / f"{SEQUENCES}.parquet", rows.ids, iter([{"sequences": column}]), entry)
    update_manifest(root, SEQUENCES, entry)
    unknown = sum(int(np.count_nonzero(s == 0)) for s in sequences)
    log(f"{SEQUENCES}: {len(vocabulary)} ids, {sum(len(s) for s in sequences)} tokens ({unknown} unknown)")
    return entry


# --------------------------------------------------------------------------- image outputs

def resolve_device(name: str, log: Log = _stderr):
    """The torch device for ``auto|cpu|cuda|mps``; ``auto`` takes a GPU if there is one
    and says so when it falls back to the CPU. :class:`UsageError` for an absent device."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        log("device auto: no CUDA or MPS GPU found, running on the CPU")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise UsageError(f"device cuda: torch ({torch.__version__}, {build}) sees no CUDA GPU here; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise UsageError("device mps: torch sees no Apple MPS GPU here; use --device cpu or auto")
    if name not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unknown device '{name}' (use auto, cpu, cuda or mps)")
    return torch.device(name)


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
    return Path(root) / FEATURES_DIR / ".partial" / name


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


def choose_batch_size(model: Any, image_size: int, device: Any, log: Log = _stderr, seconds: float = 0.4) -> int:
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
                           log: Log = _stderr) -> ExtractionReport:
    """Run ``encoder`` on every poster, in resumable chunks, and save ``encoder.output``.

    ``batch_size`` None picks one (:func:`choose_batch_size`). ``on_chunk(chunk_index)`` is
    called after each newly computed chunk is saved (a hook
    for progress reports and tests). An interrupted run keeps its finished chunks; the next
    run with the same encoder, weights, preprocessing and rows continues after them.
    """
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    root = Path(root)
    report = ExtractionReport(encoder.output, len(rows.ids))
    job = {"encoder": encoder.name, "sha256": encoder.info.get("sha256"), "preprocessing": encoder.info.get("preprocessing"),
           "ids_sha256": rows.ids_sha256(), "chunk_rows": chunk_rows}
    done = read_manifest_features(root).get(encoder.output, {})
    if not force and all(done.get(key) == job[key] for key in ("encoder", "sha256", "preprocessing", "ids_sha256")):
        import h5py
        with h5py.File(hdf5_path(root), "r") as handle:
            if encoder.output in handle:
                log(f"{encoder.output}: already built with {encoder.name} for these rows (--force rebuilds it)")
                report.skipped = True
                return report
    partial = _partial_dir(root, encoder.output)
    job_path = partial / "job.json"
    if partial.is_dir() and (not job_path.is_file() or json.loads(job_path.read_text("utf-8")) != job or force):
        log(f"{encoder.output}: discarding partial results of a different run in {partial}")
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    atomic.write_json(job_path, job)

    chunks = [(start, min(start + chunk_rows, len(rows.ids))) for start in range(0, len(rows.ids), chunk_rows)]
    pending = [k for k in range(len(chunks)) if not _chunk_path(partial, k).is_file()]
    report.reused_chunks = len(chunks) - len(pending)
    if report.reused_chunks and pending:
        log(f"{encoder.output}: resuming, {report.reused_chunks} of {len(chunks)} chunks already done")
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
                        with atomic.atomic_open(_chunk_path(partial, chunk), "wb") as handle:
                            np.savez(handle, features=buffer, ok=ok)
                        report.computed_chunks.append(chunk)
                        if on_chunk is not None:
                            on_chunk(chunk)
        finally:
            bar.close()
    report.seconds = time.perf_counter() - started

    flags = [_load_chunk(partial, k)[1] for k in range(len(chunks))]
    report.failed_ids = [rows.ids[i] for i in np.flatnonzero(~np.concatenate(flags))]
    entry = {"modality": "image", "encoder": encoder.name, **encoder.info, "precision": report.precision}
    _save_dense(root, rows, encoder.output, lambda: (_load_chunk(partial, k)[0] for k in range(len(chunks))),
                encoder.dim, entry, ok=flags)
    shutil.rmtree(partial)
    report.computed_rows = computed_rows = sum(chunks[k][1] - chunks[k][0] for k in report.computed_chunks)
    rate = f", {computed_rows / report.seconds:.1f} posters/s" if report.seconds and computed_rows else ""
    log(f"{encoder.output}: {encoder.name} {encoder.dim}-d for {len(rows.ids)} posters "
        f"({len(report.failed_ids)} flagged unreadable){rate}")
    return report


def default_workers() -> int:
    """DataLoader workers: one core is left to the model's own threads."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


# --------------------------------------------------------------------------- entry points

def build_features(root: str | os.PathLike | None = None, text: Sequence[str] = ("word2vec",),
                   image: Sequence[str] = ("vgg16",), only: Sequence[str] | None = None,
                   options: EncoderOptions | None = None, device: str = "auto", batch_size: int | None = None,
                   workers: int | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS, force: bool = False,
                   progress: bool = True, log: Log = _stderr) -> dict[str, Any]:
    """Build the chosen features of the dataset under ``root``; return their manifest entries.

    ``only`` restricts the work to some of :data:`OUTPUT_GROUPS`. Encoders and their files
    are checked before any work starts, so a wrong path fails fast and changes nothing.
    """
    root = paths.data_root(root)
    groups = list(only) if only else list(OUTPUT_GROUPS)
    unknown = [g for g in groups if g not in OUTPUT_GROUPS]
    if unknown:
        raise UsageError(f"unknown output '{unknown[0]}' for --only (known: {', '.join(OUTPUT_GROUPS)})")
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"batch size must be at least 1 (got {batch_size})")
    options = options or EncoderOptions()
    if options.cache_dir is None:
        options = EncoderOptions(**{**options.__dict__, "cache_dir": Path(root) / FEATURES_DIR / "cache"})
    rows = read_rows(root)
    text_encoders = [text_encoder(name, options) for name in text] if "text" in groups else []
    image_encoders = [image_encoder(name, options) for name in image] if "image" in groups else []
    if image_encoders:
        resolve_device(device, log=lambda message: None)  # fail before any work; the run says it once
    (Path(root) / FEATURES_DIR).mkdir(parents=True, exist_ok=True)
    built: dict[str, Any] = {}
    if any(g in groups for g in ("text", "three_grams", "word_grams", "sequences")):
        tokens = plot_tokens(root, rows.ids)
        for encoder in text_encoders:
            built[encoder.output] = build_text_encoder_output(root, rows, tokens, encoder, log)
        for name in TFIDF_OUTPUTS:
            if name in groups:
                built[name] = build_tfidf_output(root, rows, tokens, name, log)
        if SEQUENCES in groups:
            built[SEQUENCES] = build_sequences_output(root, rows, tokens, log)
            if text_encoders:
                built[EMBEDDINGS] = build_embeddings_output(root, text_encoders[0], log)
    for encoder in image_encoders:
        extract_image_features(root, rows, encoder, device=device, batch_size=batch_size, workers=workers,
                               chunk_rows=chunk_rows, force=force, progress=progress, log=log)
        built[encoder.output] = read_manifest_features(root)[encoder.output]
    return built


def read_features(root: str | os.PathLike | None, names: Sequence[str], split: str | None = None) -> dict[str, Any]:
    """Features ``names`` plus ``genres`` and ``imdb_ids`` for the rows of ``split`` (all if None).

    Dense features come back as (n, dim) float32 arrays, ``sequences`` as a list of int32
    arrays. ``mmimdb.load(split, features=[...])`` returns the same rows with the Parquet
    columns.
    """
    root = paths.data_root(root)
    rows = read_rows(root)
    if split is not None and split not in rows.split:
        raise UsageError(f"unknown split '{split}' (known: {', '.join(rows.split)})")
    start, stop = rows.split[split] if split else (0, len(rows.ids))
    result: dict[str, Any] = {"imdb_ids": rows.ids[start:stop]}
    for name in [hdf5.GENRES_NAME, *names]:
        values = hdf5.read_rows(hdf5_path(root), name, start, stop)
        result[name] = list(values) if values.dtype == object else values
    return result
