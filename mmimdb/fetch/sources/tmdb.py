"""TMDb (https://www.themoviedb.org): overview, poster, genres, credits and keywords.

Looked up by the ``tmdbId`` column of MovieLens links.csv (movies without one are "not
found" here). Needs an API key (``--tmdb-key`` or ``$TMDB_API_KEY``): a v3 API key is sent
as ``api_key``, a v4 read-access token (a long JWT) as ``Authorization: Bearer``. One
request per movie: ``GET <base>/3/movie/<tmdbId>?append_to_response=credits,keywords``.
Posters come from ``https://image.tmdb.org/t/p/w500<poster_path>`` (500 px wide, the size
of the original dataset's posters).

TMDb genres -> IMDb genres (:data:`GENRE_MAP`): of TMDb's 19 movie genres, 17 keep their
name, "Science Fiction" becomes "Sci-Fi", and "TV Movie" is not an IMDb genre (it sets the
kind ``tv movie``) and is dropped. TMDb has no Biography, Film-Noir, Musical, Sport or Short,
so those labels can only come from another source (imdb-datasets, omdb, imdb-web).
"""
from __future__ import annotations

import re
from typing import Any

from ...errors import UsageError
from ..http import PoliteSession
from ..movielens import Link
from .base import Found, NotFound, Source, SourceFailed, check_shape

IMAGE_BASE = "https://image.tmdb.org/t/p/"
POSTER_SIZE = "w500"

#: TMDb movie genre name -> IMDb genre name (None: not an IMDb genre).
GENRE_MAP: dict[str, str | None] = {
    "Action": "Action", "Adventure": "Adventure", "Animation": "Animation", "Comedy": "Comedy",
    "Crime": "Crime", "Documentary": "Documentary", "Drama": "Drama", "Family": "Family",
    "Fantasy": "Fantasy", "History": "History", "Horror": "Horror", "Music": "Music",
    "Mystery": "Mystery", "Romance": "Romance", "Science Fiction": "Sci-Fi", "TV Movie": None,
    "Thriller": "Thriller", "War": "War", "Western": "Western",
}

_TEXT = {"type": ["string", "null"]}
_NUMBER = {"type": ["number", "null"]}


def _objects(**fields: dict) -> dict:
    return {"type": ["array", "null"], "items": {"type": "object", "properties": fields}}


#: The shape of a TMDb movie answer (with credits and keywords) that :func:`parse_tmdb` reads,
#: as TMDb documents it; other keys are left as they come.
ANSWER_SHAPE = {"type": "object", "properties": {
    "title": _TEXT, "original_title": _TEXT, "release_date": _TEXT, "overview": _TEXT, "tagline": _TEXT,
    "poster_path": _TEXT, "runtime": _NUMBER, "budget": _NUMBER, "revenue": _NUMBER,
    "genres": _objects(), "spoken_languages": _objects(english_name=_TEXT, name=_TEXT, iso_639_1=_TEXT),
    "production_countries": _objects(name=_TEXT, iso_3166_1=_TEXT), "production_companies": _objects(name=_TEXT),
    "credits": {"type": ["object", "null"], "properties": {
        "cast": _objects(name=_TEXT, character=_TEXT, order={"type": "number"}),
        "crew": _objects(name=_TEXT, job=_TEXT)}},
    "keywords": {"type": ["object", "null"], "properties": {"keywords": _objects(name=_TEXT)}},
}}

#: TMDb crew job -> normalized record field.
CREW_JOBS: dict[str, str] = {
    "Director": "directors", "Screenplay": "writers", "Writer": "writers", "Story": "writers",
    "Novel": "writers", "Producer": "producers", "Executive Producer": "producers",
    "Original Music Composer": "composers", "Music": "composers",
    "Director of Photography": "cinematographers", "Editor": "editors", "Casting": "casting_directors",
    "Production Design": "production_designers", "Art Direction": "art_directors",
    "Set Decoration": "set_decorators", "Costume Design": "costume_designers",
}


class TmdbSource(Source):
    name = "tmdb"
    default_url = "https://api.themoviedb.org"
    poster_hosts = ("image.tmdb.org",)
    needs_tmdb_id = True
    key_option = "--tmdb-key / TMDB_API_KEY"

    def __init__(self, api_key: str | None, base_url: str | None = None, image_base: str | None = None):
        super().__init__(base_url)
        if not api_key:
            raise UsageError("the tmdb source needs an API key: --tmdb-key KEY or TMDB_API_KEY (free at https://www.themoviedb.org/settings/api)")
        self.api_key = api_key
        # A loopback test server or mirror serves the images too.
        self.image_base = image_base or (f"{self.base_url}/t/p/" if self.is_loopback else IMAGE_BASE)

    def lookup(self, link: Link, session: PoliteSession) -> Found:
        if not link.tmdb_id:
            raise NotFound("tmdb: no tmdbId in links.csv")
        params = {"append_to_response": "credits,keywords"}
        headers = None
        if self.api_key.count(".") == 2 and len(self.api_key) > 64:  # a v4 token (JWT)
            headers = {"Authorization": f"Bearer {self.api_key}"}
        else:
            params["api_key"] = self.api_key
        data = self.get_json(session, f"{self.base_url}/3/movie/{link.tmdb_id}", params=params, headers=headers)
        if not isinstance(data, dict) or "id" not in data:
            raise SourceFailed(f"tmdb: unexpected answer for movie {link.tmdb_id}")
        check_shape(data, ANSWER_SHAPE, f"tmdb: the answer for movie {link.tmdb_id}")
        return parse_tmdb(data, self.image_base)


def tmdb_genres(names: list[str]) -> list[str]:
    """IMDb genre names for TMDb genre names (see :data:`GENRE_MAP`)."""
    result = []
    for name in names:
        genre = GENRE_MAP.get(name)
        if genre and genre not in result:
            result.append(genre)
    return result


def parse_tmdb(data: dict[str, Any], image_base: str = IMAGE_BASE) -> Found:
    """Normalized fields from one TMDb movie answer (with credits and keywords)."""
    fields: dict[str, Any] = {}
    if data.get("title"):
        fields["title"] = str(data["title"])
    if data.get("original_title") and data.get("original_title") != data.get("title"):
        fields["original_title"] = str(data["original_title"])
    year = re.match(r"^([0-9]{4})", str(data.get("release_date") or ""))
    if year:
        fields["year"] = int(year.group(1))
        fields["release_dates"] = [f"TMDb::{data['release_date']}"]
    genres = tmdb_genres([str(genre.get("name")) for genre in data.get("genres") or [] if isinstance(genre, dict)])
    if genres:
        fields["genres"] = genres
    if any(isinstance(g, dict) and g.get("name") == "TV Movie" for g in data.get("genres") or []):
        fields["kind"] = "tv movie"
    if data.get("overview"):
        fields["plot"] = [str(data["overview"])]
    if data.get("tagline"):
        fields["taglines"] = [str(data["tagline"])]
    if data.get("runtime"):
        fields["runtimes"] = [str(data["runtime"])]
    languages = [lang.get("english_name") or lang.get("name") for lang in data.get("spoken_languages") or []]
    if any(languages):
        fields["languages"] = [lang for lang in languages if lang]
        fields["language_codes"] = [lang["iso_639_1"] for lang in data["spoken_languages"] if lang.get("iso_639_1")]
    countries = data.get("production_countries") or []
    if countries:
        fields["countries"] = [c["name"] for c in countries if c.get("name")]
        fields["country_codes"] = [c["iso_3166_1"].lower() for c in countries if c.get("iso_3166_1")]
    companies = [{"name": c["name"]} for c in data.get("production_companies") or [] if c.get("name")]
    if companies:
        fields["production_companies"] = companies
    credits = data.get("credits") or {}
    cast = [
        {"name": person["name"], **({"role": person["character"]} if person.get("character") else {})}
        for person in sorted(credits.get("cast") or [], key=lambda p: p.get("order", 0))
        if person.get("name")
    ]
    if cast:
        fields["cast"] = cast
    for person in credits.get("crew") or []:
        target = CREW_JOBS.get(str(person.get("job")))
        if target and person.get("name"):
            entry = {"name": person["name"], "notes": f"({person['job'].lower()})"}
            if all(existing["name"] != entry["name"] for existing in fields.setdefault(target, [])):
                fields[target].append(entry)
    keywords = (data.get("keywords") or {}).get("keywords") or []
    if keywords:
        fields["keywords"] = [k["name"] for k in keywords if k.get("name")]
    if data.get("budget") or data.get("revenue"):
        fields["box_office"] = {key: data[key] for key in ("budget", "revenue") if data.get(key)}
    if isinstance(data.get("adult"), bool):
        fields["adult"] = data["adult"]
    extra = {f"tmdb {key}": data[key] for key in ("vote_average", "vote_count", "popularity", "imdb_id") if data.get(key) is not None}
    if extra:
        fields["extra"] = extra
    poster = data.get("poster_path")
    url = f"{image_base}{POSTER_SIZE}{poster}" if poster else None
    full = f"{image_base}original{poster}" if poster else None
    return Found(fields, poster_url=url, full_size_poster_url=full)
