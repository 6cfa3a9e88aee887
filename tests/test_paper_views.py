"""The paper's views: Table 4 / Figure 1 (qualitative.md), Figure 8 by the paper's procedure
(gates of the movies the model assigned a genre, units ranked by mutual information with
the predictions) and Figure 7 (the gate z as a contour over the synthetic (x_v, x_t) plane).
Each is checked against what it claims to show, recomputed here another way."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from sklearn.metrics import f1_score, mutual_info_score  # noqa: E402

from mmimdb.benchmark import gates, qualitative, reports  # noqa: E402
from mmimdb.benchmark.synthetic import SyntheticConfig, gmu_surface, run_figure7  # noqa: E402


@pytest.fixture(scope="module")
def run(model_test_run) -> Path:
    return model_test_run


# --- Figure 8 -------------------------------------------------------------------------------

def _planted(n: int = 400, units: int = 12):
    """Gates where unit 7 follows predicted genre 0 closely and unit 3 follows genre 1 loosely."""
    rng = np.random.default_rng(1)
    predicted = rng.uniform(size=(n, 3)) < 0.4
    z = rng.uniform(size=(n, units))
    z[:, 7] = 0.8 * predicted[:, 0] + 0.2 * rng.uniform(size=n)
    z[:, 3] = np.clip(0.4 * predicted[:, 1] + 0.6 * rng.uniform(size=n), 0, 1)
    return z, predicted


def test_unit_information_is_mutual_information_of_binned_gates_and_predictions():
    z, predicted = _planted()
    binned = gates._binned(z, gates.MI_BINS)
    expected = [sum(mutual_info_score(binned[:, j], predicted[:, g]) for g in range(3)) for j in range(z.shape[1])]
    np.testing.assert_allclose(gates.unit_information(z, predicted), expected, rtol=1e-10)
    # Deciles: every bin holds a tenth of the movies.
    assert np.bincount(binned[:, 0]).tolist() == [40] * 10


def test_paper_procedure_keeps_the_most_informative_units_over_the_assigned_movies():
    z, predicted = _planted()
    paper = gates.paper_procedure(z, predicted, ["A", "B", "C"], units=3)
    information = gates.unit_information(z, predicted)
    assert paper["units"][:2] == [7, 3]
    assert paper["units"] == list(np.argsort(-information)[:3])
    assert paper["unit_count"] == 3 and paper["hidden"] == 12
    for g, genre in enumerate("ABC"):
        rows = predicted[:, g]
        assert paper["assigned"][genre] == rows.sum()
        np.testing.assert_allclose(paper["per_genre_unit_z"][genre], z[rows][:, paper["units"]].mean(axis=0))
        np.testing.assert_allclose(paper["per_genre_mean_z"][genre], z[rows][:, paper["units"]].mean())


def test_gate_analysis_averages_over_predicted_not_true_labels():
    z, predicted = _planted()
    truth = np.zeros_like(predicted)  # no movie truly carries a genre; the model assigned some
    analysis = gates.gate_analysis(z, truth, predicted.astype(float), ["A", "B", "C"])
    assert analysis["per_genre_visual_share"] == {"A": None, "B": None, "C": None}
    assert analysis["paper"]["assigned"] == {g: int(predicted[:, i].sum()) for i, g in enumerate("ABC")}
    np.testing.assert_allclose(analysis["per_movie_mean_z"], z.mean(axis=1), atol=1e-4)


def test_benchmark_run_writes_figure8_from_the_trained_gmu(run):
    results = json.loads((run / "results.json").read_text())
    paper = results["models"]["GMU"]["gates"]["paper"]
    assert paper["unit_count"] == min(gates.PAPER_UNITS, paper["hidden"])
    assert paper["unit_information"] == sorted(paper["unit_information"], reverse=True)
    assert len(results["models"]["GMU"]["gates"]["per_movie_mean_z"]) == len(results["dataset"]["test_ids"])
    # The movies averaged are those the GMU assigned the genre: its saved test probabilities say which.
    scores = np.load(run / "runs" / "GMU.scores.npz")["0_test"]
    assigned = dict(zip(results["dataset"]["target_names"], (scores >= 0.5).sum(axis=0).tolist()))
    assert paper["assigned"] == assigned
    assert (run / "figure8.png").read_bytes()[:4] == b"\x89PNG"
    figure = reports.plot_gates_paper(results)
    bars, heat = figure.axes[:2]
    assert [label.get_text() for label in heat.get_xticklabels()] == [str(u) for u in paper["units"]]
    assert bars.get_xlabel() == f"mean gate z of the {paper['unit_count']} units"
    assert "highest mutual information" in reports.figure_provenance(figure)  # the footer says how units were chosen


# --- Table 4 / Figure 1 -----------------------------------------------------------------------

def test_qualitative_examples_are_those_the_rule_picks(run):
    results = json.loads((run / "results.json").read_text())
    chosen = json.loads((run / "qualitative.json").read_text())
    assert chosen["rule"] == qualitative.RULE
    truth = _test_truth(results)
    predicted = {name: np.load(run / "runs" / f"{name}.scores.npz")["0_test"] >= 0.5
                 for name in ("GMU", "MaxoutMLP_w2v", "VGG_Transfer")}
    f1 = {name: np.array([f1_score(truth[i], predicted[name][i], zero_division=1.0) for i in range(len(truth))])
          for name in predicted}
    gain = f1["GMU"] - np.maximum(f1["MaxoutMLP_w2v"], f1["VGG_Transfer"])
    ids = results["dataset"]["test_ids"]
    expected = sorted((i for i in range(len(ids)) if gain[i] > 0), key=lambda i: (-gain[i], -f1["GMU"][i], ids[i]))
    assert expected, "the tiny benchmark should leave some movie where the GMU beats both"
    assert [e["imdb_id"] for e in chosen["examples"]] == [ids[i] for i in expected[:qualitative.EXAMPLES]]
    markdown = (run / "qualitative.md").read_text()
    assert qualitative.RULE in markdown
    for example in chosen["examples"]:
        short = example["imdb_id"].removeprefix("tt")
        assert example["title"].startswith("Generated film") and f"tt{short}" in markdown
        assert (run / "qualitative" / f"{short}.jpeg").is_file()
        row = ids.index(example["imdb_id"])
        for role, name in qualitative.MODELS:
            marked = example["predicted"][role]
            assert [m["genre"] for m in marked] == [results["dataset"]["target_names"][g]
                                                     for g in np.flatnonzero(predicted[name][row])]
            assert [m["correct"] for m in marked] == [bool(truth[row][results["dataset"]["target_names"].index(m["genre"])])
                                                      for m in marked]


def _test_truth(results) -> np.ndarray:
    from mmimdb.benchmark.data import BenchmarkData

    data = BenchmarkData(results["dataset"]["path"], results["dataset"]["aliases"])
    split = data.split("test")
    assert split.ids == results["dataset"]["test_ids"]
    return split.labels


def test_qualitative_marks_true_and_false_positives():
    example = {"imdb_id": "9000001", "truth": ["Drama"], "title": "Generated film 1", "year": 2001, "plot": "a plot",
               "f1": {"Textual": 0.5, "Visual": 0.0, "Multimodal": 1.0},
               "predicted": {"Textual": [{"genre": "Drama", "correct": True}, {"genre": "Horror", "correct": False}],
                             "Visual": [], "Multimodal": [{"genre": "Drama", "correct": True}]}}
    results = {"models": {name: {"label": name, "status": "ok"} for _, name in qualitative.MODELS}}
    markdown = qualitative.qualitative_markdown([example], results, {"9000001": "qualitative/9000001.jpeg"})
    assert "| Textual | Drama ✓, ~~Horror~~ ✗ | 0.50 |" in markdown
    assert "| Visual | (none) | 0.00 |" in markdown
    assert "![poster of Generated film 1](qualitative/9000001.jpeg)" in markdown


# --- Figure 7 ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def figure7():
    import torch

    torch.set_num_threads(1)
    return run_figure7(0, SyntheticConfig(epochs=150))


def test_figure7_contour_follows_the_trained_gate(figure7, tmp_path):
    example = figure7["example"]
    assert figure7["config"]["dims"] == 1 and np.asarray(example["x_v"]).shape == (400, 1)
    # The numpy surface at the test samples is the gate the trained torch GMU gave them.
    z, probability = gmu_surface(example["gmu"], example["x_v"], example["x_t"])
    np.testing.assert_allclose(z, example["z"], atol=1e-5)
    assert ((probability > 0.5) == np.asarray(example["c"])).mean() == pytest.approx(figure7["gmu_accuracy"][0])
    grid_v, grid_t, grid_z, _ = reports.figure7_grid(example, steps=50)
    assert grid_v.min() < min(np.ravel(example["x_v"])) and grid_t.max() > max(np.ravel(example["x_t"]))
    np.testing.assert_allclose(grid_z, gmu_surface(example["gmu"], grid_v[..., None], grid_t[..., None])[0])
    figure = reports.plot_figure7(figure7)
    gate_axis, prediction_axis = figure.axes[:2]
    assert gate_axis.get_xlabel() == "x_v (visual)" and gate_axis.get_ylabel() == "x_t (textual)"
    assert gate_axis.get_title().startswith("gate z") and prediction_axis.get_title().startswith("prediction p(C=1)")
    # Both classes' samples and four Gaussians (class-dependent sources with the noise ones) on each panel.
    assert len(gate_axis.collections) >= 4 and len(gate_axis.patches) == 4
    # One legend under the panels, off the footer in the saved PNG (a figure legend moved onto it).
    from test_reports import _legend_below_the_plots

    assert len(_legend_below_the_plots(figure, tmp_path).get_texts()) == 5


def test_synthetic_command_writes_figure7(tmp_path):
    from click.testing import CliRunner

    from mmimdb_cli.main import cli

    result = CliRunner().invoke(cli, ["benchmark", "--dataset", "synthetic", "--seeds", "2", "--epochs", "40",
                                      "--device", "cpu", "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "figure7.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "figure7.json").read_text())
    assert saved["config"]["dims"] == 1 and saved["config"]["epochs"] == 40
