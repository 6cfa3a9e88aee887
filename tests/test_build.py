"""``mmimdb build`` on the real greatest films: outputs by each method, and bad input."""
from __future__ import annotations

import hashlib
import json
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import shared_path
from dataset_builds import small_root
from mmimdb.dataset import hdf5, parquet
from mmimdb.dataset.images import crop_box, preprocess_poster
from mmimdb import paths
from mmimdb.dataset.build import build
from mmimdb.records.genres import GENRES
from mmimdb.records.store import RecordStore
from mmimdb_cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["build", *args])


def read_json(path):
    return json.loads(path.read_text("utf-8"))


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _umask() -> int:
    import os

    current = os.umask(0)
    os.umask(current)
    return current


def test_original_build_writes_every_output(greatest_films_original):
    root = greatest_films_original
    split = read_json(paths.split_path(root))
    assert set(split) == {"train", "dev", "test"}
    assert all(len(i) == 7 and i.isdigit() for ids in split.values() for i in ids)
    assert sum(map(len, split.values())) == 1222
    manifest = read_json(paths.manifest_path(root))
    assert manifest["split"] == {"method": "original", "seed": [2014, 8, 6], "split_file": None, "split_file_sha256": None}
    assert manifest["counts"]["total"] == 1222 and manifest["counts"]["excluded"] == 0
    expected_mode = 0o666 & ~_umask()
    for name, output in manifest["outputs"].items():
        assert sha256(root / name) == output["sha256"], name
        assert (root / name).stat().st_mode & 0o777 == expected_mode, name  # not mkstemp's private 0600
    assert {"numpy", "pyarrow", "h5py", "pillow", "iterative-stratification"} <= set(manifest["versions"])
    report = read_json(paths.split_report_json_path(root))
    assert sum(g["total"] for g in report["genres"]) == sum(len(r["genres"]) for r in
                                                         parquet.read_table(paths.parquet_path(root, "train"), ["genres"]).to_pylist()
                                                         + parquet.read_table(paths.parquet_path(root, "dev"), ["genres"]).to_pylist()
                                                         + parquet.read_table(paths.parquet_path(root, "test"), ["genres"]).to_pylist())
    assert "| Drama |" in paths.split_report_md_path(root).read_text()


def test_hdf5_reads_by_the_original_names_as_a_peer_loader_would(greatest_films_original):
    root = greatest_films_original
    split = read_json(paths.split_path(root))
    store = RecordStore(root / "dataset")
    with h5py.File(root / "multimodal_imdb.hdf5", "r") as f:
        ranges = json.loads(f.attrs["split"])
        assert ranges == {"train": [0, len(split["train"])], "dev": [len(split["train"]), len(split["train"]) + len(split["dev"])],
                          "test": [len(split["train"]) + len(split["dev"]), 1222]}
        assert f["images"].shape == (1222, 3, 256, 160) and f["images"].dtype == np.int32
        assert f["genres"].shape == (1222, 23) and f["genres"].dtype == np.int32
        assert json.loads(f["genres"].attrs["target_names"]) == list(GENRES)
        ids = [i.decode() for i in f["imdb_ids"][:]]
        assert ids == split["train"] + split["dev"] + split["test"]  # rows ordered train, dev, test
        dev = slice(*ranges["dev"])
        images, genres = f["images"][dev], f["genres"][dev]
    first = split["dev"][0]
    assert np.array_equal(images[0], preprocess_poster(store.read_poster(first)))
    assert -124 <= images.min() and images.max() <= 152  # 0..255 minus the Caffe means
    record = store.read(first)
    assert [GENRES[i] for i in np.flatnonzero(genres[0])] == [g for g in GENRES if g in record["genres"]]


def test_iterative_build_is_within_two_points_for_genres_with_20_movies(greatest_films_iterative):
    root = greatest_films_iterative
    report = read_json(paths.split_report_json_path(root))
    assert report["method"] == "iterative"
    checked = [g for g in report["genres"] if g["total"] >= 20]
    assert len(checked) >= 15
    for genre in checked:
        for name, target in (("train", 0.6), ("dev", 0.1), ("test", 0.3)):
            assert abs(genre["fractions"][name] - target) <= 0.02, (genre["genre"], name)
    assert report["largest_deviation_20"]["points"] <= 2.0


def test_parquet_loads_through_hugging_face_datasets(greatest_films_original, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = greatest_films_original
    files = {name: str(paths.parquet_path(root, name)) for name in ("train", "dev", "test")}
    loaded = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))
    assert {name: len(loaded[name]) for name in files} == {name: len(v) for name, v in read_json(paths.split_path(root)).items()}
    movie = loaded["dev"][0]
    assert isinstance(movie["poster"], Image.Image) and movie["poster"].size[0] > 100
    assert isinstance(movie["genres"], list) and all(isinstance(g, str) for g in movie["genres"])
    assert movie["labels"] == [int(g in movie["genres"]) for g in GENRES]
    assert movie["plot"] and movie["imdb_id"].startswith("tt")


def test_cli_builds_by_the_original_split_file_and_reports_missing_ids(tmp_path, greatest_films_root):
    original = read_json(shared_path("mmimdb-split.json"))
    root = small_root(tmp_path / "root", greatest_films_root, 60)
    result = run("--split", "file", "--split-file", str(shared_path("mmimdb-split.json")), "--root", str(root))
    assert result.exit_code == 0, result.output
    listed = {i for ids in original.values() for i in ids}
    store_ids = {i[2:] for i in RecordStore(root / "dataset").ids()}
    report = read_json(paths.split_report_json_path(root))
    assert len(report["unknown_ids"]) == len(listed - store_ids) > 25000
    assert {e["imdb_id"][2:] for e in report["excluded"] if e["reason"] == "not in the split file"} == store_ids - listed
    built = read_json(paths.split_path(root))
    for name in built:
        assert built[name] == [i for i in original[name] if i in store_ids]  # the file's order
    markdown = paths.split_report_md_path(root).read_text()
    assert f"## Ids of the split file that are not among the records ({len(report['unknown_ids'])})" in markdown
    assert f"- ... and {len(report['unknown_ids']) - 50} more (all of them are in split-report.json)" in markdown
    strict = run("--split", "file", "--split-file", str(shared_path("mmimdb-split.json")), "--strict", "--root", str(root))
    assert strict.exit_code == 2 and "not among the records" in strict.output


def test_rebuild_gives_byte_identical_parquet_and_the_same_hdf5(tmp_path, greatest_films_root):
    root = small_root(tmp_path / "root", greatest_films_root, 40)
    assert run("--split", "iterative", "--seed", "5", "--root", str(root)).exit_code == 0
    first = {name: (root / "parquet" / f"{name}.parquet").read_bytes() for name in ("train", "dev", "test")}
    with h5py.File(root / "multimodal_imdb.hdf5") as f:
        before = {name: f[name][:] for name in f}
    manifest = read_json(paths.manifest_path(root))
    build(root, method="iterative", seed=5)
    assert first == {name: (root / "parquet" / f"{name}.parquet").read_bytes() for name in first}
    assert read_json(paths.manifest_path(root)) == manifest  # every output, the HDF5 too, hashes the same
    with h5py.File(root / "multimodal_imdb.hdf5") as f:
        assert set(f) == set(before)
        for name in f:
            assert np.array_equal(f[name][:], before[name])
    # Row groups small enough to stream.
    import pyarrow.parquet as pq
    assert pq.ParquetFile(root / "parquet" / "train.parquet").metadata.row_group(0).num_rows <= parquet.ROW_GROUP_ROWS


def test_interrupted_build_leaves_the_previous_outputs(tmp_path, greatest_films_root, monkeypatch):
    root = small_root(tmp_path / "root", greatest_films_root, 20)
    build(root)
    before = {path: path.read_bytes() for path in root.rglob("*") if path.is_file() and "dataset" not in path.parts}

    def interrupted(self, row, chunk):
        if row == 5:
            raise KeyboardInterrupt
        return original_write(self, row, chunk)

    original_write = hdf5.Hdf5Writer.write_image_chunk
    monkeypatch.setattr(hdf5.Hdf5Writer, "write_image_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(root, method="iterative")
    after = {path: path.read_bytes() for path in root.rglob("*") if path.is_file() and "dataset" not in path.parts}
    assert after == before
    assert not list(root.glob(".build-*"))


def test_an_interrupted_build_says_the_previous_outputs_are_kept_and_a_rerun_starts_over(tmp_path, greatest_films_root, monkeypatch):
    root = small_root(tmp_path / "root", greatest_films_root, 20)
    build(root)
    before = {path: path.read_bytes() for path in root.rglob("*") if path.is_file() and "dataset" not in path.parts}

    def interrupted(self, row, chunk):
        raise KeyboardInterrupt

    monkeypatch.setattr(hdf5.Hdf5Writer, "write_image_chunk", interrupted)
    result = run("--split", "iterative", "--root", str(root))
    assert result.exit_code == 3
    message = result.output[result.output.index("error: interrupted"):].strip()  # after the progress bars
    assert "\n" not in message and "Traceback" not in result.output, result.output
    assert "the previous ones" in message and "does not resume" in message and "from the start" in message
    after = {path: path.read_bytes() for path in root.rglob("*") if path.is_file() and "dataset" not in path.parts}
    assert after == before


def test_ctrl_c_while_the_outputs_move_into_place_cannot_mix_old_and_new(tmp_path, greatest_films_root, monkeypatch):
    import os
    import signal

    from mmimdb.storage import manifest

    root = small_root(tmp_path / "root", greatest_films_root, 12)
    real_replace = os.replace

    def replace(source, target):
        real_replace(source, target)
        if ".build-" in str(source) and ".build-" not in str(target):  # an output moved out of staging
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "replace", replace)
    try:
        build(root, workers=1)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C stopped the build halfway through moving its outputs into place")
    assert manifest.verify(root) == []


def test_a_poster_that_does_not_decode_is_left_out_and_reported(tmp_path, greatest_films_root):
    root = small_root(tmp_path / "root", greatest_films_root, 12)
    store = RecordStore(root / "dataset")
    broken = store.ids()[3]
    store.poster_path(broken).write_bytes(store.read_poster(broken)[:400])  # truncated JPEG
    result = run("--root", str(root))
    assert result.exit_code == 0, result.output
    assert "| Drama |" in result.output and f"## Left out (1)\n\n- {broken}: " in result.output  # the report, printed
    assert result.output.strip().splitlines()[-1] == f"built 11 movies (train {len(read_json(paths.split_path(root))['train'])}, " \
        f"dev {len(read_json(paths.split_path(root))['dev'])}, test {len(read_json(paths.split_path(root))['test'])}; " \
        f"1 left out, see {paths.split_report_md_path(root)}) in {root}"
    report = read_json(paths.split_report_json_path(root))
    assert [e["imdb_id"] for e in report["excluded"]] == [broken]
    assert "not a readable image" in report["excluded"][0]["reason"]
    assert broken[2:] not in sum(read_json(paths.split_path(root)).values(), [])
    assert f"- {broken}: " in paths.split_report_md_path(root).read_text()

    shutil.copytree(root / "dataset", root / "strict-copy" / "dataset")
    strict = run("--strict", "--root", str(root / "strict-copy"))
    assert strict.exit_code == 1
    assert strict.output.strip().splitlines()[-1].startswith(f"error: {broken}: not a readable image")
    assert not (root / "strict-copy" / "manifest.json").exists()


def test_an_invalid_record_is_left_out_and_reported(tmp_path, greatest_films_root):
    root = small_root(tmp_path / "root", greatest_films_root, 8)
    store = RecordStore(root / "dataset")
    broken = store.ids()[0]
    store.json_path(broken).write_text("{not json", encoding="utf-8")
    assert run("--root", str(root)).exit_code == 0
    report = read_json(paths.split_report_json_path(root))
    assert report["excluded"][0]["imdb_id"] == broken and "invalid" in report["excluded"][0]["reason"]


def test_a_single_genre_collection_splits(tmp_path, greatest_films_root):
    root = small_root(tmp_path / "root", greatest_films_root, 10)
    store = RecordStore(root / "dataset")
    for imdb_id in store.ids():
        raw = store.read_raw(imdb_id)
        raw["genres"] = ["Western"]
        store.json_path(imdb_id).write_text(json.dumps(raw), encoding="utf-8")
    for method in ("original", "iterative"):
        result = run("--split", method, "--root", str(root))
        assert result.exit_code == 0, result.output
        assert {k: len(v) for k, v in read_json(paths.split_path(root)).items()} == {"train": 6, "dev": 1, "test": 3}


def test_movies_without_any_of_the_23_genres_are_left_out(tmp_path, greatest_films_root):
    root = small_root(tmp_path / "root", greatest_films_root, 6)
    store = RecordStore(root / "dataset")
    odd = store.ids()[2]
    raw = store.read_raw(odd)
    raw["genres"] = ["News"]
    store.json_path(odd).write_text(json.dumps(raw), encoding="utf-8")
    assert run("--root", str(root)).exit_code == 0
    assert read_json(paths.split_report_json_path(root))["excluded"] == [{"imdb_id": odd, "reason": "none of the 23 genres (News)"}]


@pytest.mark.parametrize("content, message", [
    ('{"train": ["0000001", "0000001"], "dev": [], "test": []}', "duplicate id(s): 0000001 (train/train)"),
    ('{"train": [], "dev": []', "not a JSON split file"),
    ('{"train": ["abc"], "dev": [], "test": []}', "not an IMDb title id"),
])
def test_bad_split_files_exit_2_with_one_line(tmp_path, greatest_films_root, content, message):
    root = small_root(tmp_path / "root", greatest_films_root, 3)
    split_file = tmp_path / "split.json"
    split_file.write_text(content)
    result = run("--split", "file", "--split-file", str(split_file), "--root", str(root))
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and message in result.output
    assert not paths.manifest_path(root).exists()


@pytest.mark.parametrize("args, message", [
    (["--split", "file"], "--split file needs --split-file PATH"),
    (["--split", "iterative", "--split-file", "x.json"], "--split-file is only used with --split file"),
    (["--split", "file", "--split-file", "missing.json"], "no such split file"),
    (["--split", "file", "--split-file", "x.json", "--seed", "3"], "--seed does not apply to --split file"),
])
def test_inconsistent_options_exit_2(tmp_path, args, message):
    result = run(*args, "--root", str(tmp_path))
    assert result.exit_code == 2 and message in result.output


def test_an_empty_collection_is_refused_naming_fetch(tmp_path):
    (tmp_path / "dataset").mkdir()
    result = run("--root", str(tmp_path))
    assert result.exit_code == 2
    assert result.output.strip() == f"error: no movie records in {tmp_path / 'dataset'}; run `mmimdb fetch` first"


def original_preprocessing(poster: bytes) -> np.ndarray:
    """The original's image preprocessing, transcribed: crop, ANTIALIAS resize, RGB, float
    BGR minus the Caffe means, channels first, stored into an int32 dataset (truncation)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(poster))
    image = image.crop(crop_box(*image.size)).resize((160, 256), Image.LANCZOS).convert("RGB")
    array = np.asarray(image, dtype="float32")[..., [2, 1, 0]]
    array -= np.asarray([103.939, 116.779, 123.68], dtype="float32")
    return array.transpose((2, 0, 1)).astype(np.int32)


def test_poster_preprocessing_matches_the_originals_arithmetic(greatest_films_root):
    store = RecordStore(greatest_films_root / "dataset")
    for imdb_id in store.ids()[::61]:
        poster = store.read_poster(imdb_id)
        assert np.array_equal(preprocess_poster(poster, imdb_id), original_preprocessing(poster)), imdb_id


def test_large_jpegs_decode_in_draft_mode_close_to_a_full_decode(greatest_films_root):
    import io

    from PIL import Image

    store = RecordStore(greatest_films_root / "dataset")
    source = Image.open(io.BytesIO(store.read_poster(store.ids()[0]))).convert("RGB")
    large = io.BytesIO()
    source.resize((source.width * 4, source.height * 4), Image.BICUBIC).save(large, "JPEG", quality=92)
    drafted = preprocess_poster(large.getvalue())
    full = original_preprocessing(large.getvalue())
    assert drafted.shape == (3, 256, 160)
    assert not np.array_equal(drafted, full)  # decoded at reduced size (DCT scaling)...
    assert np.abs(drafted - full).mean() < 3  # ...and close to the full decode


@pytest.mark.parametrize("size, box", [((160, 256), (0, 0, 160, 256)), ((320, 256), (80, 0, 240, 256)),
                                       ((160, 512), (0, 128, 160, 384))])
def test_centre_crop_to_160_by_256(size, box):
    assert crop_box(*size) == box
