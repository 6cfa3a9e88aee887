"""The one Ray policy of the stages that can spread over a cluster (``build-features --ray``,
``benchmark --ray``): how to reach a cluster, and how big a pool of workers may be.

``address``: ``local`` starts a private Ray on this machine for the run (no dashboard) and
stops it at the end; ``auto`` joins the cluster that ``ray start`` runs here or that
``$RAY_ADDRESS`` names; anything else is a cluster address (``HOST:6379``, or
``ray://HOST:10001`` for Ray Client). When Ray is already initialised in this process (a
notebook, a test) that cluster is used and left running. Ray is optional: without it,
``--ray`` is a one-line error naming the ``ray`` extra.

Pool sizes leave room: an actor pool that takes every CPU starves the tasks that feed it
(reading, decoding) and the run hangs, so a pool gets at most the cluster's CPUs less one
(on a 1-CPU cluster, half a CPU per actor and half for the feeding tasks).
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .errors import UsageError

EXTRA_HINT = "pip install 'mmimdb[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the extra."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--ray needs Ray, which is not installed: {EXTRA_HINT}") from None
    return ray


@contextmanager
def cluster(address: str, log: Callable[[str], None] | None = None) -> Iterator[Any]:
    """Ray connected to ``address`` (see the module's text) for the body of the ``with``."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        if address == "local":
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, logging_level="warning",
                     configure_logging=False)
        else:
            ray.init(address=address, logging_level="warning", configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = " ".join(str(error).split())[:300]
        hint = " (start one with `ray start --head`, or use --ray local)" if address == "auto" else ""
        raise UsageError(f"--ray {address}: cannot reach a Ray cluster: {reason}{hint}") from None
    try:
        if log is not None:
            resources = ray.cluster_resources()
            log(f"ray: {address}, {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs")
        yield ray
    finally:
        ray.shutdown()


@dataclass(frozen=True)
class Pool:
    """How many workers, and what each reserves, so that the feeding tasks keep room."""

    workers: int
    cpus: float          # per worker
    gpus: float          # per worker
    feeder_cpus: float   # per feeding task (read, decode)

    @property
    def threads(self) -> int:
        """torch threads in a worker: the CPUs it reserved (at least one)."""
        return max(1, int(self.cpus))


def pool(ray: Any, use_gpus: bool = True, most: int | None = None, feeders: bool = True) -> Pool:
    """The pool for this cluster: one worker per GPU when there are GPUs (and
    ``use_gpus``), else one per CPU but one, which the tasks that feed the pool keep
    (all of them when nothing feeds it: ``feeders`` False); never more than ``most``."""
    resources = ray.cluster_resources()
    cpus, gpus = float(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    if cpus < 1:
        raise UsageError(f"the Ray cluster has {cpus:g} CPUs; at least one is needed")
    if not feeders:
        per_worker, feeder, workers = 1.0, 0.0, int(math.floor(cpus))
    elif cpus < 2:
        per_worker, feeder, workers = cpus / 2, cpus / 2, 1
    else:
        per_worker, feeder, workers = 1.0, 1.0, int(math.floor(cpus)) - 1
    if use_gpus and gpus:
        workers = min(gpus, workers)
    if most is not None:
        workers = max(1, min(workers, most))
    return Pool(workers, per_worker, 1.0 if use_gpus and gpus else 0.0, feeder)
