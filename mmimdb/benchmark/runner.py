"""Run Table 2: for each model, an optional random search, K seeds, metrics on dev and test.

>>> from mmimdb.benchmark.data import BenchmarkData
>>> results = run_benchmark(BenchmarkData.open(), ["GMU"], RunSettings(epochs=50))  # doctest: +SKIP
>>> results["models"]["GMU"]["test"]["f1"]["macro"]["mean"]                           # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..storage.atomic import write_json
from ..errors import UsageError
from .metrics import AVERAGES, evaluate, macro_f1
from ..dataset.split import SPLITS
from .data import BenchmarkData, Split
from .paper import TABLE2


@dataclass
class RunSettings:
    """How every model is trained: search trials, seeds, epochs, device."""

    search: int = 0          # 0: the paper's defaults; N: N random trials, best on dev
    seeds: int = 1           # repeats of the chosen configuration
    seed: int = 0            # first seed (seeds are seed, seed+1, ...)
    epochs: int = 200
    patience: int = 20
    device: str = "cpu"
    progress: bool = False


def model_order() -> list[str]:
    """Every registered model: the paper's Table 2 order first, then the others."""
    from . import models

    return [name for name in TABLE2 if name in models.MODELS] + [name for name in models.MODELS if name not in TABLE2]


def select_models(names: list[str]) -> tuple[list[str], bool]:
    """Registry names for ``--model`` values (``all`` = every model); and whether 'all' was asked."""
    from . import models

    if any(name.strip().lower() == "all" for name in names):
        return model_order(), True
    chosen = []
    for name in names:
        spec = models.get(name)
        if spec.name not in chosen:
            chosen.append(spec.name)
    return chosen, False


def _summary(runs: list[dict[str, Any]], split: str) -> dict[str, Any]:
    """Mean and standard deviation over seeds of the metrics of ``split``."""
    def spread(values: list[float]) -> dict[str, float]:
        return {"mean": float(np.mean(values)), "std": float(np.std(values))}

    first = runs[0][split]
    return {
        "f1": {avg: spread([run[split]["f1"][avg] for run in runs]) for avg in AVERAGES},
        "precision": {avg: spread([run[split]["precision"][avg] for run in runs]) for avg in ("micro", "macro")},
        "recall": {avg: spread([run[split]["recall"][avg] for run in runs]) for avg in ("micro", "macro")},
        "per_genre_f1": {genre: spread([run[split]["per_genre"][genre]["f1"] for run in runs]) for genre in first["per_genre"]},
        "per_genre_support": {genre: values["support"] for genre, values in first["per_genre"].items()},
    }


def _predict(estimator: Any, split: Split) -> np.ndarray:
    if not estimator.inputs:
        return estimator.predict_proba({}, n_rows=len(split))
    return estimator.predict_proba(split.inputs)


def gate_analysis(gates: np.ndarray, labels: np.ndarray, target_names: list[str]) -> dict[str, Any]:
    """Figure 8: per genre, the share of movies whose mean gate z > 0.5 (the poster dominates)."""
    favours_poster = gates.reshape(len(gates), -1).mean(axis=1) > 0.5
    per_genre = {}
    for i, genre in enumerate(target_names):
        rows = labels[:, i] > 0
        per_genre[genre] = float(favours_poster[rows].mean()) if rows.any() else None
    return {"visual_share": float(favours_poster.mean()), "per_genre_visual_share": per_genre,
            "mean_gate": float(gates.mean())}


def _run_key(name: str, settings: RunSettings, data: BenchmarkData) -> str:
    facts = {"model": name, **{k: v for k, v in asdict(settings).items() if k not in ("progress", "device")},
             "dataset": [data.n_rows, data.rows, sorted(data.available), data.aliases, data.path.stat().st_size,
                         data.path.stat().st_mtime_ns]}
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FitJob:
    """One training: a model, its hyperparameters and seed (what a worker needs besides data)."""

    spec: Any                # models.registry.ModelSpec
    params: dict[str, Any]   # hidden, dropout, lr, ...
    fixed: dict[str, Any]    # epochs, patience, device
    seed: int
    label: str | None = None  # progress bar label, or None


def fit_job(job: FitJob, train: Split, dev: Split) -> Any:
    """Train one estimator (the local path, and what each Ray task runs)."""
    return job.spec.create(**job.params, **job.fixed, seed=job.seed, progress=job.label).fit(train, dev)


#: How a list of trainings is carried out: ``fit(jobs, train, dev)`` -> fitted estimators,
#: in order. Locally a search's trials as one batched run; :mod:`.ray_runner` spreads them
#: over a cluster.
Fitter = Callable[[list[FitJob], Split, Split], list[Any]]


def fit_one_by_one(jobs: list[FitJob], train: Split, dev: Split) -> list[Any]:
    return [fit_job(job, train, dev) for job in jobs]


def fit_locally(jobs: list[FitJob], train: Split, dev: Split) -> list[Any]:
    """The trials of a search (jobs of one model and seed) batched where the model allows it
    (:mod:`.search`: each gives its lone run's numbers to float rounding); the rest one by one."""
    from .search import fit_jobs

    return fit_jobs(jobs, train, dev, alone=fit_one_by_one)


def run_model(name: str, splits: dict[str, Split], settings: RunSettings, target_names: list[str],
              fit: Fitter = fit_locally) -> dict[str, Any]:
    """Search (optional), train ``settings.seeds`` times, evaluate on dev and test.

    The trials of the search are independent (their hyperparameters are drawn first, in
    order), and so are the seeds: ``fit`` may train each group at once, with the same results
    (to float rounding where :func:`fit_locally` batches a search's trials).
    """
    from . import models
    from .training import DEFAULT_PARAMS, sample_params

    spec = models.get(name)
    started = time.perf_counter()
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    fixed = {"epochs": settings.epochs, "patience": settings.patience, "device": settings.device}
    trials: list[dict[str, Any]] = []
    best_params, best_model = dict(DEFAULT_PARAMS), None
    if spec.searchable and settings.search > 0:
        rng = np.random.default_rng(settings.seed)
        drawn = [sample_params(rng) for _ in range(settings.search)]
        jobs = [FitJob(spec, params, fixed, settings.seed,
                       f"{name} trial {trial + 1}/{settings.search}" if settings.progress else None)
                for trial, params in enumerate(drawn)]
        best_f1 = -1.0
        for params, estimator in zip(drawn, fit(jobs, train, dev)):
            f1 = macro_f1(dev.labels, _predict(estimator, dev))
            trials.append({"params": params, "dev_macro_f1": f1, "best_epoch": estimator.history_.get("best_epoch")})
            if f1 > best_f1:
                best_f1, best_params, best_model = f1, params, estimator
    params = best_params if spec.searchable else {}
    seeds = [settings.seed + k for k in range(settings.seeds)]
    # The winning trial already trained with the first seed.
    to_train = seeds[1:] if best_model is not None else seeds
    fitted = dict(zip(to_train, fit([FitJob(spec, params, fixed, seed, f"{name} seed {seed}" if settings.progress else None)
                                     for seed in to_train], train, dev)))
    runs = []
    for k, seed in enumerate(seeds):
        estimator = fitted.get(seed, best_model)
        run = {"seed": seed, "dev": evaluate(dev.labels, _predict(estimator, dev), target_names),
               "test": evaluate(test.labels, _predict(estimator, test), target_names),
               "history": estimator.history_}
        if k == 0 and hasattr(estimator, "gates") and len(spec.inputs) == 2:
            run["gates"] = gate_analysis(estimator.gates(test.inputs), test.labels, target_names)
        runs.append(run)
    result = {
        "name": name, "status": "ok", "modality": spec.modality, "inputs": list(spec.inputs),
        "params": params, "search": trials, "seeds": [run["seed"] for run in runs],
        "dev": _summary(runs, "dev"), "test": _summary(runs, "test"),
        "runs": [{key: run[key] for key in ("seed", "history") } for run in runs],
        "seconds": time.perf_counter() - started,
    }
    if "gates" in runs[0]:
        result["gates"] = runs[0]["gates"]
    return result


def run_benchmark(data: BenchmarkData, model_names: list[str], settings: RunSettings,
                  runs_dir: Path | None = None, fresh: bool = False, fit: Fitter = fit_locally,
                  parallel_models: int = 1) -> dict[str, Any]:
    """Run each of ``model_names`` on ``data``; with ``--model all``, models whose inputs
    are missing are skipped with a reason, otherwise a missing input is a usage error.

    Finished models are saved in ``runs_dir/<model>.json`` and reused on the next run with
    the same settings and dataset (unless ``fresh``), so an interrupted run resumes.
    ``fit`` carries out the trainings (:data:`Fitter`); ``parallel_models`` models are run
    at once (each submitting its trainings to ``fit``), results in the usual order.
    """
    from . import models

    chosen, everything = select_models(model_names)
    results: dict[str, Any] = {"dataset": data.describe(), "settings": asdict(settings), "models": {}}
    runnable = []
    for name in chosen:
        spec = models.get(name)
        missing = data.missing(spec.inputs + spec.shared)
        if missing:
            reason = f"the dataset has no {', '.join(repr(m) for m in missing)} (run `{data.build_command(missing[0])}`)"
            if not everything:
                raise UsageError(f"cannot run {name}: {reason}")
            results["models"][name] = {"name": name, "status": "skipped", "reason": reason, "modality": spec.modality}
        else:
            runnable.append(spec)
    needed = tuple(sorted({i for spec in runnable for i in spec.inputs}))
    shared = tuple(sorted({s for spec in runnable for s in spec.shared}))
    splits = {split: data.split(split, needed, shared) for split in SPLITS}
    todo = []
    for spec in runnable:
        path = runs_dir / f"{spec.name}.json" if runs_dir is not None else None
        key = _run_key(spec.name, settings, data)
        if path is not None and path.is_file() and not fresh:
            saved = json.loads(path.read_text())
            if saved.get("key") == key:
                results["models"][spec.name] = {**saved, "reused": True}
                continue
        results["models"][spec.name] = None  # keeps the order while models run at once
        todo.append((spec, path, key))

    def run_one(spec: Any, path: Path | None, key: str) -> dict[str, Any]:
        result = {**run_model(spec.name, splits, settings, data.target_names, fit=fit), "key": key}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, result)
        return result

    if parallel_models > 1 and len(todo) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=parallel_models, thread_name_prefix="model") as pool:
            futures = {spec.name: pool.submit(run_one, spec, path, key) for spec, path, key in todo}
            for name, future in futures.items():
                results["models"][name] = future.result()
    else:
        for spec, path, key in todo:
            results["models"][spec.name] = run_one(spec, path, key)
    return results
