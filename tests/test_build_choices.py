"""`mmimdb build --text/--genres`: which plot each movie keeps (and its text features read),
and whether the genres column keeps genres outside the 23; recorded in the manifest."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import generated_films
import mmimdb
from mmimdb import paths
from mmimdb.records.store import RecordStore
from mmimdb.features import build_features
from mmimdb.features.rows import plot_tokens
from mmimdb.features.tokenize import tokenize
from mmimdb_cli.main import cli

COUNT = 40


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Generated films whose records have a short first plot, a long second one, an outline
    on every other film, and News beside their genres."""
    root = generated_films.write_store(tmp_path_factory.mktemp("choices") / "root", count=COUNT)
    store = RecordStore(root / "dataset")
    for index, imdb_id in enumerate(store.ids()):
        record = store.read(imdb_id)
        long_plot = record["plot"][0]
        record["plot"] = [f"first plot {index}.", long_plot + " and a much longer second telling of it."]
        if index % 2 == 0:
            record["plot_outline"] = f"outline {index}."
        record["genres"] = [*record["genres"], "News"]
        store.write(record, store.read_poster(imdb_id))
    return root


def build_with(root, tmp_path, *options):
    target = tmp_path / "built"
    target.mkdir()
    (target / "dataset").symlink_to(root / "dataset")
    result = CliRunner().invoke(cli, ["build", "--split", "iterative", "--workers", "1", "--root", str(target), *options])
    assert result.exit_code == 0, result.output
    return target


def test_default_is_the_papers_longest_plot_and_23_genres(records, tmp_path):
    root = build_with(records, tmp_path)
    train = mmimdb.load("train", root=root)
    assert all(plot.endswith("longer second telling of it.") for plot in train["plot"])
    assert not any("News" in genres for genres in train["genres"])
    assert json.loads(paths.manifest_path(root).read_text())["choices"] == {"text": "longest", "genres": "23"}


@pytest.mark.parametrize("choice, check", [
    ("first", lambda plot, index: plot == f"first plot {index}."),
    ("outline", lambda plot, index: plot == (f"outline {index}." if index % 2 == 0 else None)),
])
def test_text_choice_sets_the_plot_column_and_the_text_features(records, tmp_path, choice, check):
    root = build_with(records, tmp_path, "--text", choice)
    frame = mmimdb.load("dev", root=root)
    for imdb_id, plot in zip(frame["imdb_id"], frame["plot"]):
        index = RecordStore(root / "dataset").ids().index(imdb_id)
        if choice == "outline" and index % 2:
            assert plot.endswith("longer second telling of it.")  # no outline: the longest plot
        else:
            assert check(plot, index), (imdb_id, plot)
    assert json.loads(paths.manifest_path(root).read_text())["choices"]["text"] == choice
    # The features stage reads the same text the Parquet holds.
    ids = list(frame["imdb_id"])
    assert plot_tokens(root, ids) == [tokenize(plot) for plot in frame["plot"]]
    built = build_features(root, only=["sequences"], progress=False)
    assert built["sequences"]["dims"][0] == COUNT


def test_genres_all_keeps_the_other_genres_and_labels_stay_the_23(records, tmp_path):
    root = build_with(records, tmp_path, "--genres", "all")
    test = mmimdb.load("test", root=root, format="numpy")
    assert all(list(genres)[-1] == "News" for genres in test["genres"])
    assert test["labels"].shape[1] == 23
    assert json.loads(paths.manifest_path(root).read_text())["choices"]["genres"] == "all"
    # An export with the default --genres 23 still drops News (some readers crash on it).
    out = tmp_path / "jsonl"
    result = CliRunner().invoke(cli, ["export", "--format", "jsonl", "--root", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert lines and not any("News" in line["label"] for line in lines)


def test_export_longest_after_a_first_plot_build_still_gives_the_longest(records, tmp_path):
    root = build_with(records, tmp_path, "--text", "first")
    out = tmp_path / "jsonl"
    result = CliRunner().invoke(cli, ["export", "--format", "jsonl", "--root", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (out / "dev.jsonl").read_text().splitlines()]
    assert lines and all(line["text"].endswith("longer second telling of it.") for line in lines)


def test_text_all_is_refused_for_a_build_with_one_line(records, tmp_path):
    target = tmp_path / "built"
    result = CliRunner().invoke(cli, ["build", "--text", "all", "--root", str(target)])
    assert result.exit_code == 2 and "Traceback" not in result.output
