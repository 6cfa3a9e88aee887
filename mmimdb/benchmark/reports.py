"""Benchmark reports: ``results.json``, Table 2 and Table 3 as markdown, and PNG plots.

Table 2 puts the paper's test F1s beside ours only when the dataset is the original
release's split (same 25,959 ids in the same train/dev/test): elsewhere the numbers are not
comparable and the column is left out. Plots use matplotlib's Agg backend (no display).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..storage.atomic import write_bytes, write_json
from .paper import SYNTHETIC, TABLE2
from .metrics import AVERAGES

#: Table 3 columns: the best text model, the visual model, and the GMU.
TABLE3_MODELS = (("Textual", "MaxoutMLP_w2v"), ("Visual", "VGG_Transfer"), ("Multimodal", "GMU"))
MODALITY_ORDER = ("Multimodal", "Text", "Visual", "Reference")


def _ordered(results: dict[str, Any]) -> list[dict[str, Any]]:
    models = results["models"]
    names = [n for n in TABLE2 if n in models] + [n for n in models if n not in TABLE2]
    return sorted((models[n] for n in names), key=lambda m: MODALITY_ORDER.index(m.get("modality", "Reference")))


def _cell(summary: dict[str, float], seeds: int) -> str:
    return f"{summary['mean']:.3f} ± {summary['std']:.3f}" if seeds > 1 else f"{summary['mean']:.3f}"


def table2_markdown(results: dict[str, Any], split: str = "test") -> str:
    """Table 2: F1 weighted / samples / micro / macro per model (mean ± std over seeds)."""
    paper = results["dataset"].get("original_split", False)
    head = ["Modality", "Model", *(f"F1 {avg}" for avg in AVERAGES)]
    if paper:
        head += [f"paper {avg}" for avg in AVERAGES]
    lines = [f"# Table 2: genre classification, {split} set", "",
             _dataset_line(results), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in _ordered(results):
        if model["status"] != "ok":
            row = [model.get("modality", ""), model["name"], *(["skipped"] + [""] * (len(AVERAGES) - 1))]
            row += [""] * (len(AVERAGES) if paper else 0)
        else:
            seeds = len(model["seeds"])
            row = [model["modality"], model["name"], *(_cell(model[split]["f1"][avg], seeds) for avg in AVERAGES)]
            if paper:
                row += [f"{v:.3f}" for v in TABLE2[model["name"]][1:]] if model["name"] in TABLE2 else ["–"] * len(AVERAGES)
        lines.append("| " + " | ".join(row) + " |")
    skipped = [m for m in _ordered(results) if m["status"] != "ok"]
    if skipped:
        lines += ["", "Skipped:"] + [f"- {m['name']}: {m['reason']}" for m in skipped]
    if not paper:
        lines += ["", "The paper's numbers are shown only on the original release's split; this dataset is not it."]
    return "\n".join(lines) + "\n"


def _dataset_line(results: dict[str, Any]) -> str:
    data, settings = results["dataset"], results["settings"]
    rows = data["split_rows"]
    return (f"Dataset `{data['path']}`: {data['rows']} movies (train {rows['train']}, dev {rows['dev']}, "
            f"test {rows['test']}); search {settings['search']} trials, {settings['seeds']} seed(s), "
            f"at most {settings['epochs']} epochs, early stopping on dev macro-F1 (patience {settings['patience']}).")


def table3_markdown(results: dict[str, Any], split: str = "test") -> str:
    """Table 3: per-genre F1 of the textual, visual and multimodal (GMU) models, with support.

    The other models' per-genre F1 are in ``results.json``; when none of the three ran, the
    table shows every model that did.
    """
    models = results["models"]
    columns = [(label, name) for label, name in TABLE3_MODELS if models.get(name, {}).get("status") == "ok"]
    if not columns:  # none of the paper's three ran: show every model that did
        columns = [(m["name"], m["name"]) for m in _ordered(results) if m["status"] == "ok"]
    lines = [f"# Table 3: per-genre F1, {split} set", "", _dataset_line(results), ""]
    if not columns:
        return "\n".join(lines + ["No model ran."]) + "\n"
    head = ["Genre", "support", *(f"{label} ({name})" if label != name else name for label, name in columns)]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    first = models[columns[0][1]][split]
    for genre, support in first["per_genre_support"].items():
        cells = [f"{models[name][split]['per_genre_f1'][genre]['mean']:.3f}" for _, name in columns]
        lines.append("| " + " | ".join([genre, str(support), *cells]) + " |")
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_bytes(path, buffer.getvalue())
    _pyplot().close(figure)


def plot_per_genre(results: dict[str, Any], path: Path, split: str = "test") -> bool:
    """Grouped bars: per-genre F1 of the textual, visual and GMU models (Table 3 as a plot)."""
    models = results["models"]
    columns = [(label, name) for label, name in TABLE3_MODELS if models.get(name, {}).get("status") == "ok"]
    if not columns:
        return False
    plt = _pyplot()
    genres = list(models[columns[0][1]][split]["per_genre_f1"])
    figure, axis = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / len(columns)
    for i, (label, name) in enumerate(columns):
        values = [models[name][split]["per_genre_f1"][g]["mean"] for g in genres]
        axis.bar(np.arange(len(genres)) + i * width, values, width, label=f"{label} ({name})")
    axis.set_xticks(np.arange(len(genres)) + width * (len(columns) - 1) / 2, genres, rotation=60, ha="right")
    axis.set_ylabel(f"F1 ({split})")
    axis.set_title("Per-genre F1 by modality")
    axis.legend()
    _save(figure, path)
    return True


def plot_gates(results: dict[str, Any], path: Path) -> bool:
    """Figure 8: per genre, the share of test movies whose GMU gates favour the poster."""
    gmu = results["models"].get("GMU", {})
    if gmu.get("status") != "ok" or "gates" not in gmu:
        return False
    plt = _pyplot()
    shares = {g: s for g, s in gmu["gates"]["per_genre_visual_share"].items() if s is not None}
    figure, axis = plt.subplots(figsize=(6, 6))
    genres = sorted(shares, key=shares.get)
    axis.barh(genres, [shares[g] for g in genres], color="tab:orange", label="visual (poster)")
    axis.barh(genres, [1 - shares[g] for g in genres], left=[shares[g] for g in genres], color="tab:blue", label="textual (plot)")
    axis.set_xlim(0, 1)
    axis.set_xlabel("share of test movies (mean gate z > 0.5 = poster)")
    axis.set_title("GMU gate activations by genre (cf. Figure 8)")
    axis.legend(loc="lower right")
    _save(figure, path)
    return True


def plot_training_curves(results: dict[str, Any], path: Path) -> bool:
    """Dev macro-F1 per epoch of the first seed of every model."""
    ran = [m for m in _ordered(results) if m["status"] == "ok" and m["runs"][0]["history"].get("dev_macro_f1")]
    if not ran:
        return False
    plt = _pyplot()
    figure, (loss_axis, f1_axis) = plt.subplots(1, 2, figsize=(13, 4.5))
    for model in ran:
        history = model["runs"][0]["history"]
        epochs = np.arange(1, len(history["dev_macro_f1"]) + 1)
        f1_axis.plot(epochs, history["dev_macro_f1"], label=model["name"])
        loss_axis.plot(epochs, history["train_loss"], label=model["name"])
    loss_axis.set(xlabel="epoch", ylabel="train loss (BCE)", title="Training loss")
    f1_axis.set(xlabel="epoch", ylabel="dev macro-F1", title="Dev macro-F1 (early stopping)")
    f1_axis.legend(fontsize=7, ncol=2)
    _save(figure, path)
    return True


def write_benchmark_reports(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write results.json, table2.md, table3.md and the PNG plots; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.json", out_dir / "table2.md", out_dir / "table3.md"]
    write_json(written[0], results)
    write_bytes(written[1], table2_markdown(results).encode())
    write_bytes(written[2], table3_markdown(results).encode())
    for name, plot in (("per_genre_f1.png", plot_per_genre), ("gates.png", plot_gates),
                       ("training_curves.png", plot_training_curves)):
        if plot(results, out_dir / name):
            written.append(out_dir / name)
    return written


def synthetic_markdown(result: dict[str, Any]) -> str:
    """The synthetic experiment's outcome beside the paper's."""
    seeds = result["seeds"]
    correlation = np.array(result["gate_latent_correlation"])
    lines = [
        "# Synthetic experiment (paper section 5.1)", "",
        f"{seeds} seeds, {result['samples_per_class']} samples per class per seed; a single GMU vs logistic "
        "regression, test accuracy on a fresh sample of the same size.", "",
        "| | ours | paper |", "|---|---|---|",
        f"| GMU better | {result['gmu_wins']} | {SYNTHETIC['gmu_wins']} of {SYNTHETIC['seeds']} |",
        f"| tied | {result['ties']} | {SYNTHETIC['ties']} |",
        f"| GMU worse | {result['gmu_losses']} | {SYNTHETIC['gmu_losses']} |",
        f"| median corr(z, M) | {np.median(correlation):.3f} | {SYNTHETIC['gate_latent_correlation']:.0f} |",
        f"| seeds with corr(z, M) > 0.9 | {int((correlation > 0.9).sum())} of {seeds} | |",
        f"| mean test accuracy GMU / logistic | {np.mean(result['gmu_accuracy']):.3f} / {np.mean(result['logistic_accuracy']):.3f} | |",
    ]
    return "\n".join(lines) + "\n"


def plot_synthetic(example: dict[str, Any], path: Path) -> None:
    """Figure 7-like: one seed's samples in each modality, coloured by class, with the gate."""
    plt = _pyplot()
    x_v, x_t, c, m, z = (np.asarray(example[k]) for k in ("x_v", "x_t", "c", "m", "z"))
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    # x_v carries the class where M = 1, x_t where M = 0.
    for axis, x, informative, title in ((axes[0], x_v, m == 1, "visual x_v"), (axes[1], x_t, m == 0, "textual x_t")):
        for cls, colour in ((0, "tab:blue"), (1, "tab:red")):
            for is_informative, marker, kind in ((True, "o", "informative"), (False, "x", "noise")):
                rows = (c == cls) & (informative == is_informative)
                axis.scatter(x[rows, 0], x[rows, 1], s=12, c=colour, marker=marker,
                             label=f"C={cls}, {kind}", alpha=0.7)
        axis.set_title(f"{title} (o: informative, x: noise)")
    axes[0].legend(fontsize=7)
    axes[2].hist([z[m == 1], z[m == 0]], bins=30, label=["M=1 (x_v informative)", "M=0 (x_t informative)"])
    axes[2].set(xlabel="gate z", ylabel="samples", title=f"gate activation (corr with M = {np.corrcoef(z, m)[0, 1]:.3f})")
    axes[2].legend()
    _save(figure, path)


def write_synthetic_reports(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write synthetic.json, synthetic.md and synthetic.png (Figure 7-like)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "synthetic.json", out_dir / "synthetic.md", out_dir / "synthetic.png"]
    write_json(paths[0], {k: v for k, v in result.items() if k != "example"})
    write_bytes(paths[1], synthetic_markdown(result).encode())
    plot_synthetic(result["example"], paths[2])
    return paths
