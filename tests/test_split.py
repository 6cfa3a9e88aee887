"""Split methods on hand-made label matrices, and split-file checks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import shared_path
from mmimdb.errors import UsageError
from mmimdb.records.genres import GENRE_INDEX, GENRES, ORIGINAL_COUNTS
from mmimdb.dataset.split import file_split, genre_table, iterative_split, original_split, rarest_first, report_markdown
from mmimdb.records.split_file import SPLITS, parse_split, read_split_file, write_split_file


def labels_of_rows(*rows: list[str]) -> np.ndarray:
    matrix = np.zeros((len(rows), len(GENRES)), dtype=np.int32)
    for index, genres in enumerate(rows):
        for genre in genres:
            matrix[index, GENRE_INDEX[genre]] = 1
    return matrix


def as_lists(assignment) -> dict[str, list[int]]:
    return {name: [int(row) for row in assignment[name]] for name in SPLITS}


def test_original_split_of_one_genre_is_the_seeded_permutation():
    labels = labels_of_rows(*[["Drama"]] * 10)
    permutation = np.random.RandomState([2014, 8, 6]).permutation(10).tolist()
    # ceil(30%) = 3 to test, ceil(10%) = 1 to dev, the rest to train, in shuffled order.
    assert as_lists(original_split(labels)) == {"test": permutation[:3], "dev": permutation[3:4], "train": permutation[4:]}


def test_original_split_takes_the_rarest_genre_first_and_removes_its_movies():
    # Rows 0-3 are Film-Noir + Drama, rows 4-9 Drama only. Film-Noir (rarest) goes first:
    # its 4 movies are shuffled, 2 to test, 1 to dev, 1 to train; then the 6 Drama movies
    # still unassigned (rows 4-9) are shuffled by the same generator: 2 test, 1 dev, 3 train.
    labels = labels_of_rows(*[["Film-Noir", "Drama"]] * 4, *[["Drama"]] * 6)
    assert as_lists(original_split(labels)) == {"train": [0, 9, 5, 6], "dev": [1, 7], "test": [3, 2, 4, 8]}


def test_rarest_first_follows_the_collections_counts():
    labels = labels_of_rows(["Drama", "Comedy"], ["Comedy"], ["Comedy", "Western"])
    assert [GENRES[c] for c in rarest_first(labels)] == ["Western", "Drama", "Comedy"]


def test_original_split_is_deterministic_and_a_seed_changes_it():
    rng = np.random.RandomState(0)
    labels = (rng.rand(300, len(GENRES)) < 0.15).astype(np.int32)
    labels[labels.sum(axis=1) == 0, 0] = 1
    first, again, other = original_split(labels), original_split(labels), original_split(labels, seed=7)
    assert as_lists(first) == as_lists(again) != as_lists(other)
    assert sorted(sum(as_lists(first).values(), [])) == list(range(300))


def test_iterative_split_sizes_and_fractions_per_genre():
    # 1 to 3 genres a movie, drawn with the original genre frequencies.
    rng = np.random.RandomState(1)
    frequencies = np.array([ORIGINAL_COUNTS[genre] for genre in GENRES], dtype=float)
    labels = np.zeros((1000, len(GENRES)), dtype=np.int64)  # ints: converted to bool inside
    for row in labels:
        row[rng.choice(len(GENRES), size=rng.randint(1, 4), replace=False, p=frequencies / frequencies.sum())] = 1
    rows = iterative_split(labels, seed=3)
    # Stratification trades exact sizes for per-genre balance: within a point of 60/10/30.
    for name, target in zip(SPLITS, (600, 100, 300)):
        assert abs(len(rows[name]) - target) <= 10
    assert sorted(np.concatenate(list(rows.values())).tolist()) == list(range(1000))
    assert genre_table(labels, rows)["largest_deviation_20"]["points"] <= 2.0
    assert as_lists(rows) == as_lists(iterative_split(labels, seed=3))
    assert as_lists(rows) != as_lists(iterative_split(labels, seed=4))


def test_empty_and_single_genre_collections_still_split():
    empty = np.zeros((0, len(GENRES)), dtype=np.int32)
    for method in (original_split, iterative_split):
        assert all(len(rows) == 0 for rows in method(empty).values())
    single = labels_of_rows(*[["Drama"]] * 20)
    for method in (original_split, iterative_split):
        assert [len(method(single)[name]) for name in SPLITS] == [12, 2, 6]


def test_genres_with_fewer_than_three_movies_are_reported():
    labels = labels_of_rows(["Western"], ["Western"], *[["Drama"]] * 10)
    rows = original_split(labels)
    table = genre_table(labels, rows)
    western = next(g for g in table["genres"] if g["genre"] == "Western")
    # ceil(30%) of 2 is 1 (test), ceil(10%) of 2 is 1 (dev): none left for train.
    assert (western["train"], western["dev"], western["test"]) == (0, 1, 1)
    assert table["small_genres"] == ["Western"]
    assert "fewer than 3 movies" in report_markdown({"method": "original", **table})


def test_split_file_round_trip_in_the_original_format(tmp_path):
    path = tmp_path / "split.json"
    write_split_file(path, {"train": ["tt0114709"], "dev": ["tt0000001"], "test": ["tt10000001"]})
    assert json.loads(path.read_text()) == {"train": ["0114709"], "dev": ["0000001"], "test": ["10000001"]}
    assert read_split_file(path).ids == {"train": ["tt0114709"], "dev": ["tt0000001"], "test": ["tt10000001"]}


def test_the_original_split_file_maps_onto_records_and_reports_missing_ids():
    split = read_split_file(shared_path("mmimdb-split.json"))
    assert [len(split.ids[name]) for name in SPLITS] == [15552, 2608, 7799]
    records = [split.ids["train"][0], split.ids["test"][5], "tt9999999"]
    mapped = file_split(records, split)
    assert as_lists(mapped.rows) == {"train": [0], "dev": [], "test": [1]}
    assert len(mapped.unknown_ids) == 25959 - 2
    assert mapped.unlisted_rows == [2]


@pytest.mark.parametrize("data, message", [
    ({"train": ["0000001", "0000001"], "dev": [], "test": []}, "1 duplicate id(s): 0000001 (train/train)"),
    ({"train": ["0000001"], "dev": [], "test": ["tt0000001"]}, "duplicate id(s): 0000001 (train/test)"),
    ({"train": [], "dev": []}, "expected an object with keys train, dev, test"),
    ({"train": ["x12"], "dev": [], "test": []}, "'train' holds 'x12', which is not an IMDb title id"),
    ({"train": "0000001", "dev": [], "test": []}, "'train' is not a list of ids"),
])
def test_bad_split_files_are_refused(data, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_split(data)
