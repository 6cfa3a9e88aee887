"""TMDb: a loopback TMDb answering from the real greatest-films values and posters (by
the tmdbId column of ml-20m), genre mapping to IMDb names, v3 keys and v4 tokens, and the
merge with OMDb (per-field provenance)."""
from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from mmimdb import demo as greatest_films
from conftest import shared_path
from loopback import ServerThread, handler_from, mmimdb
from omdb_server import API_KEY, make_handler
from mmimdb.fetch.http import PoliteSession
from mmimdb.fetch.movielens import Link, read_links
from mmimdb.records.record import validate
from mmimdb.fetch.sources.base import NotFound
from mmimdb.fetch.sources.tmdb import GENRE_MAP, TmdbSource, parse_tmdb, tmdb_genres
from mmimdb.records.store import RecordStore

TOKEN = "eyJhbGciOiJIUzI1NiJ9." + "a" * 80 + ".signature"
SPACE_ODYSSEY = "tt0062622"
IMDB_TO_TMDB = {imdb: tmdb for tmdb, imdb in GENRE_MAP.items() if imdb}


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip() and part.strip() != "N/A"]


def tmdb_answer(row: dict[str, str], tmdb_id: str) -> dict:
    """A greatest-films row in TMDb's movie JSON (values from the row; only TMDb's genres)."""
    released = ""
    try:
        day_month = datetime.strptime(row["released"], "%d-%b-%y")
        released = f"{int(row['year']):04d}-{day_month.month:02d}-{day_month.day:02d}"
    except ValueError:
        pass
    runtime = re.match(r"^([0-9]+)", row["runtime"])
    return {
        "id": int(tmdb_id), "imdb_id": row["imdb_id"], "title": row["title"], "original_title": row["title"],
        "release_date": released, "overview": row["plot"] if row["plot"] != "N/A" else "",
        "genres": [{"id": n, "name": IMDB_TO_TMDB[g]} for n, g in enumerate(_split(row["genre"])) if g in IMDB_TO_TMDB],
        "runtime": int(runtime.group(1)) if runtime else None,
        "spoken_languages": [{"english_name": lang, "name": lang} for lang in _split(row["language"])],
        "production_countries": [{"name": country} for country in _split(row["country"])],
        "poster_path": f"/{row['imdb_id']}.jpg" if greatest_films.poster_file(row["imdb_id"]) else None,
        "credits": {
            "cast": [{"name": name, "order": n} for n, name in enumerate(_split(row["actors"]))],
            "crew": [{"name": name, "job": "Director"} for name in _split(row["director"])],
        },
        "keywords": {"keywords": []},
        "vote_average": float(row["imdb_rating"]) if row["imdb_rating"] not in ("", "N/A") else None,
    }


def tmdb_server(log: list | None = None):
    rows = {row["imdb_id"]: row for row in greatest_films.read_films()}
    by_tmdb = {link.tmdb_id: link.imdb_id for link in read_links(shared_path("ml-20m-links.csv")) if link.tmdb_id and link.imdb_id in rows}

    def answer(handler):
        parts = urlsplit(handler.path)
        if log is not None:
            log.append((parts.path, handler.headers.get("Authorization")))
        authorized = parse_qs(parts.query).get("api_key") == [API_KEY] or handler.headers.get("Authorization") == f"Bearer {TOKEN}"
        poster = re.match(r"^/t/p/w500/(tt[0-9]+)\.jpg$", parts.path)
        if poster:
            path = greatest_films.poster_file(poster.group(1))
            return (200, {"Content-Type": "image/jpeg"}, path.read_bytes()) if path else (404, {}, b"")
        if not authorized:
            return 401, {}, json.dumps({"status_code": 7, "status_message": "Invalid API key: You must be granted a valid key."}).encode()
        movie = re.match(r"^/3/movie/([0-9]+)$", parts.path)
        if movie and movie.group(1) in by_tmdb:
            return 200, {"Content-Type": "application/json"}, json.dumps(tmdb_answer(rows[by_tmdb[movie.group(1)]], movie.group(1))).encode()
        return 404, {}, json.dumps({"status_code": 34, "status_message": "The resource you requested could not be found."}).encode()

    return ServerThread(handler_from(answer))


def _link(imdb_id: str) -> Link:
    return next(link for link in read_links(shared_path("ml-20m-links.csv")) if link.imdb_id == imdb_id)


def test_genre_map_names_imdb_genres():
    assert tmdb_genres(["Science Fiction", "TV Movie", "Drama", "Unknown"]) == ["Sci-Fi", "Drama"]
    from mmimdb.records.genres import canonical_genre

    assert all(canonical_genre(name) == name for name in GENRE_MAP.values() if name)


def test_lookup_by_tmdb_id_with_key_or_token():
    log: list = []
    with tmdb_server(log) as server:
        session = PoliteSession(rate=0, retries=0, allow_private=True)
        found = TmdbSource(API_KEY, server.url).lookup(_link(SPACE_ODYSSEY), session)
        assert found.fields["title"] == "2001: A Space Odyssey" and "Sci-Fi" in found.fields["genres"]
        assert found.fields["directors"] == [{"name": "Stanley Kubrick", "notes": "(director)"}]
        assert found.poster_url == f"{server.url}/t/p/w500/{SPACE_ODYSSEY}.jpg"
        validate({"imdb_id": SPACE_ODYSSEY, **found.fields})
        TmdbSource(TOKEN, server.url).lookup(_link(SPACE_ODYSSEY), session)
        assert log[-1][1] == f"Bearer {TOKEN}"
        with pytest.raises(NotFound):
            TmdbSource(API_KEY, server.url).lookup(Link("1", "tt0000001", "999999999"), session)
        with pytest.raises(NotFound, match="no tmdbId"):
            TmdbSource(API_KEY, server.url).lookup(Link("1", "tt0000001", None), session)


def test_tmdb_answer_is_parsed_into_the_schema():
    found = parse_tmdb({"id": 862, "title": "Toy Story", "release_date": "1995-10-30", "overview": "Led by Woody...",
                        "genres": [{"id": 16, "name": "Animation"}, {"id": 10770, "name": "TV Movie"}],
                        "poster_path": "/abc.jpg", "keywords": {"keywords": [{"name": "toy"}]}})
    assert found.fields["genres"] == ["Animation"] and found.fields["kind"] == "tv movie" and found.fields["year"] == 1995
    assert found.poster_url == "https://image.tmdb.org/t/p/w500/abc.jpg" and found.fields["keywords"] == ["toy"]


def test_crawl_with_tmdb_then_omdb_keeps_provenance_per_field(tmp_path):
    links = tmp_path / "links.csv"
    rows = [line for line in shared_path("ml-20m-links.csv").read_text().splitlines() if line.split(",")[1] in ("0062622", "0033467", "0113497")]
    links.write_text("movieId,imdbId,tmdbId\n" + "\n".join(rows) + "\n")
    root = tmp_path / "root"
    with tmdb_server() as tmdb, ServerThread(make_handler(shared_path(""))) as omdb:
        result = mmimdb("fetch", "--movielens", str(links), "--source", "tmdb", "--source", "omdb",
                        "--tmdb-key", API_KEY, "--tmdb-url", tmdb.url, "--omdb-key", API_KEY, "--omdb-url", omdb.url,
                        "--rate", "0", "--root", str(root), "--no-progress")
    assert result.returncode == 0, result.stderr
    store = RecordStore(root / "dataset")
    assert store.ids() == ["tt0033467", SPACE_ODYSSEY]  # Jumanji is in neither (not found)
    odyssey = store.read(SPACE_ODYSSEY)
    assert odyssey["sources"]["genres"] == "tmdb" and odyssey["sources"]["poster"] == "tmdb"
    assert odyssey["sources"]["awards"] == "omdb" and odyssey["sources"]["rating"] == "omdb"
    assert odyssey["sources"]["tmdb_id"] == "movielens" and odyssey["tmdb_id"] == "62"
    report = json.loads((root / "fetch-report.json").read_text())
    assert report["per_source"]["tmdb"]["found"] == 2 and report["per_source"]["omdb"]["not found"] == 1
