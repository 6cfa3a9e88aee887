"""Peak memory of reading a split against the size of its Parquet file (target: <= 2x).

Generates ``--movies`` films whose posters are the release's size (8.1 GB over 25,959 movies:
~310 kB; random-pixel JPEGs, which compress as little as photographs do), builds them with
``mmimdb build`` (or give ``--root`` a built data root), then runs each reader in a fresh
process and reports its peak resident memory above what the process held before the read
(the imports), divided by the train Parquet file's size:

1. ``mmimdb.load("train")`` (pandas; posters stay Arrow memory);
2. ``mmimdb.load("train", format="torch", features=[two vectors])`` through a 2-worker
   DataLoader, one epoch (parent and workers: each process's peak);
3. the card's statistics (``mmimdb.card.stats.collect``) and ``mmimdb export --format jsonl``,
   which stream row groups;
4. the baseline, in the same run: ``pyarrow.parquet.read_table(...).to_pandas()``, the plain way
   (every poster becomes a Python ``bytes`` object).

    python benchmarks/load_memory.py [--movies 3000] [--poster-kb 310] [--root DIR (kept, reused)]
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from machine import load_average, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

#: What each reader runs in its own process; it prints its peak RSS above the baseline (bytes).
#: (getrusage's ru_maxrss is inherited across fork + exec on Linux, so the kernel's per-process
#: high-water mark VmHWM is read instead; DataLoader workers are sampled at every batch.)
_PRELUDE = """
import glob, sys
import mmimdb, mmimdb.api, mmimdb.dataset.built, mmimdb.card.stats, mmimdb.export, h5py, pandas, pyarrow.parquet, numpy
import PIL.Image, PIL.JpegImagePlugin
def status(key, pid="self"):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0
workers = {}
def sample():
    for path in glob.glob("/proc/self/task/*/children"):
        for pid in open(path).read().split():
            workers[pid] = max(workers.get(pid, 0), status("VmHWM:", pid))
before = status("VmRSS:")
root = sys.argv[1]
"""
_PEAK = """
print(status("VmHWM:") - before, max(workers.values(), default=0))
"""
READERS = {
    "mmimdb.load('train') (pandas)": "frame = mmimdb.load('train', root=root); assert len(frame)",
    "load('train', format='torch', features=[2 vectors]), 2 workers": (
        "dataset = mmimdb.load('train', root=root, format='torch', features=['text_vector', 'image_vector'])\n"
        "for batch in torch.utils.data.DataLoader(dataset, batch_size=128, num_workers=2): sample()"),
    "card statistics (streamed)": "from mmimdb.card.stats import collect; collect(__import__('pathlib').Path(root))",
    "export --format jsonl (streamed)": (
        "from mmimdb.export import export; export('jsonl', root=root, out=root + '/../jsonl-export')"),
    "baseline: read_table().to_pandas()": (
        "frame = pyarrow.parquet.read_table(root + '/parquet/train.parquet').to_pandas(); assert len(frame)"),
}


def noise_poster(index: int, kilobytes: int) -> bytes:
    """A JPEG of random pixels of about ``kilobytes`` (noise compresses as little as a photo)."""
    from PIL import Image

    rng = np.random.default_rng(index)
    side = int((kilobytes * 1024 / 2.4) ** 0.5)  # about 2.4 bytes a pixel at quality 90
    pixels = rng.integers(0, 256, (int(side * 1.5), side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def make_root(directory: Path, movies: int, kilobytes: int) -> Path:
    """``movies`` generated records (tests/generated_dataset.py's, all 23 genres) with
    release-sized posters, built with the iterative split."""
    import generated_dataset
    from mmimdb.dataset.build import build
    from mmimdb.dataset.hdf5 import add_dataset
    from mmimdb.records.posters import check_poster
    from mmimdb.records.store import RecordStore
    from mmimdb.storage import manifest

    store = RecordStore(directory / "dataset")
    for index in range(movies):
        data = noise_poster(index, kilobytes)
        info = check_poster(data, str(index))
        movie = generated_dataset.record(index)
        movie["poster"] = info.record_fields()
        store.write(movie, data)
    build(directory, method="iterative", workers=2)
    rng = np.random.default_rng(0)
    for name, dim in (("text_vector", 300), ("image_vector", 4096)):
        add_dataset(directory / "multimodal_imdb.hdf5", name, rng.normal(size=(movies, dim)).astype(np.float32))
    manifest.update(directory, outputs=["multimodal_imdb.hdf5"])
    return directory


def peak_bytes(code: str, root: Path) -> tuple[int, int]:
    """The reader's peak above its own imports, and its largest worker's peak (0: none)."""
    imports = "import torch, mmimdb.torch_dataset\n" if "torch" in code else ""
    result = subprocess.run([sys.executable, "-c", imports + _PRELUDE + code + _PEAK, str(root)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: a reader failed: {result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode}")
    own, worker = result.stdout.strip().splitlines()[-1].split()
    return int(own), int(worker)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movies", type=int, default=3000)
    parser.add_argument("--poster-kb", type=int, default=310)
    parser.add_argument("--root", type=Path, default=None,
                        help="where to keep the generated root (made there when it holds no build yet)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="load-memory-") as scratch:
        root = args.root or Path(scratch) / "root"
        if not (root / "manifest.json").is_file():
            make_root(root, args.movies, args.poster_kb)
        size = (root / "parquet" / "train.parquet").stat().st_size
        counts = json.loads((root / "manifest.json").read_text())["counts"]
        print(f"{counts['train']} train movies, train.parquet {size / 2**20:.0f} MiB; {load_average()}")
        peaks = {}
        for label, code in READERS.items():
            peaks[label], worker = peak_bytes(code, root)
            workers = f"; each worker at most {worker / 2**20:.0f} MiB = {worker / size:4.2f}x" if worker else ""
            print(f"{label:64s} peak +{peaks[label] / 2**20:7.0f} MiB = {peaks[label] / size:4.2f}x the file{workers}")
        load, baseline = peaks[next(iter(READERS))], peaks[list(READERS)[-1]]
        print(f"mmimdb.load('train') peak / baseline peak: {load / baseline:.2f}x (target: <= 2x the file)")
    return 0


if __name__ == "__main__":
    run(main)
