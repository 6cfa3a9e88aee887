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
from typing import Any

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


def run_model(name: str, splits: dict[str, Split], settings: RunSettings, target_names: list[str]) -> dict[str, Any]:
    """Search (optional), train ``settings.seeds`` times, evaluate on dev and test."""
    from . import models
    from .training import DEFAULT_PARAMS, sample_params

    spec = models.get(name)
    started = time.perf_counter()
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    fixed = {"epochs": settings.epochs, "patience": settings.patience, "device": settings.device}
    trials: list[dict[str, Any]] = []
    best_params, best_model = spec.own(DEFAULT_PARAMS), None
    if spec.searchable and settings.search > 0:
        rng = np.random.default_rng(settings.seed)
        best_f1 = -1.0
        for trial in range(settings.search):
            params = spec.own(sample_params(rng))
            label = f"{name} trial {trial + 1}/{settings.search}" if settings.progress else None
            estimator = spec.create(**params, **fixed, seed=settings.seed, progress=label).fit(train, dev)
            f1 = macro_f1(dev.labels, _predict(estimator, dev))
            trials.append({"params": params, "dev_macro_f1": f1, "best_epoch": estimator.history_.get("best_epoch")})
            if f1 > best_f1:
                best_f1, best_params, best_model = f1, params, estimator
    params = best_params if spec.searchable else {}
    runs = []
    for k in range(settings.seeds):
        seed = settings.seed + k
        if k == 0 and best_model is not None:
            estimator = best_model  # the winning trial already trained with the first seed
        else:
            label = f"{name} seed {seed}" if settings.progress else None
            estimator = spec.create(**params, **fixed, seed=seed, progress=label).fit(train, dev)
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
                  runs_dir: Path | None = None, fresh: bool = False) -> dict[str, Any]:
    """Run each of ``model_names`` on ``data``; with ``--model all``, models whose inputs
    are missing are skipped with a reason, otherwise a missing input is a usage error.

    Finished models are saved in ``runs_dir/<model>.json`` and reused on the next run with
    the same settings and dataset (unless ``fresh``), so an interrupted run resumes.
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
    for spec in runnable:
        path = runs_dir / f"{spec.name}.json" if runs_dir is not None else None
        key = _run_key(spec.name, settings, data)
        if path is not None and path.is_file() and not fresh:
            saved = json.loads(path.read_text())
            if saved.get("key") == key:
                results["models"][spec.name] = {**saved, "reused": True}
                continue
        result = {**run_model(spec.name, splits, settings, data.target_names), "key": key}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, result)
        results["models"][spec.name] = result
    return results
