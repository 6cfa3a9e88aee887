"""``mmimdb report``: one HTML page, opened from disk in headless Chromium, that shows the
build (Table 1, the card's figures, a movie browser with search and filters) and the
benchmark (Table 2 and 3, plots, per-genre errors, qualitative examples, per-movie
predictions), each checked against the files it was made from."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("markdown_it")

import browser  # noqa: E402
from dataset_builds import parquet_copy  # noqa: E402
from mmimdb import api  # noqa: E402
from mmimdb.records.genres import GENRES  # noqa: E402
from mmimdb.records.split_file import SPLITS  # noqa: E402
from mmimdb_cli.main import cli  # noqa: E402

MISSING = ("--rate", "0.5", "--type", "both", "--seed", "0")


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def built(model_test_root, model_test_run, tmp_path_factory) -> dict:
    """The report of the model-test build with a missing table and the tiny benchmark run."""
    run = model_test_run
    root = parquet_copy(model_test_root, tmp_path_factory.mktemp("report") / "root")
    assert _invoke("missing", *MISSING, "--root", str(root)).exit_code == 0
    result = _invoke("report", "--root", str(root), "--results", str(run))
    assert result.exit_code == 0, result.output
    page = root / "report" / "index.html"
    assert f"wrote {page}" in result.output
    frames = {split: api.load(split, root=root, columns=["imdb_id", "title", "plot", "labels"]) for split in SPLITS}
    return {"root": root, "run": run, "page": page, "frames": frames,
            "results": json.loads((run / "results.json").read_text())}


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where the views' screenshots go: $MMIMDB_SCREENSHOTS, else a temporary folder."""
    folder = Path(os.environ.get("MMIMDB_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def driver():
    reason = browser.missing_reason()
    if reason:
        from postgres_server import require

        require(reason)
    with browser.chromium() as chromium:
        yield chromium


@pytest.fixture()
def page(driver, built):
    """The page freshly opened from disk; no console error on the way."""
    driver.get(built["page"].as_uri())
    yield driver
    assert browser.errors(driver) == []


def _all_movies(built):
    return [row for split in SPLITS for row in built["frames"][split].itertuples()]


def _shown_count(driver) -> int:
    """The number of movies shown, once the search's plots (loaded after the page) are in."""
    _wait(driver, "!document.getElementById('count').dataset.pending")
    return int(driver.find_element("id", "count").text.split()[0])


def _decoded(driver, selector: str) -> tuple[int, int]:
    return tuple(driver.execute_script(
        f"const images = Array.from(document.querySelectorAll({json.dumps(selector)}));"
        "return [images.length, images.filter(i => i.complete && i.naturalWidth > 0).length];"))


def _wait(driver, condition: str, timeout: float = 10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(f"return {condition}"))


# --- the files ------------------------------------------------------------------------------

def test_page_needs_no_server_and_no_network(built):
    html = built["page"].read_text()
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)
    assert "<link rel=\"stylesheet\"" not in html
    report = built["page"].parent
    movies = len(_all_movies(built))
    assert len(list((report / "posters").glob("*.jpg"))) == movies
    assert len(list((report / "details").glob("*.js"))) == -(-movies // 500)
    assert len(list((report / "search").glob("*.js"))) == -(-movies // 5000)
    # The page holds only what its first view draws: no plot (the search files have them;
    # Table 4's test movies show theirs).
    plots = [m.plot for split in ("train", "dev") for m in built["frames"][split].itertuples() if len(m.plot) > 40]
    assert plots and not any(plot in html for plot in plots)
    assert all(json.dumps(plot, ensure_ascii=False)[1:-1] in "".join(p.read_text() for p in (report / "search").glob("*.js"))
               for plot in plots)


def test_results_folder_without_results_is_a_usage_error(built, tmp_path):
    result = _invoke("report", "--root", str(built["root"]), "--results", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == \
        f"error: --results {tmp_path}: no results.json there; run `mmimdb benchmark` first"
    (tmp_path / "results.json").write_text("{not json")
    result = _invoke("report", "--root", str(built["root"]), "--results", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "not a results file of `mmimdb benchmark`" in result.output


def test_unbuilt_root_says_to_build(tmp_path):
    result = _invoke("report", "--root", str(tmp_path))
    assert result.exit_code == 2 and "mmimdb build" in result.output.strip().splitlines()[-1]
    assert result.output.startswith("error: ")


def test_a_damaged_poster_leaves_the_movie_without_its_thumbnail(built, tmp_path):
    import pyarrow.parquet as pq

    root = parquet_copy(built["root"], tmp_path / "root")
    path = root / "parquet" / "dev.parquet"
    table = pq.read_table(path)
    import pyarrow as pa

    posters = table.column("poster").to_pylist()
    damaged = posters[0]["bytes"][:200]  # a JPEG cut short
    posters[0] = {**posters[0], "bytes": damaged}
    table = table.set_column(table.schema.get_field_index("poster"), "poster",
                             pa.array(posters, table.schema.field("poster").type))
    pq.write_table(table, path)

    result = _invoke("report", "--root", str(root))  # output: stdout and stderr
    assert result.exit_code == 0, result.output
    first = table.column("imdb_id")[0].as_py()
    assert f"warning: poster of {first}: not a readable image" in result.output
    # The card's poster sizes cannot read it either: the page is written without Table 1.
    assert "warning: Table 1 and the card's figures left out: the card cannot read this build" in result.output
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                                (root / "report" / "index.html").read_text(), re.S).group(1).replace("<\\/", "</"))
    posters = dict(zip(data["movies"]["ids"], data["movies"]["posters"]))
    assert posters[first] is None
    assert all(key for imdb_id, key in posters.items() if imdb_id != first)


# --- in the browser -----------------------------------------------------------------------------

def test_cards_render_with_decoded_posters(page, built, shots):
    movies = _all_movies(built)
    _wait(page, "Array.from(document.querySelectorAll('.card img')).every(i => i.complete)")
    cards, decoded = _decoded(page, ".card img")
    assert cards == min(60, len(movies)) == decoded
    assert _shown_count(page) == len(movies)
    first = page.find_element("css selector", ".card .title").text
    assert first == movies[0].title
    page.save_screenshot(str(shots / "movies.png"))
    # The first page's thumbnails are in the page; the next page's are the files beside it.
    assert page.execute_script("return Array.from(document.querySelectorAll('.card img')).every(i => i.src.startsWith('data:'))")
    page.find_element("id", "next").click()
    _wait(page, "Array.from(document.querySelectorAll('.card img')).every(i => i.complete)")
    assert page.execute_script("return Array.from(document.querySelectorAll('.card img')).every(i => i.src.includes('/posters/'))")
    cards, decoded = _decoded(page, ".card img")
    assert cards == min(60, len(movies) - 60) == decoded > 0


def test_genre_filter_and_search_show_the_movies_the_data_says(page, built, shots):
    from selenium.webdriver.support.ui import Select

    movies = _all_movies(built)
    genre = "Horror"
    Select(page.find_element("id", "genre")).select_by_visible_text(genre)
    expected = [m.imdb_id for m in movies if m.labels[GENRES.index(genre)]]
    assert 0 < len(expected) < len(movies)
    assert _shown_count(page) == len(expected)
    shown = page.execute_script("return Array.from(document.querySelectorAll('.card .meta')).map(e => e.textContent)")
    assert [text.split(" · ")[-1] for text in shown] == expected[:60]
    page.save_screenshot(str(shots / "genre-filter.png"))
    # Words of one movie's plot: every movie whose title or plot holds both words.
    words = movies[3].plot.lower().split()[:2]
    search = page.find_element("id", "search")
    search.send_keys(" ".join(words))
    both = [m.imdb_id for m in movies if m.labels[GENRES.index(genre)]
            and all(w in (m.title + " " + m.plot).lower() for w in words)]
    assert _shown_count(page) == len(both)
    Select(page.find_element("id", "genre")).select_by_visible_text("any")
    anywhere = [m for m in movies if all(w in (m.title + " " + m.plot).lower() for w in words)]
    assert _shown_count(page) == len(anywhere) and movies[3].imdb_id in [m.imdb_id for m in anywhere]
    search.clear()
    search.send_keys(movies[5].title)
    words = movies[5].title.lower().split()  # "generated film 9": every movie with all three words
    assert _shown_count(page) == len([m for m in movies if all(w in (m.title + " " + m.plot).lower() for w in words)])


def test_a_missing_search_file_is_said_on_the_page(driver, built, tmp_path):
    report = tmp_path / "report"
    shutil.copytree(built["page"].parent, report)
    (report / "search" / "0000.js").unlink()
    driver.get((report / "index.html").as_uri())
    driver.find_element("id", "search").send_keys("film")
    _wait(driver, "document.getElementById('count').textContent.includes('missing')")
    assert driver.find_element("id", "count").text == "The search files are missing: run mmimdb report again."
    assert [entry for entry in browser.errors(driver) if "0000.js" not in entry["message"]] == []


def test_split_and_missing_filters(page, built):
    from selenium.webdriver.support.ui import Select

    from mmimdb.dataset.missing import MissingSpec, read_codes

    Select(page.find_element("id", "split")).select_by_visible_text("dev")
    assert _shown_count(page) == len(built["frames"]["dev"])
    codes = read_codes("dev", MissingSpec(0.5, "both", 0.5, 0), built["root"])
    Select(page.find_element("id", "missing")).select_by_visible_text("seed-0/both_05: image missing")
    assert _shown_count(page) == int((codes == 2).sum()) > 0


def test_a_movies_detail_shows_its_plot_fields_and_predictions(page, built, shots):
    results, test = built["results"], built["frames"]["test"]
    movie = test.iloc[0].to_dict()
    page.find_element("id", "search").send_keys(" ".join(movie["plot"].split()[:8]))
    cards = page.find_elements("css selector", ".card")
    ids = [card.find_element("css selector", ".meta").text.split(" · ")[-1] for card in cards]
    cards[ids.index(movie["imdb_id"])].click()
    _wait(page, "document.querySelector('#detail .plot') !== null")
    detail = page.find_element("id", "detail").text
    assert " ".join(movie["plot"].split()) in " ".join(detail.split())
    assert "Provenance" in detail and "source of plot" in detail
    short = movie["imdb_id"].removeprefix("tt")
    row = [i.removeprefix("tt") for i in results["dataset"]["test_ids"]].index(short)
    gate = results["models"]["GMU"]["gates"]["per_movie_mean_z"][row]
    assert page.find_element("id", "gate").text == f"{gate:.3f}"
    scores = np.load(built["run"] / "runs" / "GMU.scores.npz")["0_test"][row]
    label = results["models"]["GMU"]["label"]
    header = page.execute_script("return Array.from(document.querySelectorAll('#detail table:last-of-type tr:first-child th')).map(e => e.textContent)")
    column = header.index(label)
    cells = page.execute_script("return Array.from(document.querySelectorAll('#detail table:last-of-type tr')).slice(1)"
                                ".map(r => Array.from(r.children).map(c => c.textContent))")
    assert [cell[column].split()[0] for cell in cells] == [f"{p:.3f}" for p in scores]
    page.save_screenshot(str(shots / "detail.png"))


def test_table2_on_the_page_equals_results_json(page, built, shots):
    page.find_element("id", "benchmark-tab").click()
    rows = page.execute_script("return Array.from(document.querySelector('#table2 table').querySelectorAll('tr')).slice(1)"
                               ".map(r => Array.from(r.children).map(c => c.textContent))")
    models = {model["label"]: model for model in built["results"]["models"].values()}
    assert len(rows) == len(models)
    for row in rows:
        model = models[row[1]]
        assert row[2:6] == [f"{model['test']['f1'][avg]['mean']:.3f}" for avg in ("weighted", "samples", "micro", "macro")]
    pngs = sorted(built["run"].rglob("*.png"))
    count, decoded = _decoded(page, "#benchmark figure img")
    assert count == len(pngs) == decoded
    assert "How the movies were chosen" in page.find_element("id", "qualitative").text
    page.save_screenshot(str(shots / "benchmark.png"))


def test_per_genre_errors_count_false_positives_and_negatives(page, built):
    from mmimdb.report.benchmark import genre_errors

    truth = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    predicted = np.array([[0, 1, 0], [1, 1, 1], [0, 0, 0]])
    rows = genre_errors(truth, predicted, ["A", "B", "C"])
    assert [(r["tp"], r["fp"], r["fn"]) for r in rows] == [(1, 0, 1), (1, 1, 0), (0, 1, 1)]
    assert rows[0]["instead"] == [["B", 1]] and rows[2]["instead"] == []
    page.find_element("id", "benchmark-tab").click()
    text = page.find_element("css selector", ".errors").text
    assert built["results"]["models"]["GMU"]["label"] in text and "predicted instead" in text


def test_dataset_view_shows_table1_and_the_cards_figures(page, built, shots):
    page.find_element("css selector", "header button[data-view=dataset]").click()
    rows = page.execute_script("return Array.from(document.querySelectorAll('#table1 table tr')).slice(1)"
                               ".map(r => Array.from(r.children).map(c => c.textContent))")
    train = built["frames"]["train"]
    counts = {row[0]: row[1] for row in rows}
    drama = int(sum(labels[GENRES.index("Drama")] for labels in train.labels))
    assert counts["Drama"] == str(drama)
    count, decoded = _decoded(page, "#dataset figure img")
    assert count == decoded >= 5
    page.save_screenshot(str(shots / "dataset.png"))


def test_without_the_report_extra_says_what_to_install(built, monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "markdown_it" else real(name, *a))
    result = _invoke("report", "--root", str(built["root"]), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert result.output.strip() == "error: mmimdb report needs markdown-it-py: pip install 'mmimdb[report]'"
    assert not (tmp_path / "out").exists()
