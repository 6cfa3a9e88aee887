"""Posters per second of the feature extractor against the naive fp32 batch-1 loop, same run.

mmimdb: what ``mmimdb build-features`` does. The way the model runs is checked on the first
real posters (:func:`mmimdb.features.posters.choose_precision`: on a CPU the fastest of eager
fp32, a frozen fp32 graph with oneDNN's fusions, ONNX Runtime in fp32, and, with bfloat16
instructions, bf16 autocast on channels-last activations when every poster's features are
within cosine 0.999 of fp32; timed with the threads each worker will have),
the batch size is the fastest measured that way, and DataLoader workers decode posters
(Pillow draft mode); on a CPU each worker also runs the encoder with one torch thread (a
core's whole job), on a GPU the main process does. Naive: one
poster at a time in the main process, full decode, fp32, contiguous tensors. Both use the
same model, threads and posters. VGG16 runs with random weights (its speed does not depend
on them); EfficientNet-Lite0 with its real weights.

Beside each rate: the GFLOP/s it achieves (FLOPs of one image counted by torch's
FlopCounterMode, times images/s), and the machine's own large-matmul GFLOP/s in fp32 and
bf16, measured in the same run, so the distance to the hardware's limit is visible.

    python benchmarks/features_speed.py [--posters DIR] [--device cpu] [--count-vgg 128] [--count-efficientnet 1000]
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mmimdb.device import resolve_device
from mmimdb.features.encoders import ImageEncoder, image_encoder
from mmimdb.features.encoders.base import EncoderOptions
from mmimdb.features.encoders.preprocessing import Preprocessing
from mmimdb.features.encoders.vgg16 import FC7_DIM, vgg16_module
from mmimdb.features.posters import (SAMPLE_POSTERS, PosterInputs, Precision, choose_batch_size, choose_precision,
                                     default_workers)
from machine import load_average, matmul_gflops, run

DEFAULT_POSTERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "greatest-films" / "posters"
TARGET_RATIO = 2.0




def image_gflop(model, size: int) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.zeros(1, 3, size, size))
    return counter.get_total_flops() / 1e9


def mmimdb_path(model, files: list[Path], preprocess: Preprocessing, device, workers: int,
                batch_size: int | None) -> tuple[float, Precision, int]:
    """Posters/s the way build-features runs: precision checked on the first posters, batch
    size timed that way, workers decoding (on a CPU, encoding too, one torch thread each).
    The checks and timing before the run are not counted."""
    import torch
    from torch.utils.data import DataLoader

    posters = PosterInputs(None, [str(f) for f in files], preprocess, read=lambda path: Path(path).read_bytes())
    sample = torch.from_numpy(np.stack([posters[i][1] for i in range(min(SAMPLE_POSTERS, len(files)))])).to(device)
    in_workers = device.type == "cpu" and workers > 0
    precision = choose_precision(model, sample, device, print, threads=1 if in_workers else None)
    if batch_size is None:
        batch_size = choose_batch_size(model, preprocess.size, device, log=print, precision=precision,
                                       threads=1 if in_workers else None)
    if in_workers:
        posters.encode = (model, precision)
    loader = DataLoader(posters, batch_size=batch_size, num_workers=workers, pin_memory=device.type == "cuda")
    started = time.perf_counter()
    with torch.inference_mode():
        for _, images, _ in loader:
            if not in_workers:
                precision.run(model, images.to(device, non_blocking=True)).float().cpu()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(files) / (time.perf_counter() - started), precision, batch_size


def naive(model, files: list[Path], preprocess: Preprocessing, device) -> float:
    import torch

    Precision().prepare(model)
    started = time.perf_counter()
    with torch.inference_mode():
        for path in files:
            image = Image.open(io.BytesIO(path.read_bytes())).convert("RGB")  # full decode
            array = preprocess.normalize(preprocess.geometry(image))
            model(torch.from_numpy(array)[None].to(device)).float().cpu()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(files) / (time.perf_counter() - started)


def measure(name: str, encoder: ImageEncoder, files: list[Path], device, batch_size: int | None, workers: int,
            peak: dict[str, float]) -> float:
    import torch

    model = encoder.build().to(device)
    size = encoder.preprocess.size
    gflop = image_gflop(model, size)
    with torch.inference_mode():  # warm-up: first-call allocations and kernel selection
        model(torch.zeros(2, 3, size, size, device=device))
    slow = naive(model, files, encoder.preprocess, device)
    fast, precision, chosen = mmimdb_path(model, files, encoder.preprocess, device, workers, batch_size)
    ratio = fast / slow
    print(f"{name}: {len(files)} posters, {gflop:.2f} GFLOP per image ({load_average()})")
    print(f"  mmimdb  {fast:8.1f} posters/s  {fast * gflop:7.1f} GFLOP/s  batch {chosen}, {workers} workers, {precision.description}")
    print(f"  naive   {slow:8.1f} posters/s  {slow * gflop:7.1f} GFLOP/s  batch 1, fp32, main process")
    print(f"  ratio {ratio:.2f}x (target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'}); "
          f"machine matmul: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posters", type=Path, default=DEFAULT_POSTERS, help="folder of poster JPEGs")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default: what build-features picks (64 on a GPU, the fastest measured on the CPU)")
    parser.add_argument("--workers", type=int, default=None, help="default: what build-features picks")
    parser.add_argument("--count-vgg", type=int, default=128, help="posters for VGG16 (slow on a CPU)")
    parser.add_argument("--count-efficientnet", type=int, default=1000)
    args = parser.parse_args()

    import torch

    files = sorted(args.posters.glob("*.jp*g"))
    if not files:
        print(f"error: no poster JPEGs in {args.posters} (give --posters DIR)", file=sys.stderr)
        return 2
    device = resolve_device(args.device, print)
    args.workers = default_workers(device) if args.workers is None else args.workers
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.workers} workers, batch {args.batch_size or 'auto'}, posters from {args.posters}; {load_average()}")
    peak = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}
    print(f"machine: 2048x2048 matmul {peak['fp32']:.0f} GFLOP/s fp32, {peak['bf16']:.0f} GFLOP/s bf16")

    torch.manual_seed(0)
    vgg = ImageEncoder(name="vgg16", output="vgg_features", dim=FC7_DIM, build=lambda: vgg16_module().eval(),
                       preprocess=Preprocessing("imagenet"))
    measure("vgg16 (random weights)", vgg, files[:args.count_vgg], device, args.batch_size, args.workers, peak)
    measure("efficientnet-lite0", image_encoder("efficientnet-lite0", EncoderOptions()), files[:args.count_efficientnet],
            device, args.batch_size, args.workers, peak)
    return 0


if __name__ == "__main__":
    run(main)
