"""Table 2 timed at the release's size on this machine: ``mmimdb benchmark --model all`` (the
paper's defaults, one seed) and ``--model GMU --search 25``, with each run's peak memory.

The data is a stand-in of the release's shape, written here: 25,959 movies in the release's
row order (15,552 / 2,608 / 7,799, the ids of ../shared/data/mmimdb-split.json when present),
23 genres at the release's frequencies, and the two vectors Table 2's feature models read,
``features`` (300-d) and ``vgg_features`` (4,096-d), each a noisy linear image of the labels
(so training stops early as on real data, not at once). The models that read token ids,
n-grams or pixels have no input here and are skipped, as ``--model all`` skips them on any
file that lacks them; the script says which ran. Each run is a child process, timed by wall
clock, its peak RSS read from ``getrusage(RUSAGE_CHILDREN)``; the load average is printed
before and after: on a shared machine every figure is an upper bound.

    python benchmarks/table2_release.py                 # paper defaults: up to 200 epochs
    python benchmarks/table2_release.py --epochs 5      # a capped, shorter measurement
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from machine import load_average

from mmimdb.dataset.hdf5 import ORIGINAL_SPLIT_ROWS
from mmimdb.records.genres import ORIGINAL_COUNTS, GENRES


def write_standin(path: Path, seed: int = 0) -> int:
    """Write the release-shaped HDF5 at ``path``; return its rows."""
    import h5py

    rows = ORIGINAL_SPLIT_ROWS["test"][1]
    split_file = Path(os.environ.get("MMIMDB_SHARED_DATA", "")) / "mmimdb-split.json"
    if split_file.is_file():
        split = json.loads(split_file.read_text())
        ids = split["train"] + split["dev"] + split["test"]
    else:
        ids = [f"{9000000 + i:07d}" for i in range(rows)]
    rng = np.random.default_rng(seed)
    frequency = np.array([ORIGINAL_COUNTS[g] for g in GENRES], dtype=np.float64) / rows
    labels = (rng.uniform(size=(rows, len(GENRES))) < frequency).astype(np.int32)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("imdb_ids", data=np.array(ids, dtype="S7"))
        handle.create_dataset("genres", data=labels)
        for name, dim, noise in (("features", 300, 2.0), ("vgg_features", 4096, 4.0)):
            signal = labels @ rng.normal(size=(len(GENRES), dim)).astype(np.float32)
            handle.create_dataset(name, data=(signal + rng.normal(0, noise, (rows, dim))).astype(np.float32))
    return rows


def timed_child(args: list[str]) -> tuple[float, float, int]:
    """Run ``mmimdb ARGS`` as a child: (wall seconds, its peak RSS in MiB, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "mmimdb_cli.main", *args])
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far, KiB
    return seconds, max(peak, before) / 1024, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200, help="most epochs per training (paper: 200)")
    parser.add_argument("--search", type=int, default=25, help="trials of the GMU's search")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", type=Path, default=None, help="write the stand-in and reports here (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="table2-release-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "multimodal_imdb.hdf5"
    started = time.perf_counter()
    rows = write_standin(path)
    print(f"stand-in: {rows} movies, features 300-d + vgg_features 4096-d, written in {time.perf_counter() - started:.1f} s "
          f"({path.stat().st_size / 2**20:.0f} MiB)")
    print(f"cpu cores {os.cpu_count()}, {load_average()}")
    common = ["--hdf5", str(path), "--epochs", str(args.epochs), "--device", args.device, "--fresh"]
    for label, extra, out in (("benchmark --model all (paper defaults, one seed)", ["--model", "all"], "all"),
                              (f"benchmark --model GMU --search {args.search}", ["--model", "GMU", "--search", str(args.search)],
                               "search")):
        seconds, peak, code = timed_child(["benchmark", *extra, *common, "--out", str(work / out)])
        if code != 0:
            print(f"{label}: exit {code} after {seconds:.0f} s")
            return code
        results = json.loads((work / out / "results.json").read_text())
        ran = [name for name, model in results["models"].items() if model["status"] == "ok"]
        skipped = [name for name, model in results["models"].items() if model["status"] != "ok"]
        print(f"{label}: {seconds:.0f} s wall, peak RSS {peak:,.0f} MiB, {len(ran)} models ran "
              f"({', '.join(ran)}), {len(skipped)} skipped (no input here: {', '.join(skipped) or 'none'}); {load_average()}")
        for name in ran:
            cost = results["models"][name].get("cost", {})
            print(f"  {name:24s} {cost.get('train_seconds', float('nan')):8.1f} s  best epoch {cost.get('best_epoch')}")
    return 0


if __name__ == "__main__":
    from machine import run

    run(main)
