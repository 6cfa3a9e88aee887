"""GMU training speed against its FLOP floor, and where the rest of the time goes, in one run.

On random inputs of the paper's sizes (word2vec 300-d, VGG fc7 4096-d; 15,552 training and
2,608 dev movies by default; hidden 512, batch 128, the paper's defaults) it measures, with
the library's own pieces (``training.LoneNetwork``, ``training.Adam``, ``training.Batcher``):

1. **one training step**: its time in the training loop (``fit``, train part of an epoch)
   and by parts (data, forward + backward and the dropout masks within it, optimizer), beside
   its floor: the step's FLOPs (FlopCounterMode) at this machine's own 2048x2048 fp32 matmul
   rate, measured in the same run (before and after the step timings; the higher counts,
   since other processes only ever slow it down). Target: within 1.3x of the floor.
2. **the optimizer**: the one Adam of the lone fit and the batched search (torch's fused
   kernel) against torch.optim.Adam per-tensor (``foreach=False``, the lone fit before) and
   ``foreach=True``, per step; and how far the fused and the per-tensor update drift apart
   over a few steps from the same start (float rounding).
3. **one whole epoch** (steps, batch-norm re-estimation, dev scoring), each part timed,
   against the epoch's floor. Target: within 1.5x. Then the step by kind of op (torch.profiler):
   the matrix products at the step's own shapes (their rate beside the 2048x2048 one), the
   dropout masks, batch norm, the optimizer, the elementwise rest.
4. samples/s of ``fit`` against a plain reference loop on the same network (pre-made
   tensors, randperm, forward, BCE, torch's fused Adam, nothing else): the loop's overhead.

It prints measured figures only, with the load average: on a shared machine every time is
an upper bound, and the ratios compare figures of the same run.

    python benchmarks/train_speed.py                  # CPU
    python benchmarks/train_speed.py --device cuda    # on a GPU when one is lent
"""
from __future__ import annotations

import argparse
import copy
import os
import time
from typing import Any

import mmimdb  # noqa: F401  (first: its OpenMP policy must be set before torch loads)
import numpy as np
import torch
import torch.nn.functional as F

from machine import load_average, matmul_gflops, run
from mmimdb.benchmark import models
from mmimdb.benchmark.data import Split
from mmimdb.benchmark.metrics import macro_f1
from mmimdb.benchmark.training import (PREDICT_BATCH, RECALIBRATION_ROWS, Adam, Batcher, LoneNetwork, _batches,
                                       calibration_rows, fused_adam_available, start)
from mmimdb.dataset.hdf5 import ORIGINAL_SPLIT_ROWS
from mmimdb.device import resolve_device

PAPER_DIMS = {"features": 300, "vgg_features": 4096}
ORIGINAL_TRAIN_ROWS = 15552
STEP_TARGET, EPOCH_TARGET = 1.3, 1.5
BATCH = 128


def random_split(name: str, rows: int, seed: int) -> Split:
    """Random vectors of the paper's sizes and labels of MM-IMDb-like frequencies."""
    rng = np.random.default_rng(seed)
    prevalence = np.linspace(0.5, 0.02, 23)  # Drama ~ half of the movies, Film-Noir ~ 2 %
    labels = (rng.uniform(size=(rows, 23)) < prevalence).astype(np.float32)
    data = {key: rng.normal(size=(rows, dim)).astype(np.float32) for key, dim in PAPER_DIMS.items()}
    return Split(name, data, labels, [str(i) for i in range(rows)])


def flop_counts(spec: Any, params: dict, train: Split, dev: Split) -> tuple[float, float]:
    """FLOPs (FlopCounterMode: the matrix products) of one training step of 128 rows, forward
    and backward, and of the eval-mode forward of one row (dev scoring, the batch-norm pass)."""
    from torch.utils.flop_counter import FlopCounterMode

    network, _ = spec.create(**params).prepare(train)
    batcher = Batcher({k: train.inputs[k] for k in spec.inputs}, "cpu")
    counter = FlopCounterMode(display=False)
    with counter:
        loss = F.binary_cross_entropy_with_logits(network(batcher(np.arange(BATCH))), torch.as_tensor(train.labels[:BATCH]))
        loss.backward()
    step = counter.get_total_flops()
    network.eval()
    counter = FlopCounterMode(display=False)
    rows = min(PREDICT_BATCH, len(dev))
    with counter, torch.no_grad():
        network(Batcher({k: dev.inputs[k] for k in spec.inputs}, "cpu")(np.arange(rows)))
    return step, counter.get_total_flops() / rows


def epoch_flops(step: float, forward_row: float, n_train: int, n_dev: int) -> float:
    """FLOPs of one epoch: the steps, then the forward of the batch-norm pass and of dev scoring."""
    return step * n_train / BATCH + forward_row * (n_dev + min(RECALIBRATION_ROWS, n_train))


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _prepared(train: Split, device: str) -> tuple[Any, LoneNetwork, Any, np.random.Generator]:
    """The GMU at the paper's defaults, started as ``fit`` starts it, as the loop's lane."""
    network, config = models.get("GMU").create(device=device).prepare(train)
    order = start(network, config, train.labels)
    return network, LoneNetwork(network, config), config, order


def _step_batches(n_rows: int, order: np.random.Generator, count: int) -> list[np.ndarray]:
    """``count`` batches of the loop's shuffle, epoch after epoch as the loop draws them."""
    batches: list[np.ndarray] = []
    while len(batches) < count:
        batches += _batches(n_rows, BATCH, order.permutation(n_rows))
    return batches[:count]


def time_step_parts(train: Split, device: str, steps: int) -> dict[str, float]:
    """Median seconds per step of each part of the training loop's step (``training.train_lanes``)."""
    network, lanes, config, order = _prepared(train, device)
    optimizer = Adam(lanes.lane_parameters(), [config.lr])
    batcher = Batcher({k: train.inputs[k] for k in models.get("GMU").inputs}, device)
    labels = torch.as_tensor(train.labels, device=device)
    in_dropout = [0.0]

    def enter(_module, _inputs):
        _sync(device)
        in_dropout.append(time.perf_counter())

    def leave(_module, _inputs, _output):
        _sync(device)
        in_dropout[0] += time.perf_counter() - in_dropout.pop()

    hooks = [h for m in network.modules() if isinstance(m, torch.nn.Dropout)
             for h in (m.register_forward_pre_hook(enter), m.register_forward_hook(leave))]
    parts: dict[str, list[float]] = {"data": [], "forward + backward": [], "of which dropout masks": [], "optimizer": []}
    lanes.train()
    warmup = 3
    for step, index in enumerate(_step_batches(len(train), order, warmup + steps)):
        in_dropout[0] = 0.0
        t0 = time.perf_counter()
        batch, target = batcher(index), labels[torch.as_tensor(index, device=device)]
        _sync(device)
        t1 = time.perf_counter()
        losses = lanes.losses(batch, target)
        lanes.zero_grad()
        losses.sum().backward()
        _sync(device)
        t2 = time.perf_counter()
        optimizer.step(lanes.lane_grads())
        lanes.limit_norms()
        _sync(device)
        t3 = time.perf_counter()
        if step >= warmup:
            for name, seconds in zip(parts, (t1 - t0, t2 - t1, in_dropout[0], t3 - t2)):
                parts[name].append(seconds)
    for hook in hooks:
        hook.remove()
    return {name: float(np.median(values)) for name, values in parts.items()}


#: torch ops by what they are in a GMU step (their self time under torch.profiler).
OP_KINDS = {"matmuls": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"),
            # numpy's draws, named by dropout.MaskStream (torch's own dropout, on a GPU: bernoulli_)
            "dropout masks": ("dropout masks", "aten::bernoulli_"),
            "batch norm": ("aten::native_batch_norm", "aten::native_batch_norm_backward"),
            "optimizer (fused Adam)": ("aten::_fused_adam_",)}


def profile_steps(lanes: Any, optimizer: Adam, batcher: Batcher, labels: Any, batches: list[np.ndarray],
                  device: str) -> dict[str, float]:
    """Seconds per step by kind of op (torch.profiler's self CPU time; everything else is
    "elementwise and the rest") of the training loop's step on ``lanes`` (a lone network or a
    batched search's stack); the first two ``batches`` warm up."""
    from torch.profiler import ProfilerActivity, profile

    lanes.train()

    def step(index: np.ndarray) -> None:
        losses = lanes.losses(batcher(index), labels[torch.as_tensor(index, device=device)])
        lanes.zero_grad()
        losses.sum().backward()
        optimizer.step(lanes.lane_grads())
        lanes.limit_norms()

    for index in batches[:2]:
        step(index)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for index in batches[2:]:
            step(index)
    kinds: dict[str, Any] = dict.fromkeys([*OP_KINDS, "elementwise and the rest"], 0.0)
    rest: dict[str, float] = {}
    for event in profiler.key_averages():
        kind = next((k for k, names in OP_KINDS.items() if event.key in names), "elementwise and the rest")
        seconds = event.self_cpu_time_total / 1e6 / (len(batches) - 2)
        kinds[kind] += seconds
        if kind == "elementwise and the rest":
            rest[event.key] = seconds
    kinds["largest of the rest"] = sorted(rest.items(), key=lambda item: -item[1])[:4]
    return kinds


def profile_step(train: Split, device: str, steps: int) -> dict[str, float]:
    """:func:`profile_steps` of the GMU at the paper's defaults, alone."""
    network, lanes, config, order = _prepared(train, device)
    batcher = Batcher({k: train.inputs[k] for k in models.get("GMU").inputs}, device)
    return profile_steps(lanes, Adam(lanes.lane_parameters(), [config.lr]), batcher,
                         torch.as_tensor(train.labels, device=device), _step_batches(len(train), order, 2 + steps), device)


def print_kinds(kinds: dict[str, Any], flops: float) -> None:
    for kind, seconds in kinds.items():
        if kind == "largest of the rest":
            print(f"      largest of the rest: {', '.join(f'{name} {_ms(t).strip()}' for name, t in seconds)}")
            continue
        rate = f"  = {flops / seconds / 1e9:.0f} GFLOP/s at the step's own shapes" if kind == "matmuls" and seconds else ""
        print(f"    {kind:28s} {_ms(seconds)}{rate}")


def time_optimizers(train: Split, device: str, steps: int) -> dict[str, float]:
    """Median seconds per step of each Adam on the GMU's parameters and one batch's gradients."""
    network, lanes, config, order = _prepared(train, device)
    batcher = Batcher({k: train.inputs[k] for k in models.get("GMU").inputs}, device)
    lanes.train()
    lanes.losses(batcher(np.arange(BATCH)), torch.as_tensor(train.labels[:BATCH], device=device)).sum().backward()
    made = {
        "mmimdb Adam (torch's fused kernel; lone fit and batched search)": lambda: Adam(lanes.lane_parameters(), [config.lr]),
        "torch.optim.Adam(foreach=False) (the lone fit before)": lambda: torch.optim.Adam(lanes.params, lr=config.lr, foreach=False),
        "torch.optim.Adam(foreach=True)": lambda: torch.optim.Adam(lanes.params, lr=config.lr, foreach=True),
    }
    times = {}
    for name, make in made.items():
        optimizer = make()
        step = (lambda: optimizer.step(lanes.lane_grads())) if isinstance(optimizer, Adam) else optimizer.step
        seconds = []
        for _ in range(steps + 2):
            started = time.perf_counter()
            step()
            _sync(device)
            seconds.append(time.perf_counter() - started)
        times[name] = float(np.median(seconds[2:]))
    return times


def fused_drift(train: Split, device: str, steps: int) -> float:
    """Largest parameter difference after ``steps`` steps from one start, the same batches and
    dropout masks: our Adam (fused kernel) against torch.optim.Adam(foreach=False)."""
    network, lanes, config, order = _prepared(train, device)
    other = LoneNetwork(copy.deepcopy(network), config)
    ours, theirs = Adam(lanes.lane_parameters(), [config.lr]), torch.optim.Adam(other.params, lr=config.lr, foreach=False)
    batcher = Batcher({k: train.inputs[k] for k in models.get("GMU").inputs}, device)
    labels = torch.as_tensor(train.labels, device=device)
    lanes.train(), other.train()
    for step, index in enumerate(_batches(len(train), BATCH, order.permutation(len(train)))[:steps]):
        batch, target = batcher(index), labels[torch.as_tensor(index, device=device)]
        for lane, optimizer in ((lanes, ours), (other, theirs)):
            torch.manual_seed(step)  # the same masks for both on a GPU (on the CPU: copies of one numpy stream)
            lane.zero_grad()
            lane.losses(batch, target).sum().backward()
            optimizer.step(lanes.lane_grads()) if optimizer is ours else optimizer.step()
    return max(float((a - b).detach().abs().max()) for a, b in zip(lanes.params, other.params))


def time_epoch(train: Split, dev: Split, device: str) -> dict[str, float]:
    """One whole epoch of ``fit`` (its history), and its batch-norm pass and dev scoring timed again
    on the trained network."""
    spec = models.get("GMU")
    gmu = spec.create(epochs=1, patience=1, device=device).fit(train, dev)
    history = gmu.history_
    lanes = LoneNetwork(gmu.network_, gmu.prepare(train)[1])
    train_batcher = Batcher({k: train.inputs[k] for k in spec.inputs}, device)
    dev_batcher = Batcher({k: dev.inputs[k] for k in spec.inputs}, device)
    started = time.perf_counter()
    lanes.recalibrate(train_batcher, calibration_rows(len(train), 0))
    _sync(device)
    recalibration = time.perf_counter() - started
    started = time.perf_counter()
    macro_f1(dev.labels, lanes.scores(dev_batcher)[0])
    scoring = time.perf_counter() - started
    return {"epoch": history["seconds"][0], "steps": len(train) / history["samples_per_second"],
            "batch-norm re-estimation": recalibration, "dev scoring": scoring}


def reference_loop(network: torch.nn.Module, train: Split, epochs: int, device: str) -> float:
    """The plainest loop: tensors made once, no hooks, no evaluation. Returns samples/s."""
    xs = {k: torch.as_tensor(v, device=device) for k, v in train.inputs.items()}
    y = torch.as_tensor(train.labels, device=device)
    network.to(device).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01, fused=fused_adam_available(device) or None)
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y), device=device)
        for first in range(0, len(y), BATCH):
            index = order[first : first + BATCH]
            loss = F.binary_cross_entropy_with_logits(network({k: v[index] for k, v in xs.items()}), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    _sync(device)
    return epochs * len(y) / (time.perf_counter() - started)


def time_mask_draws(train: Split, steps: int) -> dict[str, float]:
    """Median seconds per step of drawing a GMU step's dropout masks (every dropout call's shape,
    p as in the model): the library's (numpy float32 uniforms, ``dropout.StreamDropout``) against
    torch's CPU dropout (``bernoulli_``), alternating, on the same inputs."""
    from mmimdb.benchmark.dropout import MaskStream, StreamDropout, mask_generator

    network, lanes, config, order = _prepared(train, "cpu")
    lanes.train()
    calls: list[tuple[float, Any]] = []
    hooks = [m.register_forward_pre_hook(lambda m, inputs: calls.append((m.p, inputs[0].detach()))) for m in network.modules()
             if isinstance(m, torch.nn.Dropout)]
    with torch.no_grad():
        lanes.losses(Batcher(train.inputs, "cpu")(np.arange(BATCH)), torch.as_tensor(train.labels[:BATCH]))
    for hook in hooks:
        hook.remove()
    ours = [StreamDropout(p, MaskStream(mask_generator(0))).train() for p, _ in calls]
    theirs = [torch.nn.Dropout(p).train() for p, _ in calls]
    times: dict[str, list[float]] = {"numpy float32 uniforms (mmimdb)": [], "torch bernoulli_ (nn.Dropout)": []}
    with torch.no_grad():
        for _ in range(steps + 2):
            for name, modules in zip(times, (ours, theirs)):
                started = time.perf_counter()
                for module, (_, x) in zip(modules, calls):
                    module(x)
                times[name].append(time.perf_counter() - started)
    elements = sum(x.numel() for _, x in calls)
    return {"elements": float(elements), **{name: float(np.median(values[2:])) for name, values in times.items()}}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=ORIGINAL_TRAIN_ROWS)
    parser.add_argument("--dev-rows", type=int, default=ORIGINAL_SPLIT_ROWS["dev"][1] - ORIGINAL_SPLIT_ROWS["dev"][0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the fit / reference comparison")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of the fit / reference comparison")
    parser.add_argument("--steps", type=int, default=30, help="timed steps of the step and optimizer measurements")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--masks-only", action="store_true", help="only time the dropout masks of a step, then exit")
    args = parser.parse_args()
    device = resolve_device(args.device).type
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads "
          f"(OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}); {load_average()}")
    train, dev = random_split("train", args.rows, 1), random_split("dev", args.dev_rows, 2)
    spec = models.get("GMU")
    if device == "cpu":
        masks = time_mask_draws(train, args.steps)
        elements = masks.pop("elements")
        print(f"dropout (masks drawn, applied) of one GMU step, {elements / 1e6:.2f} M elements, median of {args.steps} "
              f"({load_average()}): " + ", ".join(f"{name} {_ms(t).strip()}" for name, t in masks.items()))
        if args.masks_only:
            return 0
    step_flops, row_flops = flop_counts(spec, {}, train, dev)

    # 1. One step, by parts, between two measurements of the machine's matmul rate.
    rates = [matmul_gflops(seconds=2.0)] if device == "cpu" else []
    parts = time_step_parts(train, device, args.steps)
    epoch = time_epoch(train, dev, device)
    rates += [matmul_gflops(seconds=2.0)] if device == "cpu" else []
    loop_step = epoch["steps"] / len(_batches(len(train), BATCH))
    step = parts["data"] + parts["forward + backward"] + parts["optimizer"]
    print(f"GMU at the paper's sizes (hidden 512, batch {BATCH}, {PAPER_DIMS['features']}-d + "
          f"{PAPER_DIMS['vgg_features']}-d), {args.rows} train / {args.dev_rows} dev rows:")
    print(f"  one step in the training loop   {_ms(loop_step)}   (by parts, median of {args.steps}: {_ms(step)})")
    for name, seconds in parts.items():
        print(f"    {name:28s} {_ms(seconds)}")
    if rates:
        rate = max(rates)
        floor = step_flops / (rate * 1e9)
        print(f"  floor: {step_flops / 1e9:.2f} GFLOP (FlopCounterMode, forward + backward) at {rate:.0f} GFLOP/s "
              f"(2048x2048 fp32 matmul, measured before and after: {', '.join(f'{r:.0f}' for r in rates)}) = {_ms(floor)}")
        ratio = loop_step / floor
        print(f"  step / floor {ratio:.2f}x (target {STEP_TARGET}x: {'met' if ratio <= STEP_TARGET else 'NOT met'}); "
              f"beyond the floor: forward + backward {_ms(parts['forward + backward'] - floor)} "
              f"(dropout masks {_ms(parts['of which dropout masks'])}), optimizer {_ms(parts['optimizer'])}, "
              f"data {_ms(parts['data'])}, loop {_ms(loop_step - step)}")
        floor_epoch = epoch_flops(step_flops, row_flops, len(train), len(dev)) / (rate * 1e9)
        print(f"  one epoch {epoch['epoch']:.2f} s: steps {epoch['steps']:.2f} s, batch-norm re-estimation "
              f"{epoch['batch-norm re-estimation']:.2f} s, dev scoring {epoch['dev scoring']:.2f} s, rest "
              f"{epoch['epoch'] - epoch['steps'] - epoch['batch-norm re-estimation'] - epoch['dev scoring']:.2f} s")
        ratio = epoch["epoch"] / floor_epoch
        print(f"  epoch floor {floor_epoch:.2f} s; epoch / floor {ratio:.2f}x "
              f"(target {EPOCH_TARGET}x: {'met' if ratio <= EPOCH_TARGET else 'NOT met'})")
    else:
        print(f"  one epoch {epoch['epoch']:.2f} s ({', '.join(f'{k} {v:.2f} s' for k, v in epoch.items() if k != 'epoch')})")
    kinds = profile_step(train, device, min(args.steps, 10))
    print(f"  the step by kind of op (torch.profiler self time, {min(args.steps, 10)} steps, profiler overhead included; "
          f"{load_average()}):")
    print_kinds(kinds, step_flops)
    if rates:
        profiled = sum(v for k, v in kinds.items() if k != "largest of the rest")
        print(f"  profiled step {_ms(profiled).strip()} / floor {profiled / floor:.2f}x (its own matmuls ran at "
              f"{step_flops / kinds['matmuls'] / 1e9:.0f} GFLOP/s, against the {rate:.0f} of the rate measurements)")

    # 2. The optimizer.
    print(f"Adam on the GMU's {sum(p.numel() for p in _prepared(train, device)[1].params) / 1e6:.1f} M parameters, "
          f"median of {args.steps} steps ({load_average()}):")
    for name, seconds in time_optimizers(train, device, args.steps).items():
        print(f"  {name:66s} {_ms(seconds)}")
    drift_steps = 20
    print(f"  fused vs per-tensor update, same start, batches and masks: largest parameter difference after "
          f"{drift_steps} steps {fused_drift(train, device, drift_steps):.2e}")

    # 3. The loop's overhead against a plain loop.
    ours, reference = 0.0, 0.0
    for _ in range(args.repeats):  # alternate the two and keep each one's best run
        gmu = spec.create(epochs=args.epochs, patience=args.epochs, device=device).fit(train, dev)
        ours = max(ours, gmu.history_["samples_per_second"])
        torch.manual_seed(0)
        network = spec.create().build(PAPER_DIMS)
        reference = max(reference, reference_loop(network, train, args.epochs, device))
    print(f"GMU training, {args.rows} rows x {args.epochs} epochs, best of {args.repeats} ({load_average()}):")
    print(f"  mmimdb fit       {ours:10.0f} samples/s")
    print(f"  reference loop   {reference:10.0f} samples/s")
    print(f"  ratio ours/reference {ours / reference:.2f}")
    return 0


if __name__ == "__main__":
    run(main)
