"""Protocol presets against the peers' own preparation rebuilt in tests/protocol_contracts.py,
on generated films that carry News, a genre only dev has, and a genre outside the 23 in train."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import export_readers as readers
import protocol_contracts as contracts
from dataset_builds import private_copy
from mmimdb import paths
from mmimdb.protocols import PRESETS, prepare
from mmimdb.protocols import presets as rules
from mmimdb.records.split_file import SPLITS, read_split_file
from mmimdb.records.store import RecordStore
from mmimdb_cli.main import cli


def _add_genre(store: RecordStore, imdb_id: str, genre: str) -> None:
    data = store.read_raw(imdb_id)
    data["genres"] = data["genres"] + [genre]
    store.json_path(imdb_id).write_text(json.dumps(data))


@pytest.fixture(scope="module")
def root(generated_dataset_root, tmp_path_factory) -> Path:
    """The generated build, with 'Talk-Show' on one dev movie only and 'Adult' on a train and
    a dev movie (News is on every 7th movie already)."""
    root = private_copy(generated_dataset_root, tmp_path_factory.mktemp("protocols"))
    split = read_split_file(paths.split_path(root)).ids
    store = RecordStore(paths.dataset_dir(root))
    news_free = {name: [i for i in split[name] if "News" not in store.read_raw(i)["genres"]] for name in SPLITS}
    _add_genre(store, news_free["dev"][0], "Talk-Show")
    _add_genre(store, news_free["train"][0], "Adult")
    _add_genre(store, news_free["dev"][1], "Adult")
    return root


@pytest.fixture(scope="module")
def release_layout(root, tmp_path_factory) -> str:
    """The build as the release lays it out, for the peers' scripts."""
    top = tmp_path_factory.mktemp("release-layout")
    (top / "mmimdb").mkdir()
    (top / "mmimdb" / "split.json").write_bytes(paths.split_path(root).read_bytes())
    (top / "mmimdb" / "dataset").symlink_to(paths.dataset_dir(root), target_is_directory=True)
    return str(top)


def test_mmbt_keeps_exactly_what_its_conversion_script_writes(root, release_layout):
    prepared = prepare(root, "mmbt")
    written = contracts.mmbt_conversion(release_layout)
    for split in SPLITS:
        assert [(s.imdb_id[2:], s.texts, s.genres) for s in prepared.splits[split]] == \
               [(line["id"], [line["text"]], line["label"]) for line in written[split]]
    dropped = prepared.dropped
    assert dropped[rules.NEWS] and len(dropped[rules.UNSEEN_IN_TRAIN]) == 1  # the dev movie with Talk-Show
    assert any("::" in s.texts[0] for s in prepared.splits["train"])  # IMDbPY's author suffix is kept, as MMBT keeps it
    first_seen = list(dict.fromkeys(g for line in written["train"] for g in line["label"]))  # helpers.py
    assert prepared.labels == first_seen and "Adult" in prepared.labels


def test_transformers_reads_mmbts_train_and_dev_without_a_label_it_lacks(root, release_layout):
    prepared = prepare(root, "transformers")
    written = contracts.mmbt_conversion(release_layout)
    for split in ("train", "dev"):
        expected = [line["id"] for line in written[split] if all(g in rules.TRANSFORMERS_LABELS for g in line["label"])]
        assert [s.imdb_id[2:] for s in prepared.splits[split]] == expected
    assert prepared.splits["test"] == [] and len(prepared.dropped[rules.OUTSIDE_LABELS]) == 2  # the two Adult movies


@pytest.mark.parametrize("name, single", [("map", False), ("map-single", True)])
def test_missing_aware_prompts_rows_and_one_sample_per_plot(root, release_layout, name, single, tmp_path):
    prepared = prepare(root, name)
    rows = contracts.map_arrow_rows(release_layout, single_plot=single)
    for split in SPLITS:
        assert [(s.imdb_id[2:], s.texts, s.genres) for s in prepared.splits[split]] == \
               [(row["image_id"], row["plots"], row["genres"]) for row in rows[split]]
    out = tmp_path / "arrow"
    result = CliRunner().invoke(cli, ["export", "--format", "arrow", "--protocol", name, "--out", str(out),
                                      "--root", str(root)])
    assert result.exit_code == 0, result.output
    for split in SPLITS:
        samples, table = readers.vilt_arrow(str(out), f"mmimdb_{split}")
        assert len(samples) == sum(len(row["plots"]) for row in rows[split])
        assert table["label"].to_pylist() == [row["label"] for row in rows[split]]


def test_hemm_is_the_test_list_of_split_json_with_plot_0_and_every_genre(root, release_layout):
    prepared = prepare(root, "hemm")
    rows = contracts.hemm_test_rows(release_layout)
    assert [(s.imdb_id[2:], s.texts, ", ".join(s.genres)) for s in prepared.splits["test"]] == \
           [(row["id"], [row["text"]], row["label"]) for row in rows]
    assert prepared.splits["train"] == prepared.splits["dev"] == []
    split = read_split_file(paths.split_path(root)).ids
    assert prepared.dropped == {rules.TEST_ONLY: split["train"] + split["dev"]}


def test_export_with_the_mmbt_protocol_is_what_mmbt_reads(root, release_layout, tmp_path):
    out = tmp_path / "mmimdb"
    result = CliRunner().invoke(cli, ["export", "--format", "jsonl", "--protocol", "mmbt", "--out", str(out),
                                      "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert f"protocol mmbt: dropped 1 movies: {rules.UNSEEN_IN_TRAIN}" in result.output
    written = contracts.mmbt_conversion(release_layout)
    for split in SPLITS:
        samples = readers.mmbt_jsonl(str(tmp_path), split)
        assert [(s.imdb_id[2:], s.text) for s in samples] == [(line["id"], line["text"]) for line in written[split]]


def test_export_of_the_hemm_test_ids_from_a_root_given_relative(root, release_layout, tmp_path, monkeypatch):
    monkeypatch.chdir(root.parent)  # --root as a user types it: relative to where they stand
    result = CliRunner().invoke(cli, ["export", "--format", "jsonl", "--protocol", "hemm", "--out", str(tmp_path / "out"),
                                      "--root", root.name])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "out" / "test.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [row["id"] for row in contracts.hemm_test_rows(release_layout)]
    assert (tmp_path / "out" / "train.jsonl").read_text() == (tmp_path / "out" / "dev.jsonl").read_text() == ""


def test_protocols_lists_every_preset_with_counts_drops_and_rules(root):
    result = CliRunner().invoke(cli, ["protocols", "--root", str(root)])
    assert result.exit_code == 0, result.output
    for name in PRESETS:
        assert f"\n{name}: " in "\n" + result.output
    mmbt = prepare(root, "mmbt").summary()
    block = result.output.split("\nmmbt: ")[1].split("\ntransformers: ")[0]
    assert "  movies: " + ", ".join(f"{s} {n}" for s, n in mmbt["movies"].items()) in block
    assert f"  drops 1: {rules.UNSEEN_IN_TRAIN}" in block and f"  drops {len(mmbt['dropped'][rules.NEWS])}: {rules.NEWS}" in block
    assert "  note: its reader hard-codes the release's rows (train 15552, dev 2608, test 7799); this build has" \
        in result.output.split("\nmultibench: ")[1].split("\nmmbt: ")[0]
    summaries = json.loads(CliRunner().invoke(cli, ["protocols", "--json", "--root", str(root)]).output)
    map_summary = next(s for s in summaries if s["preset"] == "map")
    assert map_summary["duplicated"]["rule"] == "one sample per plot" and map_summary["duplicated"]["movies"] > 0


def test_a_protocol_with_text_or_genres_or_an_unknown_name_is_a_usage_error(root):
    for options, message in [(["--protocol", "mmbt", "--text", "all"], "--protocol sets the text and the genres"),
                             (["--protocol", "nope"], "unknown protocol 'nope'"),
                             (["--format", "hdf5", "--protocol", "mmbt"], "--format hdf5 is the paper's file")]:
        format_ = [] if "--format" in options else ["--format", "jsonl"]
        result = CliRunner().invoke(cli, ["export", *format_, *options, "--root", str(root)])
        assert result.exit_code == 2 and message in result.output.strip().splitlines()[-1], result.output


def test_load_with_a_protocol_gives_its_movies_texts_and_one_row_per_sample(root, release_layout):
    import mmimdb

    written = contracts.mmbt_conversion(release_layout)
    rows = contracts.map_arrow_rows(release_layout)
    for split in SPLITS:
        data = mmimdb.load(split, root=root, format="numpy", protocol="mmbt", columns=["imdb_id", "plot", "genres"])
        assert [(i[2:], p, list(g)) for i, p, g in zip(data["imdb_id"], data["plot"], data["genres"])] == \
               [(line["id"], line["text"], line["label"]) for line in written[split]]
        frame = mmimdb.load(split, root=root, protocol="map", columns=["imdb_id", "plot"])
        assert list(zip(frame["imdb_id"], frame["plot"])) == [("tt" + row["image_id"], plot) for row in rows[split]
                                                              for plot in row["plots"]]


ROW_COLUMNS = ["imdb_id", "plot", "genres", "labels"]


def _pandas_rows(root, split, name, **options):
    import mmimdb

    frame = mmimdb.load(split, root=root, protocol=name, columns=ROW_COLUMNS, **options)
    return [(row.imdb_id, row.plot, list(row.genres), [int(v) for v in row.labels]) + 
            ((int(row.missing),) if "missing" in options else ()) for row in frame.itertuples()]


@pytest.mark.parametrize("name", list(PRESETS))
def test_torch_and_hf_give_the_pandas_rows_of_each_preset(root, name, monkeypatch):
    import mmimdb

    pytest.importorskip("torch")
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for split in SPLITS:
        expected = _pandas_rows(root, split, name)
        items = mmimdb.load(split, root=root, format="torch", protocol=name, columns=ROW_COLUMNS)
        assert [(i["imdb_id"], i["plot"], i["genres"], [int(v) for v in i["labels"]])
                for i in items.__getitems__(range(len(items)))] == expected
        assert [items[k]["plot"] for k in range(len(items))] == [row[1] for row in expected]
        if split == "dev" or name == "map":  # hf's per-call cost: every preset once, the per-plot one everywhere
            hf = mmimdb.load(split, root=root, format="hf", protocol=name, columns=ROW_COLUMNS)
            assert [(r["imdb_id"], r["plot"], r["genres"], r["labels"]) for r in hf] == expected


def test_a_protocol_with_missing_modalities_and_features_in_torch_and_hf(root, monkeypatch):
    import mmimdb
    from mmimdb.dataset.built import BuiltDataset

    torch = pytest.importorskip("torch")
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = {"rate": 0.6, "type": "both", "seed": 3}
    assert CliRunner().invoke(cli, ["missing", "--rate", "0.6", "--type", "both", "--seed", "3", "--root", str(root)]).exit_code == 0
    expected = _pandas_rows(root, "train", "map", missing=spec)
    assert {row[-1] for row in expected} == {0, 1, 2}
    items = mmimdb.load("train", root=root, format="torch", protocol="map", columns=ROW_COLUMNS, missing=spec)
    assert [(i["imdb_id"], i["plot"], i["genres"], [int(v) for v in i["labels"]], i["missing"]) for i in items] == expected
    hf = mmimdb.load("train", root=root, format="hf", protocol="map", columns=ROW_COLUMNS, missing=spec)
    assert [(r["imdb_id"], r["plot"], r["genres"], r["labels"], r["missing"]) for r in hf] == expected
    # HDF5 rows follow the samples: a movie repeated per plot gets its own row each time.
    data = BuiltDataset(root)
    start = data.split_ranges["train"][0]
    row_of = {imdb_id: start + k for k, imdb_id in enumerate(data.parquet_ids("train"))}
    with_images = mmimdb.load("train", root=root, format="torch", protocol="map", columns=["imdb_id"], features=["images"])
    batch = with_images.__getitems__(range(len(with_images)))
    reader = data.reader()
    for item in batch[:40]:
        assert torch.equal(item["images"], torch.as_tensor(reader.row("images", row_of[item["imdb_id"]])))
    assert len(batch) == len(expected) > len(set(i["imdb_id"] for i in batch))
