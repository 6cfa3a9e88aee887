"""PostgreSQL for the fetch stage: the crawl state's shared queue (``fetch --state-url``)
and the IMDb TSV database (``fetch --db-url``). One driver, psycopg 3 (the ``postgres``
extra); URLs are ``postgresql://user[:password]@host[:port]/database``.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import UsageError

SCHEMES = ("postgresql", "postgres")
EXTRA_HINT = "pip install 'mmimdb[postgres]'"


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.split("://", 1)[0].split("+", 1)[0] in SCHEMES


def masked(url: str) -> str:
    """``url`` without its password (for messages and reports)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=user.split(":", 1)[0] + ":***@" + host))


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy URL for ``url``: plain ``postgresql://`` would pick psycopg2, which
    is not installed; the driver is psycopg 3 (``postgresql+psycopg://``)."""
    scheme, rest = url.split("://", 1)
    if scheme in SCHEMES:
        return "postgresql+psycopg://" + rest
    return url


def require_driver(url: str, what: str) -> None:
    """A one-line error naming the extra when psycopg is missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise UsageError(f"{what} {masked(url)}: PostgreSQL needs the postgres extra: {EXTRA_HINT}") from None


def connect(url: str, what: str = "--state-url") -> Any:
    """An autocommit psycopg connection to ``url``; one-line errors for a missing driver
    or an unreachable server."""
    require_driver(url, what)
    import psycopg

    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name="mmimdb")
    except psycopg.Error as error:
        raise UsageError(f"{what} {masked(url)}: cannot connect ({' '.join(str(error).split())[:300]})") from None
    return connection
