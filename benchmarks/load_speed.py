"""Rows/s of ``mmimdb.load(split, format="torch")`` against a per-item reader of the same file.

Builds the 1,222 real greatest films (``mmimdb build``; or give ``--root`` a built data root)
and adds a 50-d float32 ``features`` dataset (random values: reading speed does not depend
on them). Then, in one run, through a ``torch.utils.data.DataLoader`` (batch 128, shuffle):

1. **feature vectors**: the torch dataset (``features=["features"]``, labels) against a
   per-item reader (one h5py row read per item, as MultiBench's loader does), and one h5py
   slice read of the whole split as the memory-speed ceiling;
2. **HDF5 images** (3 x 256 x 160 int32, one gzip chunk each): the torch dataset with 0 and
   ``--workers`` worker processes against the per-item reader, beside the decompression bound
   measured on the same chunks (inflating them alone, zlib as HDF5 does and ISA-L, one core);
3. **decoded posters** (JPEG bytes from Parquet, the original preprocessing): the torch
   dataset with ``--workers`` workers against one-at-a-time decoding in this process.

    python benchmarks/load_speed.py [--root DIR] [--workers 2] [--seconds 3]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from machine import load_average, run

FEATURE_DIM = 50
TARGET_FEATURES = 50.0



class PerItemReader:
    """The plain way: one h5py row read per item (MultiBench's ``__getitem__``)."""

    def __init__(self, path: Path, name: str, start: int, stop: int):
        self.path, self.name, self.start, self.stop = path, name, start, stop
        self.handle = None

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index: int):
        import h5py
        import torch

        if self.handle is None:
            self.handle = h5py.File(self.path, "r")
        return {self.name: torch.as_tensor(self.handle[self.name][self.start + index]),
                "labels": torch.as_tensor(self.handle["genres"][self.start + index])}


def rows_per_second(dataset, seconds: float, batch_size: int = 128, workers: int = 0) -> float:
    """Rows/s of a shuffled DataLoader over ``dataset``, whole epochs for at least ``seconds``."""
    import torch

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    next(iter(loader))  # workers started, files opened
    rows, started = 0, time.perf_counter()
    while rows == 0 or time.perf_counter() - started < seconds:
        for batch in loader:
            rows += len(next(iter(batch.values())))
    return rows / (time.perf_counter() - started)


def inflate_rate(path: Path, start: int, stop: int, decompress, seconds: float) -> float:
    """Image chunks/s inflated by ``decompress`` alone on one core (raw chunks read first)."""
    import h5py

    with h5py.File(path, "r") as handle:
        chunks = [handle["images"].id.read_direct_chunk((row, 0, 0, 0))[1] for row in range(start, stop)]
    done, started = 0, time.perf_counter()
    while done == 0 or time.perf_counter() - started < seconds:
        for chunk in chunks:
            decompress(chunk)
        done += len(chunks)
    return done / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="a built data root (default: build the greatest films)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0, help="least time per measurement")
    args = parser.parse_args()
    if args.root is not None:
        return measure(args, args.root)
    from mmimdb import demo
    from mmimdb.dataset.build import build

    with tempfile.TemporaryDirectory(prefix="mmimdb-load-speed-") as folder:
        root = Path(folder)
        print(f"building the greatest films in {root} (removed at the end; --root reuses a built root) ...", flush=True)
        demo.write_store(root)
        build(root, method="original")
        return measure(args, root)


def measure(args: argparse.Namespace, root: Path) -> int:
    import h5py
    import torch

    import mmimdb
    from mmimdb import paths
    from mmimdb.dataset import hdf5, parquet
    from mmimdb.dataset.images import preprocess_poster

    from mmimdb.api import split_features, split_file

    split_file(args.split, root)  # a root that is not built ends as one line, as mmimdb.load says it
    split_features(args.split, [], root)
    path = paths.hdf5_path(root)
    with h5py.File(path, "r") as handle:
        has_features = "features" in handle
        count = handle["imdb_ids"].shape[0]
    if not has_features:
        hdf5.add_dataset(path, "features", np.random.default_rng(0).normal(size=(count, FEATURE_DIM)).astype(np.float32))
    start, stop = hdf5.read_split_ranges(path)[args.split]
    rows = stop - start
    print(f"{args.split}: {rows} rows of {path}; torch {torch.__version__}, {os.cpu_count()} cores, {load_average()}")

    # 1. feature vectors
    dataset = mmimdb.load(args.split, root=root, format="torch", columns=["labels"], features=["features"])
    ours = rows_per_second(dataset, args.seconds)
    plain = rows_per_second(PerItemReader(path, "features", start, stop), args.seconds)
    with h5py.File(path, "r") as handle:
        began, reads = time.perf_counter(), 0
        while reads == 0 or time.perf_counter() - began < 1.0:
            handle["features"][start:stop]
            reads += 1
        ceiling = reads * rows / (time.perf_counter() - began)
    ratio = ours / plain
    print(f"features ({FEATURE_DIM}-d float32), batch 128, shuffled, no workers:")
    print(f"  torch dataset      {ours:12,.0f} rows/s")
    print(f"  per-item reader    {plain:12,.0f} rows/s   ratio {ratio:.1f}x "
          f"(target >= {TARGET_FEATURES:.0f}x: {'met' if ratio >= TARGET_FEATURES else 'NOT met'})")
    print(f"  one slice read     {ceiling:12,.0f} rows/s   (the whole split at once: the memory-speed ceiling)")

    # 2. HDF5 images
    from isal import isal_zlib

    zlib_bound = inflate_rate(path, start, stop, zlib.decompress, args.seconds)
    isal_bound = inflate_rate(path, start, stop, isal_zlib.decompress, args.seconds)
    dataset = mmimdb.load(args.split, root=root, format="torch", columns=["labels"], features=["images"])
    images = {workers: rows_per_second(dataset, args.seconds, workers=workers) for workers in sorted({0, args.workers})}
    plain = rows_per_second(PerItemReader(path, "images", start, stop), args.seconds)
    print(f"HDF5 images (3x256x160 int32, gzip chunks), batch 128, shuffled ({load_average()}):")
    for workers, rate in images.items():
        print(f"  torch dataset, {workers} workers {rate:8,.0f} rows/s   {rate / plain:5.2f}x the per-item reader, "
              f"{rate / zlib_bound:5.2f}x the zlib bound")
    print(f"  per-item reader     {plain:8,.0f} rows/s   (h5py, HDF5's own inflate)")
    print(f"  decompression bound {zlib_bound:8,.0f} rows/s with zlib (HDF5's inflate), {isal_bound:,.0f} with ISA-L; "
          f"inflating the chunks alone, one core")
    best = max(images.values())
    print(f"  images: torch dataset {'no slower' if best >= zlib_bound else 'SLOWER'} than the zlib decompression bound")

    # 3. decoded posters
    table = parquet.read_table(paths.parquet_path(root, args.split), ["imdb_id", "poster"])
    ids = table.column("imdb_id").to_pylist()
    blobs = table.column("poster").combine_chunks().field("bytes").to_pylist()
    began, decoded = time.perf_counter(), 0
    while decoded == 0 or time.perf_counter() - began < args.seconds:
        for imdb_id, blob in zip(ids, blobs):
            torch.from_numpy(preprocess_poster(blob, imdb_id).astype(np.float32))
            decoded += 1
            if time.perf_counter() - began >= args.seconds:
                break
    one_by_one = decoded / (time.perf_counter() - began)
    dataset = mmimdb.load(args.split, root=root, format="torch", columns=["labels", "poster"])
    ours = rows_per_second(dataset, args.seconds, batch_size=32, workers=args.workers)
    print(f"decoded posters (JPEG -> 3x256x160 float32), batch 32, shuffled ({load_average()}):")
    print(f"  torch dataset, {args.workers} workers {ours:8,.0f} rows/s   {ours / one_by_one:5.2f}x decoding one at a time")
    print(f"  one at a time       {one_by_one:8,.0f} rows/s   (this process)")
    return 0


if __name__ == "__main__":
    run(main)
