"""Import of the original release: real greatest-films data in the release layout, and
every kind of bad input the importer must survive."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from PIL import Image
from click.testing import CliRunner

from mmimdb import demo as greatest_films
from conftest import shared_path
from mmimdb.records.store import RecordStore
from mmimdb_cli.main import cli


@pytest.fixture(scope="module")
def complete_rows():
    return [row for row in greatest_films.read_films() if greatest_films.is_complete(row)]


@pytest.fixture(scope="module")
def release_archive(tmp_path_factory, complete_rows) -> Path:
    """mmimdb.tar.gz of the complete greatest films plus the original split.json."""
    directory = tmp_path_factory.mktemp("release")
    top = greatest_films.write_release(directory / "tree", complete_rows)
    shutil.copy(shared_path("mmimdb-split.json"), top / "split.json")
    archive = directory / "mmimdb.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(top, arcname="mmimdb")
    return archive


def run_fetch(*args: str):
    return CliRunner().invoke(cli, ["fetch", *args], catch_exceptions=False)


def last_line(result) -> str:
    return result.output.strip().splitlines()[-1]


def tar_with(members: dict[str, bytes], path: Path, extra=None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra:
            extra(tar)
    return path


def a_poster() -> bytes:
    return greatest_films.poster_file("tt0000417").read_bytes()


def a_record(**changes) -> bytes:
    data = {"title": "A Trip to the Moon", "year": 1902, "genres": ["Short", "Fantasy"], "plot": ["Astronomers go to the Moon."]}
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None}).encode()


def test_greatest_films_archive_imports_every_complete_film_as_in_the_csv(release_archive, complete_rows, tmp_path):
    root = tmp_path / "root"
    result = run_fetch("--from-archive", str(release_archive), "--root", str(root))
    assert result.exit_code == 0, result.output
    assert "imported 1222 movies" in result.output
    store = RecordStore(root / "dataset")
    assert len(store.ids()) == greatest_films.COMPLETE_FILMS == 1222
    for row in complete_rows[::50]:
        movie = store.read(row["imdb_id"])
        assert movie["title"] == row["title"]
        assert movie["plot"] == [row["plot"]]
        assert movie["genres"] == [g.strip() for g in row["genre"].split(",")]
        poster = greatest_films.poster_file(row["imdb_id"]).read_bytes()
        assert movie["poster"]["sha256"] == hashlib.sha256(poster).hexdigest()
        assert store.read_poster(row["imdb_id"]) == poster
        assert (movie["poster"]["width"], movie["poster"]["height"]) == Image.open(io.BytesIO(poster)).size
        # the demo's JSON names its source, which the import keeps (the original release's names none)
        assert movie["sources"]["plot"] == "greatest-films" and movie["sources"]["poster"] == "greatest-films"
    # the release's split.json is kept as given (release-split.json; build writes split.json)
    kept = json.loads((root / "release-split.json").read_text())
    assert [len(kept[p]) for p in ("train", "dev", "test")] == [15552, 2608, 7799]
    assert "train 15552, dev 2608, test 7799" in result.output


def test_rerun_is_idempotent_and_clobbers_nothing(release_archive, tmp_path):
    root = tmp_path / "root"
    assert run_fetch("--from-archive", str(release_archive), "--root", str(root)).exit_code == 0
    store = RecordStore(root / "dataset")
    edited = store.json_path("tt0000417")
    edited.write_text(edited.read_text().replace("A Trip to the Moon", "Edited by hand"))
    before = {p.name: p.stat().st_mtime_ns for p in store.directory.iterdir()}
    result = run_fetch("--from-archive", str(release_archive), "--root", str(root))
    assert result.exit_code == 0, result.output
    assert "imported 0 movies" in result.output and "already present (kept as they were): 1222" in result.output
    assert {p.name: p.stat().st_mtime_ns for p in store.directory.iterdir()} == before
    assert store.read("tt0000417")["title"] == "Edited by hand"


def test_extracted_folder_imports_like_the_archive(tmp_path, complete_rows):
    top = greatest_films.write_release(tmp_path / "tree", complete_rows[:40])
    result = run_fetch("--from-archive", str(top), "--root", str(tmp_path / "root"))
    assert result.exit_code == 0, result.output
    assert len(RecordStore(tmp_path / "root" / "dataset").ids()) == 40


def test_movies_without_poster_plot_or_genres_are_skipped_by_id(tmp_path):
    rows = greatest_films.read_films()  # every distinct film; those without a poster file get no JPEG
    archive = greatest_films.write_archive(tmp_path, rows)
    result = run_fetch("--from-archive", str(archive), "--root", str(tmp_path / "root"))
    assert result.exit_code == 1
    assert "imported 1222 movies" in result.output
    report = json.loads((tmp_path / "root" / "import-report.json").read_text())
    assert "tt0048363" in report["skipped"]["no plot"]
    assert "tt0138329" in report["skipped"]["no poster"]
    assert sum(map(len, report["skipped"].values())) == len(rows) - 1222


def test_truncated_archive_keeps_what_was_imported_and_a_rerun_finishes(release_archive, tmp_path):
    root = tmp_path / "root"
    truncated = tmp_path / "mmimdb.tar.gz"
    data = release_archive.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    result = run_fetch("--from-archive", str(truncated), "--root", str(root))
    assert result.exit_code == 1
    assert last_line(result).startswith("error: ") and "truncated" in last_line(result)
    partial = len(RecordStore(root / "dataset").ids())
    assert 100 < partial < 1222
    result = run_fetch("--from-archive", str(release_archive), "--root", str(root))
    assert result.exit_code == 0, result.output
    assert f"imported {1222 - partial} movies" in result.output


def test_a_file_that_is_not_an_archive_is_refused(tmp_path):
    bogus = tmp_path / "mmimdb.tar.gz"
    bogus.write_text("<html>not an archive</html>")
    result = run_fetch("--from-archive", str(bogus), "--root", str(tmp_path / "root"))
    assert result.exit_code == 1
    assert "not a gzip/tar archive" in last_line(result)


@pytest.mark.parametrize("name", ["../evil.json", "/tmp/evil.json", "mmimdb/dataset/../../evil.json"])
def test_path_traversal_member_stops_the_import_and_writes_nothing_outside(tmp_path, name):
    archive = tar_with({"mmimdb/dataset/0000417.json": a_record(), "mmimdb/dataset/0000417.jpeg": a_poster(), name: b"{}"}, tmp_path / "a.tar.gz")
    root = tmp_path / "deep" / "root"
    result = run_fetch("--from-archive", str(archive), "--root", str(root))
    assert result.exit_code == 1
    assert "unsafe archive member" in last_line(result) and name in last_line(result)
    assert not (tmp_path / "evil.json").exists() and not (tmp_path / "deep" / "evil.json").exists()
    assert RecordStore(root / "dataset").ids() == ["tt0000417"]  # what came before is kept


def test_link_member_is_refused(tmp_path):
    def add_link(tar):
        link = tarfile.TarInfo("mmimdb/dataset/0000439.jpeg")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)

    archive = tar_with({"mmimdb/dataset/0000439.json": a_record()}, tmp_path / "a.tar.gz", add_link)
    result = run_fetch("--from-archive", str(archive), "--root", str(tmp_path / "root"))
    assert result.exit_code == 1 and "links are not allowed" in last_line(result)


@pytest.mark.parametrize(
    "json_bytes, poster, reason",
    [
        (b"{not json", None, "invalid JSON"),
        (a_record(genres=None), None, "no genres"),
        (a_record(plot=None), None, "no plot"),
        (a_record(year="nineteen"), None, "invalid record"),
        (None, b"GIF89a this is not a jpeg", "unreadable image"),
        (None, "truncated", "unreadable image"),
    ],
)
def test_bad_records_are_skipped_with_a_line_naming_the_id(tmp_path, json_bytes, poster, reason):
    good = a_poster()
    bad_poster = good[: len(good) // 2] if poster == "truncated" else poster
    members = {
        "mmimdb/dataset/0000417.json": a_record(),
        "mmimdb/dataset/0000417.jpeg": good,
        "mmimdb/dataset/1234567.json": json_bytes or a_record(),
        "mmimdb/dataset/1234567.jpeg": bad_poster or good,
    }
    archive = tar_with(members, tmp_path / "a.tar.gz")
    result = run_fetch("--from-archive", str(archive), "--root", str(tmp_path / "root"))
    assert result.exit_code == 1
    assert f"skipped, {reason}: 1 (tt1234567)" in result.output
    assert any(line.startswith("warning: tt1234567") for line in result.output.splitlines())
    assert RecordStore(tmp_path / "root" / "dataset").ids() == ["tt0000417"]


def test_wrong_path_is_a_usage_error(tmp_path):
    result = run_fetch("--from-archive", str(tmp_path / "nowhere.tar.gz"), "--root", str(tmp_path / "root"))
    assert result.exit_code == 2
    assert last_line(result) == f"error: {tmp_path / 'nowhere.tar.gz'}: no such file or folder"


def test_an_archive_or_folder_without_movies_is_not_the_release(tmp_path):
    other = tar_with({"other/README.txt": b"something else", "other/config.json": b'{"name": "x"}',
                      "other/photo.jpeg": a_poster()}, tmp_path / "other.tar.gz")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "settings.json").write_text('{"theme": "dark"}')
    (folder / "package.json").write_text('{"name": "app"}')
    for source in (other, folder):
        result = CliRunner().invoke(cli, ["fetch", "--from-archive", str(source), "--root", str(tmp_path / "root")])
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [f"error: {source}: nothing imported: not the MM-IMDb release "
                                                      "(no <7-digit id>.json records with their .jpeg posters in it)"]
    assert RecordStore(tmp_path / "root" / "dataset").ids() == []


def test_checksum_mismatch_of_a_local_archive_is_refused(release_archive, tmp_path):
    result = run_fetch("--from-archive", str(release_archive), "--sha256", "0" * 64, "--root", str(tmp_path / "root"))
    assert result.exit_code == 1 and "sha256 does not match" in last_line(result)
    assert not (tmp_path / "root" / "dataset").exists() or not any((tmp_path / "root" / "dataset").iterdir())


@pytest.mark.parametrize(
    "split_json, message",
    [(b"[1, 2]", "mmimdb/split.json: expected an object with keys train, dev, test"),
     (b'{"train": ["0000001"], "dev": [], "test": ["0000001"]}', "mmimdb/split.json: 1 duplicate id(s): 0000001 (train/test)"),
     (b"{oops", "mmimdb/split.json: invalid JSON")],
)
def test_a_bad_split_json_in_the_archive_is_a_one_line_error(tmp_path, split_json, message):
    members = {"mmimdb/dataset/0000417.json": a_record(), "mmimdb/dataset/0000417.jpeg": a_poster(), "mmimdb/split.json": split_json}
    archive = tar_with(members, tmp_path / "a.tar.gz")
    result = run_fetch("--from-archive", str(archive), "--root", str(tmp_path / "root"))
    assert result.exit_code == 2 and message in last_line(result)
    assert RecordStore(tmp_path / "root" / "dataset").ids() == ["tt0000417"]  # imported before the split came


def test_the_release_split_is_what_build_split_file_uses_by_default(tmp_path):
    from mmimdb.dataset.build import build

    members = {"mmimdb/dataset/0000417.json": a_record(), "mmimdb/dataset/0000417.jpeg": a_poster(),
               "mmimdb/split.json": b'{"train": ["0000417"], "dev": [], "test": ["1234567"]}'}
    root = tmp_path / "root"
    assert run_fetch("--from-archive", str(tar_with(members, tmp_path / "a.tar.gz")), "--root", str(root)).exit_code == 0
    manifest = build(root, method="file")
    assert manifest["split"]["split_file"] == str(root / "release-split.json")
    assert manifest["counts"]["unknown_ids"] == 1
    assert json.loads((root / "split.json").read_text())["train"] == ["0000417"]
    assert (root / "release-split.json").read_bytes() == members["mmimdb/split.json"]


def test_kill_during_import_leaves_only_whole_records_and_a_rerun_completes(release_archive, tmp_path):
    root = tmp_path / "root"
    command = [sys.executable, "-m", "mmimdb_cli.main", "fetch", "--from-archive", str(release_archive), "--root", str(root)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dataset = root / "dataset"
    # Killed as soon as a few records are written: the rest of the import (over a thousand
    # records) is the margin that keeps a slow, loaded machine from finishing it first.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(dataset.glob("*.json"))) < 20 and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    store = RecordStore(dataset)
    partial = store.ids()
    assert 20 <= len(partial) < 1222
    for imdb_id in partial:  # every record that exists is whole, with its poster
        assert store.read(imdb_id)["poster"]["sha256"] == hashlib.sha256(store.read_poster(imdb_id)).hexdigest()
    result = run_fetch("--from-archive", str(release_archive), "--root", str(root))
    assert result.exit_code == 0, result.output
    assert len(store.ids()) == 1222
    assert not list(dataset.glob(".*.tmp")) and not (root / ".import-staging").exists()


def test_a_second_import_on_the_same_root_is_refused_while_the_first_runs(tmp_path):
    from mmimdb.storage import lock

    root = tmp_path / "root"
    archive = tar_with({"mmimdb/dataset/0000417.json": a_record(), "mmimdb/dataset/0000417.jpeg": a_poster()}, tmp_path / "a.tar.gz")
    with lock.exclusive(root, "mmimdb fetch --movielens"):
        result = run_fetch("--from-archive", str(archive), "--root", str(root))
    assert result.exit_code == 2 and "busy, mmimdb fetch --movielens (pid" in last_line(result)
    assert run_fetch("--from-archive", str(archive), "--root", str(root)).exit_code == 0


def test_member_names_of_non_ascii_digits_are_skipped_with_a_reason_not_a_traceback(tmp_path):
    import generated_films

    film = generated_films.films(1)[0]
    digits = film["imdb_id"][2:]
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in digits)  # str.isdigit() accepts these
    members = {
        f"mmimdb/dataset/{digits}.json": json.dumps(film["release_json"]).encode(),
        f"mmimdb/dataset/{digits}.jpeg": film["poster"],
        f"mmimdb/dataset/{arabic_indic}.json": json.dumps(film["release_json"]).encode(),
        f"mmimdb/dataset/{arabic_indic}.jpeg": film["poster"],
    }
    archive = tar_with(members, tmp_path / "a.tar.gz")
    result = run_fetch("--from-archive", str(archive), "--root", str(tmp_path / "root"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    listed = f"mmimdb/dataset/{arabic_indic}.jpeg, mmimdb/dataset/{arabic_indic}.json"
    assert f"skipped, file name is not an IMDb id: 2 ({listed})" in result.output
    assert RecordStore(tmp_path / "root" / "dataset").ids() == [film["imdb_id"]]
    folder = tmp_path / "folder"
    folder.mkdir()
    for name, data in members.items():
        (folder / name.rsplit("/", 1)[1]).write_bytes(data)
    from_folder = run_fetch("--from-archive", str(folder), "--root", str(tmp_path / "root2"))
    assert from_folder.exit_code == 1 and "skipped, file name is not an IMDb id: 2" in from_folder.output
