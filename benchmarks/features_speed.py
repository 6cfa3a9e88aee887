"""Posters per second of the batched feature extractor against a naive loop, same run.

Batched: a DataLoader whose workers decode (Pillow draft mode) and preprocess posters,
batches of ``--batch-size``, one forward pass per batch (what ``mmimdb build-features``
does). Naive: one poster at a time in the main process, full decode, one forward pass per
poster. Both use the same model, threads and posters. VGG16 runs with random weights (its
speed does not depend on them); EfficientNet-Lite0 with its real weights.

    python benchmarks/features_speed.py [--posters DIR] [--device cpu] [--count-vgg 24] [--count-efficientnet 96]
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mmimdb.features.encoders import ImageEncoder, image_encoder
from mmimdb.features.encoders.base import EncoderOptions
from mmimdb.features.encoders.preprocessing import Preprocessing
from mmimdb.features.encoders.vgg16 import FC7_DIM, vgg16_module
from mmimdb.device import resolve_device
from mmimdb.features.posters import choose_batch_size, default_workers

DEFAULT_POSTERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "greatest-films" / "posters"
TARGET_RATIO = 3.0


class PosterFiles:
    """Map-style dataset over poster files: index -> preprocessed (3, size, size) array."""

    def __init__(self, files: list[Path], preprocess: Preprocessing):
        self.files, self.preprocess = files, preprocess

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.preprocess(self.files[index].read_bytes(), self.files[index].name)


def batched(model, files: list[Path], preprocess: Preprocessing, device, batch_size: int, workers: int) -> float:
    import torch
    from torch.utils.data import DataLoader

    loader = DataLoader(PosterFiles(files, preprocess), batch_size=batch_size, num_workers=workers,
                        pin_memory=device.type == "cuda")
    started = time.perf_counter()
    with torch.inference_mode():
        for images in loader:
            model(images.to(device, non_blocking=True)).float().cpu()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(files) / (time.perf_counter() - started)


def naive(model, files: list[Path], preprocess: Preprocessing, device) -> float:
    import torch

    started = time.perf_counter()
    with torch.inference_mode():
        for path in files:
            image = Image.open(io.BytesIO(path.read_bytes())).convert("RGB")  # full decode
            array = preprocess.normalize(preprocess.geometry(image))
            model(torch.from_numpy(array)[None].to(device)).float().cpu()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(files) / (time.perf_counter() - started)


def measure(name: str, encoder: ImageEncoder, files: list[Path], device, batch_size: int, workers: int) -> float:
    import torch

    model = encoder.build().to(device)
    with torch.inference_mode():  # warm-up: first-call allocations and kernel selection
        model(torch.zeros(2, 3, encoder.preprocess.size, encoder.preprocess.size, device=device))
    if batch_size is None:
        batch_size = choose_batch_size(model, encoder.preprocess.size, device, log=print)
    fast = batched(model, files, encoder.preprocess, device, batch_size, workers)
    slow = naive(model, files, encoder.preprocess, device)
    ratio = fast / slow
    print(f"{name:20s} {len(files):5d} posters  batched {fast:8.1f} posters/s  naive {slow:8.1f} posters/s  "
          f"ratio {ratio:5.2f}x  (target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posters", type=Path, default=DEFAULT_POSTERS, help="folder of poster JPEGs")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default: what build-features picks (64 on a GPU, the fastest measured on the CPU)")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--count-vgg", type=int, default=24, help="posters for VGG16 (slow on a CPU)")
    parser.add_argument("--count-efficientnet", type=int, default=96)
    args = parser.parse_args()

    import torch

    files = sorted(args.posters.glob("*.jp*g"))
    if not files:
        print(f"error: no poster JPEGs in {args.posters} (give --posters DIR)", file=sys.stderr)
        return 2
    device = resolve_device(args.device, print)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.workers} workers, batch {args.batch_size or 'auto'}, posters from {args.posters}")

    torch.manual_seed(0)
    vgg = ImageEncoder(name="vgg16", output="vgg_features", dim=FC7_DIM, build=lambda: vgg16_module().eval(),
                       preprocess=Preprocessing("imagenet"))
    measure("vgg16 (random)", vgg, files[:args.count_vgg], device, args.batch_size, args.workers)
    measure("efficientnet-lite0", image_encoder("efficientnet-lite0", EncoderOptions()), files[:args.count_efficientnet],
            device, args.batch_size, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
