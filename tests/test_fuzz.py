"""Every parser of outside data under property-based fuzzing (tests/fuzzing.py): a valid
result or one of the toolkit's one-line errors, never another exception, never a write
outside the root. CI runs a bounded, fixed draw per parser (a few seconds each);
``benchmarks/fuzz.py --minutes N`` runs as long as asked. Below: one regression test per
failure the fuzzer found."""
from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis (the test extra)")

import fuzzing  # noqa: E402

# The real pages are large: hypothesis warns that their repr is, which says nothing of the parser.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
from mmimdb.fetch.movielens import Link  # noqa: E402
from mmimdb.fetch.sources.base import SourceFailed  # noqa: E402

#: Examples per parser in CI: a few seconds each on a loaded 2-core machine; the large real
#: pages and whole archive imports are the slow ones.
EXAMPLES = {"imdb-web": 12, "release archive": 20, "copy importers": 20}


@pytest.mark.parametrize("target", fuzzing.TARGETS, ids=[t.name.split(" (")[0] for t in fuzzing.TARGETS])
def test_the_parser_gives_a_result_or_a_one_line_error(target, request):
    if target.parse is fuzzing.parse_copy:  # the copies are exports of the session's generated build
        fuzzing.copy_seeds(request.getfixturevalue("generated_dataset_root"))
    examples = next((n for prefix, n in EXAMPLES.items() if target.name.startswith(prefix)), 40)
    target.property(examples, seed=20261203)()


def test_the_invariant_check_itself_catches_a_crash_and_a_write_outside_the_root(tmp_path):
    def crashes(example, root):
        raise AttributeError("'dict' object has no attribute 'strip'")

    def writes_outside(example, root):
        (root.parent / "outside" / "leak.txt").write_text("x")

    for parse, message in ((crashes, "strip"), (writes_outside, "written outside the root")):
        with pytest.raises(Exception, match=message):
            fuzzing.Target("probe", lambda: None, parse).check("example")


# ----------------------------------------------------------------------------- regressions

def _omdb(answer: dict):
    from mmimdb.fetch.sources.omdb import OmdbSource

    body = json.dumps({"Title": "X", "Response": "True", "imdbID": "tt0000001", **answer}).encode()
    return OmdbSource("key", "http://127.0.0.1:9").lookup(Link("1", "tt0000001", None), fuzzing._Answer(body))


@pytest.mark.parametrize("answer, where", [({"Genre": {"value": "Drama"}}, "Genre is dict"), ({"Director": True}, "Director is bool"),
                                           ({"imdbRating": ["8.2"]}, "imdbRating is list"), ({"Actors": None}, "Actors is null")])
def test_an_omdb_answer_of_another_shape_is_a_one_line_source_failure(answer, where):
    with pytest.raises(SourceFailed, match="omdb: the answer for tt0000001 is not of the documented shape: " + re.escape(where)):
        _omdb(answer)
    assert _omdb({"Genre": "Drama, Comedy"}).fields["genres"] == ["Drama", "Comedy"]


def _tmdb(answer: dict):
    from mmimdb.fetch.sources.tmdb import TmdbSource

    body = json.dumps({"id": 550, "title": "X", **answer}).encode()
    return TmdbSource("key", "http://127.0.0.1:9").lookup(Link("1", "tt0000001", "550"), fuzzing._Answer(body))


@pytest.mark.parametrize("answer, where", [
    ({"credits": {"cast": ["Brad Pitt"]}}, "credits.cast[0] is text"), ({"genres": 18}, "genres is int"),
    ({"spoken_languages": [None]}, "spoken_languages[0] is null"), ({"keywords": "fight"}, "keywords is text"),
    ({"credits": {"cast": [{"name": "A", "order": None}]}}, "credits.cast[0].order is null"),
    ({"production_countries": [{"name": 3}]}, "production_countries[0].name is int")])
def test_a_tmdb_answer_of_another_shape_is_a_one_line_source_failure(answer, where):
    with pytest.raises(SourceFailed, match="tmdb: the answer for movie 550 is not of the documented shape: " + re.escape(where)):
        _tmdb(answer)
    assert _tmdb({"credits": {"cast": [{"name": "A", "order": 0}]}}).fields["cast"] == [{"name": "A"}]


def _page(body: str):
    from mmimdb.fetch.sources.imdb_web import ImdbWebSource

    return ImdbWebSource("http://127.0.0.1:9").lookup(Link("1", "tt0000001", None), fuzzing._Answer(body.encode()))


def test_an_empty_or_unreadable_page_is_no_title_data_not_an_lxml_error():
    for body in ("", "   ", "<?xml version='1.0' encoding='utf-8'?><html/>"):
        with pytest.raises(SourceFailed, match="has no title data"):
            _page(body)


@pytest.mark.parametrize("ld, where", [({"genre": [{"name": "Drama"}]}, "genre[0] is dict"),
                                       ({"aggregateRating": {"ratingValue": {"v": 1}}}, "aggregateRating.ratingValue is dict"),
                                       ({"aggregateRating": {"ratingValue": "https://schema.org"}}, "aggregateRating.ratingValue is text"),
                                       ({"actor": [{"@type": "Person", "name": 5}]}, "actor[0].name is int")])
def test_json_ld_of_another_shape_is_a_one_line_source_failure(ld, where):
    block = json.dumps({"@type": "Movie", "name": "X", **ld})
    with pytest.raises(SourceFailed, match="the JSON-LD of .* is not of the documented shape: " + re.escape(where)):
        _page(f'<script type="application/ld+json">{block}</script>')


def test_next_data_of_another_shape_falls_back_to_json_ld():
    next_data = json.dumps({"props": {"pageProps": {"aboveTheFoldData": {"genres": {"genres": [{"text": {"a": 1}}]}}}}})
    ld = json.dumps({"@type": "Movie", "name": "From JSON-LD"})
    found = _page(f'<script id="__NEXT_DATA__" type="application/json">{next_data}</script>'
                  f'<script type="application/ld+json">{ld}</script>')
    assert found.fields["title"] == "From JSON-LD"


def test_a_gzip_stream_cut_inside_its_header_is_a_one_line_archive_error(tmp_path):
    import gzip

    from mmimdb.errors import ArchiveError
    from mmimdb.fetch.archive import import_release

    path = tmp_path / "release.tar.gz"
    for cut in (3, 4, 11):  # tarfile's gzip reader asked ord() of an empty read here
        path.write_bytes(gzip.compress(b"\0" * 1024)[:cut])
        with pytest.raises(ArchiveError, match="archive is truncated or corrupt"):
            import_release(path, tmp_path / "root", progress=False)


def _arrow_with_a_damaged_offset() -> bytes:
    """A ViLT Arrow file whose plots' last string offset points a gigabyte past its buffer."""
    import struct

    import pyarrow as pa

    table = pa.table({"image_id": ["9000001", "9000002"], "plots": [["hello"], ["world!!"]], "image": [b"x", b"y"]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    data = bytearray(sink.getvalue().to_pybytes())
    offsets = data.index(struct.pack("<3i", 0, 5, 12))
    data[offsets + 8:offsets + 12] = struct.pack("<i", 1 << 30)
    return bytes(data)


def test_an_arrow_file_with_offsets_outside_its_buffers_is_damage_not_a_crash(launcher, tmp_path):
    # Arrow trusts an IPC file's offsets: reading this row crashed the interpreter (SIGBUS).
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "mmimdb_train.arrow").write_bytes(_arrow_with_a_damaged_offset())
    run = launcher.run(["fetch", "--from-copy", str(copy), "--root", str(tmp_path / "root"), "--no-progress"])
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 1 and len(errors) == 1, (run.returncode, run.stderr[-2000:])
    assert "mmimdb_train.arrow: truncated or damaged Arrow file" in errors[0] and "kept the 0 rows" in errors[0]


def test_a_relayout_record_that_is_a_dangling_link_or_leaves_the_copy_is_skipped(tmp_path):
    from mmimdb.fetch.copies import import_copy
    from mmimdb.records.store import RecordStore

    seed = fuzzing.copy_seeds()["relayout"]
    copy = tmp_path / "copy"
    for name, data in seed.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    labels = sorted((copy / "labels").iterdir())
    (tmp_path / "secret.json").write_bytes(labels[1].read_bytes())
    labels[0].unlink()
    labels[0].symlink_to(tmp_path / "gone.json")  # dangling: stat() raised FileNotFoundError
    labels[1].unlink()
    labels[1].symlink_to(tmp_path / "secret.json")  # a record read from outside the copy
    report = import_copy(copy, tmp_path / "root", progress=False)
    assert RecordStore(tmp_path / "root" / "dataset").ids() == ["tt" + labels[2].stem]
    assert sum("not a file inside the copy" in message for message in report.messages) == 2
