"""Which hosts and addresses a session may reach: the one place that decides it.

Requests go only to public addresses, except when the work itself targets a loopback
server (a test server, a local mirror of saved pages, a file server on this machine): then
private and loopback addresses are allowed too, because the user pointed us there.
"""
from __future__ import annotations

from typing import Any, Iterable

from .http import PoliteSession, is_loopback_url


def allows_private(urls: Iterable[str]) -> bool:
    """True when any of ``urls`` (the sources' or the download's own) is a loopback URL."""
    return any(is_loopback_url(url) for url in urls if url)


def crawl_session(sources: Iterable[Any], *, rate: float, concurrency: int, timeout: float,
                  retries: int) -> PoliteSession:
    """The polite session of a crawl with ``sources`` (each says whether it is a loopback
    server: :attr:`mmimdb.fetch.sources.base.Source.is_loopback`)."""
    return PoliteSession(rate=rate, concurrency=concurrency, timeout=(min(10.0, timeout), timeout),
                         retries=retries, allow_private=any(source.is_loopback for source in sources))


def download_session(url: str) -> PoliteSession:
    """A session for one download: no pacing (one stream), a long read timeout, few retries."""
    return PoliteSession(rate=0, concurrency=1, timeout=(10.0, 60.0), retries=2,
                         allow_private=allows_private([url]))
