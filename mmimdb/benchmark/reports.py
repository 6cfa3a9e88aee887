"""Benchmark reports: ``results.json``, Table 2 and Table 3 as markdown, and PNG plots.

Every table and plot says what it was made with: the features behind each input (dataset,
encoder, dimension), the split (method, sizes) and the seeds. A model whose features are not
the ones its Table 2 name says is named by its family and its features (``MaxoutMLP on
glove-50 50-d``, not ``MaxoutMLP_w2v``). Table 2 puts the paper's test F1s beside ours only
for rows whose features are the paper's (word2vec 300-d, VGG16 fc7, judged from what the HDF5
records) on the original release's split (the same 25,959 ids in the same train/dev/test);
elsewhere the numbers are not comparable and the column is left out.

Plots are matplotlib ``Figure`` objects (no pyplot state, no display); the ``plot_*``
functions return them, so that their labels and legends can be checked, and save them as PNG
when given a path.
"""
from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from ..storage.atomic import write_bytes, write_json
from .metrics import AVERAGES, RANKING, THRESHOLD
from .paper import SYNTHETIC, TABLE2
from .published import PUBLISHED, comparable
from .provenance import PAPER_FEATURES, features_line, split_line

#: Table 3 columns: the best text model, the visual model, and the GMU.
TABLE3_MODELS = (("Textual", "MaxoutMLP_w2v"), ("Visual", "VGG_Transfer"), ("Multimodal", "GMU"))
MODALITY_ORDER = ("Multimodal", "Text", "Visual", "Reference")


def _ordered(results: dict[str, Any]) -> list[dict[str, Any]]:
    models = results["models"]
    names = [n for n in TABLE2 if n in models] + [n for n in models if n not in TABLE2]
    return sorted((models[n] for n in names), key=lambda m: MODALITY_ORDER.index(m.get("modality", "Reference")))


def _label(model: dict[str, Any]) -> str:
    return model.get("label") or model["name"]


def _cell(summary: dict[str, float], seeds: int) -> str:
    return f"{summary['mean']:.3f} ± {summary['std']:.3f}" if seeds > 1 else f"{summary['mean']:.3f}"


def _seeds(results: dict[str, Any]) -> list[int]:
    settings = results["settings"]
    return list(range(settings["seed"], settings["seed"] + settings["seeds"]))


def seeds_line(results: dict[str, Any]) -> str:
    seeds, settings = _seeds(results), results["settings"]
    search = (f"random search of {settings['search']} trials per model (best on dev)" if settings["search"]
              else "the paper's default hyperparameters")
    many = f"mean ± std over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"one run per model, seed {seeds[0]}"
    return (f"Seeds: {many}; {search}; at most {settings['epochs']} epochs, early stopping on dev macro-F1 "
            f"(patience {settings['patience']}).")


def provenance_lines(results: dict[str, Any], models: list[dict[str, Any]] | None = None,
                     markdown: bool = True) -> list[str]:
    """What a table or plot was made with: the features of ``models`` (default: all), the
    split, the seeds (one sentence each)."""
    data = results["dataset"]
    split = data.get("split") or {"method": "unknown", "seed": None, "sizes": data["split_rows"]}
    features = data.get("features", {})
    if models is not None:
        used = {name for model in models for name in model.get("features", {})}
        features = {name: facts for name, facts in features.items() if name in used}
    return [features_line(features, markdown), split_line(split).replace("`", "" if not markdown else "`"),
            seeds_line(results), threshold_line(results)]


def threshold_line(results: dict[str, Any]) -> str:
    """The threshold policy of a table or plot: the paper's 0.5, and whether tuned ones are reported too."""
    line = f"Threshold: a genre is predicted at probability ≥ {THRESHOLD} (the paper's), for every F1"
    if results["settings"].get("threshold") == "dev":
        line += ("; the 'tuned on dev' rows use one threshold per genre, the best F1 on dev for each seed, "
                 "applied unchanged to test")
    return line + "; mAP and AUROC need no threshold."


def _paper_column(results: dict[str, Any]) -> tuple[bool, str]:
    """Whether Table 2 shows the paper's numbers, and the sentence that says why (not)."""
    data = results["dataset"]
    ran = [m for m in results["models"].values() if m.get("status") == "ok"]
    if not data.get("original_split", False):
        return False, "The paper's numbers are not shown: the rows are not the original release's split."
    if not any(m.get("paper_features") for m in ran):
        other = [f"`{name}` is {facts['tag']} ({facts['why']})" for name, facts in data.get("features", {}).items()
                 if not facts.get("paper")]
        return False, (f"The paper's numbers are not shown: the features are not the paper's ({PAPER_FEATURES}): "
                       + "; ".join(other) + ".")
    return True, ("The paper's column is the published test F1 (Arevalo et al. 2017, Table 2); '–' marks a row "
                  "whose features are not the paper's or a model the paper does not report.")


def table2_markdown(results: dict[str, Any], split: str = "test") -> str:
    """Table 2: F1 weighted / samples / micro / macro per model (mean ± std over seeds)."""
    paper, note = _paper_column(results)
    head = ["Modality", "Model", *(f"F1 {avg}" for avg in AVERAGES)]
    if paper:
        head += [f"paper {avg}" for avg in AVERAGES]
    lines = [f"# Table 2: genre classification, {split} set", "", *provenance_lines(results), "",
             _dataset_line(results), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in _ordered(results):
        if model["status"] != "ok":
            row = [model.get("modality", ""), _label(model), *(["skipped"] + [""] * (len(AVERAGES) - 1))]
            row += [""] * (len(AVERAGES) if paper else 0)
        else:
            seeds = len(model["seeds"])
            noise = _inside_noise(results, model["name"]) if split == "test" else set()
            row = [model["modality"], _label(model),
                   *(_cell(model[split]["f1"][avg], seeds) + (" °" if avg in noise else "") for avg in AVERAGES)]
            if paper:
                published = model["name"] in TABLE2 and model.get("paper_features")
                row += [f"{v:.3f}" for v in TABLE2[model["name"]][1:]] if published else ["–"] * len(AVERAGES)
        lines.append("| " + " | ".join(row) + " |")
    lines += _noise_note(results, split)
    lines += ranking_markdown(results, split)
    skipped = [m for m in _ordered(results) if m["status"] != "ok"]
    if skipped:
        lines += ["", "Skipped:"] + [f"- {m['name']}: {m['reason']}" for m in skipped]
    averaged = [m for m in _ordered(results) if m["status"] == "ok" and "members" in m.get("params", {})]
    for model in averaged:
        labels = model.get("member_labels") or {name: name for name in model["params"]["members"]}
        members = " and ".join(f"{label}" + (f" ({name})" if label != name else "") for name, label in labels.items())
        lines += ["", f"{_label(model)} averages the probabilities of {members}, each trained on its own "
                      "(its own hyperparameters) in this run."]
    lines += ["", note, *_published_elsewhere(results)]
    return "\n".join(lines) + "\n"


def _inside_noise(results: dict[str, Any], name: str) -> set[str]:
    """The averages (macro, micro) where ``name``'s difference from the model it is compared
    with (the GMU by default) is inside the noise of the paired bootstrap."""
    return {average for comparison in results.get("significance", []) if comparison["a"] == name
            for average in ("macro", "micro") if comparison[average]["inside_noise"]}


def _noise_note(results: dict[str, Any], split: str) -> list[str]:
    comparisons = results.get("significance", [])
    if not comparisons or split != "test":
        return []
    models = results["models"]
    lines = ["", f"° inside the noise: the 95% interval of a paired bootstrap over test movies "
                 f"({comparisons[0]['resamples']} resamples, seed {comparisons[0]['seed']}, F1 at {THRESHOLD}, "
                 "each model's mean over its seeds) of the difference from the model compared with contains 0.", "",
             "| Model | compared with | macro-F1 difference [95% interval] | order flips | "
             "micro-F1 difference [95% interval] | order flips |", "|---|---|---|---|---|---|"]
    for c in comparisons:
        cells = [f"{c[avg]['difference']:+.3f} [{c[avg]['interval'][0]:+.3f}, {c[avg]['interval'][1]:+.3f}] | "
                 f"{c[avg]['flips']:.1%}" for avg in ("macro", "micro")]
        lines.append(f"| {_label(models[c['a']])} | {_label(models[c['b']])} | {cells[0]} | {cells[1]} |")
    return lines


_RANKING_TITLES = {"map": "mAP", "auroc_macro": "AUROC macro", "auroc_micro": "AUROC micro"}


def ranking_markdown(results: dict[str, Any], split: str = "test") -> list[str]:
    """Beside Table 2: the threshold-free metrics and, with ``--threshold dev``, the F1s at the
    thresholds tuned on dev (Table 2 itself stays at the paper's 0.5)."""
    ran = [m for m in _ordered(results) if m["status"] == "ok" and "ranking" in m]
    if not ran:
        return []
    tuned = results["settings"].get("threshold") == "dev" and all("tuned_threshold" in m for m in ran)
    head = ["Model", *(_RANKING_TITLES[k] for k in RANKING)]
    if tuned:
        head += [f"F1 {avg} at 0.5" for avg in ("micro", "macro")] + [f"F1 {avg}, tuned on dev" for avg in ("micro", "macro")]
    lines = ["", f"Ranking metrics ({split} set; mAP: the mean over genres of average precision)"
                 + (" and the F1s at thresholds tuned per genre on dev" if tuned else "") + ":", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in ran:
        seeds = len(model["seeds"])
        row = [_label(model), *(_cell(model["ranking"][split][k], seeds) for k in RANKING)]
        if tuned:
            row += [_cell(model[split]["f1"][avg], seeds) for avg in ("micro", "macro")]
            row += [_cell(model["tuned_threshold"][split]["f1"][avg], seeds) for avg in ("micro", "macro")]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def cost_markdown(results: dict[str, Any]) -> str:
    """The cost table: parameters, peak memory, training and inference time per model."""
    ran = [m for m in _ordered(results) if m["status"] == "ok" and "cost" in m]
    lines = ["# Cost per model", "", *provenance_lines(results, ran)[:3], "", _dataset_line(results), ""]
    if not ran:
        return "\n".join(lines + ["No model ran."]) + "\n"
    kinds = sorted({m["cost"]["peak_memory"]["kind"] for m in ran})
    where = sorted({f"{m['cost']['device']}, {m['cost']['threads']} thread(s)" for m in ran})
    lines += [f"Measured on {'; '.join(where)}. Peak memory: {'; '.join(kinds)}. Training time: the model's "
              "whole run (search trials and seeds included); best epoch: per seed; inference: test-set "
              "probabilities, the best of two passes, per 1,000 movies.", "",
              "| Model | parameters | trainable | peak memory (MiB) | training (s) | best epoch | "
              "inference (s / 1,000 movies) |", "|---|---|---|---|---|---|---|"]
    for model in ran:
        cost = model["cost"]
        epochs = ", ".join("–" if e is None else str(e) for e in cost["best_epoch"])
        lines.append(f"| {_label(model)} | {cost['parameters']:,} | {cost['trainable_parameters']:,} | "
                     f"{cost['peak_memory']['peak_bytes'] / 2**20:,.0f} | {cost['train_seconds']:.1f} | {epochs} | "
                     f"{cost['inference_seconds_per_1000']:.4f} |")
    return "\n".join(lines) + "\n"


def _published_elsewhere(results: dict[str, Any]) -> list[str]:
    """The published results other than the paper's (``benchmark/published.py``), each
    with why it is (not) beside ours."""
    ran = [m for m in results["models"].values() if m.get("status") == "ok"]
    protocol = "paper" if results["dataset"].get("original_split", False) else "another split"
    paper_features = any(m.get("paper_features") for m in ran)
    lines = ["", "Published results of other models (test F1), and why each is or is not beside ours:", "",
             "| model | protocol | encoders | F1 micro | F1 macro | beside ours | source |", "|---|---|---|---|---|---|---|"]
    for result in PUBLISHED:
        if result.protocol == "paper":
            continue  # the paper's column above
        shown, why = comparable(result, protocol, paper_features, {m["name"] for m in ran})
        cells = [f"{result.f1[avg]:.3f}" if avg in result.f1 else "–" for avg in ("micro", "macro")]
        source = result.source + (f" ({result.caveat})" if result.caveat else "")
        lines.append(f"| {result.model} | {result.protocol} | {result.encoders} | {' | '.join(cells)} | "
                     f"{'yes' if shown else 'no: ' + why} | {source} |")
    return lines


def _dataset_line(results: dict[str, Any]) -> str:
    data = results["dataset"]
    return f"Dataset `{data['path']}`: {data['rows']} movies."


def _table3_columns(results: dict[str, Any]) -> list[tuple[str, str]]:
    models = results["models"]
    return [(role, name) for role, name in TABLE3_MODELS if models.get(name, {}).get("status") == "ok"]


def table3_markdown(results: dict[str, Any], split: str = "test") -> str:
    """Table 3: per-genre F1 of the textual, visual and multimodal (GMU) models, with support.

    The other models' per-genre F1 are in ``results.json``; when none of the three ran, the
    table shows every model that did.
    """
    models = results["models"]
    columns = [(f"{role} ({_label(models[name])})", name) for role, name in _table3_columns(results)]
    if not columns:  # none of the paper's three ran: show every model that did
        columns = [(_label(m), m["name"]) for m in _ordered(results) if m["status"] == "ok"]
    lines = [f"# Table 3: per-genre F1, {split} set", "", *provenance_lines(results), "", _dataset_line(results), ""]
    if not columns:
        return "\n".join(lines + ["No model ran."]) + "\n"
    head = ["Genre", "support", *(title for title, _ in columns)]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    first = models[columns[0][1]][split]
    for genre, support in first["per_genre_support"].items():
        cells = [f"{models[name][split]['per_genre_f1'][genre]['mean']:.3f}" for _, name in columns]
        lines.append("| " + " | ".join([genre, str(support), *cells]) + " |")
    return "\n".join(lines) + "\n"


def _figure(width: float, height: float, rows: int = 1, columns: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    # Constrained layout makes room for the caption and for legends outside the axes.
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(rows, columns)


#: The gid of the footer that says what a figure was made with (:func:`figure_provenance`).
PROVENANCE_GID = "provenance"


def _caption(figure: Any, title: str, lines: list[str], width: int = 110) -> None:
    """The figure's title on top; what it was made with in a small grey footer under the
    plot, wrapped (the title's font for it took a third of a figure)."""
    figure.suptitle(title, fontsize=11, x=0.01, ha="left")
    wrapped = [part for line in lines for part in textwrap.wrap(line, width)]
    if wrapped:
        figure.text(0.01, 0.0, "\n".join(wrapped), fontsize=6.5, color="0.35", ha="left", va="top", gid=PROVENANCE_GID)


def figure_provenance(figure: Any) -> str:
    """The footer :func:`_caption` wrote (what the figure was made with), or ''."""
    return "\n".join(text.get_text() for text in figure.texts if text.get_gid() == PROVENANCE_GID)


def _with_support(genres: list[str], support: dict[str, int]) -> list[str]:
    """Tick labels that say how many test movies each genre's bar stands on ("Sport (n=1)")."""
    return [f"{genre} (n={support[genre]})" if genre in support else genre for genre in genres]


def save_figure(figure: Any, path: Path) -> Path:
    """Write ``figure`` as a PNG at ``path`` (atomically)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_bytes(path, buffer.getvalue())
    return path


def _pyplot():
    """pyplot on the Agg backend (no display), for plots made with it elsewhere."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    """Save a pyplot figure as PNG (atomically) and release it."""
    save_figure(figure, path)
    _pyplot().close(figure)


#: The legends' font size (points), and what an entry takes besides its text (points): the
#: line sample, the pad after it and the space between columns (matplotlib's 2, 0.8 and 2 em).
LEGEND_FONT_SIZE = 8
LEGEND_ENTRY_POINTS = 4.8 * LEGEND_FONT_SIZE


def _legend_below(axis: Any, **options: Any) -> Any:
    """A legend of ``axis``'s lines under it (under its tick labels and axis label), in as many
    columns as its width holds entries of the longest label: it covers no data and, unlike a
    legend beside the axes, leaves them the figure's width. Anchored to the axes, not to the
    figure: a figure legend moves onto the footer when ``savefig`` crops to the tight box."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import ScaledTranslation

    figure = axis.get_figure()
    handles, labels = axis.get_legend_handles_labels()
    figure.draw_without_rendering()  # the layout without the legend: where the axis's decorations end
    box = axis.get_window_extent()
    decorations = (box.y0 - axis.get_tightbbox().y0) / figure.dpi + 0.05  # inches under the axes
    font = FontProperties(size=LEGEND_FONT_SIZE)
    longest = max((TextPath((0, 0), label, prop=font).get_extents().width for label in labels), default=0)  # points
    columns = max(1, min(len(labels), int(0.95 * box.width / figure.dpi * 72 // (longest + LEGEND_ENTRY_POINTS))))
    under = axis.transAxes + ScaledTranslation(0, -decorations, figure.dpi_scale_trans)
    return axis.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=under,
                       borderaxespad=0.0, ncol=columns, fontsize=LEGEND_FONT_SIZE, frameon=False, **options)


def _legend_above(axis: Any, columns: int, **options: Any) -> Any:
    """A legend in a row above ``axis``: off the data, and no wide empty margin beside it."""
    return axis.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), borderaxespad=0.0, fontsize=8, ncol=columns,
                       frameon=False, **options)


def distinct_styles(count: int) -> list[tuple[Any, str]]:
    """``count`` (colour, line style) pairs with a different colour each: tab10's ten, then
    tab20's ten lighter shades (dashed), then colours spread over a continuous colormap."""
    from matplotlib import colormaps

    tab20 = colormaps["tab20"].colors
    if count <= 20:
        colours = list(tab20[0::2]) + list(tab20[1::2])  # tab10's colours first, then their light shades
        return [(colours[i], "-" if i < 10 else "--") for i in range(count)]
    spread = colormaps["turbo"](np.linspace(0.02, 0.98, count))
    return [(tuple(spread[i]), ("-", "--", ":")[i % 3]) for i in range(count)]


def plot_per_genre(results: dict[str, Any], path: Path | None = None, split: str = "test") -> Any:
    """Grouped bars: per-genre F1 of the textual, visual and GMU models (Table 3 as a plot).
    Returns the Figure (None when none of the three ran)."""
    models = results["models"]
    columns = _table3_columns(results)
    if not columns:
        return None
    genres = list(models[columns[0][1]][split]["per_genre_f1"])
    figure, axis = _figure(11, 5.5)
    width = 0.8 / len(columns)
    for i, (role, name) in enumerate(columns):
        values = [models[name][split]["per_genre_f1"][g]["mean"] for g in genres]
        axis.bar(np.arange(len(genres)) + i * width, values, width, label=f"{role} ({_label(models[name])})")
    support = models[columns[0][1]][split].get("per_genre_support", {})
    axis.set_xticks(np.arange(len(genres)) + width * (len(columns) - 1) / 2, _with_support(genres, support),
                    rotation=60, ha="right")
    axis.set_ylabel(f"F1 ({split} set)")
    axis.set_xlabel(f"genre (n = its {split} movies)")
    _legend_above(axis, columns=1)
    _caption(figure, "Per-genre F1 by modality", provenance_lines(results, [models[n] for _, n in columns], markdown=False))
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_gates(results: dict[str, Any], path: Path | None = None) -> Any:
    """Figure 8: per genre, the share of test movies whose GMU gates favour the poster.
    Returns the Figure (None when the GMU did not run)."""
    gmu = results["models"].get("GMU", {})
    if gmu.get("status") != "ok" or "gates" not in gmu:
        return None
    shares = {g: s for g, s in gmu["gates"]["per_genre_visual_share"].items() if s is not None}
    figure, axis = _figure(7, 7)
    genres = sorted(shares, key=shares.get)
    axis.barh(genres, [shares[g] for g in genres], color="tab:orange", label="visual (poster)")
    axis.barh(genres, [1 - shares[g] for g in genres], left=[shares[g] for g in genres], color="tab:blue",
              label="textual (plot)")
    axis.set_xlim(0, 1)
    axis.set_yticks(range(len(genres)), _with_support(genres, gmu.get("test", {}).get("per_genre_support", {})))
    axis.set_xlabel("share of test movies (mean gate z > 0.5 = poster)")
    axis.set_ylabel("genre (n = its test movies: a share of few is no finding)")
    _legend_above(axis, columns=2)
    first = gmu["seeds"][0] if gmu.get("seeds") else _seeds(results)[0]
    _caption(figure, f"{_label(gmu)}: gate activations by genre (cf. Figure 8), seed {first}",
             provenance_lines(results, [gmu], markdown=False)[:2], width=70)
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_gates_paper(results: dict[str, Any], path: Path | None = None) -> Any:
    """Figure 8 by the paper's procedure (:func:`.gates.paper_procedure`): per genre, the mean
    gate z of the units most informative of the predictions over the test movies the GMU
    assigned that genre (left), and each of those units (right). Returns the Figure (None when
    the GMU did not run or its run predates the analysis)."""
    gmu = results["models"].get("GMU", {})
    paper = gmu.get("gates", {}).get("paper") if gmu.get("status") == "ok" else None
    if not paper:
        return None
    means = {g: z for g, z in paper["per_genre_mean_z"].items() if z is not None}
    if not means:
        return None
    genres = sorted(means, key=means.get)
    figure, (bars, heat) = _figure(15, 8, columns=2)
    names = [f"{g} ({paper['assigned'][g]})" for g in genres]
    bars.barh(names, [means[g] for g in genres], color="tab:orange", label="visual (poster): z")
    bars.barh(names, [1 - means[g] for g in genres], left=[means[g] for g in genres], color="tab:blue",
              label="textual (plot): 1 - z")
    bars.axvline(0.5, color="black", linewidth=0.8, linestyle=":")
    bars.set_xlim(0, 1)
    bars.set(xlabel=f"mean gate z of the {paper['unit_count']} units", ylabel="genre (test movies assigned it)",
             title="Mean gate over the units and movies")
    bars.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=8)
    matrix = np.array([paper["per_genre_unit_z"][g] for g in genres])
    image = heat.imshow(matrix, aspect="auto", cmap="coolwarm", vmin=0, vmax=1)
    heat.set_yticks(range(len(genres)), names, fontsize=8)
    heat.set_xticks(range(paper["unit_count"]), [str(u) for u in paper["units"]], rotation=90, fontsize=7)
    heat.set(xlabel="gate unit (most informative first)", title="Mean gate z per unit")
    figure.colorbar(image, ax=heat, label="z (1: poster, 0: plot)")
    first = gmu["seeds"][0] if gmu.get("seeds") else _seeds(results)[0]
    how = (f"The {paper['unit_count']} of {paper['hidden']} gate units with the highest mutual information between "
           f"their activation ({paper['bins']} quantile bins) and the predicted genres, summed over the genres; per "
           "genre, averaged over the test movies the model assigned it (probability >= 0.5; count in brackets).")
    _caption(figure, f"{_label(gmu)}: Figure 8 by the paper's procedure, seed {first}",
             [how, *provenance_lines(results, [gmu], markdown=False)[:2]], width=150)
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_training_curves(results: dict[str, Any], path: Path | None = None) -> Any:
    """Training loss and dev macro-F1 per epoch of every model, every seed drawn (one colour
    and line style per model). Returns the Figure (None when no model has a curve)."""
    from matplotlib.ticker import MaxNLocator

    ran = [m for m in _ordered(results) if m["status"] == "ok" and m["runs"][0]["history"].get("dev_macro_f1")]
    if not ran:
        return None
    seeds = sorted({run["seed"] for model in ran for run in model["runs"]})
    if len(ran) > SHARED_PANEL_MODELS:
        return _training_small_multiples(results, ran, seeds, path)
    figure, (loss_axis, f1_axis) = _figure(12, 9, rows=2)
    for model, (colour, style) in zip(ran, distinct_styles(len(ran))):
        for k, run in enumerate(model["runs"]):
            history = run["history"]
            epochs = np.arange(1, len(history["dev_macro_f1"]) + 1)
            label = _label(model) if k == 0 else None
            loss_axis.plot(epochs, history["train_loss"], color=colour, linestyle=style, linewidth=1.2, label=label)
            f1_axis.plot(epochs, history["dev_macro_f1"], color=colour, linestyle=style, linewidth=1.2, label=label)
    drawn = f"seed {seeds[0]}" if len(seeds) == 1 else f"every seed drawn ({', '.join(map(str, seeds))})"
    loss_axis.set(xlabel="epoch", ylabel="train loss (BCE)", title=f"Training loss, {drawn}")
    f1_axis.set(xlabel="epoch", ylabel="dev macro-F1", title=f"Dev macro-F1 (early stopping), {drawn}")
    for axis in (loss_axis, f1_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_below(f1_axis, title="model")  # one for both panels: the same colour a model in each
    _caption(figure, "Training curves", provenance_lines(results, ran, markdown=False))
    if path is not None:
        save_figure(figure, path)
    return figure


#: Models whose curves share one pair of panels, one solid colour each (tab10); more get a
#: small panel each (17 lines of repeated pale dashed colours in one panel cannot be read).
SHARED_PANEL_MODELS = 10
#: Columns of the small multiples.
PANEL_COLUMNS = 4


def _training_small_multiples(results: dict[str, Any], ran: list[dict[str, Any]], seeds: list[int],
                              path: Path | None) -> Any:
    """One small panel per model: its train loss and dev macro-F1 per epoch (every seed
    drawn), the same two colours and the same axes in every panel."""
    from matplotlib.ticker import MaxNLocator

    rows = -(-len(ran) // PANEL_COLUMNS)
    figure, axes = _figure(3.2 * PANEL_COLUMNS, 2.4 * rows + 0.8, rows=rows, columns=PANEL_COLUMNS)
    axes = np.atleast_1d(axes).ravel()
    top = max(1.0, max(max(run["history"]["train_loss"]) for model in ran for run in model["runs"]))
    for axis, model in zip(axes, ran):
        for k, run in enumerate(model["runs"]):
            history = run["history"]
            epochs = np.arange(1, len(history["dev_macro_f1"]) + 1)
            axis.plot(epochs, history["train_loss"], color="tab:blue", linewidth=1.0,
                      label="train loss (BCE)" if k == 0 else None)
            axis.plot(epochs, history["dev_macro_f1"], color="tab:orange", linewidth=1.0,
                      label="dev macro-F1" if k == 0 else None)
        axis.set_title(textwrap.shorten(_label(model), 38), fontsize=8)
        axis.set_ylim(0, top)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.tick_params(labelsize=7)
    for axis in axes[len(ran):]:
        axis.set_visible(False)
    drawn = f"seed {seeds[0]}" if len(seeds) == 1 else f"every seed drawn ({', '.join(map(str, seeds))})"
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper right", ncol=2, fontsize=8, frameon=False)
    figure.supxlabel("epoch", fontsize=9)
    _caption(figure, f"Training curves, one panel a model, {drawn}", provenance_lines(results, ran, markdown=False))
    if path is not None:
        save_figure(figure, path)
    return figure


def write_benchmark_reports(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write results.json, table2.md, table3.md, cost.md and the PNG plots; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.json", out_dir / "table2.md", out_dir / "table3.md"]
    write_json(written[0], results)
    write_bytes(written[1], table2_markdown(results).encode())
    write_bytes(written[2], table3_markdown(results).encode())
    if any(m.get("cost") for m in results["models"].values()):
        written.append(out_dir / "cost.md")
        write_bytes(written[-1], cost_markdown(results).encode())
    for name, plot in (("per_genre_f1.png", plot_per_genre), ("gates.png", plot_gates),
                       ("figure8.png", plot_gates_paper),
                       ("training_curves.png", plot_training_curves)):
        if plot(results, out_dir / name) is not None:
            written.append(out_dir / name)
    return written


def synthetic_markdown(result: dict[str, Any]) -> str:
    """The synthetic experiment's outcome beside the paper's."""
    seeds, first = result["seeds"], result.get("first_seed", 0)
    correlation = np.array(result["gate_latent_correlation"])
    lines = [
        "# Synthetic experiment (paper section 5.1)", "",
        f"{seeds} seeds ({first} to {first + seeds - 1}), {result['samples_per_class']} samples per class per seed; "
        "a single GMU vs logistic regression, test accuracy on a fresh sample of the same size.", "",
        "| | ours | paper |", "|---|---|---|",
        f"| GMU better | {result['gmu_wins']} | {SYNTHETIC['gmu_wins']} of {SYNTHETIC['seeds']} |",
        f"| tied | {result['ties']} | {SYNTHETIC['ties']} |",
        f"| GMU worse | {result['gmu_losses']} | {SYNTHETIC['gmu_losses']} |",
        f"| median corr(z, M) | {np.median(correlation):.3f} | {SYNTHETIC['gate_latent_correlation']:.0f} |",
        f"| seeds with corr(z, M) > 0.9 | {int((correlation > 0.9).sum())} of {seeds} | |",
        f"| mean test accuracy GMU / logistic | {np.mean(result['gmu_accuracy']):.3f} / {np.mean(result['logistic_accuracy']):.3f} | |",
    ]
    return "\n".join(lines) + "\n"


def plot_synthetic(result: dict[str, Any], path: Path | None = None) -> Any:
    """Figure 7-like: the first seed's test samples in each modality, coloured by class, and
    its gate activations. Returns the Figure."""
    example = result["example"]
    x_v, x_t, c, m, z = (np.asarray(example[k]) for k in ("x_v", "x_t", "c", "m", "z"))
    figure, axes = _figure(15, 5, columns=3)
    # x_v carries the class where M = 1, x_t where M = 0.
    for axis, x, informative, name, title in ((axes[0], x_v, m == 1, "x_v", "visual x_v"),
                                               (axes[1], x_t, m == 0, "x_t", "textual x_t")):
        for cls, colour in ((0, "tab:blue"), (1, "tab:red")):
            for is_informative, marker, kind in ((True, "o", "informative"), (False, "x", "noise")):
                rows = (c == cls) & (informative == is_informative)
                axis.scatter(x[rows, 0], x[rows, 1], s=12, color=colour, marker=marker,
                             label=f"C={cls}, {kind}", alpha=0.7)
        axis.set(xlabel=f"{name}[0]", ylabel=f"{name}[1]", title=f"{title} (o: informative, x: noise)")
    axes[0].legend(fontsize=7)
    axes[2].hist([z[m == 1], z[m == 0]], bins=30, label=["M=1 (x_v informative)", "M=0 (x_t informative)"])
    axes[2].set(xlabel="gate z", ylabel="test samples",
                title=f"gate activation (corr with M = {np.corrcoef(z, m)[0, 1]:.3f})")
    axes[2].legend(fontsize=7)
    seed, seeds = result.get("first_seed", 0), result["seeds"]
    _caption(figure, f"Synthetic experiment (section 5.1): seed {seed} drawn, the first of {seeds} seeds "
                     f"({2 * result['samples_per_class']} test samples)", [])
    if path is not None:
        save_figure(figure, path)
    return figure


def figure7_grid(example: dict[str, Any], steps: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The (x_v, x_t) plane Figure 7 draws, around the samples: grid X_v, X_t (steps, steps)
    and the trained gate z and prediction p(C=1) at each point."""
    from .synthetic import gmu_surface

    x_v, x_t = np.asarray(example["x_v"])[:, 0], np.asarray(example["x_t"])[:, 0]
    pad_v, pad_t = 0.15 * np.ptp(x_v) + 0.5, 0.15 * np.ptp(x_t) + 0.5
    grid_v, grid_t = np.meshgrid(np.linspace(x_v.min() - pad_v, x_v.max() + pad_v, steps),
                                 np.linspace(x_t.min() - pad_t, x_t.max() + pad_t, steps))
    z, probability = gmu_surface(example["gmu"], grid_v[..., None], grid_t[..., None])
    return grid_v, grid_t, z, probability


def plot_figure7(result: dict[str, Any], path: Path | None = None) -> Any:
    """Figure 7 as the paper draws it, for a task with x_v, x_t in R: the trained gate z as a
    contour over the (x_v, x_t) plane with both classes' test samples and the Gaussians they
    were drawn from (left), and the model's prediction p(C=1) the same way (right)."""
    from matplotlib.patches import Ellipse

    example, config = result["example"], result["config"]
    if config["dims"] != 1:
        raise ValueError("Figure 7 needs a task with one dimension per modality (run_figure7)")
    grid_v, grid_t, z, probability = figure7_grid(example)
    x_v, x_t = np.asarray(example["x_v"])[:, 0], np.asarray(example["x_t"])[:, 0]
    c, m = np.asarray(example["c"]), np.asarray(example["m"])
    means = {name: np.asarray(value) for name, value in example["means"].items()}
    figure, axes = _figure(15, 6.5, columns=2)
    levels = np.linspace(0, 1, 11)
    for axis, surface, name in ((axes[0], z, "gate z (1: listens to x_v)"), (axes[1], probability, "prediction p(C=1)")):
        filled = axis.contourf(grid_v, grid_t, surface, levels=levels, cmap="coolwarm", alpha=0.55)
        axis.contour(grid_v, grid_t, surface, levels=[0.5], colors="black", linewidths=1.2)
        figure.colorbar(filled, ax=axis, label=name)
        for cls, colour in ((0, "tab:blue"), (1, "tab:red")):
            for switch, marker in ((1, "o"), (0, "^")):
                rows = (c == cls) & (m == switch)
                informed = "x_v" if switch else "x_t"
                axis.scatter(x_v[rows], x_t[rows], s=14, color=colour, marker=marker, edgecolors="white",
                             linewidths=0.4, label=f"C={cls}, M={switch} ({informed} informs)")
        # The Gaussians the samples come from (2 standard deviations): where M=1, x_v ~ N(mu_v[C])
        # and x_t is noise ~ N(nu_t); where M=0, x_v is noise ~ N(nu_v) and x_t ~ N(mu_t[C]).
        informed, noise = 2 * config["noise_std"], 2 * config["uninformed_std"]
        for cls, colour in ((0, "tab:blue"), (1, "tab:red")):
            for centre, size in (((means["mu_v"][cls, 0], means["nu_t"][0]), (informed, noise)),
                                 ((means["nu_v"][0], means["mu_t"][cls, 0]), (noise, informed))):
                axis.add_patch(Ellipse(centre, 2 * size[0], 2 * size[1], fill=False, edgecolor=colour,
                                       linestyle="--", linewidth=1.2))
        axis.axvline(means["nu_v"][0], color="grey", linestyle=":", linewidth=1, label="noise means nu_v, nu_t")
        axis.axhline(means["nu_t"][0], color="grey", linestyle=":", linewidth=1)
        axis.set(xlabel="x_v (visual)", ylabel="x_t (textual)", title=f"{name}; black line: 0.5")
    _legend_below(axes[0])  # the same markers on both panels
    correlation = np.corrcoef(example["z"], m)[0, 1] if np.std(example["z"]) > 0 else 0.0
    _caption(figure, f"Figure 7: a single GMU on the synthetic task with x_v, x_t in R, seed {result.get('first_seed', 0)} "
                     f"({2 * result['samples_per_class']} test samples; corr(z, M) = {correlation:.3f})",
             ["Dashed ellipses: the Gaussians (2 standard deviations) the samples were drawn from; the noise "
              "sources are class-independent (dotted lines at their means)."], width=150)
    if path is not None:
        save_figure(figure, path)
    return figure


def write_synthetic_reports(result: dict[str, Any], out_dir: Path, figure7: dict[str, Any] | None = None) -> list[Path]:
    """Write synthetic.json, synthetic.md and synthetic.png (the seeds' task, 2-d); with
    ``figure7`` (:func:`.synthetic.run_figure7`'s result) also figure7.png and figure7.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "synthetic.json", out_dir / "synthetic.md", out_dir / "synthetic.png"]
    write_json(paths[0], {k: v for k, v in result.items() if k != "example"})
    write_bytes(paths[1], synthetic_markdown(result).encode())
    plot_synthetic(result, paths[2])
    if figure7 is not None:
        paths += [out_dir / "figure7.png", out_dir / "figure7.json"]
        plot_figure7(figure7, paths[-2])
        write_json(paths[-1], figure7)
    return paths
