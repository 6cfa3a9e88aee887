"""Run Table 2: for each model, an optional random search, K seeds, metrics on dev and test.

>>> from mmimdb.benchmark.data import BenchmarkData
>>> results = run_benchmark(BenchmarkData.open(), ["GMU"], RunSettings(epochs=50))  # doctest: +SKIP
>>> results["models"]["GMU"]["test"]["f1"]["macro"]["mean"]                           # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..records.split_file import SPLITS
from ..errors import UsageError
from ..storage.atomic import write_bytes, write_json
from .cost import PeakMemory, parameter_counts, threads, time_inference
from .data import BenchmarkData, Split
from .gates import ANALYSIS_REVISION, gate_analysis
from .metrics import AVERAGES, RANKING, evaluate, macro_f1, ranking_scores, tune_thresholds
from .paper import TABLE2
from .provenance import built_digest, describe_features, describe_split, missing_inputs_hint, model_label


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
    threshold: str = "0.5"   # "0.5": the paper's; "dev": also one per genre tuned on dev (reported beside)
    compare: tuple[str, ...] = ()  # "A,B" pairs for the paired bootstrap (default: each model against the GMU)

#: Settings that change what is reported from a model's saved scores, not how it trains.
REPORTING_SETTINGS = ("progress", "device", "threshold", "compare")


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
    spread = _spread

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


def _run_key(name: str, settings: RunSettings, data: BenchmarkData) -> str:
    from .training import TRAINING_REVISION

    facts = {"model": name, "training": TRAINING_REVISION, "gate_analysis": ANALYSIS_REVISION,
             **{k: v for k, v in asdict(settings).items() if k not in REPORTING_SETTINGS},
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
    """Fitted estimators of ``jobs``, in order: the trials of a search (several jobs of one
    model, seed and schedule) as one batched run where the model allows it
    (:func:`.search.fit_batched`: each gives its lone run's numbers to float rounding); every
    other job, and the trials of a model that turns out not batchable (with a warning), one
    by one (:func:`fit_job`)."""
    fitted: list[Any] = [None] * len(jobs)
    groups: dict[tuple, list[int]] = {}
    for index, job in enumerate(jobs):
        groups.setdefault((job.spec.name, job.seed, tuple(sorted(job.fixed.items()))), []).append(index)
    for members in groups.values():
        first = jobs[members[0]]
        if len(members) > 1:
            from .search import NotBatchable, can_batch, fit_batched

            if can_batch(first.spec):
                try:
                    batch = fit_batched(first.spec, [jobs[i].params for i in members], train, dev, first.fixed,
                                        first.seed, progress=any(jobs[i].label for i in members))
                except NotBatchable as reason:
                    warnings.warn(f"{reason}: its {len(members)} search trials train one after another")
                else:
                    for index, estimator in zip(members, batch):
                        fitted[index] = estimator
                    continue
        for index in members:
            fitted[index] = fit_job(jobs[index], train, dev)
    return fitted


#: Per seed, the probabilities a model gave each evaluated split: [{"dev": (n, 23), "test": ...}].
Scores = list[dict[str, np.ndarray]]


def _result(spec: Any, params: dict[str, Any], trials: list[dict[str, Any]], runs: list[dict[str, Any]],
            started: float) -> dict[str, Any]:
    result = {
        "name": spec.name, "status": "ok", "modality": spec.modality, "inputs": list(spec.inputs),
        "params": params, "search": trials, "seeds": [run["seed"] for run in runs],
        "dev": _summary(runs, "dev"), "test": _summary(runs, "test"),
        "runs": [{key: run[key] for key in ("seed", "history")} for run in runs],
        "seconds": time.perf_counter() - started,
    }
    if "gates" in runs[0]:
        result["gates"] = runs[0]["gates"]
    return result


def train_model(name: str, splits: dict[str, Split], settings: RunSettings, target_names: list[str],
                fit: Fitter = fit_locally) -> tuple[dict[str, Any], Scores]:
    """Search (optional), train ``settings.seeds`` times, evaluate on dev and test; return the
    result and each seed's probabilities.

    The trials of the search are independent (their hyperparameters are drawn first, in
    order), and so are the seeds: ``fit`` may train each group at once, with the same results
    (to float rounding where :func:`fit_locally` batches a search's trials).
    """
    result, scores, _ = train_estimators(name, splits, settings, target_names, fit)
    return result, scores


def train_estimators(name: str, splits: dict[str, Split], settings: RunSettings, target_names: list[str],
                     fit: Fitter = fit_locally) -> tuple[dict[str, Any], Scores, list[Any]]:
    """:func:`train_model`, and the fitted estimator of each seed (to score other inputs)."""
    from . import models

    spec = models.get(name)
    started = time.perf_counter()
    with PeakMemory(settings.device) as peak:
        result, scores, estimators = _train_and_score(spec, splits, settings, target_names, fit, started)
    estimator = estimators[0]
    test = splits["test"]
    memory = peak.result()
    if fit not in (fit_locally, fit_one_by_one):  # e.g. Ray workers: their memory is not this process's
        memory["kind"] = "this process only (the trainings ran in other workers)"
    result["cost"] = {**parameter_counts(estimator), "peak_memory": memory,
                      "train_seconds": result["seconds"],
                      "best_epoch": [run["history"].get("best_epoch") for run in result["runs"]],
                      "inference_seconds_per_1000": time_inference(lambda: _predict(estimator, test), len(test)),
                      "device": settings.device, "threads": threads()}
    return result, scores, estimators


def _train_and_score(spec: Any, splits: dict[str, Split], settings: RunSettings, target_names: list[str],
                     fit: Fitter, started: float) -> tuple[dict[str, Any], Scores, Any]:
    from .training import DEFAULT_PARAMS, sample_params

    name = spec.name
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    fixed = {"epochs": settings.epochs, "patience": settings.patience, "device": settings.device}
    trials: list[dict[str, Any]] = []
    best_params, best_model = spec.own(DEFAULT_PARAMS), None
    if spec.searchable and settings.search > 0:
        rng = np.random.default_rng(settings.seed)
        drawn = [spec.own(sample_params(rng)) for _ in range(settings.search)]
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
    runs, scores = [], []
    for k, seed in enumerate(seeds):
        estimator = fitted.get(seed, best_model)
        scores.append({"dev": _predict(estimator, dev), "test": _predict(estimator, test)})
        run = {"seed": seed, "dev": evaluate(dev.labels, scores[-1]["dev"], target_names),
               "test": evaluate(test.labels, scores[-1]["test"], target_names),
               "history": estimator.history_}
        if k == 0 and hasattr(estimator, "gates") and len(spec.inputs) == 2:
            run["gates"] = gate_analysis(estimator.gates(test.inputs), test.labels, scores[-1]["test"], target_names)
        runs.append(run)
    return _result(spec, params, trials, runs, started), scores, [fitted.get(seed, best_model) for seed in seeds]


def average_model(spec: Any, members: dict[str, tuple[dict[str, Any], Scores]], splits: dict[str, Split],
                  target_names: list[str]) -> tuple[dict[str, Any], Scores]:
    """A model that averages others (AVG_probs): per seed, its rule (``spec.cls.combine``) on the
    probabilities of its members, each trained on its own (with its own search) in the same run."""
    started = time.perf_counter()
    names = list(members)
    runs, scores = [], []
    for k, seed in enumerate(members[names[0]][0]["seeds"]):
        scores.append({split: spec.cls.combine([members[m][1][k][split] for m in names]) for split in ("dev", "test")})
        runs.append({"seed": seed, **{split: evaluate(splits[split].labels, scores[-1][split], target_names)
                                      for split in ("dev", "test")},
                     "history": {"members": {m: members[m][0]["runs"][k]["history"] for m in names}}})
    params = {"members": {m: members[m][0]["params"] for m in names}}
    result = _result(spec, params, [], runs, started)
    costs = [members[m][0].get("cost") for m in names]
    if all(costs):  # its cost is its members': their parameters, trainings and inferences together
        result["cost"] = {
            **{key: sum(c[key] for c in costs) for key in ("parameters", "trainable_parameters", "train_seconds",
                                                           "inference_seconds_per_1000")},
            "peak_memory": max((c["peak_memory"] for c in costs), key=lambda m: m["peak_bytes"]),
            "best_epoch": [max((e for e in epochs if e is not None), default=None)
                           for epochs in zip(*(c["best_epoch"] for c in costs))],
            "device": costs[0]["device"], "threads": costs[0]["threads"], "members": names}
    return result, scores


def _save_scores(path: Path, scores: Scores) -> None:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{f"{k}_{split}": values for k, run in enumerate(scores) for split, values in run.items()})
    write_bytes(path, buffer.getvalue())


def _load_scores(path: Path, seeds: int) -> Scores | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            return [{split: saved[f"{k}_{split}"] for split in ("dev", "test")} for k in range(seeds)]
    except (OSError, ValueError, KeyError):
        return None  # damaged or from another run: train again


def saved_scores(runs_dir: Path, name: str, split: str = "test") -> np.ndarray | None:
    """The probabilities (n, 23) that model ``name`` gave ``split`` with its first seed, as
    :func:`run_benchmark` saved them in ``runs_dir`` (rows in ``results["dataset"]["test_ids"]``
    order for the test split); None when that model's run is not there."""
    scores = _load_scores(Path(runs_dir) / f"{name}.scores.npz", 1)
    return scores[0][split] if scores else None


def run_benchmark(data: BenchmarkData, model_names: list[str], settings: RunSettings,
                  runs_dir: Path | None = None, fresh: bool = False, fit: Fitter = fit_locally,
                  parallel_models: int = 1) -> dict[str, Any]:
    """Run each of ``model_names`` on ``data``; with ``--model all``, models whose inputs
    are missing are skipped with a reason, otherwise a missing input is a usage error.

    Finished models are saved in ``runs_dir/<model>.json`` (their probabilities beside it,
    ``<model>.scores.npz``) and reused on the next run with the same settings and dataset
    (unless ``fresh``), so an interrupted run resumes. ``fit`` carries out the trainings
    (:data:`Fitter`); ``parallel_models`` models are trained at once (each submitting its
    trainings to ``fit``), results in the usual order. A model that averages others
    (AVG_probs) uses their runs of this benchmark, training them first if needed.
    """
    from . import models

    chosen, everything = select_models(model_names)
    specs = [models.get(name) for name in chosen]
    features = describe_features(data, sorted({i for spec in specs for i in spec.inputs + spec.shared}))
    # test_ids: the rows of every model's test probabilities and of the GMU's per-movie gates.
    results: dict[str, Any] = {"dataset": {**data.describe(), "features": features, "split": describe_split(data),
                                           "hdf5_sha256": built_digest(data.path),  # which build (stale_results)
                                           "test_ids": data.ids[slice(*data.rows["test"])]},
                               "settings": asdict(settings), "models": {}}
    runnable = []
    for spec in specs:
        missing = data.missing(spec.inputs + spec.shared)
        if missing:
            reason = missing_inputs_hint(data, missing)
            if not everything:
                raise UsageError(f"cannot run {spec.name}: {reason}")
            results["models"][spec.name] = {"name": spec.name, "status": "skipped", "reason": reason,
                                            "modality": spec.modality, "label": spec.name}
        else:
            runnable.append(spec)
            results["models"][spec.name] = None  # keeps the order while models run at once
    members_of = {spec.name: tuple(spec.fixed.get("members", ())) for spec in runnable}
    averaged = {m for members in members_of.values() for m in members}
    trained = list(dict.fromkeys([s.name for s in runnable if not members_of[s.name]] + sorted(averaged)))
    every = [models.get(name) for name in trained]
    needed = tuple(sorted({i for spec in every for i in spec.inputs}))
    shared = tuple(sorted({s for spec in every for s in spec.shared}))
    splits = {split: data.split(split, needed, shared) for split in SPLITS}
    done: dict[str, tuple[dict[str, Any], Scores | None]] = {}

    def path_of(name: str) -> Path | None:
        return runs_dir / f"{name}.json" if runs_dir is not None else None

    def reuse(name: str, key: str, need_scores: bool) -> tuple[dict[str, Any], Scores | None] | None:
        path = path_of(name)
        if path is None or not path.is_file() or fresh:
            return None
        saved = json.loads(path.read_text())
        scores = _load_scores(path.with_suffix(".scores.npz"), len(saved.get("seeds", [])))
        if saved.get("key") != key or (scores is None and need_scores):
            return None
        return {**saved, "reused": True}, scores

    def keep(name: str, key: str, result: dict[str, Any], scores: Scores) -> tuple[dict[str, Any], Scores]:
        result = {**result, "key": key}
        path = path_of(name)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            _save_scores(path.with_suffix(".scores.npz"), scores)
            write_json(path, result)  # last: a saved result means a whole one
        return result, scores

    todo = []
    for name in trained:
        key = _run_key(name, settings, data)
        found = reuse(name, key, name in averaged)
        if found is not None:
            done[name] = found
        else:
            todo.append((name, key))

    def run_one(name: str, key: str) -> tuple[dict[str, Any], Scores]:
        return keep(name, key, *train_model(name, splits, settings, data.target_names, fit=fit))

    if parallel_models > 1 and len(todo) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=parallel_models, thread_name_prefix="model") as pool:
            futures = {name: pool.submit(run_one, name, key) for name, key in todo}
            for name, future in futures.items():
                done[name] = future.result()
    else:
        for name, key in todo:
            done[name] = run_one(name, key)
    for spec in runnable:
        if members_of[spec.name]:
            key = _run_key(spec.name, settings, data)
            done[spec.name] = reuse(spec.name, key, False) or keep(
                spec.name, key, *average_model(spec, {m: done[m] for m in members_of[spec.name]}, splits, data.target_names))
    for spec in runnable:
        uses = spec.inputs + spec.shared
        results["models"][spec.name] = {**done[spec.name][0], "label": model_label(spec, features),
                                        "features": {i: features[i]["tag"] for i in uses},
                                        "paper_features": all(features[i]["paper"] for i in uses)}
        if members_of[spec.name]:
            results["models"][spec.name]["member_labels"] = {m: model_label(models.get(m), features)
                                                             for m in members_of[spec.name]}
        scores = done[spec.name][1]
        if scores:  # from the saved scores, so a reused run gets them too
            results["models"][spec.name].update(score_extras(scores, splits, settings, data.target_names))
    comparisons = significance(results, {spec.name: done[spec.name][1] for spec in runnable}, splits["test"], settings)
    if comparisons:
        results["significance"] = comparisons
    return results


def _spread(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def score_extras(scores: Scores, splits: dict[str, Split], settings: RunSettings,
                 target_names: list[str]) -> dict[str, Any]:
    """What is computed from a model's probabilities besides the paper's F1s: the ranking
    metrics (mAP, AUROC) on dev and test, and with ``threshold="dev"`` the thresholds tuned
    per genre on dev (per seed) and every metric at them."""
    extras: dict[str, Any] = {"ranking": {
        split: {metric: _spread([ranking_scores(splits[split].labels, run[split])[metric] for run in scores])
                for metric in RANKING}
        for split in ("dev", "test")}}
    if settings.threshold == "dev":
        thresholds = [tune_thresholds(splits["dev"].labels, run["dev"]) for run in scores]
        runs = [{split: evaluate(splits[split].labels, run[split], target_names, cut) for split in ("dev", "test")}
                for run, cut in zip(scores, thresholds)]
        extras["tuned_threshold"] = {
            "policy": "one threshold per genre, the best F1 on dev (per seed)",
            "thresholds": [dict(zip(target_names, map(float, cut))) for cut in thresholds],
            **{split: _summary(runs, split) for split in ("dev", "test")}}
    return extras


def _parse_pair(pair: str) -> tuple[str, str]:
    from . import models

    parts = [part.strip() for part in pair.split(",")]
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"--compare {pair!r}: give two model names, A,B")
    return models.get(parts[0]).name, models.get(parts[1]).name


def check_comparisons(pairs: tuple[str, ...] | list[str], model_names: list[str]) -> None:
    """Fail before training when a ``--compare`` pair names a model that will not run."""
    chosen, _ = select_models(model_names)
    for pair in pairs:
        for name in _parse_pair(pair):
            if name not in chosen:
                raise UsageError(f"--compare {pair}: {name} is not among the models run (add it to --model)")


def comparison_pairs(results: dict[str, Any], settings: RunSettings) -> list[tuple[str, str]]:
    """The pairs the bootstrap compares: ``settings.compare`` ("A,B" each), else, with more
    than one seed, every model that ran against the GMU."""
    ran = [name for name, model in results["models"].items() if model and model.get("status") == "ok"]
    if settings.compare:
        return [pair for pair in map(_parse_pair, settings.compare) if all(name in ran for name in pair)]
    if settings.seeds > 1 and "GMU" in ran:
        return [(name, "GMU") for name in ran if name != "GMU"]
    return []


def significance(results: dict[str, Any], scores: dict[str, Scores | None], test: Split,
                 settings: RunSettings) -> list[dict[str, Any]]:
    """A paired bootstrap over test movies for each pair of :func:`comparison_pairs` (model A
    minus model B, F1 at 0.5), seeded by ``settings.seed`` so a rerun gives the same numbers."""
    from .significance import RESAMPLES, paired_bootstrap

    out = []
    for a, b in comparison_pairs(results, settings):
        if not scores.get(a) or not scores.get(b):
            continue
        test_scores = lambda name: [run["test"] for run in scores[name]]
        outcome = paired_bootstrap(test.labels, test_scores(a), test_scores(b), RESAMPLES, settings.seed)
        out.append({"a": a, "b": b, **outcome})
    return out
