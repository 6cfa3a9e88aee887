"""``mmimdb fetch --from-copy``: our own exports (every format with posters) imported back give
the same ids, genres, chosen plots and poster bytes; per-plot rows come back as one movie;
the report says how a copy differs from the release; damaged copies lose only what is damaged."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataset_builds import private_copy
from loopback import mmimdb as run_mmimdb
from mmimdb import paths
from mmimdb.records.record import plot_texts
from mmimdb.records.split_file import SPLITS, read_split_file
from mmimdb.records.store import RecordStore
from mmimdb.export import arrow as arrow_format, export
from mmimdb.export.rows import Choices, movies
from mmimdb.fetch.copies import import_copy
from mmimdb_cli.main import cli

#: (format, text choice) of every export that carries posters (hdf5 holds decoded pixels).
ROUND_TRIPS = [("jsonl", "longest"), ("jsonl", "all"), ("mmf", "longest"), ("mmf", "all"), ("arrow", "longest"),
               ("arrow", "all")]


@pytest.fixture(scope="module", params=["generated", "greatest-films"])
def built(request, tmp_path_factory) -> Path:
    built = request.getfixturevalue("greatest_films_original" if request.param == "greatest-films" else "generated_dataset_root")
    return private_copy(built, tmp_path_factory.mktemp(f"copies-{request.param}"))


@pytest.fixture(scope="module")
def generated(generated_dataset_root, tmp_path_factory) -> Path:
    return private_copy(generated_dataset_root, tmp_path_factory.mktemp("copies-bad"))


def fetch_copy(source: Path, root: Path, *options: str):
    return CliRunner().invoke(cli, ["fetch", "--from-copy", str(source), "--root", str(root), *options])


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


#: On the 1,222 real films each format once (their build is shared with the export tests).
REAL_ROUND_TRIPS = [("jsonl", "all"), ("mmf", "longest"), ("arrow", "all")]


@pytest.mark.parametrize("format, text", ROUND_TRIPS)
def test_an_export_imported_back_gives_the_same_movies(built, tmp_path, format, text, request):
    if "greatest-films" in request.node.callspec.id and (format, text) not in REAL_ROUND_TRIPS:
        pytest.skip("on the real films each format is imported back once (REAL_ROUND_TRIPS)")
    out = Path(export(format, root=built, out=tmp_path / "copy", text=text)["out"])
    before = tree(out)
    root = tmp_path / "imported"
    result = fetch_copy(out, root, "--release-split", str(paths.split_path(built)))
    assert result.exit_code == 0, result.output
    assert tree(out) == before  # the copy is only read
    store = RecordStore(root / "dataset")
    expected = {m.imdb_id: m for split in SPLITS for m in movies(built, split, Choices(text, "23"))}
    assert store.ids() == sorted(expected)
    for imdb_id, movie in expected.items():
        record = store.read(imdb_id)
        assert record["genres"] == movie.genres
        assert plot_texts(record) == movie.texts  # the chosen plot, or every plot once (never duplicated)
        assert store.read_poster(imdb_id) == movie.poster
        assert set(record["sources"].values()) == {f"copy:{'mmbt-jsonl' if format == 'jsonl' else format if format == 'mmf' else 'vilt-arrow'}:{out.resolve()}"}
    report = json.loads((root / "copy-report.json").read_text())
    assert report["differences"]["split"]["kind"] == "release"
    assert report["differences"]["not_in_release"]["count"] == 0
    assert read_split_file(root / "copy-split.json").ids == read_split_file(paths.split_path(built)).ids
    several = sum(1 for m in expected.values() if len(m.texts) > 1)
    # jsonl and mmf write one line per plot; arrow keeps every plot in one row.
    assert report["differences"]["per_plot"]["movies_with_several_samples"] == (several if format != "arrow" else 0)
    assert report["differences"]["per_plot"]["movies_with_several_plots"] == several
    said = {"arrow": "differs from the release: one sample per plot in its readers",
            "jsonl": "differs from the release: one sample per plot:", "mmf": "differs from the release: one sample per plot:"}
    assert (said[format] in result.output) == (several > 0)


def test_one_arrow_row_per_plot_comes_back_as_one_movie(generated, tmp_path):
    import pyarrow as pa

    out = Path(export("arrow", root=generated, out=tmp_path / "copy", text="all")["out"])
    table = pa.ipc.open_file(str(out / "mmimdb_train.arrow")).read_all().to_pylist()
    # One row per plot, then every movie's whole row once more (a copy that joined two files).
    per_plot = [{**row, "plots": [plot]} for row in table for plot in row["plots"]] + table
    assert len(per_plot) > 2 * len(table) - 1
    with pa.OSFile(str(out / "mmimdb_train.arrow"), "wb") as sink, pa.ipc.new_file(sink, arrow_format.schema()) as writer:
        writer.write_table(pa.Table.from_pylist(per_plot, schema=arrow_format.schema()))
    report = import_copy(out, tmp_path / "root", progress=False)
    store = RecordStore(tmp_path / "root" / "dataset")
    for row in table:
        assert plot_texts(store.read(row["image_id"])) == row["plots"]
    assert report.differences["per_plot"]["movies_with_several_samples"] == len(table)


def test_a_random_re_split_and_ids_outside_the_release_are_named(generated, tmp_path):
    out = Path(export("jsonl", root=generated, out=tmp_path / "copy")["out"])
    lines = [json.loads(line) for split in SPLITS for line in (out / f"{split}.jsonl").read_text().splitlines()]
    import random

    random.Random(0).shuffle(lines)
    third = len(lines) // 3
    parts = {"train": lines[:third], "dev": lines[third:2 * third], "test": lines[2 * third:]}
    lines[0]["id"] = "0000099"  # a movie the release does not have
    (out / "images" / "0000099.jpeg").write_bytes((out / lines[0]["img"]).read_bytes())
    lines[0]["img"] = "images/0000099.jpeg"
    for split, part in parts.items():
        (out / f"{split}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in part))
    result = fetch_copy(out, tmp_path / "root", "--release-split", str(paths.split_path(generated)))
    assert result.exit_code == 0, result.output
    assert "differs from the release: split: random re-split" in result.output
    assert "differs from the release: not in the release's split.json: 1 ids (0000099)" in result.output


def test_label_sets_23_27_and_other_are_told_apart():
    from mmimdb.fetch.copies.differences import label_set

    assert label_set({"Drama", "Comedy"}, {23})["kind"] == "23"
    assert label_set({"Drama", "News", "Adult"}, set())["kind"] == "27"
    assert label_set({"Drama", "Game-Show"}, set())["kind"] == "other"
    assert label_set({"Drama"}, {28})["kind"] == "other"


def test_a_truncated_arrow_file_keeps_the_whole_batches_before_the_damage(generated, tmp_path):
    import pyarrow as pa

    out = Path(export("arrow", root=generated, out=tmp_path / "copy")["out"])
    path = out / "mmimdb_train.arrow"
    table = pa.ipc.open_file(str(path)).read_all()
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        for start in range(0, len(table), 5):
            writer.write_table(table.slice(start, 5))
    size = path.stat().st_size
    os.truncate(path, size * 6 // 10)
    result = fetch_copy(out, tmp_path / "root")
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: mmimdb_train.arrow: truncated or damaged Arrow file") and "kept the" in last
    kept = RecordStore(tmp_path / "root" / "dataset").ids()
    train = [f"tt{i}" for i in table.column("image_id").to_pylist()]
    kept_train = [i for i in kept if i in train]
    assert 0 < len(kept_train) < len(train) and len(kept_train) % 5 == 0
    assert set(kept) - set(train) == {m.imdb_id for s in ("dev", "test") for m in movies(generated, s, Choices())}


def test_a_jsonl_line_that_is_not_json_is_skipped_and_the_rest_imported(generated, tmp_path):
    out = Path(export("jsonl", root=generated, out=tmp_path / "copy")["out"])
    lines = (out / "train.jsonl").read_text().splitlines()
    (out / "train.jsonl").write_text("\n".join(lines[:3] + ['{"id": "00'] + lines[3:]) + "\n")
    result = fetch_copy(out, tmp_path / "root")
    assert result.exit_code == 1
    assert "warning: train.jsonl:4: not a JSON object" in result.output
    total = sum(1 for s in SPLITS for _ in movies(generated, s, Choices()))
    assert len(RecordStore(tmp_path / "root" / "dataset").ids()) == total


def test_an_image_path_outside_the_copy_is_refused(generated, tmp_path):
    out = Path(export("jsonl", root=generated, out=tmp_path / "copy")["out"])
    secret = tmp_path / "secret.jpeg"
    lines = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    secret.write_bytes((out / lines[0]["img"]).read_bytes())
    lines[0]["img"] = "../../secret.jpeg"
    (out / lines[1]["img"]).unlink()
    (out / lines[1]["img"]).symlink_to(secret)  # a link out of the copy is as far outside
    (out / "train.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = fetch_copy(out, tmp_path / "root")
    assert result.exit_code == 1
    store = RecordStore(tmp_path / "root" / "dataset")
    for line in lines[:2]:
        assert f"tt{line['id']}" not in store
    assert "image path outside the copy" in result.output
    assert f"tt{lines[2]['id']}" in store
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "root", "secret.jpeg"]


def test_a_huge_poster_is_refused_without_reading_it(generated, tmp_path):
    out = Path(export("jsonl", root=generated, out=tmp_path / "copy")["out"])
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    poster = out / first["img"]
    poster.unlink()
    with open(poster, "wb") as handle:
        handle.truncate(50 * 1024**3)  # 50 GB, sparse: only its size is ever read
    result = fetch_copy(out, tmp_path / "root")
    assert result.exit_code == 1
    assert f"tt{first['id']}: {poster.name} is {50 * 1024**3} bytes, over the" in result.output
    assert f"tt{first['id']}" not in RecordStore(tmp_path / "root" / "dataset")
    assert len(RecordStore(tmp_path / "root" / "dataset").ids()) > 0


def _relayout(tmp_path: Path, count: int) -> tuple[Path, Path, Path]:
    """``count`` generated release films re-laid out as ``split.json`` + ``images/`` + ``labels/``;
    returns the release folder, the copy and the copy's first label file."""
    import generated_films as films

    top = films.write_release(tmp_path / "release", count=count)
    copy = tmp_path / "relayout"
    (copy / "images").mkdir(parents=True)
    (copy / "labels").mkdir()
    (copy / "split.json").write_bytes((top / "split.json").read_bytes())
    for path in (top / "dataset").iterdir():
        (copy / ("labels" if path.suffix == ".json" else "images") / path.name).write_bytes(path.read_bytes())
    return top, copy, sorted((copy / "labels").glob("*.json"))[0]


def test_a_raw_relayout_keeps_the_whole_release_record(tmp_path):
    top, copy, first = _relayout(tmp_path, 12)
    (first).write_text(json.dumps({**json.loads(first.read_text()), "cover url": "https://m.media-amazon.com/x.jpg"}))
    report = import_copy(copy, tmp_path / "root", release_split=top / "split.json", progress=False)
    assert report.layout == "relayout" and len(report.imported) == 12 and report.differences["split"]["kind"] == "release"
    store = RecordStore(tmp_path / "root" / "dataset")
    for path in (top / "dataset").glob("*.json"):
        original = json.loads(path.read_text())
        record = store.read(path.stem)
        assert record["title"] == original["title"] and record["genres"] == original["genres"]
        assert store.read_poster(path.stem) == (top / "dataset" / f"{path.stem}.jpeg").read_bytes()
    assert store.read(first.stem)["poster"]["url"] == "https://m.media-amazon.com/x.jpg"  # the record's own URL kept


def test_a_relayout_record_whose_plot_list_holds_a_null_is_skipped_as_invalid(tmp_path):
    """Found by benchmarks/fuzz.py: the dataset's rule read the plots before the schema did."""
    top, copy, first = _relayout(tmp_path, 3)
    first.write_text(json.dumps({**json.loads(first.read_text()), "plot": [None]}))
    report = import_copy(copy, tmp_path / "root", release_split=top / "split.json", progress=False)
    assert len(report.imported) == 2 and "tt" + first.stem not in report.imported
    assert ("tt" + first.stem) not in RecordStore(tmp_path / "root" / "dataset")


def test_a_folder_that_is_no_copy_and_a_hub_id_offline_are_one_line_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    result = fetch_copy(tmp_path / "empty", tmp_path / "root")
    assert result.exit_code == 2 and result.output.strip().splitlines()[-1].startswith(
        f"error: {tmp_path / 'empty'}: no copy of MM-IMDb found in it")
    offline = run_mmimdb("fetch", "--from-copy", "someone/mmimdb-copy", "--root", str(tmp_path / "root"),
                         env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert offline.returncode == 1, offline.stderr
    assert offline.stderr.strip().splitlines()[-1].startswith("error: someone/mmimdb-copy: the Hub cannot be reached")


def test_a_hub_copy_is_fetched_by_id_and_a_repository_over_the_cap_is_refused_before_a_byte(generated, tmp_path):
    from hub_server import COMMIT, hub_server

    out = Path(export("jsonl", root=generated, out=tmp_path / "repo" / "mmimdb")["out"])
    log: list = []
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    with hub_server("someone/mmimdb-copy", tmp_path / "repo", claimed={"other/huge.bin": 40 * 1024**3}, log=log) as hub:
        env["HF_ENDPOINT"] = hub.url
        refused = run_mmimdb("fetch", "--from-copy", "someone/mmimdb-copy", "--root", str(tmp_path / "a"), env=env)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.strip().splitlines()[-1].startswith("error: someone/mmimdb-copy: ") and \
            "over the 34359738368-byte cap; pick the copy's files with --hub-include PATTERN" in refused.stderr
        assert not any("/resolve/" in path for _, path in log)
        fetched = run_mmimdb("fetch", "--from-copy", "someone/mmimdb-copy", "--hub-include", "mmimdb/*",
                             "--root", str(tmp_path / "b"), env=env)
    assert fetched.returncode == 0, fetched.stderr
    store = RecordStore(tmp_path / "b" / "dataset")
    expected = {m.imdb_id: m for split in SPLITS for m in movies(generated, split, Choices())}
    assert store.ids() == sorted(expected)
    first = next(iter(expected))
    assert store.read_poster(first) == expected[first].poster
    assert set(store.read(first)["sources"].values()) == {f"copy:mmbt-jsonl:someone/mmimdb-copy@{COMMIT}"}
    assert not (tmp_path / "b" / "downloads" / "hub" / "someone--mmimdb-copy" / "other").exists()


def test_a_jsonl_line_over_the_cap_is_skipped_without_being_held(generated, tmp_path, monkeypatch):
    from mmimdb.fetch.copies import jsonl as jsonl_layout

    out = Path(export("jsonl", root=generated, out=tmp_path / "copy")["out"])
    lines = (out / "train.jsonl").read_text().splitlines()
    monkeypatch.setattr(jsonl_layout, "MAX_LINE_BYTES", max(len(line) for line in lines) + 10)
    long_line = json.dumps({**json.loads(lines[1]), "text": "x" * 5000})
    (out / "train.jsonl").write_text("\n".join([lines[0], long_line] + lines[2:]) + "\n")
    report = import_copy(out, tmp_path / "root", progress=False)
    assert report.skipped["line too long"] == ["train.jsonl:2"]
    store = RecordStore(tmp_path / "root" / "dataset")
    assert f"tt{json.loads(lines[1])['id']}" not in store and f"tt{json.loads(lines[2])['id']}" in store


def test_mmbts_own_conversion_output_with_its_image_key_imports(tmp_path):
    import shutil

    import generated_films as films
    import protocol_contracts as contracts

    top = films.write_release(tmp_path / "release", count=15)
    copy = tmp_path / "mmbt"
    shutil.copytree(top, copy / "mmimdb")
    written = contracts.mmbt_conversion(str(copy))  # MMBT's scripts/mmimdb.py: "image" beside the jsonl files
    for split, lines in written.items():
        (copy / f"{split}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = import_copy(copy, tmp_path / "root", release_split=top / "split.json", progress=False)
    assert report.layout == "mmbt-jsonl" and report.differences["split"]["kind"] == "release"
    store = RecordStore(tmp_path / "root" / "dataset")
    lines = [line for split in written.values() for line in split]
    assert store.ids() == sorted(f"tt{line['id']}" for line in lines)
    for line in lines:
        assert store.read(line["id"])["plot"] == [line["text"]] and store.read(line["id"])["genres"] == line["label"]
        assert store.read_poster(line["id"]) == (copy / line["image"]).read_bytes()
