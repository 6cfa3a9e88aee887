"""Table 2 timed at the release's size on this machine: ``mmimdb benchmark --model all`` (the
paper's defaults, one seed) and ``--model GMU --search 25``, with each run's peak memory.

The data is a stand-in of the release's shape, written here: 25,959 movies in the release's
row order (15,552 / 2,608 / 7,799, the ids of ../shared/data/mmimdb-split.json when present),
23 genres at the release's frequencies, and the two vectors Table 2's feature models read,
``features`` (300-d) and ``vgg_features`` (4,096-d), each a noisy linear image of the labels
(so training stops early as on real data, not at once). The models that read token ids,
n-grams or pixels have no input here and are skipped, as ``--model all`` skips them on any
file that lacks them; the script says which ran. Each run is a child process, timed by wall
clock, its peak RSS its own (``wait4``); each model's time and peak RSS are printed as the
benchmark saves it (so an interrupted run shows what it measured), and the load average is
sampled every 30 s: on a shared machine every figure is an upper bound.

    python benchmarks/table2_release.py                 # paper defaults: up to 200 epochs
    python benchmarks/table2_release.py --epochs 5      # a capped, shorter measurement
    python benchmarks/table2_release.py --parallel      # both benchmarks at once
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
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


class LoadSampler(threading.Thread):
    """The 1-minute load average every ``every`` seconds while the runs go on."""

    def __init__(self, every: float = 30.0):
        super().__init__(daemon=True)
        self.every, self.samples, self.stopped = every, [os.getloadavg()[0]], threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def summary(self) -> str:
        values = np.array(self.samples)
        return (f"1-minute load average during the runs: min {values.min():.1f}, median {np.median(values):.1f}, "
                f"max {values.max():.1f} ({len(values)} samples)")


def report_finished(runs: Path, seen: set[str], label: str) -> None:
    """Print each model whose run the benchmark has saved since the last call (so an
    interrupted run still shows what it measured)."""
    for path in sorted(runs.glob("*.json")) if runs.is_dir() else []:
        if path.stem in seen:
            continue
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written: next time
        seen.add(path.stem)
        cost = result.get("cost") or {}
        memory = (cost.get("peak_memory") or {}).get("peak_bytes")
        print(f"  [{label}] {path.stem:24s} {cost.get('train_seconds', result.get('seconds', float('nan'))):8.1f} s "
              f"best epoch {cost.get('best_epoch')}, peak RSS {memory / 2**20 if memory else float('nan'):,.0f} MiB, "
              f"finished {time.strftime('%H:%M:%S')} UTC; {load_average()}", flush=True)


def start_child(args: list[str], log: Path) -> subprocess.Popen:
    """``mmimdb ARGS`` as a child process (its output to ``log``)."""
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "mmimdb_cli.main", *args], stdout=out, stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200, help="most epochs per training (paper: 200)")
    parser.add_argument("--search", type=int, default=25, help="trials of the GMU's search")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parallel", action="store_true",
                        help="run the two benchmarks at once (each its own process; times then include each other's load)")
    parser.add_argument("--keep", type=Path, default=None, help="write the stand-in and reports here (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="table2-release-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "multimodal_imdb.hdf5"
    started = time.perf_counter()
    rows = write_standin(path)
    print(f"stand-in: {rows} movies, features 300-d + vgg_features 4096-d, written in {time.perf_counter() - started:.1f} s "
          f"({path.stat().st_size / 2**20:.0f} MiB)")
    print(f"cpu cores {os.cpu_count()}, {load_average()}, started {time.strftime('%H:%M:%S')} UTC", flush=True)
    common = ["--hdf5", str(path), "--epochs", str(args.epochs), "--device", args.device, "--fresh"]
    runs = [("benchmark --model all (paper defaults, one seed)", ["--model", "all"], "all"),
            (f"benchmark --model GMU --search {args.search}", ["--model", "GMU", "--search", str(args.search)], "search")]
    sampler = LoadSampler()
    sampler.start()
    status = 0
    pending = list(runs)
    running: dict[int, tuple[str, str, float, subprocess.Popen]] = {}
    seen: dict[str, set[str]] = {out: set() for _, _, out in runs}
    all_started = time.perf_counter()
    while pending or running:
        while pending and (not running or args.parallel):
            label, extra, out = pending.pop(0)
            child = start_child(["benchmark", *extra, *common, "--out", str(work / out)], work / f"{out}.log")
            running[child.pid] = (label, out, time.perf_counter(), child)
        for _, out, _, _ in running.values():
            report_finished(work / out / "runs", seen[out], out)
        pid, wait_status, usage = os.wait4(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(5)
            continue
        label, out, child_started, child = running.pop(pid)
        seconds, code = time.perf_counter() - child_started, os.waitstatus_to_exitcode(wait_status)
        child.returncode = code
        report_finished(work / out / "runs", seen[out], out)
        peak = usage.ru_maxrss / 1024  # this child's own high-water mark (KiB on Linux)
        if code != 0:
            print(f"{label}: exit {code} after {seconds:.0f} s (its output: {work / f'{out}.log'})")
            status = status or code
            continue
        results = json.loads((work / out / "results.json").read_text())
        ran = [name for name, model in results["models"].items() if model["status"] == "ok"]
        skipped = [name for name, model in results["models"].items() if model["status"] != "ok"]
        print(f"{label}: {seconds:.0f} s wall, peak RSS {peak:,.0f} MiB, {len(ran)} models ran "
              f"({', '.join(ran)}), {len(skipped)} skipped (no input here: {', '.join(skipped) or 'none'}); "
              f"{load_average()}", flush=True)
        for name in ran:
            cost = results["models"][name].get("cost", {})
            print(f"  {name:24s} {cost.get('train_seconds', float('nan')):8.1f} s  best epoch {cost.get('best_epoch')}")
    sampler.stopped.set()
    print(f"all done in {time.perf_counter() - all_started:.0f} s, ended {time.strftime('%H:%M:%S')} UTC; {sampler.summary()}")
    return status


if __name__ == "__main__":
    from machine import run

    run(main)
