"""The release import caps each archive member at the sizes the README documents (JSON
8 MiB, poster 20 MiB, ``split.json`` 32 MiB): a member at its cap is read, one byte over is
refused by its size in the archive, before it is read; the rest of the archive is imported."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

import generated_films
from loopback import mmimdb
from mmimdb.records.store import RecordStore

MiB = 1024 * 1024
#: The caps as documented (README, `mmimdb fetch --from-archive`), not read from the code.
MAX_JSON_BYTES, MAX_POSTER_BYTES, MAX_SPLIT_BYTES = 8 * MiB, 20 * MiB, 32 * MiB


def padded_json(record: dict, size: int) -> bytes:
    """``record`` as JSON of exactly ``size`` bytes (trailing whitespace is valid JSON)."""
    data = json.dumps(record).encode()
    return data + b" " * (size - len(data))


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def film_members(film: dict, json_size: int | None = None, poster_size: int | None = None) -> list[tuple[str, bytes]]:
    digits = film["imdb_id"][2:]
    record = padded_json(film["release_json"], json_size) if json_size else json.dumps(film["release_json"]).encode()
    poster = film["poster"] + b"\0" * (poster_size - len(film["poster"])) if poster_size else film["poster"]
    return [(f"mmimdb/dataset/{digits}.json", record), (f"mmimdb/dataset/{digits}.jpeg", poster)]


def test_members_over_their_cap_are_skipped_and_members_at_it_imported(tmp_path):
    at_json, over_json, at_poster, over_poster, plain = generated_films.films(5)
    archive = write_tar(tmp_path / "mmimdb.tar.gz",
                        film_members(at_json, json_size=MAX_JSON_BYTES) + film_members(over_json, json_size=MAX_JSON_BYTES + 1)
                        + film_members(at_poster, poster_size=MAX_POSTER_BYTES)
                        + film_members(over_poster, poster_size=MAX_POSTER_BYTES + 1) + film_members(plain))
    root = tmp_path / "root"
    result = mmimdb("fetch", "--from-archive", str(archive), "--root", str(root))
    assert result.returncode == 1, result.stderr  # some movies were skipped
    assert RecordStore(root / "dataset").ids() == sorted(f["imdb_id"] for f in (at_json, at_poster, plain))
    report = json.loads((root / "import-report.json").read_text())
    assert report["skipped"] == {"json too large": [over_json["imdb_id"]], "jpeg too large": [over_poster["imdb_id"]]}
    assert f"warning: {over_json['imdb_id']}: {over_json['imdb_id'][2:]}.json is {MAX_JSON_BYTES + 1} bytes, " \
           f"over the {MAX_JSON_BYTES}-byte cap" in result.stderr
    assert f"over the {MAX_POSTER_BYTES}-byte cap" in result.stderr


def test_an_extracted_folder_has_the_same_caps(tmp_path):
    kept, too_large = generated_films.films(2)
    dataset = tmp_path / "release" / "mmimdb" / "dataset"
    dataset.mkdir(parents=True)
    for name, data in film_members(kept) + film_members(too_large, json_size=MAX_JSON_BYTES + 1):
        (dataset / Path(name).name).write_bytes(data)
    result = mmimdb("fetch", "--from-archive", str(tmp_path / "release"), "--root", str(tmp_path / "root"))
    assert result.returncode == 1, result.stderr
    assert RecordStore(tmp_path / "root" / "dataset").ids() == [kept["imdb_id"]]
    assert json.loads((tmp_path / "root" / "import-report.json").read_text())["skipped"] == {"json too large": [too_large["imdb_id"]]}


@pytest.mark.parametrize("extra, refused", [(0, False), (1, True)])
def test_a_split_json_over_its_cap_stops_the_import_and_keeps_the_movies_before_it(tmp_path, extra, refused):
    film = generated_films.films(1)[0]
    split = {"train": [film["imdb_id"][2:]], "dev": [], "test": []}
    archive = write_tar(tmp_path / "mmimdb.tar.gz",
                        film_members(film) + [("mmimdb/split.json", padded_json(split, MAX_SPLIT_BYTES + extra))])
    root = tmp_path / "root"
    result = mmimdb("fetch", "--from-archive", str(archive), "--root", str(root))
    assert RecordStore(root / "dataset").ids() == [film["imdb_id"]]
    if refused:
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == \
            f"error: mmimdb/split.json: {MAX_SPLIT_BYTES + 1} bytes, over the {MAX_SPLIT_BYTES}-byte cap"
        assert not (root / "release-split.json").exists()
    else:
        assert result.returncode == 0, result.stderr
        assert json.loads((root / "release-split.json").read_text()) == split
