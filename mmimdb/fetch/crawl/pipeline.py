"""The record pipeline of one IMDb id: ask every source, merge, get the poster, write.

Merge rule: for every field, the first source (in ``--source`` order) that gives a
non-empty value wins, and ``record["sources"][field]`` names it; ``extra`` keys are
collected from all sources (each source prefixes its own); the poster is the first
source's poster URL that downloads and decodes. ``movielens_id`` and ``tmdb_id`` come from
links.csv (provenance ``movielens``). Movies without a poster are not written (as in the
paper). The store writes the poster first and the JSON last, atomically.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError, ReadTimeoutError

from ...records import posters
from ...records.store import RecordStore
from ...errors import MmimdbError, RecordError, StoppedEarly
from ..http import HostUnresolvable, PoliteSession, refusal
from ..movielens import Link
from ..sources.base import Found, NotFound, Source, SourceFailed, SourceUnavailable


@dataclass
class Outcome:
    """How one id ended in this run.

    ``answered`` names the sources that answered (found, not found, or an answer that could
    not be used); ``unavailable`` maps the sources that gave no answer (5xx after the
    retries, a lost connection, ...) to what happened: the engine stops a source that keeps
    giving no answer (:mod:`.health`)."""

    imdb_id: str
    status: str
    error: str | None = None
    sources: list[str] = field(default_factory=list)
    found_by: list[str] = field(default_factory=list)
    not_found_by: list[str] = field(default_factory=list)
    failed_at: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)


def describe(error: BaseException) -> str:
    """One line for an exception raised while fetching one id."""
    if isinstance(error, MmimdbError):
        return str(error)
    reason = getattr(error.args[0], "reason", None) if getattr(error, "args", None) else None
    # urllib3 makes a failed name lookup and a refused connection kinds of ConnectTimeoutError:
    # ask about them first, or a typo in a host name reads "timed out".
    if isinstance(reason, NameResolutionError):
        url = _url_of(error)
        return f"{urlsplit(url).hostname or 'the host'} does not resolve (DNS): {url}"
    if isinstance(reason, NewConnectionError):
        return f"connection failed: {_url_of(error)}"
    if isinstance(error, requests.Timeout) or isinstance(reason, (ReadTimeoutError, ConnectTimeoutError)):
        return f"timed out: {_url_of(error)}"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return f"connection broken mid-body (truncated answer): {_url_of(error)}"
    if isinstance(error, requests.ConnectionError):
        return f"connection failed: {_url_of(error)}"
    if isinstance(error, requests.RequestException):
        return f"{type(error).__name__}: {_url_of(error)}"
    return f"{type(error).__name__}: {error}"


def _url_of(error: requests.RequestException) -> str:
    url = getattr(getattr(error, "request", None), "url", None) or ""
    return url.split("?", 1)[0] or str(error).splitlines()[0][:200]


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the source gave no answer at all (rather than an answer that
    could not be used): what, repeated, stops a crawl."""
    if isinstance(error, (SourceUnavailable, HostUnresolvable)):
        return True
    if isinstance(error, requests.RequestException):
        return isinstance(error, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError))
    return isinstance(error, OSError)


class _PosterMissing(Exception):
    pass


def fetch_poster(url: str, source: Source, session: PoliteSession, imdb_id: str) -> tuple[bytes, posters.PosterInfo]:
    """Download the poster at ``url`` from ``source``'s hosts and check that it decodes.

    One refused poster (a 403 may be one image's access rule) fails only this id; a poster
    host that keeps refusing stops the crawl through :mod:`.health`."""
    response = session.fetch(url, allowlist=source.allowlist(), max_bytes=posters.MAX_POSTER_BYTES)
    if response.status_code in (404, 410):
        raise _PosterMissing(f"poster {url} answered HTTP {response.status_code}")
    said = refusal(response.status_code, response.content)
    if said:
        raise SourceUnavailable(f"{source.name}: poster {url} answered {said}")
    if response.status_code != 200:
        raise SourceFailed(f"poster {url}: HTTP {response.status_code}")
    return response.content, posters.check_poster(response.content, f"{imdb_id} poster")


def _failed(outcome: Outcome, source: Source, message: str, error: BaseException) -> None:
    """Note that ``source`` failed this id, and whether it answered at all."""
    if not message.startswith(source.name):
        message = f"{source.name}: {message}"
    outcome.failed_at.append(source.name)
    if is_unavailable(error):
        outcome.unavailable[source.name] = message
    elif source.name not in outcome.answered:
        outcome.answered.append(source.name)


def merge(link: Link, founds: list[tuple[Source, Found]]) -> dict[str, Any]:
    """The merged record of ``link``'s movie: first non-empty value per field wins."""
    record: dict[str, Any] = {"imdb_id": link.imdb_id}
    provenance: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for source, found in founds:
        for key, value in found.fields.items():
            if key == "extra":
                for extra_key, extra_value in value.items():
                    extra.setdefault(extra_key, extra_value)
            elif key not in record and value not in (None, "", [], {}):
                record[key] = value
                provenance[key] = source.name
    record["movielens_id"] = link.movielens_id
    provenance["movielens_id"] = "movielens"
    if link.tmdb_id:
        record["tmdb_id"] = link.tmdb_id
        provenance["tmdb_id"] = "movielens"
    if extra:
        record["extra"] = extra
    record["sources"] = provenance
    return record


def crawl_one(link: Link, sources: list[Source], session: PoliteSession, store: RecordStore) -> Outcome:
    """Ask every source about ``link``, merge, get the poster, write. Raises
    :class:`~mmimdb.fetch.sources.base.SourceStopped` (stop everything); every other failure
    ends in the returned :class:`Outcome`."""
    outcome = Outcome(link.imdb_id, "error")
    founds: list[tuple[Source, Found]] = []
    errors: list[str] = []
    for source in sources:
        if source.needs_tmdb_id and not link.tmdb_id:
            outcome.not_found_by.append(source.name)  # not asked: says nothing of its health
            continue
        try:
            founds.append((source, source.lookup(link, session)))
            outcome.found_by.append(source.name)
            outcome.answered.append(source.name)
        except StoppedEarly:  # blocked, a refused key, rate-limited: stop everything
            raise
        except NotFound:
            outcome.not_found_by.append(source.name)
            outcome.answered.append(source.name)
        except MmimdbError as error:
            if error.exit_code == 2:  # a usage error: no id can succeed
                raise
            errors.append(describe(error) if str(error).startswith(source.name) else f"{source.name}: {describe(error)}")
            _failed(outcome, source, errors[-1], error)
        except (requests.RequestException, OSError, ValueError, KeyError, TypeError) as error:
            errors.append(f"{source.name}: {describe(error)}")
            _failed(outcome, source, errors[-1], error)
    if errors:
        # A source failed for a reason that may pass: try the id again later rather than
        # write a record that lacks that source's fields.
        outcome.error = "; ".join(errors)
        return outcome
    if not founds:
        outcome.status = "not-found"
        outcome.error = "not found by " + ", ".join(outcome.not_found_by)
        return outcome
    record = merge(link, founds)
    poster_errors: list[str] = []
    for source, found in founds:
        if not found.poster_url and found.poster_data is None:
            continue
        try:
            if found.poster_data is not None:  # a local source (the release) has the file
                data, info = found.poster_data, posters.check_poster(found.poster_data, f"{link.imdb_id} poster")
            else:
                data, info = fetch_poster(found.poster_url, source, session, link.imdb_id)
        except _PosterMissing as missing:
            poster_errors.append(str(missing))
            continue
        except StoppedEarly:
            raise
        except (MmimdbError, requests.RequestException, OSError) as error:
            poster_errors.append(describe(error))
            _failed(outcome, source, poster_errors[-1], error)
            continue
        poster = {"url": found.poster_url} if found.poster_url else {}
        if found.full_size_poster_url:
            poster["full_size_url"] = found.full_size_poster_url
        record["poster"] = {**poster, **info.record_fields()}
        record["sources"]["poster"] = source.name
        try:
            store.write(record, data)
        except RecordError as error:
            outcome.error = str(error)
            return outcome
        except OSError as error:  # a full or read-only disk: no id can be written
            raise MmimdbError(f"{store.directory}: cannot write {link.imdb_id} ({error.strerror or error})") from None
        outcome.status = "done"
        outcome.sources = sorted(set(record["sources"].values()) - {"movielens"})
        return outcome
    if outcome.failed_at:
        outcome.error = "; ".join(poster_errors)
        return outcome
    outcome.status = "no-poster"
    outcome.error = "; ".join(poster_errors) or "no source gave a poster"
    outcome.sources = [source.name for source, _ in founds]
    return outcome
