"""Where movie records come from. One module per source, all with the interface of
:class:`~mmimdb.fetch.sources.base.Source` (MovieLens links in, partial records out).

>>> sorted(SOURCES)
['archive', 'imdb-datasets', 'imdb-web', 'omdb', 'tmdb']
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import UsageError
from .archive import ArchiveSource
from .base import (Blocked, Found, KeyRefused, NotFound, RateLimited, Source, SourceFailed, SourceStopped,
                   SourceUnavailable)
from .imdb_datasets import ImdbDatasetsSource
from .imdb_web import ImdbWebSource
from .omdb import OmdbSource
from .tmdb import TmdbSource

SOURCES: dict[str, type[Source]] = {
    "archive": ArchiveSource,
    "imdb-datasets": ImdbDatasetsSource,
    "imdb-web": ImdbWebSource,
    "omdb": OmdbSource,
    "tmdb": TmdbSource,
}

__all__ = [
    "SOURCES", "SourceOptions", "make_sources", "Source", "Found", "NotFound", "SourceStopped", "Blocked",
    "RateLimited", "KeyRefused", "SourceFailed", "SourceUnavailable",
]


@dataclass
class SourceOptions:
    """What the sources need besides the ids: keys, base URLs, the TSV location, the database."""

    omdb_key: str | None = None
    tmdb_key: str | None = None
    omdb_url: str | None = None
    tmdb_url: str | None = None
    imdb_url: str | None = None
    imdb_datasets: str | None = None
    db_url: str | None = None
    archive_dir: str | None = None


def parse_source_names(values: list[str] | tuple[str, ...]) -> list[str]:
    """``["omdb,tmdb", "imdb-web"]`` -> ``["omdb", "tmdb", "imdb-web"]`` (order kept, checked)."""
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                continue
            if name not in SOURCES:
                raise UsageError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
            if name not in names:
                names.append(name)
    if not names:
        raise UsageError(f"give at least one --source ({', '.join(SOURCES)})")
    return names


def make_sources(names: list[str], options: SourceOptions) -> list[Source]:
    """The sources ``names``, in that order (the merge priority), configured from ``options``."""
    made: list[Source] = []
    for name in names:
        if name == "omdb":
            made.append(OmdbSource(options.omdb_key, options.omdb_url))
        elif name == "tmdb":
            made.append(TmdbSource(options.tmdb_key, options.tmdb_url))
        elif name == "imdb-web":
            made.append(ImdbWebSource(options.imdb_url))
        elif name == "imdb-datasets":
            made.append(ImdbDatasetsSource(options.imdb_datasets, options.db_url))
        elif name == "archive":
            made.append(ArchiveSource(options.archive_dir))
    return made
