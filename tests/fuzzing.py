"""Fuzz targets: every parser of outside data, the real inputs its examples grow from, and
its invariant. Used by tests/test_fuzz.py (a bounded number of examples per parser, in CI)
and benchmarks/fuzz.py (as long as asked).

The invariant, for every target: the parser returns a valid result or raises one of the
toolkit's one-line errors (:class:`mmimdb.errors.MmimdbError`); any other exception is a
bug, and so is a file written outside the data root the parser was given.

Examples grow from real inputs by mutation: the real IMDb pages in ``../shared/data/imdb-pages``,
the TMDb answers in ``tests/data/tmdb``, OMDb answers made from the greatest films (or the
generated films), the release's ``split.json``, MovieLens ``links.csv``, a real build's
``manifest.json`` (``tests/data/fuzz/``), the release's record layout. JSON inputs are mutated
as trees (a value replaced by another type, a key dropped, a subtree spliced elsewhere) and
as text (bytes deleted, duplicated, spliced, truncated), so that most examples get past the
JSON decoder and reach the parser.
"""
from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis import given

from mmimdb.errors import MmimdbError

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "data" / "fuzz"
SHARED = Path(os.environ.get("MMIMDB_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
FAKE_ID = "tt0000001"

#: Fragments that break parsers: quotes, markup, script ends, separators, odd digits and numbers.
NASTY = ["\"", "'", "<", ">", "</script>", "<script>", "{", "}", "[", "]", ",", ":", "\n", "\r\n", "\x00", "\\",
         "tt", "tt0", "٠١١٤٧٠٩", "１２３", "9" * 40, "-1", "0", "NaN", "Infinity", "-Infinity", "1e999", "null",
         "true", "../", "/etc/passwd", "C:\\", "N/A", "::", "\u202e", "\ufeff", "é", "<br />", "http://x.org/a"]

# ----------------------------------------------------------------------------- mutations

_SCALARS = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
            | st.text(max_size=12) | st.sampled_from(NASTY))
ANY_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8) | st.sampled_from(NASTY), inner, max_size=4), max_leaves=10)


def _places(value: Any, limit: int = 4000) -> list[tuple[Any, Any]]:
    """(container, key) of every node under ``value`` (breadth first, at most ``limit``)."""
    found: list[tuple[Any, Any]] = []
    queue = [value]
    while queue and len(found) < limit:
        node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            found.append((node, key))
            queue.append(child)
    return found


@st.composite
def mutated_json(draw, seeds: list[Any], max_mutations: int = 6) -> Any:
    """A seed JSON value with 1..max_mutations tree mutations."""
    value = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_mutations))):
        places = _places(value)
        if not places:
            return draw(ANY_JSON)
        container, key = places[draw(st.integers(0, len(places) - 1))]
        old = container[key]
        how = draw(st.sampled_from(["replace", "splice", "delete", "wrap", "stringify", "empty", "add"]))
        if how == "replace":
            container[key] = draw(ANY_JSON)
        elif how == "splice":
            other, other_key = places[draw(st.integers(0, len(places) - 1))]
            container[key] = copy.deepcopy(other[other_key])
        elif how == "delete":
            del container[key]
        elif how == "wrap":
            container[key] = [old] if draw(st.booleans()) else {"value": old}
        elif how == "stringify":
            container[key] = json.dumps(old) if not isinstance(old, str) else draw(st.sampled_from(NASTY)) + old
        elif how == "empty":
            container[key] = type(old)() if isinstance(old, (dict, list, str)) else None
        elif isinstance(old, dict):
            old[draw(st.text(max_size=8) | st.sampled_from(NASTY))] = draw(ANY_JSON)
        elif isinstance(old, list):
            old.insert(draw(st.integers(0, len(old))), draw(ANY_JSON))
    return value


@st.composite
def mutated_text(draw, seeds: list[str], max_mutations: int = 4) -> str:
    """A seed text with 1..max_mutations byte-level edits (delete, insert, duplicate, splice, truncate)."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, max_mutations))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + draw(st.sampled_from([1, 8, 64, 512])))))
        how = draw(st.sampled_from(["delete", "insert", "duplicate", "replace", "truncate", "splice"]))
        if how == "delete":
            text = text[:start] + text[end:]
        elif how == "insert":
            text = text[:start] + draw(st.sampled_from(NASTY) | st.text(max_size=16)) + text[start:]
        elif how == "duplicate":
            text = text[:end] + text[start:end] * draw(st.integers(1, 3)) + text[end:]
        elif how == "replace":
            text = text[:start] + draw(st.text(min_size=end - start, max_size=end - start)) + text[end:]
        elif how == "truncate":
            text = text[:start]
        else:
            other = draw(st.sampled_from(seeds))
            at = draw(st.integers(0, len(other)))
            text = text[:start] + other[at:at + 256] + text[end:]
    return text


def json_document(seeds: list[Any]) -> st.SearchStrategy[str]:
    """JSON text grown from ``seeds``: mutated as a tree, as text, or both."""
    texts = [json.dumps(seed) for seed in seeds]
    return st.one_of(mutated_json(seeds).map(json.dumps), mutated_text(texts),
                     mutated_json(seeds).map(json.dumps).flatmap(lambda text: mutated_text([text], 2)))


# ----------------------------------------------------------------------------- seeds

def _shared(relative: str) -> Path | None:
    path = SHARED / relative
    return path if path.exists() else None


def record_seeds() -> list[dict[str, Any]]:
    """Records in the release's layout (IMDbPY keys): the generated films, and the fuzz seed."""
    import generated_films

    seeds = [film["release_json"] for film in generated_films.films(4)]
    return seeds + [json.loads((SEEDS / "record.json").read_text("utf-8"))]


def page_seeds() -> list[str]:
    """Real IMDb title pages (2021 __NEXT_DATA__ + JSON-LD, 2016 microdata), else the small seed page."""
    pages = [path.read_text("utf-8", "replace") for folder in ("drogers141_2021", "egwspiti_2016")
             if (found := _shared(f"imdb-pages/{folder}")) for path in sorted(found.glob("*title*.html")) + sorted(found.glob("tt*.html"))]
    return pages or [(SEEDS / "title-page.html").read_text("utf-8")]


_NEXT_DATA = re.compile(r'(<script[^>]*id="__NEXT_DATA__"[^>]*>)(.*?)(</script>)', re.S)
_LD_JSON = re.compile(r'(<script[^>]*type="application/ld\+json"[^>]*>)(.*?)(</script>)', re.S)


def _embedded(pages: list[str], pattern: re.Pattern) -> list[tuple[str, Any]]:
    found = []
    for page in pages:
        match = pattern.search(page)
        if match:
            try:
                found.append((page, json.loads(match.group(2))))
            except ValueError:
                pass
    return found


@st.composite
def page_with_mutated_json(draw, embedded: list[tuple[str, Any]], pattern: re.Pattern) -> str:
    """A page whose ``pattern`` block holds mutated JSON; for JSON-LD the page often loses its
    ``__NEXT_DATA__`` too, since the parser reads JSON-LD only without it."""
    page, data = draw(st.sampled_from(embedded))
    mutated = draw(mutated_json([data], 8))
    if pattern is _LD_JSON and draw(st.booleans()):
        page = _NEXT_DATA.sub("", page)
    return pattern.sub(lambda match: match.group(1) + json.dumps(mutated) + match.group(3), page, count=1)


_SCRIPTS = re.compile(r"<script.*?</script>", re.S)


def omdb_seeds() -> list[dict[str, Any]]:
    import omdb_server

    answers = []
    if _shared(omdb_server.CSV_RELATIVE):
        answers = list(omdb_server.load_films(SHARED).values())[:20]
    answers += list(omdb_server.generated(3)[0].values())
    return answers + [{"Response": "False", "Error": "Movie not found!"}]


def tmdb_seeds() -> list[Any]:
    return [json.loads(path.read_text("utf-8")) for path in sorted((HERE / "data" / "tmdb").glob("*.json"))]


def links_seeds() -> list[str]:
    texts = [(SEEDS / "links.csv").read_text("utf-8")]
    for relative in ("ml-latest-small/links.csv", "ml-20m-links.csv"):
        if (path := _shared(relative)):
            with open(path, encoding="utf-8", errors="replace") as handle:
                texts.append("".join(handle.readline() for _ in range(40)))
    return texts


def split_seeds() -> list[Any]:
    seeds = [json.loads((SEEDS / "split.json").read_text("utf-8"))]
    if (path := _shared("mmimdb-split.json")):
        whole = json.loads(path.read_text("utf-8"))
        seeds.append({name: ids[:15] for name, ids in whole.items()} if isinstance(whole, dict) else whole)
    return seeds


def manifest_seeds() -> list[Any]:
    return [json.loads((SEEDS / "manifest.json").read_text("utf-8"))]


def plot_seeds() -> list[str]:
    import generated_dataset

    plots = [plot for index in range(12) for plot in generated_dataset.record(index)["plot"]]
    return plots + [text for record in record_seeds() for text in record.get("plot", []) if isinstance(text, str)]


# ----------------------------------------------------------------------------- running one example

class _Answer:
    """What a fake polite session answers every request with: one body, HTTP 200."""

    def __init__(self, body: bytes, status: int = 200):
        self.body, self.status = body, status

    def fetch(self, url: str, **_: Any) -> requests.Response:
        response = requests.Response()
        response.status_code, response._content, response.url = self.status, self.body, url
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        response.encoding = "utf-8"
        return response


def _files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


@dataclass
class Target:
    """One parser: ``strategy`` draws its input; ``parse(example, root)`` runs it under ``root``."""

    name: str
    strategy: Callable[[], st.SearchStrategy]
    parse: Callable[[Any, Path], Any]
    tried: int = field(default=0, compare=False)

    def check(self, example: Any) -> None:
        """Run one example in a fresh folder; raise if the invariant does not hold."""
        self.tried += 1
        work = Path(tempfile.mkdtemp(prefix="fuzz-"))
        try:
            root = work / "root"
            root.mkdir()
            (work / "outside").mkdir()
            (work / "outside" / "keep.txt").write_text("outside the root")
            before = _files(work) - {str(path.relative_to(work)) for path in [root]}
            try:
                self.parse(example, root)
            except MmimdbError as error:
                message = str(error)
                assert message and "\n" not in message, f"{type(error).__name__} is not one line: {message!r}"
            after = {name for name in _files(work) if not (name == "root" or name.startswith("root" + os.sep))}
            assert after == before, f"written outside the root: {sorted(after - before)}"
            assert (work / "outside" / "keep.txt").read_text() == "outside the root", "a file outside the root changed"
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def property(self, examples: int, seed: int | None = None) -> Callable[[], None]:
        """A hypothesis test of ``examples`` examples (no shrinking database; ``seed`` fixes the draw)."""
        from hypothesis import seed as fixed_seed

        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                  phases=[Phase.generate, Phase.target, Phase.shrink], print_blob=False)
        @given(self.strategy())
        def holds(example: Any) -> None:
            self.check(example)

        return fixed_seed(seed)(holds) if seed is not None else holds


# ----------------------------------------------------------------------------- the parsers

def _validated(found: Any, tmdb: bool = False) -> None:
    """A source's answer is a Found whose record passes the schema (or fails as a RecordError)."""
    from mmimdb.fetch.crawl.pipeline import merge
    from mmimdb.fetch.movielens import Link
    from mmimdb.fetch.sources.base import Found
    from mmimdb.records import record

    assert isinstance(found, Found) and isinstance(found.fields, dict), found
    for url in (found.poster_url, found.full_size_poster_url):
        assert url is None or isinstance(url, str), url
    record.validate(merge(Link("1", FAKE_ID, "1" if tmdb else None), [(_FakeSource(), found)]))


class _FakeSource:
    name = "fuzz"


def parse_record(text: str, root: Path) -> Any:
    from mmimdb.records.store import RecordStore

    store = RecordStore(root / "dataset")
    store.directory.mkdir(parents=True)
    (store.directory / "0000001.json").write_text(text, "utf-8", errors="surrogatepass")
    return store.read(FAKE_ID)


def parse_page(text: str, root: Path) -> None:
    from mmimdb.fetch.movielens import Link
    from mmimdb.fetch.sources.imdb_web import ImdbWebSource

    found = ImdbWebSource("http://127.0.0.1:9").lookup(Link("1", FAKE_ID, None), _Answer(text.encode("utf-8", "surrogatepass")))
    _validated(found)


def parse_omdb(text: str, root: Path) -> None:
    from mmimdb.fetch.movielens import Link
    from mmimdb.fetch.sources.omdb import OmdbSource

    _validated(OmdbSource("key", "http://127.0.0.1:9").lookup(Link("1", FAKE_ID, None), _Answer(text.encode("utf-8", "surrogatepass"))))


def parse_tmdb(text: str, root: Path) -> None:
    from mmimdb.fetch.movielens import Link
    from mmimdb.fetch.sources.tmdb import TmdbSource

    found = TmdbSource("key", "http://127.0.0.1:9").lookup(Link("1", FAKE_ID, "550"), _Answer(text.encode("utf-8", "surrogatepass")))
    _validated(found, tmdb=True)


def parse_links(example: tuple[str, bool], root: Path) -> None:
    from mmimdb.fetch.movielens import read_links

    text, strict = example
    path = root / "links.csv"
    path.write_text(text, "utf-8", errors="surrogatepass")
    for link in read_links(path, strict=strict):
        assert re.fullmatch(r"tt[0-9]{7,}", link.imdb_id), link
        assert link.tmdb_id is None or link.tmdb_id.isascii(), link


def parse_split(text: str, root: Path) -> None:
    from mmimdb.records.split_file import SPLITS, read_split_file

    path = root / "split.json"
    path.write_text(text, "utf-8", errors="surrogatepass")
    split = read_split_file(path)
    for name in SPLITS:
        assert all(isinstance(imdb_id, str) for imdb_id in split.ids[name]), split


def parse_manifest(text: str, root: Path) -> None:
    from mmimdb.storage import manifest

    (root / "manifest.json").write_text(text, "utf-8", errors="surrogatepass")
    (root / "split.json").write_text("{}")
    read = manifest.read_manifest(root)
    assert isinstance(read, dict)
    problems = manifest.verify(root)
    assert all(isinstance(problem, str) and "\n" not in problem for problem in problems), problems
    manifest.feature_entries(root)


@st.composite
def archives(draw) -> bytes:
    """A release-shaped tar (records, posters, split.json) with fuzzed member names, types
    and sizes, gzipped or not, possibly truncated or with damaged header bytes."""
    import generated_films

    films = generated_films.films(2)
    names = [f"mmimdb/dataset/{film['imdb_id'][2:]}" for film in films]
    member_names = [f"{name}.json" for name in names] + [f"{name}.jpeg" for name in names] + ["mmimdb/split.json"]
    payloads = [json.dumps(film["release_json"]).encode() for film in films] + [film["poster"] for film in films] \
        + [json.dumps({"train": [names[0][-7:]], "dev": [], "test": [names[1][-7:]]}).encode()]
    dangerous = st.sampled_from(["../escape.json", "/tmp/abs.json", "mmimdb/../../escape.jpeg", "C:\\x.json",
                                 "mmimdb\\dataset\\0000001.json", "mmimdb/dataset/٠١١٤٧٠٩.json", "./mmimdb/dataset/0000002.json",
                                 "mmimdb/dataset/" + "9" * 300 + ".json", "mmimdb/dataset/.json", "mmimdb/dataset/0000003.JPG",
                                 "mmimdb/dataset/0000004.json/x", "", ".", "mmimdb/dataset/"])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=draw(st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]))) as tar:
        count = draw(st.integers(1, 7))
        for index in range(count):
            base = index % len(member_names)
            name = draw(st.one_of(st.just(member_names[base]), dangerous, mutated_text([member_names[base]], 2)))
            data = payloads[base]
            if draw(st.integers(0, 4)) == 0:
                data = draw(st.sampled_from([b"", data[: len(data) // 2], data + data, json.dumps(draw(ANY_JSON)).encode()]))
            info = tarfile.TarInfo(name.replace("\x00", ""))
            kind = draw(st.sampled_from([tarfile.REGTYPE] * 6 + [tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE]))
            info.type = kind
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = draw(st.sampled_from(["../../outside/keep.txt", "/etc/passwd", member_names[0]]))
            info.mode = draw(st.sampled_from([0o644, 0o755, 0o4755, 0o000]))
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    raw = buffer.getvalue()
    how = draw(st.sampled_from(["plain", "gzip", "truncate", "flip", "gzip-truncate"]))
    if how in ("gzip", "gzip-truncate"):
        import gzip

        raw = gzip.compress(raw)
    if how in ("truncate", "gzip-truncate"):
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif how == "flip":
        raw = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(raw) - 1))
            raw[at] = draw(st.integers(0, 255))
        raw = bytes(raw)
    return raw


def parse_archive(data: bytes, root: Path) -> None:
    from mmimdb.fetch.archive import import_release

    path = root.parent / "outside" / "release.tar"  # a file the user has, outside the root
    path.write_bytes(data)
    try:
        import_release(path, root, progress=False)
    finally:
        path.unlink()
    for path in root.rglob("*"):
        assert not path.is_symlink(), f"{path}: a link came out of the archive"


def parse_tokens(text: str, root: Path) -> None:
    from mmimdb.features.tokenize import tokenize

    tokens = tokenize(text)
    assert isinstance(tokens, list) and all(isinstance(token, str) and token and not any(c.isspace() for c in token)
                                            for token in tokens), tokens


@st.composite
def mutated_bytes(draw, seeds: list[bytes], max_mutations: int = 4) -> bytes:
    """A seed file with 1..max_mutations byte edits: bytes flipped, runs deleted, duplicated,
    spliced from another seed (a PNG header on a JPEG body), or the file cut short."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_mutations))):
        if not data:
            break
        start = draw(st.integers(0, len(data) - 1))
        end = min(len(data), start + draw(st.sampled_from([1, 4, 64, 1024])))
        how = draw(st.sampled_from(["flip", "flip", "delete", "duplicate", "splice", "truncate", "zero"]))
        if how == "flip":
            data[start] = draw(st.integers(0, 255))
        elif how == "delete":
            del data[start:end]
        elif how == "duplicate":
            data[end:end] = data[start:end] * draw(st.integers(1, 4))
        elif how == "splice":
            other = draw(st.sampled_from(seeds))
            at = draw(st.integers(0, len(other)))
            data[start:end] = other[at:at + draw(st.sampled_from([2, 16, 512]))]
        elif how == "truncate":
            del data[start:]
        else:
            data[start:end] = bytes(end - start)
    return bytes(data)


def poster_seeds() -> list[bytes]:
    """Posters as they come: the generated ones (JPEG and PNG, four sizes) and a few real
    greatest-films posters where ../shared is present."""
    import generated_dataset

    seeds = [generated_dataset.poster(index) for index in (0, 1, 2, 3, 13)]
    if (found := _shared("greatest-films")):
        seeds += [path.read_bytes() for path in sorted(found.rglob("*.jpeg"))[:3]]
    return seeds


def parse_poster(data: bytes, root: Path) -> None:
    from mmimdb.dataset.images import IMAGE_SHAPE, preprocess_poster
    from mmimdb.records.posters import check_poster, thumbnail_jpeg

    info = check_poster(data)
    assert info.width > 0 and info.height > 0, info
    assert thumbnail_jpeg(data)[:2] == b"\xff\xd8"
    assert preprocess_poster(data).shape == tuple(IMAGE_SHAPE)


# The copy importers read folders other projects wrote: each seed is a real export of the
# generated films (tests/generated_dataset.py) in that layout, cut to a few movies, as
# {relative path: bytes}; a mutation changes one file (as JSON, as text, as an Arrow table
# or as bytes), removes one, or puts a link in its place.

_COPY_MOVIES = 3  # per split file


def _trim_lines(text: str) -> bytes:
    return ("\n".join(text.splitlines()[:_COPY_MOVIES]) + "\n").encode()


def _referenced(folder: Path, files: dict[str, bytes]) -> None:
    """Add the posters the kept lines name (by id, wherever the layout keeps them)."""
    ids = set(re.findall(rb'"(?:id|image_id)": "([0-9]{7})"', b"".join(files.values())))
    for path in folder.rglob("*"):
        if path.suffix in (".jpeg", ".jpg", ".png") and path.stem.encode() in ids:
            files[str(path.relative_to(folder))] = path.read_bytes()


_copy_cache: dict[str, dict[str, bytes]] = {}


def copy_seeds(built: Path | None = None) -> dict[str, dict[str, bytes]]:
    """One small real copy per layout (made once per process): ``mmimdb export`` of the
    generated films (``built``, their build, else built here) as jsonl (MMBT), mmf and arrow
    (ViLT), and a raw re-layout of release records (split.json + images/ + labels/)."""
    if _copy_cache:
        return _copy_cache
    import generated_dataset
    import generated_films
    import pyarrow as pa

    from mmimdb.export import export

    with tempfile.TemporaryDirectory(prefix="fuzz-copies-") as folder:
        root = Path(folder) / "root"  # a copy: an export records itself in the root's manifest
        shutil.copytree(built, root, symlinks=True) if built else generated_dataset.built_root(root)
        for layout in ("jsonl", "mmf", "arrow"):
            out = Path(export(layout, root=root, out=Path(folder) / layout, text="all", progress=False)["out"])
            files: dict[str, bytes] = {}
            for path in sorted(out.rglob("*")):
                relative = str(path.relative_to(out))
                if path.suffix == ".jsonl":
                    files[relative] = _trim_lines(path.read_text("utf-8"))
                elif path.suffix == ".arrow":
                    table = pa.ipc.open_file(str(path)).read_all().slice(0, _COPY_MOVIES)
                    sink = pa.BufferOutputStream()
                    with pa.ipc.new_file(sink, table.schema) as writer:
                        writer.write_table(table)
                    files[relative] = sink.getvalue().to_pybytes()
                elif path.suffix == ".json" and path.is_file():
                    files[relative] = path.read_bytes()
            if layout != "arrow":
                _referenced(out, files)
            _copy_cache[layout] = files
    films = generated_films.films(_COPY_MOVIES)
    relayout = {"split.json": json.dumps({"train": [films[0]["imdb_id"][2:]], "dev": [films[1]["imdb_id"][2:]],
                                          "test": [film["imdb_id"][2:] for film in films[2:]]}).encode()}
    for film in films:
        relayout[f"images/{film['imdb_id'][2:]}.jpeg"] = film["poster"]
        relayout[f"labels/{film['imdb_id'][2:]}.json"] = json.dumps(film["release_json"]).encode()
    _copy_cache["relayout"] = relayout
    return _copy_cache


#: A file replaced by a link: out of the copy, to a secret, to itself.
LINK = "link -> "
_LINK_TARGETS = ["../../outside/keep.txt", "/etc/passwd", ".", "/dev/zero"]


@st.composite
def _mutated_arrow(draw, data: bytes) -> bytes:
    """An Arrow file whose rows were mutated as JSON (the posters kept aside), or whose bytes were."""
    import pyarrow as pa

    try:
        # Validated in full before any value is read, as the importer does: Arrow trusts an IPC
        # file's offsets, and reading damaged ones crashed this strategy (benchmarks/fuzz.py
        # died of a segmentation fault here after 10 parsers).
        reader = pa.ipc.open_file(pa.BufferReader(data))
        batches = [reader.get_batch(index) for index in range(reader.num_record_batches)]
        for batch in batches:
            batch.validate(full=True)
        rows = pa.Table.from_batches(batches, reader.schema).to_pylist()
    except (pa.ArrowException, OSError):
        rows = None  # damaged by an earlier mutation
    if rows is None or draw(st.integers(0, 3)) == 0:
        return draw(mutated_bytes([data]))
    posters = [row.pop("image", None) for row in rows]
    mutated = draw(mutated_json([rows], 4))
    if isinstance(mutated, list) and all(isinstance(row, dict) for row in mutated):
        for row, poster in zip(mutated, posters):
            row.setdefault("image", poster)
    else:
        mutated = [{**row, "image": poster} for row, poster in zip(rows, posters)]
    try:
        table = pa.Table.from_pylist(mutated)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return draw(mutated_bytes([data]))  # values no Arrow column holds: damage the bytes instead
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


@st.composite
def copies(draw) -> tuple[str, dict[str, bytes | str]]:
    """(layout, files) of a copy grown from a real one by 1..3 mutations."""
    seeds = copy_seeds()
    layout = draw(st.sampled_from(sorted(seeds)))
    files: dict[str, bytes | str] = dict(seeds[layout])
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(files)))
        data = files[name]
        how = draw(st.sampled_from(["content"] * 6 + ["delete", "link"]))
        if how == "delete":
            del files[name]
        elif how == "link" or isinstance(data, str):
            files[name] = LINK + draw(st.sampled_from(_LINK_TARGETS))
        elif name.endswith(".arrow"):
            files[name] = draw(_mutated_arrow(data))
        elif name.endswith((".jpeg", ".jpg", ".png")):
            files[name] = draw(mutated_bytes([data]))
        elif name.endswith(".jsonl") and all(_json_or_none(line) is not None for line in data.splitlines()):
            lines = [json.loads(line) for line in data.splitlines()]
            files[name] = draw(st.one_of(
                mutated_json([lines], 6).map(lambda value: "".join(json.dumps(line) + "\n" for line in value)
                                              if isinstance(value, list) else json.dumps(value)),
                mutated_text([data.decode()]))).encode("utf-8", "surrogatepass")
        elif _json_or_none(data) is not None:
            files[name] = draw(json_document([json.loads(data)])).encode("utf-8", "surrogatepass")
        else:  # damaged by an earlier mutation: damage it more, as text
            files[name] = draw(mutated_text([data.decode("utf-8", "replace")])).encode("utf-8", "surrogatepass")
        if not files:
            break
    return layout, files


def parse_copy(example: tuple[str, dict[str, bytes | str]], root: Path) -> None:
    from mmimdb.fetch.copies import import_copy
    from mmimdb.records.store import RecordStore

    layout, files = example
    copy = root.parent / "outside" / "copy"  # the user's folder: only read
    for name, data in files.items():
        path = copy / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.symlink_to(data[len(LINK):])
        else:
            path.write_bytes(data)
    before = {str(path): path.lstat().st_mtime_ns for path in copy.rglob("*")}
    try:
        import_copy(copy, root, progress=False)
    finally:
        assert {str(path): path.lstat().st_mtime_ns for path in copy.rglob("*")} == before, "the copy was changed"
        shutil.rmtree(copy)
    store = RecordStore(root / "dataset")
    for imdb_id in store.ids():  # what was imported is whole: a valid record with its checked poster
        record = store.read(imdb_id)
        if store.poster_path(imdb_id).is_file():
            from mmimdb.records.posters import check_poster

            assert check_poster(store.read_poster(imdb_id)).sha256 == record["poster"]["sha256"], imdb_id


def _pages() -> st.SearchStrategy[str]:
    pages = page_seeds()
    microdata = [_SCRIPTS.sub("", page) for page in pages]  # what the parser reads last
    strategies = [mutated_text(pages), mutated_text(microdata)]
    for pattern in (_NEXT_DATA, _LD_JSON):
        embedded = _embedded(pages, pattern)
        if embedded:
            strategies.append(page_with_mutated_json(embedded, pattern))
    return st.one_of(*strategies)


TARGETS: list[Target] = [
    Target("record JSON (store + from_imdbpy + schema)", lambda: json_document(record_seeds()), parse_record),
    Target("imdb-web page (__NEXT_DATA__, JSON-LD, microdata)", _pages, parse_page),
    Target("OMDb answer", lambda: json_document(omdb_seeds()), parse_omdb),
    Target("TMDb answer", lambda: json_document(tmdb_seeds()), parse_tmdb),
    Target("links.csv", lambda: st.tuples(mutated_text(links_seeds()), st.booleans()), parse_links),
    Target("split.json", lambda: json_document(split_seeds()), parse_split),
    Target("manifest.json", lambda: json_document(manifest_seeds()), parse_manifest),
    Target("release archive (member names, types, sizes)", archives, parse_archive),
    Target("tokenizer", lambda: st.one_of(mutated_text(plot_seeds()), st.text()), parse_tokens),
    Target("poster decoding (check, thumbnail, the build's preprocessing)", lambda: mutated_bytes(poster_seeds()), parse_poster),
    Target("copy importers (ViLT Arrow, MMBT jsonl, MMF, re-layout)", copies, parse_copy),
]
