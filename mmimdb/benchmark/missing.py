"""Benchmark under missing modalities: macro-F1 of the GMU and the fusion baselines against
the missing rate.

For each rate, every split gets the missing table of :func:`mmimdb.dataset.missing.draw` (the same
tables ``mmimdb missing`` writes for that seed: a table depends only on the split's size,
the rate, the type, the both ratio and the seed), and the absent modality's inputs are
zeroed row by row at train, dev and test time: a row whose text is missing gets zero text
features (an empty token sequence for the RNNs), a row whose poster is missing gets zero
image features (zero pixels: the Caffe mean, for the CNN). Models then train and test as in
:func:`mmimdb.benchmark.runner.run_benchmark`.

Rate 0 is allowed here as the complete-data reference point of the curve.

>>> results = run_missing_benchmark(BenchmarkData.open(), ["GMU"], RunSettings(epochs=50),
...                                 rates=[0.1, 0.5, 0.9], type="both")   # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..storage.atomic import write_bytes, write_json
from ..errors import UsageError
from ..dataset.missing import DEFAULT_BOTH_RATIO, IMAGE_MISSING, TEXT_MISSING, MissingSpec, draw
from .data import BenchmarkData, Split
from .runner import RunSettings, run_benchmark, select_models
from ..dataset import hdf5

#: Model inputs that carry the plot, and those that carry the poster.
TEXT_INPUTS: tuple[str, ...] = (hdf5.TEXT_FEATURES, hdf5.THREE_GRAMS, hdf5.WORD_GRAMS, hdf5.SEQUENCES)
IMAGE_INPUTS: tuple[str, ...] = (hdf5.IMAGE_FEATURES, hdf5.IMAGES)


class _MaskedRows:
    """Rows read lazily (large image sets) with the masked rows returned as zeros."""

    def __init__(self, rows: Any, masked: np.ndarray):
        self.rows, self.masked = rows, masked
        self.row_shape = rows.row_shape

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        out = np.array(self.rows[index], copy=True)
        out[self.masked[np.asarray(index)]] = 0
        return out


def mask_inputs(split: Split, codes: np.ndarray) -> Split:
    """``split`` with the inputs of each row's missing modality zeroed per ``codes``."""
    text_rows, image_rows = codes == TEXT_MISSING, codes == IMAGE_MISSING
    masked: dict[str, Any] = {}
    for name, value in split.inputs.items():
        rows = text_rows if name in TEXT_INPUTS else image_rows if name in IMAGE_INPUTS else None
        if rows is None:
            raise UsageError(f"input {name!r} is neither text nor image: cannot drop it for a missing modality")
        if name == hdf5.SEQUENCES:
            masked[name] = [np.zeros(0, dtype=row.dtype) if gone else row for row, gone in zip(value, rows)]
        elif isinstance(value, np.ndarray):
            value = value.copy()
            value[rows] = 0
            masked[name] = value
        else:
            masked[name] = _MaskedRows(value, rows)
    return Split(split.name, masked, split.labels, split.ids, split.shared)


class MaskedBenchmarkData(BenchmarkData):
    """A :class:`BenchmarkData` whose splits come with the absent modality zeroed."""

    def __init__(self, path: str | Path, aliases: dict[str, str] | None, spec: MissingSpec):
        super().__init__(path, aliases)
        self.spec = spec

    def codes(self, name: str) -> np.ndarray:
        start, stop = self.rows[name]
        return draw(stop - start, self.spec, name)

    def split(self, name: str, inputs: tuple[str, ...] = (), shared: tuple[str, ...] = ()) -> Split:
        return mask_inputs(super().split(name, inputs, shared), self.codes(name))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "missing": {"rate": self.spec.rate, "type": self.spec.type,
                                                  "both_ratio": self.spec.both_ratio, "seed": self.spec.seed}}


def parse_rates(text: str) -> list[float]:
    """``"0.1,0.5,0.9"`` -> [0.1, 0.5, 0.9]; each in [0, 1] (0 = complete data), no repeats."""
    rates = []
    for part in text.split(","):
        try:
            rate = float(part)
        except ValueError:
            raise UsageError(f"--missing-rate: {part.strip()!r} is not a number") from None
        if not 0 <= rate <= 1:
            raise UsageError(f"--missing-rate {rate} is outside [0, 1] (0 = complete data)")
        if rate in rates:
            raise UsageError(f"--missing-rate {rate} is given twice")
        rates.append(rate)
    return sorted(rates)


def run_missing_benchmark(path: str | Path, aliases: dict[str, str] | None, model_names: list[str],
                          settings: RunSettings, rates: Sequence[float], type: str = "both",
                          both_ratio: float = DEFAULT_BOTH_RATIO, seed: int = 0, out: Path | None = None,
                          fresh: bool = False) -> dict[str, Any]:
    """Train and test ``model_names`` at each missing ``rate``; return results per rate.

    Models must read only text and image inputs (all of Table 2 but Most_frequent do);
    ``out/rate-<r>/runs`` keeps finished models so that a rerun resumes.
    """
    from . import models

    chosen, everything = select_models(model_names)
    usable = [name for name in chosen if models.get(name).inputs
              and set(models.get(name).inputs) <= set(TEXT_INPUTS + IMAGE_INPUTS)]
    if not everything and usable != chosen:
        bad = [name for name in chosen if name not in usable]
        raise UsageError(f"{', '.join(bad)}: no text or image input to drop; a missing-modality run needs models "
                         "that read plots and posters (e.g. GMU, Linear_sum, Concatenate, AVG_probs)")
    results: dict[str, Any] = {"type": type, "both_ratio": both_ratio, "seed": seed, "rates": {}}
    for rate in rates:
        if rate == 0:
            data: BenchmarkData = BenchmarkData(path, aliases)
        else:
            data = MaskedBenchmarkData(path, aliases, MissingSpec(rate, type, both_ratio, seed))
        runs = out / f"rate-{rate}" / "runs" if out is not None else None
        results["rates"][str(rate)] = run_benchmark(data, usable, settings, runs_dir=runs, fresh=fresh)
    return results


def missing_table(results: dict[str, Any], split: str = "test") -> dict[str, dict[str, float | None]]:
    """Macro-F1 (mean over seeds) per model per rate: {model label: {rate: f1}}; a label names
    the model and, where they are not the paper's, its features (as Table 2's rows)."""
    from .reports import _label

    table: dict[str, dict[str, float | None]] = {}
    for rate, run in results["rates"].items():
        for model in run["models"].values():
            value = model[split]["f1"]["macro"]["mean"] if model.get("status") == "ok" else None
            table.setdefault(_label(model), {})[rate] = value
    return table


def _missing_kind(results: dict[str, Any]) -> str:
    return results["type"] + (f", both ratio {results['both_ratio']}" if results["type"] == "both" else "")


def _compared(results: dict[str, Any], markdown: bool) -> list[str]:
    """What every rate's run was made with: features, split and seeds (the same at every rate:
    only the masking differs), then the masking."""
    from .reports import provenance_lines

    first = next(iter(results["rates"].values()))
    masking = (f"Rate = share of each split's movies whose plot or poster is dropped ({_missing_kind(results)}; "
               f"tables of `mmimdb missing`, seed {results['seed']}), as zeroed inputs at train, dev and test; "
               "0 = complete data.")
    return [*provenance_lines(first, markdown=markdown), masking if markdown else masking.replace("`", "")]


def missing_markdown(results: dict[str, Any]) -> str:
    """The macro-F1 table: a row per model, a column per missing rate."""
    table = missing_table(results)
    rates = list(results["rates"])
    lines = [f"# Macro-F1 (test) under missing modalities: type {_missing_kind(results)}, seed {results['seed']}", "",
             *_compared(results, markdown=True), "",
             "| Model | " + " | ".join(f"rate {rate}" for rate in rates) + " |", "|---|" + "---:|" * len(rates)]
    for name, values in table.items():
        lines.append(f"| {name} | " + " | ".join("–" if values.get(r) is None else f"{values[r]:.3f}" for r in rates) + " |")
    return "\n".join(lines) + "\n"


def plot_missing(results: dict[str, Any], path: Path | None = None) -> Any:
    """Macro-F1 against the missing rate, a line per model, captioned with what it compares.
    Returns the Figure (saved as PNG at ``path`` when given)."""
    from .reports import _caption, _figure, _legend_below, distinct_styles, save_figure

    table = missing_table(results)
    figure, axis = _figure(8, 4.8)
    for (name, values), (colour, style) in zip(table.items(), distinct_styles(len(table))):
        points = [(float(rate), f1) for rate, f1 in values.items() if f1 is not None]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", color=colour, linestyle=style, label=name)
    axis.set(xlabel="missing rate", ylabel="test macro-F1")
    axis.set_xlim(-0.02, 1.02)
    axis.grid(alpha=0.3)
    _legend_below(axis)
    _caption(figure, f"Macro-F1 vs missing rate ({_missing_kind(results)} missing)", _compared(results, markdown=False))
    if path is not None:
        save_figure(figure, path)
    return figure


def write_missing_reports(results: dict[str, Any], out: Path) -> list[Path]:
    """Write missing.json, missing_f1.md and missing_f1.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "missing.json", out / "missing_f1.md", out / "missing_f1.png"]
    write_json(written[0], results)
    write_bytes(written[1], missing_markdown(results).encode())
    plot_missing(results, written[2])
    return written
