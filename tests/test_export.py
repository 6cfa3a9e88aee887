"""``mmimdb export``: each format read through its peer's loader contract (tests/export_readers.py)
over a generated dataset and over the real greatest films; ids, labels and posters must equal
``mmimdb.load()``'s. Then the text and genre choices, and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import export_readers as readers
import generated_dataset
import mmimdb
from dataset_builds import private_copy
from mmimdb import paths
from mmimdb.dataset import hdf5
from mmimdb.records.genres import GENRES
from mmimdb.records.record import plot_texts
from mmimdb.records.split_file import SPLITS
from mmimdb.records.store import RecordStore
from mmimdb_cli.main import cli


@pytest.fixture(scope="module", params=["generated", "greatest-films"])
def root(request, tmp_path_factory) -> Path:
    """A private copy of a built data root (exports record themselves in its manifest)."""
    built = request.getfixturevalue("greatest_films_original" if request.param == "greatest-films" else "generated_dataset_root")
    return private_copy(built, tmp_path_factory.mktemp(f"export-{request.param}"))


@pytest.fixture(scope="module")
def generated(generated_dataset_root, tmp_path_factory) -> Path:
    return private_copy(generated_dataset_root, tmp_path_factory.mktemp("export-choices"))


def run(*args: str):
    return CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)


def export(root: Path, format: str, *options: str) -> Path:
    result = run("--format", format, "--root", str(root), *options)
    assert result.exit_code == 0, result.output
    summary = json.loads(paths.manifest_path(root).read_text())["exports"][format]
    return Path(summary["out"])


def expected(root: Path, split: str) -> list[tuple[str, list[int], bytes]]:
    """(id, labels, poster bytes) of each movie of ``split`` as ``mmimdb.load()`` gives them."""
    data = mmimdb.load(split, root=root, format="numpy", columns=["imdb_id", "labels", "poster"])
    return [(i, labels.tolist(), poster) for i, labels, poster in zip(data["imdb_id"], data["labels"], data["poster"])]


def read_back(samples) -> list[tuple[str, list[int], bytes]]:
    return [(s.imdb_id, s.labels, s.poster) for s in samples]


def test_jsonl_is_read_by_the_transformers_example(root):
    out = export(root, "jsonl")
    for split in ("train", "dev"):  # the example reads these two
        samples, weights = readers.transformers_jsonl(str(out), split)
        assert read_back(samples) == expected(root, split)
        assert all(s.image.size[0] > 0 for s in samples)
    assert np.isfinite(weights).all()  # every genre occurs in train


def test_jsonl_is_read_by_mmbt_with_the_hard_test_subset_from_a_users_file(root, tmp_path):
    test_ids = [imdb_id for imdb_id, _, _ in expected(root, "test")]
    ids_file = tmp_path / "hard_gt_ids.json"
    ids_file.write_text(json.dumps({"mmimdb": [i[2:] for i in test_ids[:5]] + ["0000001"]}))
    out = export(root, "jsonl", "--test-hard-ids", str(ids_file))
    data_path = str(out.parent)  # MMBT reads <data_path>/mmimdb/*.jsonl
    assert out.name == "mmimdb"
    for split in SPLITS:
        assert read_back(readers.mmbt_jsonl(data_path, split)) == expected(root, split)
    hard = readers.mmbt_jsonl(data_path, "test_hard_gt")
    assert [s.imdb_id for s in hard] == test_ids[:5]
    entry = json.loads(paths.manifest_path(root).read_text())["exports"]["jsonl"]
    assert entry["test_hard_gt"] == {"ids": 6, "found": 5} and "1 of the 6 ids" in " ".join(entry["warnings"])


def test_mmf_layout_is_read_by_mmfs_dataset(root):
    out = export(root, "mmf")
    for split in SPLITS:
        samples = readers.mmf_split(str(out), split)
        assert read_back(samples) == expected(root, split)
    base = out / "datasets/mmimdb/defaults/extras"
    assert readers.mmf_classes(str(base / "classes_mm_imdb.txt")) == ["<unk>"] + [g.lower() for g in GENRES]
    vocabulary = (base / "vocab_mmimdb.txt").read_text().split("\n")[:-1]
    train_words = {w for s in readers.mmf_split(str(out), "train") for w in readers.mmf_vocabulary_words(s.text)}
    assert set(vocabulary) == train_words and len(vocabulary) == len(train_words)


def test_mmf_finds_posters_under_a_data_folder_with_dots(generated, tmp_path):
    """MMF's default data folder is ~/.cache/torch/mmf/data: its image lookup cuts the path at
    the last dot, so the image key must carry the poster's extension."""
    out = export(generated, "mmf", "--out", str(tmp_path / ".cache" / "torch" / "mmf" / "data"))
    assert read_back(readers.mmf_split(str(out), "test")) == expected(generated, "test")


def test_arrow_is_read_by_the_vilt_readers_with_missing_tables(root):
    out = export(root, "arrow")
    result = CliRunner().invoke(cli, ["missing", "--rate", "0.7", "--type", "both", "--seed", "3", "--root", str(root)])
    assert result.exit_code == 0, result.output
    for split in SPLITS:
        samples, table = readers.vilt_arrow(str(out), f"mmimdb_{split}")
        assert read_back(samples) == expected(root, split)
        assert table.column_names == ["image", "plots", "label", "genres", "image_id", "split"]
        assert set(table["split"].to_pylist()) == {split}
        codes = readers.vilt_missing_table(str(paths.missing_dir(root) / "seed-3"), f"mmimdb_{split}", "both", 0.7,
                                           len(table["image"]))
        assert int((codes > 0).sum()) == int(len(table) * 0.7)


def test_hdf5_is_read_by_multibench(root):
    out = export(root, "hdf5")
    path = out / hdf5.FILE_NAME
    assert path.read_bytes() == paths.hdf5_path(root).read_bytes()
    for split, (start, stop) in hdf5.read_split_ranges(path).items():
        rows = readers.multibench_rows(str(path), start, stop)
        loaded = mmimdb.load(split, root=root, format="numpy", columns=["labels"], features=["images"])
        assert np.array_equal(np.stack(rows["genres"]), loaded["labels"])
        assert np.array_equal(np.stack(rows["images"]), loaded["images"])


def test_the_manifest_and_the_folder_say_what_was_exported(root):
    out = export(root, "arrow")
    manifest = json.loads(paths.manifest_path(root).read_text())
    assert manifest["choices"] == {"text": "longest", "genres": "23"}  # the build's own
    entry = manifest["exports"]["arrow"]
    assert entry["text"] == "longest" and entry["genres"] == "23" and "missing_aware_prompts" in entry["reader"]
    assert entry["movies"] == {split: len(expected(root, split)) for split in SPLITS}
    assert json.loads((out / "mmimdb-export.json").read_text())["files"] == entry["files"]
    assert set(entry["files"]) == {f"mmimdb_{split}.arrow" for split in SPLITS}


# --- text and genre choices (generated dataset: several plots, outlines, a 24th genre) ---

def _store(root: Path) -> RecordStore:
    return RecordStore(paths.dataset_dir(root))


def test_text_all_writes_one_sample_per_plot(generated, tmp_path):
    out = export(generated, "jsonl", "--text", "all", "--out", str(tmp_path / "jsonl"))
    lines = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    store = _store(generated)
    for imdb_id in {line["id"] for line in lines}:
        plots = plot_texts(store.read(imdb_id, validate=False))
        assert [line["text"] for line in lines if line["id"] == imdb_id] == plots
    assert any(lines[i]["id"] == lines[i + 1]["id"] for i in range(len(lines) - 1))  # some movie has two plots
    assert all("::" not in line["text"] for line in lines)
    samples, table = readers.vilt_arrow(str(export(generated, "arrow", "--text", "all", "--out", str(tmp_path / "a"))),
                                        "mmimdb_train")
    assert len(samples) == len(lines) and len(table) == len({line["id"] for line in lines})


def test_text_first_and_outline(generated, tmp_path):
    store = _store(generated)
    first = export(generated, "mmf", "--text", "first", "--out", str(tmp_path / "first"))
    for sample in readers.mmf_split(str(first), "dev"):
        assert sample.text == plot_texts(store.read(sample.imdb_id, validate=False))[0]
    outline = export(generated, "jsonl", "--text", "outline", "--out", str(tmp_path / "outline"))
    data = mmimdb.load("test", root=generated, format="numpy", columns=["imdb_id", "plot", "plot_outline"])
    rows = {imdb_id: (plot, outline_) for imdb_id, plot, outline_ in zip(data["imdb_id"], data["plot"], data["plot_outline"])}
    fallbacks = 0
    for line in map(json.loads, (outline / "test.jsonl").read_text().splitlines()):
        plot, plot_outline = rows["tt" + line["id"]]
        fallbacks += not plot_outline
        assert line["text"] == (plot_outline or plot)
    assert 0 < fallbacks < len(rows)
    counted = json.loads(paths.manifest_path(generated).read_text())["exports"]["jsonl"]["outline_fallbacks"]
    assert counted == len([i for i in range(generated_dataset.MOVIES) if i % 4])  # movies without an outline


def test_genres_outside_the_23_are_dropped_unless_all(generated, tmp_path):
    default = export(generated, "jsonl", "--out", str(tmp_path / "23"))
    labels = [json.loads(line)["label"] for s in SPLITS for line in (default / f"{s}.jsonl").read_text().splitlines()]
    assert all(set(names) <= set(GENRES) for names in labels)
    everything = export(generated, "jsonl", "--genres", "all", "--out", str(tmp_path / "all"))
    with_news = [json.loads(line) for s in SPLITS for line in (everything / f"{s}.jsonl").read_text().splitlines()
                 if "News" in json.loads(line)["label"]]
    assert len(with_news) == len([i for i in range(generated_dataset.MOVIES) if i % 7 == 0])
    assert all(line["label"][-1] == "News" for line in with_news)  # the 23 first, in label order
    with pytest.raises(ValueError):  # the transformers example refuses a 24th genre, as its users report
        readers.transformers_jsonl(str(everything), "train")
    arrow_out = export(generated, "arrow", "--genres", "all", "--out", str(tmp_path / "arrow"))
    samples, table = readers.vilt_arrow(str(arrow_out), "mmimdb_train")
    assert all(len(vector) == len(GENRES) for vector in table["label"].to_pylist())  # the label vector stays 23
    assert any("News" in names for names in table["genres"].to_pylist())
    mmf_out = export(generated, "mmf", "--genres", "all", "--out", str(tmp_path / "mmf"))
    assert readers.mmf_classes(str(mmf_out / "datasets/mmimdb/defaults/extras/classes_mm_imdb.txt"))[-1] == "news"
    assert read_back(readers.mmf_split(str(mmf_out), "dev")) == expected(generated, "dev")


def test_png_posters_keep_their_extension(generated, tmp_path):
    out = export(generated, "jsonl", "--out", str(tmp_path / "jsonl"))
    images = sorted(p.suffix for p in (out / "images").iterdir())
    assert ".png" in images and ".jpeg" in images
    for path in (out / "images").iterdir():
        assert path.read_bytes()[:4] == (b"\x89PNG" if path.suffix == ".png" else b"\xff\xd8\xff\xe0")


def test_a_rerun_replaces_the_export_and_a_failed_one_keeps_it(generated, tmp_path, monkeypatch):
    out = tmp_path / "jsonl"
    export(generated, "jsonl", "--out", str(out))
    (out / "stale.txt").write_text("from an older export")
    export(generated, "jsonl", "--out", str(out))
    assert not (out / "stale.txt").exists() and (out / "train.jsonl").is_file()
    before = (out / "train.jsonl").read_bytes()

    def broken(*args, **kwargs):
        yield from []
        raise OSError("disk full")

    monkeypatch.setattr("mmimdb.export.jsonl.movies", broken)
    with pytest.raises(OSError):
        run("--format", "jsonl", "--root", str(generated), "--out", str(out), "--text", "first")
    assert (out / "train.jsonl").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["jsonl"]  # no staging folder left


# --- bad input: one line, non-zero exit ---

def one_line_error(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_no_built_dataset_says_to_build(tmp_path):
    result = run("--format", "jsonl", "--root", str(tmp_path))
    assert result.exit_code == 2 and "run `mmimdb build`" in one_line_error(result)


@pytest.mark.parametrize("options, message", [
    (["--format", "csv"], "unknown format 'csv'; use one of jsonl, mmf, arrow, hdf5"),
    (["--format", "jsonl", "--text", "plots"], "unknown --text 'plots'"),
    (["--format", "jsonl", "--genres", "27"], "unknown --genres '27'"),
    (["--format", "arrow", "--test-hard-ids", "ids.json"], "--test-hard-ids is for --format jsonl"),
    (["--format", "hdf5", "--genres", "all"], "--format hdf5 copies the built file"),
])
def test_wrong_options_are_one_line_errors(generated, options, message):
    result = run(*options, "--root", str(generated))
    assert result.exit_code == 2 and message in one_line_error(result)


def test_unwritable_out_is_refused(generated, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, message in ((a_file / "sub", f"{a_file} is a file, not a folder"), (a_file, "it is a file, not a folder")):
        result = run("--format", "jsonl", "--root", str(generated), "--out", str(out))
        assert result.exit_code == 2 and message in one_line_error(result)
    # The library says it too, to a caller that is not the command.
    from mmimdb.errors import UsageError
    from mmimdb.export.rows import staged_folder
    for out, message in ((a_file / "sub", "cannot write there"), (a_file, "exists and is not a folder")):
        with pytest.raises(UsageError, match=message), staged_folder(out):
            pass
    mine = tmp_path / "my-documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me")
    result = run("--format", "arrow", "--root", str(generated), "--out", str(mine))
    assert result.exit_code == 2 and "not an mmimdb export" in one_line_error(result)
    assert (mine / "thesis.tex").read_text() == "keep me"


def test_hard_ids_none_of_which_are_in_test_are_refused(generated, tmp_path):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("tt0000001\n0000002\n")
    result = run("--format", "jsonl", "--root", str(generated), "--test-hard-ids", str(ids_file), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "none of the 2 ids" in one_line_error(result)
