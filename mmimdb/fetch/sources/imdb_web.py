"""IMDb title pages: read what a saved page or a mirror serves; stop at a bot firewall.

IMDb's own pages have sat behind a bot firewall since early 2026: automated requests get
HTTP 202 with an empty body (sometimes 403, or a challenge page). This source detects that
(:meth:`Source.get <mmimdb.fetch.sources.base.Source.get>` for the plain refusals,
:func:`is_challenge` for a challenge page), raises :class:`~mmimdb.fetch.sources.base.Blocked`
(the crawl stops, keeps everything, exits 3) and never tries to get around it. It is meant for pages at hand: a mirror, or saved pages
served locally (``--imdb-url`` takes a base URL, ``.../title/<id>/`` is appended, or a
template with ``{id}`` such as ``http://127.0.0.1:8000/{id}.html``).

Three page layouts are read, best first:

1. the ``__NEXT_DATA__`` JSON of the 2020s pages (``props.pageProps.aboveTheFoldData`` and
   ``mainColumnData``): plot, poster, genres and 50+ other fields;
2. the JSON-LD block (``application/ld+json``): title, poster, genres, year, rating,
   credits; its ``description`` is a generated sentence, kept in ``extra``, not the plot;
3. the itemprop microdata of the 2015-16 pages.
"""
from __future__ import annotations

import html
import json
import re
from typing import Any

from ...records.record import ascii_digits
from ..http import PoliteSession
from ..movielens import Link
from .base import Found, NotFound, Source, SourceFailed, canonical_genres, check_shape

#: IMDb title type id -> kind as IMDbPY spells it.
KINDS = {
    "movie": "movie", "tvSeries": "tv series", "tvMiniSeries": "tv mini series", "tvMovie": "tv movie",
    "tvEpisode": "episode", "short": "short", "tvShort": "tv short", "video": "video movie",
    "videoGame": "video game", "tvSpecial": "tv special", "tvPilot": "tv pilot",
}
#: Text that marks a bot-firewall challenge page rather than a title page.
CHALLENGE_MARKERS = ("awswaf", "captcha", "challenge-container", "robot check", "/errors/validatecaptcha", "enable javascript and cookies")
#: IMDb's poster URLs accept size modifiers; SX300 is the size the original posters had.
POSTER_WIDTH_SUFFIX = "._V1_SX300.jpg"

_NEXT_DATA = re.compile(r'<script[^>]*id="__NEXT_DATA__"[^>]*>(.*?)</script>', re.S)
_LD_JSON = re.compile(r'<script[^>]*type="application/ld\+json"[^>]*>(.*?)</script>', re.S)
_TAGS = re.compile(r"<[^>]+>")


class ImdbWebSource(Source):
    name = "imdb-web"
    default_url = "https://www.imdb.com"
    poster_hosts = ("m.media-amazon.com", "ia.media-imdb.com", "images-na.ssl-images-amazon.com")
    block_hint = ("IMDb's bot firewall, never worked around: use saved pages or a mirror (--imdb-url), "
                  "or other sources (--source imdb-datasets,omdb,tmdb)")

    def page_url(self, imdb_id: str) -> str:
        if "{id}" in self.base_url:
            return self.base_url.replace("{id}", imdb_id)
        return f"{self.base_url}/title/{imdb_id}/"

    def lookup(self, link: Link, session: PoliteSession) -> Found:
        url = self.page_url(link.imdb_id)
        response = self.get(session, url, headers={"Accept": "text/html", "Accept-Language": "en-US,en;q=0.8"})
        if is_challenge(response.status_code, response.content):
            said = f"HTTP {response.status_code} with a challenge page"
            raise self.stopped(403, said, url)
        if response.status_code in (404, 410):
            raise NotFound(f"imdb-web: HTTP {response.status_code}")
        if response.status_code != 200:
            raise SourceFailed(f"imdb-web: HTTP {response.status_code} from {url}")
        return parse_title_page(response.content.decode(response.encoding or "utf-8", "replace"), url)


def is_challenge(status: int, body: bytes) -> bool:
    """True for a bot firewall's challenge page (or its 405) in place of a title page; the
    plain refusals (202 with an empty body, 401, 403) are :func:`~mmimdb.fetch.http.refusal`'s."""
    if status == 405:
        return True
    if status not in (200, 202):
        return False
    text = body.decode("utf-8", "replace").lower()
    has_title_data = any(mark in text for mark in ("__next_data__", "application/ld+json", 'itemprop="name"'))
    return not has_title_data and any(marker in text for marker in CHALLENGE_MARKERS)


def parse_title_page(text: str, url: str = "") -> Found:
    """A partial record from a title page's HTML (``__NEXT_DATA__``, else JSON-LD, else microdata)."""
    match = _NEXT_DATA.search(text)
    if match:
        try:
            data = json.loads(match.group(1))
            props = data["props"]["pageProps"]
            if props.get("aboveTheFoldData") or props.get("mainColumnData"):
                return parse_next_data(props)
        except (ValueError, KeyError, TypeError, AttributeError):  # not the layout it was: try the next one
            pass
    for block in _LD_JSON.findall(text):
        try:
            data = json.loads(block)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("name"):
            check_shape(data, JSON_LD_SHAPE, f"imdb-web: the JSON-LD of {url or 'the page'}")
            return parse_json_ld(data)
    found = parse_microdata(text)
    if found is None:
        raise SourceFailed(f"imdb-web: {url or 'the page'} has no title data (__NEXT_DATA__, JSON-LD or microdata)")
    return found


# __NEXT_DATA__ ------------------------------------------------------------------------------

def _get(data: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data


def _edges(data: Any, *path: str) -> list[Any]:
    return [edge.get("node") for edge in (_get(data, *path) or []) if isinstance(edge, dict) and edge.get("node") is not None]


def _text(markup: Any) -> str:
    """Plain text of an IMDb Markdown/plaidHtml value."""
    if isinstance(markup, dict):
        markup = markup.get("plainText") or markup.get("plaidHtml") or markup.get("text") or ""
    return html.unescape(_TAGS.sub("", str(markup or ""))).strip()


def _merge(first: dict, second: dict) -> dict:
    """Both halves of the page data: keys of ``second`` fill in or extend ``first``."""
    merged = dict(first)
    for key, value in second.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **{k: v for k, v in value.items() if v is not None}}
        elif merged.get(key) is None:
            merged[key] = value
    return merged


def _credits(groups: Any) -> list[dict[str, Any]]:
    people = []
    for group in groups or []:
        for credit in (group or {}).get("credits") or []:
            name = _get(credit, "name", "nameText", "text")
            if name:
                person = {"name": name}
                if _get(credit, "name", "id"):
                    person["person_id"] = _get(credit, "name", "id")
                if credit.get("attributes"):
                    person["notes"] = " ".join(f"({a.get('text')})" for a in credit["attributes"] if a.get("text"))
                people.append(person)
    return people


def parse_next_data(props: dict[str, Any]) -> Found:
    """Normalized fields (and IMDbPY-named extras) from ``props.pageProps``."""
    page = _merge(props.get("aboveTheFoldData") or {}, props.get("mainColumnData") or {})
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}

    def put(target: dict, key: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            target[key] = value

    put(fields, "title", _get(page, "titleText", "text"))
    put(fields, "original_title", _get(page, "originalTitleText", "text"))
    put(fields, "year", _get(page, "releaseYear", "year"))
    kind_id = _get(page, "titleType", "id")
    put(fields, "kind", KINDS.get(kind_id, kind_id))
    put(fields, "genres", canonical_genres([g.get("text") or g.get("id") or "" for g in _get(page, "genres", "genres") or []]))
    outline = _text(_get(page, "plot", "plotText"))
    summaries = []
    for node in _edges(page, "summaries", "edges"):
        text = _text(_get(node, "plotText"))
        author = _get(node, "author")
        if text:
            summaries.append(f"{text}::{author}" if isinstance(author, str) and author else text)
    put(fields, "plot", ([outline] if outline else []) + [s for s in summaries if s.split("::")[0] != outline])
    put(fields, "plot_outline", outline)
    put(fields, "synopsis", [_text(_get(node, "plotText")) for node in _edges(page, "synopses", "edges") if _text(_get(node, "plotText"))])
    seconds = _get(page, "runtime", "seconds")
    put(fields, "runtimes", [str(int(seconds) // 60)] if seconds else None)
    put(fields, "certificates", [_get(page, "certificate", "rating")] if _get(page, "certificate", "rating") else None)
    put(fields, "rating", _get(page, "ratingsSummary", "aggregateRating"))
    put(fields, "votes", _get(page, "ratingsSummary", "voteCount"))
    put(fields, "akas", [node.get("text") for node in _edges(page, "akas", "edges") if node.get("text")])
    cast = []
    for node in _edges(page, "cast", "edges"):
        name = _get(node, "name", "nameText", "text")
        if name:
            person: dict[str, Any] = {"name": name}
            if _get(node, "name", "id"):
                person["person_id"] = _get(node, "name", "id")
            roles = [c.get("name") for c in node.get("characters") or [] if c.get("name")]
            if roles:
                person["role"] = roles if len(roles) > 1 else roles[0]
            cast.append(person)
    put(fields, "cast", cast)
    put(fields, "directors", _credits(page.get("directors")))
    put(fields, "writers", _credits(page.get("writers")))
    put(extra, "creator", _credits(page.get("creators")))
    put(fields, "production_companies", [
        {"name": _get(node, "company", "companyText", "text"), **({"company_id": _get(node, "company", "id")} if _get(node, "company", "id") else {})}
        for node in _edges(page, "production", "edges") if _get(node, "company", "companyText", "text")
    ])
    countries = _get(page, "countriesOfOrigin", "countries") or []
    put(fields, "countries", [c.get("text") for c in countries if c.get("text")])
    put(fields, "country_codes", [c.get("id").lower() for c in countries if c.get("id")])
    languages = _get(page, "spokenLanguages", "spokenLanguages") or []
    put(fields, "languages", [lang.get("text") for lang in languages if lang.get("text")])
    put(fields, "language_codes", [lang.get("id") for lang in languages if lang.get("id")])
    put(fields, "filming_locations", [node.get("text") for node in _edges(page, "filmingLocations", "edges") if node.get("text")])
    keywords = _edges(page, "storylineKeywords", "edges") or _edges(page, "keywords", "edges")
    put(fields, "keywords", [node.get("text") for node in keywords if node.get("text")])
    put(fields, "taglines", [node.get("text") for node in _edges(page, "taglines", "edges") if node.get("text")])
    specs = page.get("technicalSpecifications") or {}
    put(fields, "sound_mix", [item.get("text") for item in _get(specs, "soundMixes", "items") or [] if item.get("text")])
    ratios = [item.get("aspectRatio") for item in _get(specs, "aspectRatios", "items") or [] if item.get("aspectRatio")]
    put(fields, "aspect_ratio", ratios[0] if ratios else None)
    put(fields, "color_info", [item.get("text") for item in _get(specs, "colorations", "items") or [] if item.get("text")])
    release = page.get("releaseDate") or {}
    if release.get("year"):
        date = "-".join(f"{part:02d}" for part in (release.get("year"), release.get("month"), release.get("day")) if part)
        put(fields, "release_dates", [f"{_get(release, 'country', 'text') or ''}::{date}"])
    if isinstance(page.get("isAdult"), bool):
        fields["adult"] = page["isAdult"]
    put(fields, "box_office", {
        key: _get(page, source, "total", "amount") if _get(page, source, "total") else _get(page, source, "budget", "amount")
        for key, source in (("budget", "productionBudget"), ("worldwide gross", "worldwideGross"),
                            ("lifetime gross", "lifetimeGross"), ("opening weekend gross", "openingWeekendGross"))
        if page.get(source)
    })
    put(fields, "metascore", _get(page, "metacritic", "metascore", "score"))
    wins, nominations = _get(page, "wins", "total"), _get(page, "nominations", "total")
    prestigious = page.get("prestigiousAwardSummary") or {}
    if wins is not None or nominations is not None:
        lead = ""
        if prestigious.get("wins"):
            lead = f"Won {prestigious['wins']} {_get(prestigious, 'award', 'text')}. "
        elif prestigious.get("nominations"):
            lead = f"Nominated for {prestigious['nominations']} {_get(prestigious, 'award', 'text')}. "
        put(fields, "awards", f"{lead}{wins or 0} wins & {nominations or 0} nominations")

    # What the schema does not name travels in ``extra`` under IMDbPY-style names.
    put(extra, "number of seasons", len(_get(page, "episodes", "seasons") or []) or None)
    put(extra, "number of episodes", _get(page, "episodes", "episodes", "total"))
    put(extra, "series years", f"{_get(page, 'releaseYear', 'year')}-{_get(page, 'releaseYear', 'endYear') or ''}" if _get(page, "titleType", "isSeries") else None)
    put(extra, "trivia", [_text(_get(node, "text")) for node in _edges(page, "trivia", "edges")])
    put(extra, "goofs", [_text(_get(node, "text")) for node in _edges(page, "goofs", "edges")])
    put(extra, "quotes", [
        " ".join(filter(None, ((line.get("characters") or [{}])[0].get("character", "") + ": " + line["text"] if line.get("text") else f"[{line.get('stageDirection')}]"
                                for line in node.get("lines") or [])))
        for node in _edges(page, "quotes", "edges")
    ])
    put(extra, "faqs", [_text(_get(node, "question")) for node in _edges(page, "faqs", "edges")])
    put(extra, "connections", [f"{_get(node, 'category', 'text')}: {_get(node, 'associatedTitle', 'titleText', 'text')} ({_get(node, 'associatedTitle', 'id')})" for node in _edges(page, "connections", "edges")])
    put(extra, "alternate versions", [_text(_get(node, "text")) for node in _edges(page, "alternateVersions", "edges")])
    put(extra, "crazy credits", [_text(_get(node, "text")) for node in _edges(page, "crazyCredits", "edges")])
    put(extra, "soundtrack", [_text(_get(node, "text")) for node in _edges(page, "soundtrack", "edges")])
    put(extra, "recommendations", [node.get("id") for node in _edges(page, "moreLikeThisTitles", "edges") if node.get("id")])
    put(extra, "meter ranking", _get(page, "meterRanking", "currentRank"))
    top = _get(page, "ratingsSummary", "topRanking") or {}
    put(extra, "top ranking", f"{_get(top, 'text', 'value')} #{top.get('rank')}" if top.get("rank") else None)
    put(extra, "production status", _get(page, "productionStatus", "currentProductionStage", "text"))
    put(extra, "official sites", [f"{node.get('label')}::{node.get('url')}" for node in _edges(page, "detailsExternalLinks", "edges") if node.get("url")])
    put(extra, "featured reviews", [
        {"author": _get(node, "author", "nickName"), "summary": _get(node, "summary", "originalText"), "text": _text(_get(node, "text", "originalText"))}
        for node in _edges(page, "featuredReviews", "edges")
    ])
    put(extra, "news", [_text(_get(node, "articleTitle")) for node in _edges(page, "news", "edges")])
    put(extra, "videos", [_get(node, "name", "value") or _get(node, "description", "value") for node in _edges(page, "primaryVideos", "edges") + _edges(page, "videoStrip", "edges")])
    put(extra, "image ids", [node.get("id") for node in _edges(page, "titleMainImages", "edges") if node.get("id")])
    for key, path in (
        ("number of user reviews", ("reviews", "total")), ("number of critic reviews", ("criticReviewsTotal", "total")),
        ("number of trivia", ("triviaTotal", "total")), ("number of goofs", ("goofsTotal", "total")),
        ("number of quotes", ("quotesTotal", "total")), ("number of faqs", ("faqsTotal", "total")),
        ("number of credits", ("credits", "total")), ("number of companies", ("companies", "total")),
        ("number of images", ("images", "total")), ("number of videos", ("videos", "total")),
        ("number of external links", ("externalLinks", "total")), ("number of keywords", ("keywords", "total")),
        ("number of taglines", ("taglines", "total")), ("number of filming locations", ("filmingLocations", "total")),
        ("number of parents guide items", ("parentsGuide", "guideItems", "total")),
        ("number of nominations", ("nominations", "total")), ("number of wins", ("wins", "total")),
    ):
        put(extra, key, _get(page, *path))
    put(extra, "certificate reason", _get(page, "certificate", "ratingReason"))
    if extra:
        fields["extra"] = extra
    poster = _get(page, "primaryImage", "url")
    return Found(fields, poster_url=sized_poster_url(poster) if poster else None, full_size_poster_url=poster)


def sized_poster_url(url: str) -> str:
    """IMDb image URL at the poster size of the original dataset (300 px wide)."""
    match = re.match(r"^(.*?)\._V1_.*\.(jpg|jpeg|png)$", url)
    return f"{match.group(1)}{POSTER_WIDTH_SUFFIX}" if match else url


# JSON-LD ------------------------------------------------------------------------------------

_TEXT = {"type": ["string", "null"]}
_PERSONS = {"if": {"type": "array"}, "then": {"items": {"if": {"type": "object"}, "then": {"properties": {"name": _TEXT}}}},
            "else": {"if": {"type": "object"}, "then": {"properties": {"name": _TEXT}}}}
#: The shape of the JSON-LD (schema.org Movie) that :func:`parse_json_ld` reads.
JSON_LD_SHAPE = {"type": "object", "properties": {
    "name": {"type": ["string", "number"]}, "genre": {"type": ["string", "array", "null"], "items": {"type": "string"}},
    "datePublished": _TEXT, "image": _TEXT, "duration": _TEXT,
    "aggregateRating": {"type": ["object", "null"], "properties": {
        "ratingValue": {"type": ["number", "string", "null"], "pattern": r"^[0-9]+(\.[0-9]+)?$"},
        "ratingCount": {"type": ["integer", "string", "null"], "pattern": "^[0-9]+$"}}},
    "actor": _PERSONS, "director": _PERSONS, "creator": _PERSONS,
}}


def _names(value: Any) -> list[dict[str, str]]:
    items = value if isinstance(value, list) else [value] if value else []
    return [{"name": html.unescape(item["name"])} for item in items if isinstance(item, dict) and item.get("name") and item.get("@type") == "Person"]


def parse_json_ld(data: dict[str, Any]) -> Found:
    """Normalized fields from a title page's JSON-LD object."""
    fields: dict[str, Any] = {"title": html.unescape(str(data["name"]))}
    genre = data.get("genre")
    genres = canonical_genres(genre if isinstance(genre, list) else [genre] if genre else [])
    if genres:
        fields["genres"] = genres
    year = re.match(r"^([0-9]{4})", str(data.get("datePublished") or ""))
    if year:
        fields["year"] = int(year.group(1))
    rating = data.get("aggregateRating") or {}
    if rating.get("ratingValue") is not None:
        fields["rating"] = float(rating["ratingValue"])
    if rating.get("ratingCount") is not None:
        fields["votes"] = int(rating["ratingCount"])
    minutes = _iso_minutes(data.get("duration"))
    if minutes:
        fields["runtimes"] = [str(minutes)]
    if data.get("contentRating"):
        fields["certificates"] = [str(data["contentRating"])]
    for field_name, key in (("cast", "actor"), ("directors", "director")):
        if _names(data.get(key)):
            fields[field_name] = _names(data.get(key))
    if _names(data.get("creator")):
        fields["writers"] = _names(data.get("creator"))
    if data.get("keywords"):
        fields["keywords"] = [k.strip() for k in str(data["keywords"]).split(",") if k.strip()]
    if data.get("description"):
        fields["extra"] = {"ld+json description": html.unescape(str(data["description"]))}
    kind = {"Movie": "movie", "TVSeries": "tv series", "TVEpisode": "episode"}.get(str(data.get("@type")))
    if kind:
        fields["kind"] = kind
    image = data.get("image")
    return Found(fields, poster_url=sized_poster_url(image) if image else None, full_size_poster_url=image)


def _iso_minutes(value: Any) -> int | None:
    match = re.match(r"^PT(?:([0-9]+)H)?(?:([0-9]+)M)?", str(value or ""))
    if not match or not any(match.groups()):
        return None
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


# 2015-16 microdata --------------------------------------------------------------------------

def parse_microdata(text: str) -> Found | None:
    """Normalized fields from a 2015-16 title page (itemprop microdata), or None."""
    from lxml import etree, html as lxml_html

    try:
        tree = lxml_html.fromstring(text)
    except (etree.ParserError, ValueError):  # an empty page, or one lxml cannot read: no microdata
        return None
    heading = tree.xpath("//div[contains(@class,'title_wrapper')]//h1[@itemprop='name']") or tree.xpath("//h1[@itemprop='name']")
    if not heading:
        return None
    h1 = heading[0]
    title = (h1.text or "").replace("\xa0", " ").strip()
    if not title:
        return None
    fields: dict[str, Any] = {"title": title}
    year = h1.xpath(".//span[@id='titleYear']//a/text()")
    if year and ascii_digits(year[0].strip()):
        fields["year"] = int(year[0].strip())
    original = tree.xpath("//div[contains(@class,'title_wrapper')]//div[@class='originalTitle']/text()")
    if original and original[0].strip():
        fields["original_title"] = original[0].strip()
    genres = tree.xpath("//div[contains(@class,'title_wrapper')]//span[@itemprop='genre']/text()") or tree.xpath("//div[@itemprop='genre']//a/text()")
    if canonical_genres([g.strip() for g in genres]):
        fields["genres"] = canonical_genres([g.strip() for g in genres])
    summary = tree.xpath("//div[contains(@class,'summary_text') and @itemprop='description']")
    plot = (summary[0].text or "").strip() if summary else ""  # the text before "See full summary"
    storyline = tree.xpath("//div[@id='titleStoryLine']//div[@itemprop='description']//p")
    long_plot = " ".join(" ".join(storyline[0].xpath("text()")).split()) if storyline else ""
    plots = list(dict.fromkeys(p for p in (" ".join(plot.split()), long_plot) if p))
    if plots:
        fields["plot"] = plots
        fields["plot_outline"] = plots[0]
    rating = tree.xpath("//span[@itemprop='ratingValue']/text()")
    if rating:
        try:
            fields["rating"] = float(rating[0])
        except ValueError:
            pass
    votes = tree.xpath("//span[@itemprop='ratingCount']/text()")
    if votes and ascii_digits(votes[0].replace(",", "")):
        fields["votes"] = int(votes[0].replace(",", ""))
    certificate = tree.xpath("//div[contains(@class,'title_wrapper')]//meta[@itemprop='contentRating']/@content")
    if certificate:
        fields["certificates"] = [certificate[0]]
    duration = tree.xpath("//div[contains(@class,'title_wrapper')]//time[@itemprop='duration']/@datetime")
    if duration and _iso_minutes(duration[0]):
        fields["runtimes"] = [str(_iso_minutes(duration[0]))]
    for field_name, prop in (("directors", "director"), ("cast", "actors"), ("writers", "creator")):
        names = tree.xpath(f"//div[contains(@class,'plot_summary')]//span[@itemprop='{prop}']//span[@itemprop='name']/text()")
        if names:
            fields[field_name] = [{"name": name.strip()} for name in names if name.strip()]
    keywords = tree.xpath("//div[@itemprop='keywords']//span[@itemprop='keywords']/text()")
    if keywords:
        fields["keywords"] = [k.strip() for k in keywords if k.strip()]
    poster = tree.xpath("//div[@class='poster']//img[@itemprop='image']/@src")
    return Found(fields, poster_url=poster[0] if poster else None)
