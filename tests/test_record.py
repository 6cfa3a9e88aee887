import json

import pytest

from mmimdb import demo as greatest_films
from mmimdb.records import record
from mmimdb.errors import RecordError
from mmimdb.records.store import RecordStore


def test_schema_is_2020_12_and_names_50_plus_metadata_fields():
    schema = record.schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert len(schema["properties"]) >= 55
    # the mapping and the schema name the same fields
    assert set(record.IMDBPY_KEYS) | {"imdb_id", "poster", "sources", "extra"} == set(schema["properties"])


def test_every_greatest_film_maps_to_a_valid_record_and_back_without_losing_keys():
    for row in greatest_films.read_films():
        original = greatest_films.imdbpy_record(row)
        original["weird key nobody knows"] = {"kept": True}
        normalized = record.validate(record.from_imdbpy(row["imdb_id"], original))
        assert record.to_imdbpy(normalized) == original


@pytest.mark.parametrize(
    "change, field",
    [({"year": "soon"}, "year"), ({"genres": "Drama"}, "genres"), ({"rating": 11}, "rating"),
     ({"directors": [{"canonical_name": "x"}]}, "directors.0"), ({"imdb_id": "0114709"}, "imdb_id"), ({"bogus": 1}, None)],
)
def test_invalid_records_name_the_id_and_the_field(change, field):
    movie = {"imdb_id": "tt0114709", "title": "Toy Story", **change}
    with pytest.raises(RecordError) as caught:
        record.validate(movie)
    assert str(caught.value).startswith(movie["imdb_id"] + ": ")
    if field:
        assert f"field '{field}'" in str(caught.value)


def test_older_dumps_with_text_values_are_coerced():
    movie = record.from_imdbpy("114709", {"title": "Toy Story", "genres": "Drama", "year": "1995", "votes": "1,234", "director": "John"})
    assert record.validate(movie)["genres"] == ["Drama"]
    assert (movie["year"], movie["votes"], movie["directors"]) == (1995, 1234, [{"name": "John"}])


def test_missing_for_dataset_and_longest_plot():
    movie = {"imdb_id": "tt0000001", "title": "x", "genres": ["Drama"], "plot": ["short::me", "a longer plot::you"]}
    assert record.missing_for_dataset(movie) == "no poster"
    assert record.missing_for_dataset({**movie, "plot": ["  "]}) == "no plot"
    assert record.missing_for_dataset({**movie, "genres": []}) == "no genres"
    assert record.missing_for_dataset({**movie, "poster": {"file": "0000001.jpeg"}}) is None
    assert record.longest_plot(movie) == "a longer plot"


def test_store_writes_atomically_and_keeps_unknown_keys(tmp_path, monkeypatch):
    store = RecordStore(tmp_path)
    movie = record.from_imdbpy("0114709", {"title": "Toy Story", "mystery key": [1, 2]})
    store.write(movie, b"\xff\xd8poster")
    raw = json.loads(store.json_path("tt0114709").read_text())
    assert raw["mystery key"] == [1, 2] and raw["_mmimdb"]["poster"]["file"] == "0114709.jpeg"
    assert store.read("tt0114709")["extra"] == {"mystery key": [1, 2]}

    # a write that dies half-way leaves the old record and no temporary file
    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", explode)
    with pytest.raises(OSError):
        store.write({**movie, "title": "Changed"})
    monkeypatch.undo()
    assert store.read("tt0114709")["title"] == "Toy Story"
    assert not list(tmp_path.glob(".*.tmp"))


def test_store_reports_invalid_json_with_the_id(tmp_path):
    (tmp_path / "0000001.json").write_text("{oops")
    with pytest.raises(RecordError, match="^tt0000001: record: invalid JSON in 0000001.json"):
        RecordStore(tmp_path).read("tt0000001")


def test_atomic_writes_get_the_mode_of_a_plain_open(tmp_path):
    import os

    previous = os.umask(0o022)
    try:
        RecordStore(tmp_path).write(record.from_imdbpy("0114709", {"title": "Toy Story"}), b"\xff\xd8poster")
    finally:
        os.umask(previous)
    for name in ("0114709.json", "0114709.jpeg"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644


def test_store_ids_of_non_ascii_digits_are_one_line_errors_not_tracebacks(tmp_path):
    from mmimdb.errors import UsageError

    store = RecordStore(tmp_path)
    store.write(record.from_imdbpy("0114709", {"title": "Toy Story"}))
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in "0114709")
    (tmp_path / f"{arabic_indic}.json").write_text('{"title": "not ours"}')
    assert store.ids() == ["tt0114709"] and [movie["title"] for movie in store] == ["Toy Story"]
    with pytest.raises(UsageError, match="not an IMDb title id"):
        store.read(arabic_indic)
    with pytest.raises(ValueError):  # still a ValueError for callers that test ids that way
        record.normalize_id("tt" + arabic_indic)
    assert arabic_indic not in store
    # votes of other digits are not numbers to coerce (int() would refuse '²')
    assert record.from_imdbpy("0114709", {"title": "x", "votes": "1²"})["votes"] == "1²"


def test_atomic_writes_never_touch_the_process_umask(tmp_path, monkeypatch):
    import os

    from mmimdb.storage import atomic

    previous = os.umask(0o027)
    try:
        def forbidden(mask):
            raise AssertionError("os.umask changed while other threads may be creating files")

        monkeypatch.setattr(os, "umask", forbidden)
        atomic.write_bytes(tmp_path / "a.bin", b"x")
        assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o640
        monkeypatch.setattr(atomic, "_umask_from_proc", lambda: None)  # no /proc (macOS)
        atomic.write_json(tmp_path / "b.json", {})
        assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o640
    finally:
        monkeypatch.undo()
        os.umask(previous)


def test_only_killed_writers_temporaries_are_removed(tmp_path):
    """Readers that publish share a folder: cleaning up after a killed writer must not
    break a live one's write, nor touch files that are not mmimdb's."""
    from kill_harness import killed_writers_temporary
    from mmimdb.storage import atomic

    dead = killed_writers_temporary(tmp_path, "a.png")
    nested = killed_writers_temporary(tmp_path / "runs", "GMU.json")
    foreign = tmp_path / ".notes.tmp"
    foreign.write_text("someone else's")
    with atomic.atomic_open(tmp_path / "b.png") as handle:
        handle.write(b"live")
        assert atomic.remove_stale_temporaries(tmp_path) == 1
        assert not dead.exists() and nested.exists() and foreign.exists()
        assert atomic.remove_stale_temporaries(tmp_path, recursive=True) == 1
    assert (tmp_path / "b.png").read_bytes() == b"live"  # the live write was not broken
    assert not nested.exists() and foreign.exists()
    assert sorted(path.name for path in tmp_path.rglob(".*")) == [".notes.tmp"]
