"""Speed of ``mmimdb build`` on the 1,222 real greatest films, against a naive loop.

Writes the films as records (as the tests' ``greatest_films_root`` fixture does), then times
the whole build (``original`` split: read and check records, split, Parquet + HDF5 +
manifest) and, on the same posters in the same run, a naive loop that opens, converts and
resizes them one by one in one process. Prints records/s, the ratio, and the full
25,959-movie build time extrapolated from the measured rate.

    .venv/bin/python benchmarks/build_speed.py [--workers N] [--keep DIR]
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


FULL_DATASET = 25_959


def write_records(root: Path) -> int:
    """The complete greatest films as records + posters under ``root/dataset``."""
    from mmimdb import demo
    from mmimdb.records.store import RecordStore

    demo.write_store(root)
    return len(RecordStore(root / "dataset"))


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the build's workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def naive_loop(posters: list[Path]) -> float:
    """Seconds to open, convert and resize every poster one by one (no draft, one core)."""
    from PIL import Image

    from mmimdb.dataset.images import CAFFE_MEAN_BGR, IMAGE_SIZE, crop_box

    start = time.perf_counter()
    for path in posters:
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            image = image.convert("RGB")
            image = image.crop(crop_box(*image.size)).resize(IMAGE_SIZE, Image.LANCZOS)
            array = (np.asarray(image, dtype=np.float32)[..., ::-1] - CAFFE_MEAN_BGR).transpose(2, 0, 1).astype(np.int32)
            assert array.shape == (3, 256, 160)
    return time.perf_counter() - start


def image_stage(root: Path, workers: int | None) -> float:
    """Seconds for the build's image stage alone: decode (draft), crop, resize, compress
    the HDF5 chunks, on every core."""
    from mmimdb.dataset.build import _image_task, _parallel_map
    from mmimdb.records.store import RecordStore

    store = RecordStore(root / "dataset")
    tasks = [(str(store.directory), imdb_id) for imdb_id in store.ids()]
    start = time.perf_counter()
    for _ in _parallel_map(_image_task, tasks, workers or os.cpu_count() or 1):
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="build processes (default: all cores)")
    parser.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it")
    args = parser.parse_args()

    from mmimdb.dataset.build import build
    from mmimdb.records.store import RecordStore

    root = args.keep or Path(tempfile.mkdtemp(prefix="mmimdb-build-speed-"))
    count = write_records(root)
    posters = [RecordStore(root / "dataset").poster_path(i) for i in RecordStore(root / "dataset").ids()]
    naive_loop(posters[:50])  # warm the page cache and imports for both

    cpu = cpu_seconds()
    naive_seconds = naive_loop(posters)
    naive_cpu, cpu = cpu_seconds() - cpu, cpu_seconds()
    stage_seconds = image_stage(root, args.workers)
    stage_cpu, cpu = cpu_seconds() - cpu, cpu_seconds()
    start = time.perf_counter()
    manifest = build(root, method="original", workers=args.workers)
    build_seconds = time.perf_counter() - start
    build_cpu = cpu_seconds() - cpu

    cores = os.cpu_count() or 1
    naive_rate, stage_rate, build_rate = count / naive_seconds, count / stage_seconds, count / build_seconds
    print(f"records: {count} greatest films, {manifest['counts']['total']} in the dataset; {cores} cores, "
          f"load average {os.getloadavg()[0]:.1f} (other processes share the cores)")
    print("                                                                wall           records/s  ratio   CPU ms/record")
    for label, seconds, rate, cpu_used in (
            ("naive loop (open, convert, resize one by one; no compression)", naive_seconds, naive_rate, naive_cpu),
            ("build's image stage (draft, resize, compressed chunks, pool) ", stage_seconds, stage_rate, stage_cpu),
            ("whole mmimdb build (records, split, Parquet, HDF5, manifest) ", build_seconds, build_rate, build_cpu)):
        print(f"{label} {seconds:6.1f} s  {rate:8.1f}  {rate / naive_rate:5.2f}x  {cpu_used / count * 1000:8.2f}")
    print(f"ratio whole build / naive loop: {build_rate / naive_rate:.2f}x (target >= 2x); on {cores} idle cores the "
          f"CPU time bounds it at {naive_cpu / build_cpu * cores:.2f}x")
    print(f"extrapolated full build ({FULL_DATASET} records): {FULL_DATASET / build_rate / 60:.1f} min (target < 5 min)")
    print(f"HDF5: {manifest['outputs']['multimodal_imdb.hdf5']['bytes'] / 2**20:.1f} MiB; outputs in {root}")


if __name__ == "__main__":
    main()
