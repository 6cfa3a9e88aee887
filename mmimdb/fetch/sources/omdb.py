"""OMDb (https://www.omdbapi.com): plot, poster, genres and metadata by IMDb id.

Needs an API key (``--omdb-key`` or ``$OMDB_API_KEY``; free keys allow 1,000 requests a
day). One request per movie: ``GET <base>/?i=tt0114709&plot=full&apikey=KEY``. OMDb answers
HTTP 200 (or 401) and says what went wrong in ``Error``: "Movie not found!" and
"Incorrect IMDb ID." end the id as not found; "Request limit reached!" stops the crawl
(exit 3, resumable tomorrow); "Invalid API key!" stops it too (exit 3: fix the key, rerun).
OMDb gives at most three genres a title (IMDb's own names).
"""
from __future__ import annotations

import re
from typing import Any

from ...errors import MmimdbError, UsageError
from ...records.record import ascii_digits
from ..http import PoliteSession
from ..movielens import Link
from .base import Found, NotFound, Source, SourceFailed, canonical_genres, check_shape, people, split_list

#: OMDb "Type" -> IMDb kind as IMDbPY spells it.
KINDS = {"movie": "movie", "series": "tv series", "episode": "episode", "game": "video game"}
#: The shape of an OMDb answer that :func:`parse_omdb` reads: every value is text (OMDb's
#: documented answer), but ``Ratings``, a list of ``{"Source", "Value"}``.
ANSWER_SHAPE = {"type": "object", "additionalProperties": {"type": "string"},
                "properties": {"Ratings": {"type": "array", "items": {"type": "object"}}}}


class OmdbSource(Source):
    name = "omdb"
    default_url = "https://www.omdbapi.com"
    # OMDb's Poster URLs point at IMDb's image hosts.
    poster_hosts = ("m.media-amazon.com", "ia.media-imdb.com", "images-na.ssl-images-amazon.com", "img.omdbapi.com")
    key_option = "--omdb-key / OMDB_API_KEY"

    def __init__(self, api_key: str | None, base_url: str | None = None):
        super().__init__(base_url)
        if not api_key:
            raise UsageError("the omdb source needs an API key: --omdb-key KEY or OMDB_API_KEY (free at https://www.omdbapi.com/apikey.aspx)")
        self.api_key = api_key

    def lookup(self, link: Link, session: PoliteSession) -> Found:
        data = self.get_json(session, f"{self.base_url}/", params={"i": link.imdb_id, "plot": "full", "apikey": self.api_key})
        if not isinstance(data, dict):
            raise SourceFailed("omdb: the answer is not a JSON object")
        if str(data.get("Response", "")).lower() != "true":
            error = str(data.get("Error") or "no Response field")
            if "limit" in error.lower() or "api key" in error.lower():
                raise self.stopped(401, "HTTP 200", self.base_url + "/", error)
            if "not found" in error.lower() or "incorrect imdb id" in error.lower():
                raise NotFound(f"omdb: {error}")
            raise SourceFailed(f"omdb: {error}")
        check_shape(data, ANSWER_SHAPE, f"omdb: the answer for {link.imdb_id}")
        return parse_omdb(data)

    def stopped(self, status: int, said: str, url: str, message: str = "", wait: float | None = None) -> MmimdbError:
        # OMDb answers a spent quota with 401 too: "Request limit reached!".
        if "limit" in message.lower():
            return super().stopped(429, said, url, f"{message} (the key's daily quota is spent; rerun tomorrow)", wait)
        return super().stopped(status, said, url, message, wait)


def _present(value: Any) -> bool:
    return value is not None and str(value).strip() not in ("", "N/A")


def parse_omdb(data: dict[str, Any]) -> Found:
    """Normalized fields from one OMDb JSON answer."""
    fields: dict[str, Any] = {}
    if _present(data.get("Title")):
        fields["title"] = str(data["Title"])
    year = re.match(r"^\s*([0-9]{4})", str(data.get("Year") or ""))
    if year:
        fields["year"] = int(year.group(1))
    if _present(data.get("Type")):
        fields["kind"] = KINDS.get(str(data["Type"]).lower(), str(data["Type"]).lower())
    genres = canonical_genres(split_list(data.get("Genre")))
    if genres:
        fields["genres"] = genres
    if _present(data.get("Plot")):
        fields["plot"] = [str(data["Plot"])]
    for field_name, key in (("directors", "Director"), ("writers", "Writer"), ("cast", "Actors")):
        credits = people(data.get(key))
        if credits:
            fields[field_name] = credits
    for field_name, key in (("languages", "Language"), ("countries", "Country")):
        values = split_list(data.get(key))
        if values:
            fields[field_name] = values
    runtime = re.match(r"^\s*([0-9]+)", str(data.get("Runtime") or ""))
    if runtime:
        fields["runtimes"] = [runtime.group(1)]
    if _present(data.get("Rated")):
        fields["certificates"] = [f"USA:{data['Rated']}"]
    if _present(data.get("Released")):
        fields["release_dates"] = [f"USA::{data['Released']}"]
    if _present(data.get("Awards")):
        fields["awards"] = str(data["Awards"])
    if _present(data.get("imdbRating")):
        try:
            fields["rating"] = float(data["imdbRating"])
        except ValueError:
            pass
    votes = str(data.get("imdbVotes") or "").replace(",", "")
    if ascii_digits(votes):
        fields["votes"] = int(votes)
    if ascii_digits(str(data.get("Metascore") or "")):
        fields["metascore"] = int(data["Metascore"])
    box_office = {key.lower(): data[key] for key in ("BoxOffice",) if _present(data.get(key))}
    if box_office:
        fields["box_office"] = {"gross": box_office["boxoffice"]}
    if _present(data.get("Production")):
        fields["production_companies"] = [{"name": name} for name in split_list(data["Production"])]
    extra = {key: data[key] for key in ("DVD", "Website", "Ratings", "totalSeasons") if _present(data.get(key)) and data[key] != []}
    if extra:
        fields["extra"] = {f"omdb {key}": value for key, value in extra.items()}
    poster = str(data["Poster"]) if _present(data.get("Poster")) else None
    return Found(fields, poster_url=poster)
