"""The one device policy of every stage that runs torch (features, benchmark).

>>> resolve_device("cpu").type
'cpu'
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

from .errors import UsageError

DEVICES = ("auto", "cpu", "cuda", "mps")


def prefer_passive_openmp() -> bool:
    """Make torch's OpenMP threads sleep, not spin, between parallel regions: sets
    ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it, and only while torch is not yet
    imported (OpenMP reads it once, when it loads). Returns whether it set it.

    By default each of torch's threads (libgomp's) spins for up to 300,000 rounds after every
    operation. On a machine whose cores other processes share, a spinning thread holds a core
    that the thread it waits for needs, and a training step takes several times as long
    (``benchmarks/openmp_wait.py`` times both policies; figures in docs/performance.md).
    """
    if "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def _mps_available(torch: Any) -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: str, log: Callable[[str], None] | None = None) -> Any:
    """The ``torch.device`` for ``auto|cpu|cuda|mps``.

    ``auto`` takes a CUDA GPU, else an Apple MPS GPU, else the CPU (and says so through
    ``log`` when it falls back). Asking for a device that is not there is a
    :class:`UsageError` naming what torch sees; callers that keep a device as text use
    ``.type``.
    """
    import torch

    if name not in DEVICES:
        raise UsageError(f"unknown device {name!r}: use {', '.join(DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available(torch):
            return torch.device("mps")
        if log is not None:
            log("device auto: no CUDA or MPS GPU found, running on the CPU")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise UsageError(f"device cuda: torch ({torch.__version__}, {build}) sees no CUDA GPU here; use --device cpu or auto")
    if name == "mps" and not _mps_available(torch):
        raise UsageError("device mps: torch sees no Apple MPS GPU here; use --device cpu or auto")
    return torch.device(name)
