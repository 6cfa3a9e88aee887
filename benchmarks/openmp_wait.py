"""A GMU training step under torch's OpenMP wait policies, each in its own process, same run.

``import mmimdb`` sets ``OMP_WAIT_POLICY=PASSIVE`` before torch loads (``device.prefer_passive_openmp``):
libgomp's default lets every thread spin for up to 300,000 rounds after each parallel region,
which on a machine whose cores other processes share holds the core the other thread needs.
This times the library's own training step (``training.LoneNetwork``, ``training.Adam``) at the
paper's sizes (hidden 512, batch 128, 300-d + 4,096-d) for each policy (libgomp's default
spinning, passive) and thread count, alternating ``--repeats`` times, and prints the wall and
CPU time of a step, with the load average: on a shared machine every time is an upper bound.

    python benchmarks/openmp_wait.py                       # threads 1 and the machine's cores
    python benchmarks/openmp_wait.py --threads 2 --steps 20
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def child(policy: str, threads: int, steps: int) -> None:
    """Time ``steps`` steps in this process and print 'wall cpu' seconds per step."""
    import importlib

    # Spinning: torch first, so that mmimdb leaves libgomp's default alone; passive: mmimdb first,
    # so that it sets OMP_WAIT_POLICY=PASSIVE before torch loads.
    importlib.import_module("torch" if policy == "spin" else "mmimdb")
    import numpy as np
    import torch

    from train_speed import _prepared, _step_batches, random_split
    from mmimdb.benchmark.training import Adam, Batcher

    torch.set_num_threads(threads)
    train = random_split("train", 2048, 1)
    network, lanes, config, order = _prepared(train, "cpu")
    optimizer = Adam(lanes.lane_parameters(), [config.lr])
    batcher = Batcher(train.inputs, "cpu")
    labels = torch.as_tensor(train.labels)
    lanes.train()
    walls, cpus = [], []
    for step, index in enumerate(_step_batches(len(train), order, 3 + steps)):
        wall, cpu = time.perf_counter(), time.process_time()
        losses = lanes.losses(batcher(index), labels[torch.as_tensor(index)])
        lanes.zero_grad()
        losses.sum().backward()
        optimizer.step(lanes.lane_grads())
        if step >= 3:
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    print(f"{np.median(walls)} {np.median(cpus)} {os.environ.get('OMP_WAIT_POLICY', 'unset')}")


def main() -> int:
    from machine import load_average

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="*", default=sorted({1, os.cpu_count() or 1}))
    parser.add_argument("--steps", type=int, default=15, help="timed steps per process (median)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each setting; the best counts")
    args = parser.parse_args()
    print(f"GMU step at the paper's sizes, {os.cpu_count()} cores; {load_average()}")
    best: dict[tuple[str, int], tuple[float, float]] = {}
    for _ in range(args.repeats):
        for threads in args.threads:
            for policy in ("spin", "passive"):
                env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
                out = subprocess.run([sys.executable, __file__, "--child", policy, str(threads), str(args.steps)],
                                     env=env, capture_output=True, text=True, check=True).stdout.split()
                wall, cpu, seen = float(out[0]), float(out[1]), out[2]
                if (policy == "passive") != (seen == "PASSIVE"):
                    raise SystemExit(f"error: the {policy} child ran with OMP_WAIT_POLICY {seen}")
                if (policy, threads) not in best or wall < best[policy, threads][0]:
                    best[policy, threads] = (wall, cpu)
                print(f"  {threads} thread(s), {policy:7s}: {wall * 1e3:7.1f} ms a step wall, {cpu * 1e3:7.1f} ms CPU "
                      f"({load_average()})", flush=True)
    for threads in args.threads:
        spin, passive = best["spin", threads], best["passive", threads]
        print(f"{threads} thread(s), best of {args.repeats}: spinning {spin[0] * 1e3:.1f} ms, passive {passive[0] * 1e3:.1f} ms "
              f"a step: {spin[0] / passive[0]:.2f}x")
    print(f"after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        from machine import run

        run(main)
