"""What a model costs: its parameters, the peak memory and the time of its training, and the
time of its inference, with the device and threads they were measured on.

Peak memory is the process's resident set (RSS) high-water mark on the CPU, reset before each
model where Linux allows it (``/proc/self/clear_refs``), so that it is that model's training
peak; on a GPU it is ``torch.cuda.max_memory_allocated``, reset before each model. Models
trained at once in one process (``parallel_models``) share one process, so their figures are
the process's, not each model's: :func:`measure` says so in ``memory``.

>>> with PeakMemory("cpu") as peak:                       # doctest: +SKIP
...     estimator.fit(train, dev)
>>> peak.result()["peak_bytes"]                           # doctest: +SKIP
"""
from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_rss_peak() -> bool:
    """Reset the process's RSS high-water mark (Linux: writing 5 to clear_refs); False where
    that is not possible, and the peak is then the process's since it started."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _rss_peak_bytes() -> int:
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


class PeakMemory:
    """The peak memory of what runs inside ``with``: GPU allocations on ``cuda``, else the
    process's RSS high-water mark."""

    def __init__(self, device: str):
        self.device = device

    def __enter__(self) -> "PeakMemory":
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
            self.kind = "torch.cuda.max_memory_allocated"
        else:
            self.kind = ("process RSS high-water mark, reset before this model" if _reset_rss_peak()
                         else "process RSS high-water mark since the process started")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.device == "cuda":
            import torch

            self.peak = int(torch.cuda.max_memory_allocated())
        else:
            self.peak = _rss_peak_bytes()

    def result(self) -> dict[str, Any]:
        return {"peak_bytes": self.peak, "kind": self.kind}


def parameter_counts(estimator: Any) -> dict[str, int]:
    """Parameters and trainable parameters of a fitted estimator: its torch network's, or the
    arrays a non-neural one keeps (a probe's weight and bias; the most-frequent genre: none)."""
    network = getattr(estimator, "network_", None)
    if network is not None:
        parameters = list(network.parameters())
        return {"parameters": int(sum(p.numel() for p in parameters)),
                "trainable_parameters": int(sum(p.numel() for p in parameters if p.requires_grad))}
    members = getattr(estimator, "members_", None)
    if members is not None:
        counts = [parameter_counts(member) for member in members]
        return {key: sum(count[key] for count in counts) for key in ("parameters", "trainable_parameters")}
    arrays = [getattr(estimator, name) for name in ("weight_", "bias_") if hasattr(estimator, name)]
    total = int(sum(int(np.prod(tuple(a.shape))) for a in arrays))
    return {"parameters": total, "trainable_parameters": total}


def time_inference(predict: Callable[[], np.ndarray], rows: int) -> float:
    """Seconds per 1,000 movies of ``predict()`` over ``rows`` movies (the best of two runs: the
    first may pay for warming caches)."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        predict()
        best = min(best, time.perf_counter() - started)
    return best * 1000.0 / max(rows, 1)


def threads() -> int:
    """torch's intra-op threads: what the CPU figures were measured with."""
    import torch

    return int(torch.get_num_threads())
