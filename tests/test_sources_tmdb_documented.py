"""The TMDb source against answers in the shape of TMDb's API reference (tests/data/tmdb,
written after the reference's examples, not by our code): Movie Details of movie 550 with
credits and keywords appended, the movie genre list, the 404 error body."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from loopback import ServerThread, handler_from
from mmimdb.records.record import validate
from mmimdb.fetch.http import PoliteSession
from mmimdb.fetch.movielens import Link
from mmimdb.fetch.sources.base import NotFound
from mmimdb.fetch.sources.tmdb import GENRE_MAP, TmdbSource, parse_tmdb

DATA = Path(__file__).parent / "data" / "tmdb"
KEY = "0123456789abcdef0123456789abcdef"  # the shape of a v3 API key
FIGHT_CLUB = Link("2959", "tt0137523", "550")  # as in MovieLens links.csv


def documented(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


EXPECTED_FIELDS = {
    "title": "Fight Club",
    "year": 1999,
    "release_dates": ["TMDb::1999-10-15"],
    "genres": ["Drama"],
    "plot": [documented("movie-550-credits-keywords.json")["overview"]],
    "taglines": ["Mischief. Mayhem. Soap."],
    "runtimes": ["139"],
    "languages": ["English"],
    "language_codes": ["en"],
    "countries": ["United States of America"],
    "country_codes": ["us"],
    "production_companies": [{"name": name} for name in (
        "Regency Enterprises", "Fox 2000 Pictures", "Taurus Film", "Atman Entertainment", "Knickerbocker Films",
        "The Linson Company", "20th Century Fox")],
    "cast": [{"name": "Edward Norton", "role": "The Narrator"}, {"name": "Brad Pitt", "role": "Tyler Durden"},
             {"name": "Helena Bonham Carter", "role": "Marla Singer"}, {"name": "Meat Loaf", "role": "Robert 'Bob' Paulson"},
             {"name": "Jared Leto", "role": "Angel Face"}],
    "directors": [{"name": "David Fincher", "notes": "(director)"}],
    "writers": [{"name": "Chuck Palahniuk", "notes": "(novel)"}, {"name": "Jim Uhls", "notes": "(screenplay)"}],
    "producers": [{"name": "Ross Grayson Bell", "notes": "(producer)"}, {"name": "Ceán Chaffin", "notes": "(producer)"},
                  {"name": "Art Linson", "notes": "(producer)"}],
    "composers": [{"name": "Dust Brothers", "notes": "(original music composer)"}],
    "cinematographers": [{"name": "Jeff Cronenweth", "notes": "(director of photography)"}],
    "editors": [{"name": "James Haygood", "notes": "(editor)"}],
    "casting_directors": [{"name": "Laray Mayfield", "notes": "(casting)"}],
    "keywords": ["support group", "dual identity", "nihilism", "fight", "dystopia"],
    "box_office": {"budget": 63000000, "revenue": 100853753},
    "adult": False,
    "extra": {"tmdb vote_average": 8.433, "tmdb vote_count": 26280, "tmdb popularity": 61.416, "tmdb imdb_id": "tt0137523"},
}


def test_the_documented_movie_answer_becomes_a_valid_record():
    found = parse_tmdb(documented("movie-550-credits-keywords.json"))
    assert found.fields == EXPECTED_FIELDS
    assert found.poster_url == "https://image.tmdb.org/t/p/w500/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"
    assert found.full_size_poster_url == "https://image.tmdb.org/t/p/original/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"
    validate({"imdb_id": FIGHT_CLUB.imdb_id, **found.fields})


def test_every_documented_tmdb_genre_has_a_mapping():
    names = [genre["name"] for genre in documented("genre-movie-list.json")["genres"]]
    assert len(names) == 19 and sorted(GENRE_MAP) == sorted(names)


def tmdb_mirror(requests: list):
    """A loopback TMDb answering one documented movie and TMDb's documented 404 body."""
    movie = (DATA / "movie-550-credits-keywords.json").read_bytes()
    missing = (DATA / "error-34-not-found.json").read_bytes()

    def answer(handler):
        parts = urlsplit(handler.path)
        requests.append((parts.path, parse_qs(parts.query)))
        if parts.path == "/3/movie/550":
            return 200, {"Content-Type": "application/json;charset=utf-8"}, movie
        return 404, {"Content-Type": "application/json;charset=utf-8"}, missing

    return ServerThread(handler_from(answer))


def test_lookup_asks_for_credits_and_keywords_in_one_request_and_parses_the_answer():
    requests: list = []
    with tmdb_mirror(requests) as server:
        session = PoliteSession(rate=0, retries=0, allow_private=True)
        found = TmdbSource(KEY, server.url).lookup(FIGHT_CLUB, session)
        assert requests == [("/3/movie/550", {"append_to_response": ["credits,keywords"], "api_key": [KEY]})]
        assert found.fields == EXPECTED_FIELDS
        assert found.poster_url == f"{server.url}/t/p/w500/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg"
        with pytest.raises(NotFound):
            TmdbSource(KEY, server.url).lookup(Link("1", "tt0000001", "999999999"), session)
