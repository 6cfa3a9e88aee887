"""GMU training speed: our training loop against a plain reference loop, measured in one run.

On random inputs of the paper's sizes (word2vec 300-d, VGG fc7 4096-d, 15,552 training
movies by default) it measures:

1. samples/s of ``mmimdb.benchmark.models`` GMU training (``fit``: batching, max-norm hook,
   history; train epochs only: dev evaluation and the batch-norm re-estimation excluded);
2. samples/s of a plain reference loop on the same network (pre-made tensors, randperm,
   forward, BCE, Adam step, nothing else), and the ratio ours / reference.

It prints measured figures only: how long a whole Table 2 takes on a GPU is measured by
running it there (``mmimdb benchmark --model all --search 25 --device cuda``), not
extrapolated from CPU timings.

    python benchmarks/train_speed.py                  # CPU, 2 epochs of 15,552 rows
    python benchmarks/train_speed.py --device cuda    # on a GPU when one is lent
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from mmimdb.benchmark import models
from mmimdb.benchmark.data import Split
from mmimdb.device import resolve_device

PAPER_DIMS = {"features": 300, "vgg_features": 4096}
ORIGINAL_TRAIN_ROWS = 15552


def random_split(name: str, rows: int, seed: int) -> Split:
    """Random vectors of the paper's sizes and labels of MM-IMDb-like frequencies."""
    rng = np.random.default_rng(seed)
    prevalence = np.linspace(0.5, 0.02, 23)  # Drama ~ half of the movies, Film-Noir ~ 2 %
    labels = (rng.uniform(size=(rows, 23)) < prevalence).astype(np.float32)
    data = {key: rng.normal(size=(rows, dim)).astype(np.float32) for key, dim in PAPER_DIMS.items()}
    return Split(name, data, labels, [str(i) for i in range(rows)])


def reference_loop(network: torch.nn.Module, train: Split, epochs: int, device: str) -> float:
    """The plainest loop: tensors made once, no hooks, no evaluation. Returns samples/s."""
    xs = {k: torch.as_tensor(v, device=device) for k, v in train.inputs.items()}
    y = torch.as_tensor(train.labels, device=device)
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01, foreach=device != "cpu")
    network.to(device).train()
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y), device=device)
        for first in range(0, len(y), 128):
            index = order[first : first + 128]
            loss = F.binary_cross_entropy_with_logits(network({k: v[index] for k, v in xs.items()}), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return epochs * len(y) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=ORIGINAL_TRAIN_ROWS)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    device = resolve_device(args.device).type
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    train, dev = random_split("train", args.rows, 1), random_split("dev", 512, 2)
    ours, reference = 0.0, 0.0
    for _ in range(args.repeats):  # alternate the two and keep each one's best run
        gmu = models.get("GMU").create(epochs=args.epochs, patience=args.epochs, device=device).fit(train, dev)
        ours = max(ours, gmu.history_["samples_per_second"])
        torch.manual_seed(0)
        network = models.get("GMU").create().build({"vgg_features": 4096, "features": 300})
        reference = max(reference, reference_loop(network, train, args.epochs, device))
    print(f"GMU training, {args.rows} rows x {args.epochs} epochs, batch 128, hidden 512, best of {args.repeats}:")
    print(f"  mmimdb fit       {ours:10.0f} samples/s")
    print(f"  reference loop   {reference:10.0f} samples/s")
    print(f"  ratio ours/reference {ours / reference:.2f}")


if __name__ == "__main__":
    main()
