"""What the speed benchmarks share: the machine's load and large-matmul rate, measured in the
run they are printed beside, and the one-line error ending of every benchmark script."""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

from mmimdb.errors import MmimdbError


def load_average() -> str:
    """``load average 1.05 0.98 0.90``: other processes only ever slow a timed run down."""
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def matmul_gflops(dtype: Any = None, size: int = 2048, seconds: float = 1.0) -> float:
    """The machine's own rate on one large square matrix product of ``dtype`` (default fp32),
    all threads, for at least ``seconds``."""
    import torch

    dtype = dtype or torch.float32
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    a @ b  # warm-up
    done, started = 0, time.perf_counter()
    while done == 0 or time.perf_counter() - started < seconds:
        a @ b
        done += 1
    return done * 2 * size**3 / (time.perf_counter() - started) / 1e9


def run(main: Callable[[], int]) -> None:
    """Exit with ``main()``'s code; an mmimdb error (e.g. ``--device cuda`` where there is no
    GPU, a root that is not built) ends as one line and its exit code."""
    try:
        sys.exit(main())
    except MmimdbError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
