"""IMDb title pages: the real 2021 and 2016 pages served from a loopback mirror, JSON-LD
fallback, and the bot firewall (202 empty, 403, challenge page) ending the crawl with
exit code 3 and nothing lost."""
from __future__ import annotations

import json
import re
import sqlite3

import pytest

from conftest import shared_path
from loopback import ServerThread, handler_from, mmimdb
from mmimdb.fetch.http import PoliteSession
from mmimdb.fetch.movielens import Link
from mmimdb.fetch.sources.base import Blocked, NotFound
from mmimdb.fetch.sources.imdb_web import ImdbWebSource, parse_title_page
from mmimdb.records.store import RecordStore

ARCHER = "imdb-pages/drogers141_2021/archer-title-page.html"
ARCHER_ID = "tt1486217"


def _session() -> PoliteSession:
    return PoliteSession(rate=0, retries=1, backoff=0.01, allow_private=True)


def _field_count(fields: dict) -> int:
    return len([key for key in fields if key != "extra"]) + len(fields.get("extra", {}))


def _pages_server(pages: dict[str, bytes], log: list[str] | None = None, poster: bytes | None = None):
    def answer(handler):
        match = re.match(r"^/title/(tt[0-9]+)/$", handler.path)
        if match and match.group(1) in pages:
            return 200, {"Content-Type": "text/html; charset=utf-8"}, pages[match.group(1)]
        if handler.path.startswith("/images/") and poster is not None:
            return 200, {"Content-Type": "image/jpeg"}, poster
        return 404, {}, b"<html>404</html>"

    return ServerThread(handler_from(answer, log))


def test_the_real_2021_page_served_from_a_mirror_gives_plot_poster_genres_and_50_fields():
    page = shared_path(ARCHER).read_bytes()
    with _pages_server({ARCHER_ID: page}) as server:
        source = ImdbWebSource(server.url)
        found = source.lookup(Link("1", ARCHER_ID, None), _session())
    fields = found.fields
    assert fields["title"] == "Archer" and fields["year"] == 2009 and fields["kind"] == "tv series"
    assert fields["genres"] == ["Animation", "Action", "Comedy"]
    assert fields["plot"][0].startswith("Covert black ops and espionage")
    assert any("Sterling Archer" in plot for plot in fields["plot"])
    assert found.full_size_poster_url == "https://m.media-amazon.com/images/M/MV5BMTg3NTMwMzY2OF5BMl5BanBnXkFtZTgwMDcxMjQ0NDE@._V1_.jpg"
    assert found.poster_url.endswith("._V1_SX300.jpg")
    assert fields["rating"] == 8.7 and fields["votes"] == 149827 and fields["runtimes"] == ["22"]
    assert fields["cast"][0] == {"name": "Aisha Tyler", "person_id": "nm0878768", "role": ["Lana Kane", "Princess Lanaluakalani"]}
    assert fields["extra"]["creator"][0]["name"] == "Adam Reed" and fields["extra"]["number of episodes"] == 135
    assert _field_count(fields) >= 50


def test_the_json_ld_block_is_the_fallback():
    page = shared_path(ARCHER).read_text("utf-8")
    without_next_data = re.sub(r'<script id="__NEXT_DATA__".*?</script>', "", page, flags=re.S)
    found = parse_title_page(without_next_data)
    assert found.fields["title"] == "Archer" and found.fields["kind"] == "tv series"
    assert found.fields["genres"] == ["Animation", "Action", "Comedy"]
    assert "plot" not in found.fields  # the JSON-LD description is a generated sentence, kept in extra
    assert found.fields["extra"]["ld+json description"].startswith("Covert black ops")
    assert found.full_size_poster_url.startswith("https://m.media-amazon.com/images/M/MV5BMTg3NTMw")


def test_the_2016_pages():
    folder = shared_path("imdb-pages/egwspiti_2016")
    wolfpack = parse_title_page((folder / "tt2415458.html").read_text("utf-8")).fields
    assert wolfpack["original_title"] == "The Wolfpack" and wolfpack["year"] == 2015
    assert wolfpack["genres"] == ["Documentary", "Biography"]
    assert wolfpack["directors"] == [{"name": "Crystal Moselle"}]
    assert max(wolfpack["plot"], key=len).endswith("everything changes.")
    assert parse_title_page((folder / "tt2415458.html").read_text("utf-8")).poster_url.startswith("http://ia.media-imdb.com/images/M/")
    expendables = parse_title_page((folder / "tt3291150.html").read_text("utf-8")).fields
    assert expendables["title"] == "The Expendables 4" and expendables["genres"] == ["Action", "Adventure", "Thriller"]
    septimus = parse_title_page((folder / "tt1072757.html").read_text("utf-8"))
    assert septimus.fields["title"] == "Septimus Heap: Magyk" and septimus.poster_url is None


@pytest.mark.parametrize("status,body", [(202, b""), (403, b"Forbidden"), (200, b"<html><script src='https://x.awswaf.com/challenge.js'></script>captcha</html>")])
def test_a_bot_firewall_is_detected(status, body):
    with ServerThread(handler_from(lambda h: (status, {}, body))) as server:
        with pytest.raises(Blocked, match=f"imdb-web is blocked: .* answered HTTP {status}"):
            ImdbWebSource(server.url).lookup(Link("1", ARCHER_ID, None), _session())


def test_missing_title_is_not_found():
    with _pages_server({}) as server:
        with pytest.raises(NotFound):
            ImdbWebSource(server.url).lookup(Link("1", ARCHER_ID, None), _session())


def test_blocked_crawl_stops_with_exit_3_keeps_everything_and_resumes(tmp_path):
    page = shared_path(ARCHER).read_text("utf-8")
    poster = next(shared_path("greatest-films/posters").glob("tt*.jpg")).read_bytes()
    links = tmp_path / "links.csv"
    links.write_text(f"movieId,imdbId,tmdbId\n1,{ARCHER_ID[2:]},\n2,0000001,\n3,0000002,\n")
    blocked = {"on": True}
    log: list[str] = []

    def answer(handler):
        if blocked["on"]:
            return 202, {}, b""
        if handler.path == f"/title/{ARCHER_ID}/":
            # A mirror serves the page with its images on the mirror's own host.
            mirrored = page.replace("https://m.media-amazon.com", f"http://127.0.0.1:{handler.server.server_address[1]}")
            return 200, {"Content-Type": "text/html; charset=utf-8"}, mirrored.encode()
        if handler.path.startswith("/images/"):
            return 200, {"Content-Type": "image/jpeg"}, poster
        return 404, {}, b""

    root = tmp_path / "root"
    with ServerThread(handler_from(answer, log)) as server:
        args = ["fetch", "--movielens", str(links), "--source", "imdb-web", "--imdb-url", server.url,
                "--rate", "0", "--concurrency", "1", "--root", str(root), "--no-progress"]
        first = mmimdb(*args)
        assert first.returncode == 3, first.stderr
        assert "error: imdb-web is blocked" in first.stderr and "rerun the same command to resume" in first.stderr
        assert len(log) == 1  # stopped at the first block, no hammering
        state = dict(sqlite3.connect(root / "fetch-state.sqlite").execute("SELECT imdb_id, status FROM movies"))
        assert state[ARCHER_ID] == "blocked" and list(state.values()).count("pending") == 2
        report = json.loads((root / "fetch-report.json").read_text())
        assert report["stopped"].startswith("imdb-web is blocked")

        blocked["on"] = False
        second = mmimdb(*args)
    assert second.returncode == 0, second.stderr
    record = RecordStore(root / "dataset").read(ARCHER_ID)
    assert record["title"] == "Archer" and record["sources"]["plot"] == "imdb-web" and record["sources"]["poster"] == "imdb-web"
    assert record["poster"]["width"] > 0 and record["poster"]["file"] == "1486217.jpeg"
    state = dict(sqlite3.connect(root / "fetch-state.sqlite").execute("SELECT imdb_id, status FROM movies"))
    assert state == {ARCHER_ID: "done", "tt0000001": "not-found", "tt0000002": "not-found"}
    assert "mmimdb build" in second.stderr
