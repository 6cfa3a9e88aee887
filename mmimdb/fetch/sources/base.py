"""What every source is: ids in, partial records out.

A source knows what a movie record is on one site (which URL to ask, how to read the
answer); it never sends a request itself except through the :class:`~mmimdb.fetch.http.PoliteSession`
it is handed, and it never writes anything: the crawl engine (:mod:`mmimdb.fetch.crawl`) merges
the partial records, downloads and checks the poster, and hands the record to the store.

A lookup ends in one of five ways:

- a :class:`Found` (fields in the normalized schema, plus poster URLs);
- :class:`NotFound`: the source has no such title (final for this source);
- a :class:`SourceStopped` (:class:`Blocked`: a firewall's 202 with an empty body, 403;
  :class:`KeyRefused`: 401; :class:`RateLimited`: 429 after the retries, a spent quota):
  stop the whole crawl at once, keep everything, exit 3;
- :class:`SourceUnavailable` (5xx after the retries, a connection that failed, a host that
  does not resolve, a database that cannot be read): this id failed, and when a source
  fails this way for several ids in a row the crawl stops too
  (:mod:`mmimdb.fetch.crawl.health`);
- any other :class:`~mmimdb.errors.MmimdbError` or a requests exception: this id failed
  (status ``error``; ``--retry-failed`` tries it again).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from ...errors import MmimdbError, StoppedEarly, UsageError
from ..http import HostAllowlist, PoliteSession, is_loopback_url, refusal, retry_after_seconds
from ..movielens import Link


@dataclass
class Found:
    """A partial record: normalized fields (no ``imdb_id``) and where its poster is
    (a URL to download, or the bytes themselves for a local source)."""

    fields: dict[str, Any]
    poster_url: str | None = None
    full_size_poster_url: str | None = None
    poster_data: bytes | None = None


class NotFound(MmimdbError):
    """The source has no title with this id."""


class SourceStopped(StoppedEarly):
    """The source refuses this crawl: stop it now, keep everything, rerun later to resume."""


class Blocked(SourceStopped):
    """The site refuses automated requests (a bot firewall). Never worked around."""


class RateLimited(SourceStopped):
    """The site says to slow down or that the daily quota is spent."""


class KeyRefused(SourceStopped):
    """The site refuses the API key (HTTP 401): no id can succeed with it."""


class SourceFailed(MmimdbError):
    """This id failed at this source (an answer that cannot be read, a bad poster)."""


class SourceUnavailable(SourceFailed):
    """The source did not answer (5xx after the retries, a lost connection, a database
    error); several in a row stop the crawl."""


#: What a user can do after each way of being stopped.
NEXT_STEP = "everything fetched is kept; rerun the same command to resume"


class Source(ABC):
    """One place movie data comes from. Subclasses set ``name``, ``default_url`` and
    ``poster_hosts`` and implement :meth:`lookup`."""

    name: ClassVar[str]
    default_url: ClassVar[str]
    #: Hosts this source's posters may come from (besides its own base URL's host).
    poster_hosts: ClassVar[tuple[str, ...]] = ()
    #: Whether a lookup needs the TMDb id rather than the IMDb id.
    needs_tmdb_id: ClassVar[bool] = False
    #: Where the user sets this source's API key (named when the key is refused).
    key_option: ClassVar[str] = ""
    #: What the user can do when this source blocks the crawl (said in the stop message).
    block_hint: ClassVar[str] = ""

    def __init__(self, base_url: str | None = None):
        self.base_url = (base_url or self.default_url).rstrip("/")
        if urlsplit(self.base_url.replace("{id}", "x")).scheme not in ("http", "https"):
            raise UsageError(f"{self.name}: base URL {self.base_url!r} must start with http:// or https://")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    @property
    def is_loopback(self) -> bool:
        """True when the base URL is a loopback server (a test server or a local mirror)."""
        return is_loopback_url(self.base_url.replace("{id}", "x"))

    def allowlist(self) -> HostAllowlist:
        """The hosts this source's requests and posters may go to."""
        own = urlsplit(self.base_url.replace("{id}", "x")).hostname or ""
        return HostAllowlist.of((own, *self.poster_hosts))

    def prepare(self, session: PoliteSession, root: Path, progress: bool = True) -> None:
        """One-off work before the first lookup (e.g. import a database). Default: none."""

    @abstractmethod
    def lookup(self, link: Link, session: PoliteSession) -> Found:
        """The partial record of ``link``'s movie, or raise :class:`NotFound` & co."""

    def close(self) -> None:
        """Release what :meth:`prepare` opened."""

    # Helpers for HTTP sources -------------------------------------------------------------

    def get(self, session: PoliteSession, url: str, params: dict | None = None, headers: dict | None = None) -> requests.Response:
        """GET through the polite session, only to this source's hosts. A refusing answer
        (:func:`~mmimdb.fetch.http.refusal`) raises at once: 202 with an empty body or 403
        :class:`Blocked`, 401 :class:`KeyRefused`, 429 (after the retries)
        :class:`RateLimited`; 5xx after the retries raises :class:`SourceUnavailable`."""
        response = session.fetch(url, allowlist=self.allowlist(), params=params, headers=headers)
        said = refusal(response.status_code, response.content)
        if said is None:
            return response
        raise self.stopped(response.status_code, said, _short(response.url), _message_in(response),
                           retry_after_seconds(response))

    def stopped(self, status: int, said: str, url: str, message: str = "", wait: float | None = None) -> MmimdbError:
        """The error for a refusing answer ``status`` (``said`` in words) from ``url``;
        ``message`` is what the body says (OMDb's ``Error``, TMDb's ``status_message``),
        ``wait`` its Retry-After."""
        answer = f"{url} answered {said}" + (f": {message}" if message else "")
        if status == 429:
            hint = f" (it asks to wait {wait:.0f} s)" if wait else ""
            return RateLimited(f"{self.name} is rate-limiting this crawl: {answer}{hint}; {NEXT_STEP}")
        if status == 401:
            where = f" (check {self.key_option})" if self.key_option else ""
            return KeyRefused(f"{self.name} refuses the key: {answer}{where}; {NEXT_STEP}")
        if status >= 500:
            return SourceUnavailable(f"{self.name}: {answer}")
        hint = f" ({self.block_hint})" if self.block_hint else ""
        return Blocked(f"{self.name} is blocked: {answer}{hint}; {NEXT_STEP}")

    def get_json(self, session: PoliteSession, url: str, params: dict | None = None, headers: dict | None = None) -> Any:
        response = self.get(session, url, params, headers)
        if response.status_code == 404:
            raise NotFound(f"{self.name}: not found")
        if response.status_code != 200:
            raise SourceFailed(f"{self.name}: HTTP {response.status_code} from {_short(response.url)}")
        try:
            return response.json()
        except ValueError:
            raise SourceFailed(f"{self.name}: the answer from {_short(response.url)} is not JSON") from None


def _message_in(response: requests.Response) -> str:
    """The error message an API put in its JSON body (OMDb ``Error``, TMDb
    ``status_message``), or ""."""
    try:
        answer = response.json()
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    return str(answer.get("Error") or answer.get("status_message") or "")[:200]


def _short(url: str | None) -> str:
    """A URL without its query string (which may hold an API key)."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def check_shape(data: Any, schema: dict[str, Any], what: str) -> None:
    """Raise :class:`SourceFailed` (one line, naming the first value out of place) when an
    answer ``data`` is not of the shape ``schema`` (a JSON Schema of what the parser reads)
    says: a parser then reads only the types it expects."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path).lstrip(".")
        got = type(error.instance).__name__.replace("NoneType", "null").replace("str", "text")
        raise SourceFailed(f"{what} is not of the documented shape: {where or 'the answer'} is {got} "
                           f"({error.validator} {error.validator_value!r} expected)"[:300])


def people(names: str | list[str] | None) -> list[dict[str, Any]]:
    """``[{"name": ...}, ...]`` from a comma-separated string or a list; credits such as
    ``"Name (screenplay)"`` keep the parenthesis in ``notes`` as IMDbPY did."""
    import re

    if not names:
        return []
    items = names.split(",") if isinstance(names, str) else names
    result = []
    for item in items:
        item = item.strip()
        if not item or item == "N/A":
            continue
        match = re.match(r"^(.*?)\s*(\(.*\))?$", item)
        name, notes = match.group(1).strip(), match.group(2)
        if name:
            result.append({"name": name, "notes": notes} if notes else {"name": name})
    return result


def split_list(value: str | None) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]``; ``"N/A"`` and empty -> ``[]``."""
    if not value or value.strip() == "N/A":
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def canonical_genres(names: list[str]) -> list[str]:
    """IMDb's spelling of each genre name, unknown names left out, order kept, no repeats."""
    from ...records.genres import canonical_genre

    result = []
    for name in names:
        genre = canonical_genre(name)
        if genre and genre not in result:
            result.append(genre)
    return result
