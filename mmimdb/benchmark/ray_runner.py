"""The benchmark on a Ray cluster (``mmimdb benchmark --ray [ADDRESS]``).

The same runner (:func:`.runner.run_benchmark`), with its trainings as Ray tasks: the
search trials of a model, then its extra seeds, each one task (one CPU, or one GPU when the
cluster has them), several models at once. The splits go to the object store once; the
fitted models come back to the driver, which evaluates them and writes the usual results
and reports. Every training is seeded as in a local run and runs with
:attr:`mmimdb.ray_cluster.Pool.threads` torch threads, so on CPUs a Ray run gives the
numbers of a local run with that many threads (``torch.set_num_threads``).

Models added with ``--plugin FILE`` travel by value (cloudpickle), so workers need not see
the file.
"""
from __future__ import annotations

import sys
from typing import Any

from ..ray_cluster import Pool, pool as plan_pool
from .data import BenchmarkData, Split
from .runner import FitJob, Fitter, RunSettings, fit_job, run_benchmark


def _fit_remote(job: FitJob, train: Split, dev: Split, threads: int) -> Any:
    import torch

    torch.set_num_threads(threads)
    return fit_job(job, train, dev)


def ray_fitter(ray: Any, workers: Pool) -> Fitter:
    """A :data:`.runner.Fitter` that runs each training as a Ray task."""
    remote = ray.remote(_fit_remote)
    stored: dict[tuple[int, int], tuple[Any, Any]] = {}
    shipped: set[str] = set()

    def fit(jobs: list[FitJob], train: Split, dev: Split) -> list[Any]:
        for job in jobs:
            module = job.spec.cls.__module__
            if not module.startswith("mmimdb.") and module not in shipped and module in sys.modules:
                ray.cloudpickle.register_pickle_by_value(sys.modules[module])  # a --plugin model
                shipped.add(module)
        key = (id(train), id(dev))
        if key not in stored:
            stored[key] = (ray.put(train), ray.put(dev))
        refs = stored[key]
        tasks = [remote.options(num_cpus=workers.cpus, num_gpus=workers.gpus).remote(job, *refs, workers.threads)
                 for job in jobs]
        return ray.get(tasks)

    return fit


def run_benchmark_ray(ray: Any, data: BenchmarkData, model_names: list[str], settings: RunSettings,
                      **kwargs: Any) -> dict[str, Any]:
    """:func:`.runner.run_benchmark` with its trainings on the connected Ray cluster
    (:func:`mmimdb.ray_cluster.cluster`); ``kwargs`` as there (``runs_dir``, ``fresh``)."""
    # Only trainings fill this pool (the driver evaluates): every CPU, or every GPU, trains.
    workers = plan_pool(ray, use_gpus=settings.device in ("cuda", "auto"), feeders=False)
    if settings.device == "auto":
        settings = RunSettings(**{**settings.__dict__, "device": "cuda" if workers.gpus else "cpu"})
    return run_benchmark(data, model_names, settings, fit=ray_fitter(ray, workers), parallel_models=workers.workers,
                         **kwargs)
