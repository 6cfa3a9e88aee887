"""Robustness as MultiBench (Liang et al. 2021) measures it, on MM-IMDb: how test macro- and
micro-F1 fall as one modality goes missing or noisy, for each model that reads the plot and
the poster.

- **Levels**: 11 per modality and kind, 0, 0.1, ..., 1 (MultiBench's ``noise_level / 10``).
- **Missing**: at level p, the test table of :func:`mmimdb.dataset.missing.draw` with rate p
  and type ``text`` or ``image`` (the tables of ``mmimdb missing``); the missing modality's
  inputs zeroed (:func:`mmimdb.benchmark.missing.mask_inputs`).
- **Noise**: at level p, Gaussian noise of standard deviation p times each dimension's spread
  (its standard deviation on train) added to that modality's feature vectors (MultiBench's
  ``white_noise``, whose standard deviation is the level, scaled to features of any spread).
- **Relative robustness**: the area under a macro-F1 curve, by the trapezoid rule with step
  0.1 (MultiBench's ``relative_robustness_helper``).
- **Effective robustness**: ``sum_p (f(p) - (lf(p) + f(0) - lf(0)))``, the curve against late
  fusion's (``MultiBench_LF``, trained in the same run) shifted to the same start
  (``effective_robustness_helper``). MultiBench then max-min normalises both over the methods
  it compares; the raw values are kept here (normalising needs its other methods' curves).
- **Train-test mismatch**: trained on complete data and tested at 70% missing (type both), and
  trained and tested at 70% missing.

Models are trained on complete data once (``settings``: search, seeds), then only tested on
perturbed inputs; every table and noise draw is seeded (``missing_seed`` and the level), so a
rerun gives the same numbers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..dataset.missing import DEFAULT_BOTH_RATIO, MissingSpec, draw
from ..errors import UsageError
from ..records.split_file import SPLITS
from ..storage.atomic import write_bytes, write_json
from .data import BenchmarkData, Split
from .metrics import f1_scores
from .missing import IMAGE_INPUTS, TEXT_INPUTS, mask_inputs
from .runner import RunSettings, select_models, train_estimators

LEVELS = tuple(k / 10 for k in range(11))
MODALITIES = {"text": TEXT_INPUTS, "image": IMAGE_INPUTS}
KINDS = ("missing", "noise")
MISMATCH_RATE = 0.7
#: The curve effective robustness is measured against (MultiBench: late fusion).
REFERENCE = "MultiBench_LF"
#: Inputs noise can be added to: feature vectors (not token ids, not pixels).
VECTORS = ("features", "vgg_features", "three_grams", "word_grams")


def robust_models(model_names: list[str]) -> list[str]:
    """The models among ``model_names`` (or 'all') that read a plot vector and a poster vector
    and nothing else; a named model that does not is a usage error."""
    from . import models

    chosen, everything = select_models(model_names)
    usable = []
    for name in chosen:
        spec = models.get(name)
        inputs = set(spec.inputs)
        if inputs & set(TEXT_INPUTS) and inputs & set(IMAGE_INPUTS) and inputs <= set(VECTORS) and not spec.shared \
                and not spec.fixed.get("members"):
            usable.append(name)
        elif not everything:
            raise UsageError(f"--robustness: {name} does not read a plot vector and a poster vector alone "
                             "(e.g. GMU, Linear_sum, Concatenate, MoE_MaxoutMLP, MultiBench_LRTF)")
    return usable


def add_noise(split: Split, modality: str, level: float, spread: dict[str, np.ndarray], seed: int) -> Split:
    """``split`` with Gaussian noise of standard deviation ``level`` x ``spread`` added to the
    vectors of ``modality``; the draw is fixed by (seed, modality, level)."""
    inputs = dict(split.inputs)
    for index, name in enumerate(sorted(set(inputs) & set(MODALITIES[modality]))):
        rng = np.random.default_rng([seed, list(MODALITIES).index(modality), index, int(round(level * 10))])
        values = np.asarray(inputs[name], dtype=np.float32)
        inputs[name] = (values + rng.standard_normal(values.shape, dtype=np.float32) * (level * spread[name])).astype(np.float32)
    return Split(split.name, inputs, split.labels, split.ids, split.shared)


def drop_modality(split: Split, modality: str, level: float, seed: int) -> Split:
    """``split`` with ``modality`` missing from a share ``level`` of its movies (the table of
    ``mmimdb missing --rate level --type modality --seed seed``)."""
    if level == 0:
        return split
    return mask_inputs(split, draw(len(split), MissingSpec(level, modality, DEFAULT_BOTH_RATIO, seed), split.name))


def _f1(estimators: list[Any], split: Split) -> dict[str, float]:
    """Macro and micro F1 at 0.5, the mean over the seeds' estimators."""
    scores = [f1_scores(split.labels, estimator.predict_proba(split.inputs)) for estimator in estimators]
    return {average: float(np.mean([s[average] for s in scores])) for average in ("macro", "micro")}


def curves(estimators: list[Any], test: Split, spread: dict[str, np.ndarray], seed: int) -> dict[str, Any]:
    """{kind: {modality: {"macro": [11 values], "micro": [...]}}} on ``test``."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        out[kind] = {}
        for modality in MODALITIES:
            points = [_f1(estimators, drop_modality(test, modality, level, seed) if kind == "missing"
                          else add_noise(test, modality, level, spread, seed)) for level in LEVELS]
            out[kind][modality] = {average: [p[average] for p in points] for average in ("macro", "micro")}
    return out


def relative_robustness(curve: list[float]) -> float:
    """Area under the curve over levels 0..1, trapezoids of width 0.1 (MultiBench)."""
    return float(sum((curve[i] + curve[i + 1]) * 0.1 / 2 for i in range(len(curve) - 1)))


def effective_robustness(curve: list[float], reference: list[float]) -> float:
    """The curve minus the reference curve shifted to the same start, summed (MultiBench)."""
    f, lf = np.asarray(curve), np.asarray(reference)
    return float(np.sum(f - (lf + f[0] - lf[0])))


def _masked_splits(splits: dict[str, Split], spec: MissingSpec) -> dict[str, Split]:
    return {name: mask_inputs(split, draw(len(split), spec, name)) for name, split in splits.items()}


def run_robustness(data: BenchmarkData, model_names: list[str], settings: RunSettings, missing_seed: int = 0,
                   both_ratio: float = DEFAULT_BOTH_RATIO, log: Any = None) -> dict[str, Any]:
    """Train each robust model (and the late-fusion reference) on complete data, then its
    curves, the mismatch runs and both robustness measures. ``log(message)`` reports progress."""
    from . import models
    from .provenance import describe_features, describe_split, model_label

    names = robust_models(model_names)
    if not names:
        raise UsageError("--robustness: none of the models reads a plot vector and a poster vector alone")
    if REFERENCE not in names:
        names.append(REFERENCE)
    specs = [models.get(name) for name in names]
    needed = tuple(sorted({i for spec in specs for i in spec.inputs}))
    absent = data.missing(needed)
    if absent:
        raise UsageError(f"--robustness: the dataset has no {', '.join(absent)}")
    splits = {split: data.split(split, needed) for split in SPLITS}
    spread = {name: np.asarray(splits["train"].inputs[name], dtype=np.float64).std(axis=0).astype(np.float32)
              for name in needed}
    mismatch_spec = MissingSpec(MISMATCH_RATE, "both", both_ratio, missing_seed)
    masked = _masked_splits(splits, mismatch_spec)
    features = describe_features(data, needed)
    results: dict[str, Any] = {
        "dataset": {**data.describe(), "features": features, "split": describe_split(data)},
        "settings": {**{k: v for k, v in vars(settings).items()}, "missing_seed": missing_seed,
                     "both_ratio": both_ratio},
        "levels": list(LEVELS), "reference": REFERENCE, "mismatch_rate": MISMATCH_RATE, "models": {}}
    for spec in specs:
        if log:
            log(f"robustness: {spec.name}")
        result, _, estimators = train_estimators(spec.name, splits, settings, data.target_names)
        _, _, on_masked = train_estimators(spec.name, masked, settings, data.target_names)
        results["models"][spec.name] = {
            "name": spec.name, "label": model_label(spec, features), "status": "ok", "modality": spec.modality,
            "features": {i: features[i]["tag"] for i in spec.inputs}, "seeds": result["seeds"],
            "params": result["params"], "complete": _f1(estimators, splits["test"]),
            "curves": curves(estimators, splits["test"], spread, missing_seed),
            "mismatch": {"trained_complete_tested_missing": _f1(estimators, masked["test"]),
                         "trained_missing_tested_missing": _f1(on_masked, masked["test"])}}
    reference = results["models"][REFERENCE]["curves"]
    for model in results["models"].values():
        model["relative_robustness"] = {kind: {m: relative_robustness(model["curves"][kind][m]["macro"])
                                               for m in MODALITIES} for kind in KINDS}
        model["effective_robustness"] = {kind: {m: effective_robustness(model["curves"][kind][m]["macro"],
                                                                        reference[kind][m]["macro"])
                                                for m in MODALITIES} for kind in KINDS}
    return results


def robustness_markdown(results: dict[str, Any]) -> str:
    """One row per model: complete macro-F1, relative and effective robustness per kind and
    modality, the mismatch runs; then the curves."""
    from .reports import provenance_lines

    settings = results["settings"]
    rate = results["mismatch_rate"]
    search = f"random search of {settings['search']} trials" if settings["search"] else "the paper's defaults"
    head = ["Model", "complete macro-F1"]
    head += [f"RR {kind} {m}" for kind in KINDS for m in MODALITIES]
    head += [f"ER {kind} {m}" for kind in KINDS for m in MODALITIES]
    head += [f"complete → {rate:.0%} missing", f"{rate:.0%} → {rate:.0%} missing"]
    lines = ["# Robustness (test macro-F1): missing and noisy modalities", "",
             *provenance_lines({**results, "settings": {**settings, "threshold": "0.5"}})[:2],
             (f"Trained on complete data ({search}, "
              f"seeds {', '.join(map(str, results['models'][results['reference']]['seeds']))}: each value the mean over seeds), "
              "then tested at 11 levels per modality: missing = that modality dropped from a share p of the test movies "
              f"(tables of `mmimdb missing --type text|image --seed {settings['missing_seed']}`); noise = Gaussian noise of "
              "p x each dimension's train standard deviation added to that modality's vectors. F1 at threshold 0.5."),
             ("RR: relative robustness, the area under the macro-F1 curve over p in [0, 1] (MultiBench). ER: effective "
              f"robustness, the curve minus {results['reference']}'s shifted to the same start, summed over the 11 levels "
              "(MultiBench; not max-min normalised). Mismatch: macro-F1 / micro-F1 trained on complete data and tested with "
              f"{rate:.0%} of the movies missing a modality (type both, both ratio {settings['both_ratio']}), and trained "
              "and tested so."), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in results["models"].values():
        row = [model["label"], f"{model['complete']['macro']:.3f}"]
        row += [f"{model['relative_robustness'][k][m]:.3f}" for k in KINDS for m in MODALITIES]
        row += [f"{model['effective_robustness'][k][m]:+.3f}" for k in KINDS for m in MODALITIES]
        row += [f"{model['mismatch'][key]['macro']:.3f} / {model['mismatch'][key]['micro']:.3f}"
                for key in ("trained_complete_tested_missing", "trained_missing_tested_missing")]
        lines.append("| " + " | ".join(row) + " |")
    for kind in KINDS:
        for modality in MODALITIES:
            lines += ["", f"Macro-F1, {modality} {kind} (level p):", "",
                      "| Model | " + " | ".join(f"{p:.1f}" for p in results["levels"]) + " |",
                      "|---|" + "---:|" * len(results["levels"])]
            for model in results["models"].values():
                values = model["curves"][kind][modality]["macro"]
                lines.append(f"| {model['label']} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    return "\n".join(lines) + "\n"


def plot_robustness(results: dict[str, Any], path: Path | None = None) -> Any:
    """Macro-F1 against the level, one panel per kind and modality, a line per model."""
    from .reports import _caption, _figure, _legend_below, distinct_styles, save_figure

    figure, axes = _figure(12, 8, rows=2, columns=2)
    styles = distinct_styles(len(results["models"]))
    for row, kind in enumerate(KINDS):
        for column, modality in enumerate(MODALITIES):
            axis = axes[row][column]
            for model, (colour, style) in zip(results["models"].values(), styles):
                axis.plot(results["levels"], model["curves"][kind][modality]["macro"], marker="o", markersize=3,
                          color=colour, linestyle=style, label=model["label"])
            axis.set(xlabel=f"{modality} {kind}: level p" + (" (share of test movies)" if kind == "missing"
                                                             else " (noise sd / feature sd)"),
                     ylabel="test macro-F1", title=f"{modality} {kind}")
            axis.grid(alpha=0.3)
    _legend_below(axes[1][0], title="model")
    _caption(figure, "Robustness: macro-F1 as one modality goes missing or noisy (trained on complete data)",
             [f"seeds {', '.join(map(str, next(iter(results['models'].values()))['seeds']))}; missing tables and noise "
              f"seeded by {results['settings']['missing_seed']}; F1 at threshold 0.5"])
    if path is not None:
        save_figure(figure, path)
    return figure


def write_robustness_reports(results: dict[str, Any], out: Path) -> list[Path]:
    """Write robustness.json, robustness.md and robustness.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "robustness.json", out / "robustness.md", out / "robustness.png"]
    write_json(written[0], results)
    write_bytes(written[1], robustness_markdown(results).encode())
    plot_robustness(results, written[2])
    return written
