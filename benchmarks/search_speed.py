"""The random search batched (mmimdb.benchmark.search) against one trial after another, same run.

``--search N`` trials of the paper's random search (hidden {64,128,256,512}, dropout, learning
rate, init range, max-norm) for the GMU on random inputs of the paper's sizes (15,552 training
and 2,608 dev movies, 300-d text + 4,096-d image vectors; random data: the speed does not
depend on the values). Every trial trains ``--epochs`` epochs (patience = epochs, so no trial
stops early and both paths do the same work), the trials of each hidden size first together
(``fit_batched``), then one after another (``spec.create(**params).fit``, what ``--search``
did before), group by group and ``--repeats`` times in alternation, keeping each path's best
(other processes on a shared machine only slow a run down). Prints the wall times per group
and in all, the ratio, the machine's load average, and trial by trial how far the batched
results are from the lone ones (largest difference of dev probabilities and dev macro-F1,
best epochs), beside a control: the worst trial alone on another thread count, which moves
it by float rounding only. On a CPU it also prints the floor of any exact fp32 version: the
search's FLOPs (FlopCounterMode) at the machine's own large-matmul rate, measured in the run.

    python benchmarks/search_speed.py                      # CPU, --search 25, 1 epoch per trial
    python benchmarks/search_speed.py --device cuda --epochs 3
"""
from __future__ import annotations

import argparse
import os
import time

import mmimdb  # noqa: F401  (first: its OpenMP policy must be set before torch loads)
import numpy as np
import torch

from mmimdb.benchmark import models
from mmimdb.benchmark import search
from mmimdb.benchmark.dropout import MaskStream, mask_generator
from mmimdb.benchmark.search import fit_batched
from mmimdb.benchmark.training import Adam, Batcher, sample_params, start
from mmimdb.device import resolve_device
from mmimdb.errors import UsageError
from mmimdb.dataset.hdf5 import ORIGINAL_SPLIT_ROWS
from train_speed import PAPER_DIMS, _step_batches, epoch_flops, flop_counts, print_kinds, profile_steps, random_split
from machine import load_average, matmul_gflops, run

TARGET_RATIO = 5.0
#: The batched search's time against its FLOP floor on a CPU.
FLOOR_TARGET = 1.5



def _rows(split: str) -> int:
    start, stop = ORIGINAL_SPLIT_ROWS[split]
    return stop - start



def search_flops(spec, params: dict, train, dev, epochs: int) -> float:
    """FLOPs of training one trial for ``epochs`` epochs: steps of 128 rows (forward, backward),
    the batch-norm re-estimation pass and the dev predictions, counted on the trial's own network."""
    step, forward_row = flop_counts(spec, params, train, dev)
    return epochs * epoch_flops(step, forward_row, len(train), len(dev))


def profile_group(spec, trials: list[dict], train, fixed: dict, seed: int, steps: int) -> dict[str, float]:
    """:func:`train_speed.profile_steps` of one group's stack, started as ``fit_batched`` starts it."""
    members = []
    for params in trials:
        estimator = spec.create(**params, **fixed, seed=seed)
        network, config = estimator.prepare(train)
        order = start(network, config, train.labels)
        members.append(search._Trial(estimator, network, config, order))
    stack = search._Stack(members, MaskStream(mask_generator(seed)))
    batcher = Batcher({k: train.inputs[k] for k in spec.inputs}, "cpu")
    optimizer = Adam(stack.lane_parameters(), [m.config.lr for m in members])
    return profile_steps(stack, optimizer, batcher, torch.as_tensor(train.labels),
                         _step_batches(len(train), members[0].batch_order, 2 + steps), "cpu")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search", type=int, default=25, help="trials of the random search")
    parser.add_argument("--model", default="GMU")
    parser.add_argument("--rows", type=int, default=_rows("train"), help="training rows")
    parser.add_argument("--dev-rows", type=int, default=_rows("dev"))
    parser.add_argument("--epochs", type=int, default=1, help="epochs every trial trains")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per group; the best of each path counts")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = resolve_device(args.device, print).type
    spec = models.get(args.model)
    if not set(spec.inputs) <= set(PAPER_DIMS):
        raise UsageError(f"--model {spec.name} reads {', '.join(spec.inputs)}; this benchmark makes only {', '.join(PAPER_DIMS)}")
    train, dev = random_split("train", args.rows, 1), random_split("dev", args.dev_rows, 2)
    rng = np.random.default_rng(args.seed)
    trials = [sample_params(rng) for _ in range(args.search)]
    fixed = {"epochs": args.epochs, "patience": args.epochs, "device": device}
    sizes = {h: sum(t["hidden"] == h for t in trials) for h in sorted({t["hidden"] for t in trials})}
    print(f"{spec.name}: --search {args.search} on random inputs of the paper's sizes ({args.rows} train, "
          f"{args.dev_rows} dev rows, inputs {', '.join(spec.inputs)}), {args.epochs} epoch(s) per trial")
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads "
          f"(OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}); trials per hidden size {sizes}")
    print(f"before: {load_average()}")

    # Group by group (the trials of one hidden size train together), batched then one by one,
    # alternating --repeats times and keeping each path's best: other processes sharing the
    # machine only ever slow a run down, and both paths get the same chances.
    batched, alone = [None] * len(trials), [None] * len(trials)
    batched_seconds = alone_seconds = 0.0
    for hidden, count in sizes.items():
        members = [i for i, t in enumerate(trials) if t["hidden"] == hidden]
        group_batched = group_alone = float("inf")
        for _ in range(args.repeats):
            started = time.perf_counter()
            fitted = fit_batched(spec, [trials[i] for i in members], train, dev, fixed, args.seed)
            group_batched = min(group_batched, time.perf_counter() - started)
            started = time.perf_counter()
            lone = [spec.create(**trials[i], **fixed, seed=args.seed).fit(train, dev) for i in members]
            group_alone = min(group_alone, time.perf_counter() - started)
        for i, b, a in zip(members, fitted, lone):
            batched[i], alone[i] = b, a
        batched_seconds, alone_seconds = batched_seconds + group_batched, alone_seconds + group_alone
        print(f"  hidden {hidden:3d} x{count:2d}: batched {group_batched:7.1f} s, one by one {group_alone:7.1f} s, "
              f"ratio {group_alone / group_batched:.2f}x   ({load_average()})", flush=True)
    print(f"batched      {batched_seconds:8.1f} s")
    print(f"one by one   {alone_seconds:8.1f} s")
    ratio = alone_seconds / batched_seconds
    print(f"ratio {ratio:.2f}x (target >= {TARGET_RATIO:.0f}x on a CPU: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")

    # The floor of any fp32 implementation on this CPU: the search's FLOPs at the machine's own rate.
    flops = sum(search_flops(spec, trial, train, dev, args.epochs) for trial in trials)
    if device == "cpu":
        rate = matmul_gflops(seconds=2.0)
        floor = flops / (rate * 1e9)
        print(f"floor: {flops / 1e12:.2f} TFLOP in all (FlopCounterMode on each trial's steps) at this machine's "
              f"2048x2048 fp32 matmul rate, {rate:.0f} GFLOP/s, measured now ({load_average()}): {floor:.1f} s; one by one / "
              f"floor = {alone_seconds / floor:.2f}x is the most any exact fp32 batching could gain here")
        print(f"batched / floor {batched_seconds / floor:.2f}x (target {FLOOR_TARGET}x: "
              f"{'met' if batched_seconds / floor <= FLOOR_TARGET else 'NOT met'})")
    else:
        print(f"{flops / 1e12:.2f} TFLOP in all (FlopCounterMode on each trial's steps)")

    # Where a batched step's time goes, group by group (torch.profiler, as train_speed does alone).
    print(f"a batched step by kind of op (torch.profiler self time, 5 steps; {load_average()}):")
    for hidden in sizes:
        members = [trials[i] for i, t in enumerate(trials) if t["hidden"] == hidden]
        group_flops = sum(flop_counts(spec, trial, train, dev)[0] for trial in members)
        print(f"  hidden {hidden} x{len(members)}: {group_flops / 1e9:.1f} GFLOP a step")
        print_kinds(profile_group(spec, members, train, fixed, args.seed, steps=5), group_flops)

    differences = [float(np.abs(b.predict_proba(dev.inputs) - a.predict_proba(dev.inputs)).max()) for b, a in zip(batched, alone)]
    same_epochs = sum(b.history_["best_epoch"] == a.history_["best_epoch"] for b, a in zip(batched, alone))
    f1_gap = max(abs(b.history_["best_dev_macro_f1"] - a.history_["best_dev_macro_f1"]) for b, a in zip(batched, alone))
    print(f"trial by trial: largest dev-probability difference {max(differences):.2e} "
          f"(median {np.median(differences):.2e}), largest dev macro-F1 difference {f1_gap:.4f}; "
          f"same best epoch in {same_epochs}/{len(trials)}")
    # Control: how far float rounding alone moves that trial (a lone run on another thread count).
    worst = int(np.argmax(differences))
    threads = torch.get_num_threads()
    other_threads = 1 if threads > 1 else 2
    torch.set_num_threads(other_threads)
    other = spec.create(**trials[worst], **fixed, seed=args.seed).fit(train, dev)
    torch.set_num_threads(threads)
    control = float(np.abs(other.predict_proba(dev.inputs) - alone[worst].predict_proba(dev.inputs)).max())
    print(f"control: trial {worst + 1} (lr {trials[worst]['lr']:.3g}, init range {trials[worst]['init_range']:.3g}) "
          f"alone on {other_threads} vs {threads} thread(s) differs by {control:.2e} (float rounding alone)")
    return 0


if __name__ == "__main__":
    run(main)
