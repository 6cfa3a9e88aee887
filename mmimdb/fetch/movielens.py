"""MovieLens ``links.csv``: the list of movies a crawl starts from.

``--movielens`` takes a release name (downloaded once from GroupLens, checked, cached under
``<root>/downloads/``) or a local ``links.csv``, a release zip, or an unpacked release
folder. GroupLens terms forbid redistribution, so releases are fetched at run time.

>>> links = read_links_text("movieId,imdbId,tmdbId\\n1,0114709,862\\n")
>>> links[0].imdb_id, links[0].tmdb_id
('tt0114709', '862')
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..storage.checksums import file_digest
from ..errors import DownloadError, UsageError
from ..paths import downloads_dir

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/"


@dataclass(frozen=True)
class Release:
    """A GroupLens release zip and the MD5 GroupLens publishes for it (``<zip>.md5``).

    ``md5`` is None for the releases GroupLens rebuilds from time to time (``ml-latest*``):
    their published ``.md5`` file is read at download time instead.
    """

    name: str
    md5: str | None

    @property
    def url(self) -> str:
        return f"{GROUPLENS_URL}{self.name}.zip"


#: The releases ``--movielens NAME`` knows. ml-20m is the one the original crawl read.
RELEASES: dict[str, Release] = {
    "ml-20m": Release("ml-20m", "cd245b17a1ae2cc31bb14903e1204af3"),
    "ml-25m": Release("ml-25m", "6b51fb2759a8657d3bfcbfc42b592ada"),
    "ml-32m": Release("ml-32m", None),
    "ml-latest": Release("ml-latest", None),
    "ml-latest-small": Release("ml-latest-small", None),
}


@dataclass(frozen=True)
class Link:
    """One row of links.csv: the MovieLens id, the IMDb id (``tt`` + 7 digits), the TMDb id."""

    movielens_id: str
    imdb_id: str
    tmdb_id: str | None
    line: int = 0


class MalformedLinks(UsageError):
    """links.csv rows that cannot be read; the message lists their line numbers."""

    def __init__(self, source: str, problems: list[tuple[int, str]]):
        self.problems = problems
        shown = "; ".join(f"line {line}: {why}" for line, why in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{source}: {len(problems)} malformed row(s): {shown}{more}")


_DIGITS = re.compile(r"^[0-9]{1,8}$")


def read_links_text(text: str, source: str = "links.csv", strict: bool = True) -> list[Link]:
    """Parse links.csv text. Malformed rows raise :class:`MalformedLinks` naming their
    line numbers (``strict``), or are skipped and listed in the returned object's
    ``problems`` attribute (``strict=False``)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise UsageError(f"{source}: empty file")
    columns = [name.strip().lstrip("\ufeff") for name in header]
    try:
        movie_col, imdb_col, tmdb_col = (columns.index(name) for name in ("movieId", "imdbId", "tmdbId"))
    except ValueError:
        raise UsageError(f"{source}: line 1: expected the header movieId,imdbId,tmdbId, got {','.join(columns)!r}") from None
    links: list[Link] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            problems.append((line, f"{len(row)} fields, expected {len(columns)}"))
            continue
        movie_id, imdb_id, tmdb_id = row[movie_col].strip(), row[imdb_col].strip(), row[tmdb_col].strip()
        if not _DIGITS.match(movie_id):
            problems.append((line, f"movieId {movie_id!r} is not a number"))
        elif not _DIGITS.match(imdb_id):
            problems.append((line, f"imdbId {imdb_id!r} is not a number"))
        elif tmdb_id and not _DIGITS.match(tmdb_id):
            problems.append((line, f"tmdbId {tmdb_id!r} is not a number"))
        else:
            normalized = "tt" + imdb_id.zfill(7)
            if normalized in seen:
                # Later releases list a few IMDb ids under two movieIds; crawl each id once.
                continue
            seen[normalized] = line
            links.append(Link(movie_id, normalized, tmdb_id or None, line))
    if problems and strict:
        raise MalformedLinks(source, problems)
    return _Links(links, problems)


class _Links(list):
    """A list of :class:`Link` that also carries the rows that were skipped."""

    def __init__(self, items: Iterable[Link], problems: list[tuple[int, str]]):
        super().__init__(items)
        self.problems = problems


def read_links(path: str | Path, strict: bool = True) -> list[Link]:
    """Links from a ``links.csv`` file, a release zip (``*/links.csv`` inside) or a folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        candidates = [path / "links.csv", *sorted(path.glob("*/links.csv"))]
        found = next((candidate for candidate in candidates if candidate.is_file()), None)
        if found is None:
            raise UsageError(f"{path}: no links.csv in this folder")
        return read_links(found, strict)
    if not path.is_file():
        raise UsageError(f"{path}: no such file (give a release name such as ml-20m, a links.csv, a zip or a folder)")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = [name for name in archive.namelist() if name.rsplit("/", 1)[-1] == "links.csv"]
                if not names:
                    raise UsageError(f"{path}: no links.csv in this zip")
                text = archive.read(min(names, key=len)).decode("utf-8")
        except zipfile.BadZipFile as error:
            raise UsageError(f"{path}: damaged zip ({error})") from None
        return read_links_text(text, f"{path.name}:{names[0] if names else 'links.csv'}", strict)
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not UTF-8 text ({error})") from None
    return read_links_text(text, str(path), strict)


def fetch_release(
    name: str,
    root: Path,
    *,
    session=None,
    download: Callable[..., Path] | None = None,
    base_url: str = GROUPLENS_URL,
) -> Path:
    """The release zip ``name`` under ``<root>/downloads/``, downloaded once (resumable) and
    checked against GroupLens's published MD5. Returns the zip's path."""
    release = RELEASES.get(name)
    if release is None:
        raise UsageError(f"unknown MovieLens release {name!r}; known: {', '.join(RELEASES)} (or give a links.csv, zip or folder)")
    if download is None:
        from .download import download  # the shared resumable downloader (Range, .part, caps)
    dest = downloads_dir(root) / f"{name}.zip"
    url = f"{base_url}{name}.zip"
    hosts = [h for h in (_host(base_url),) if h]
    expected = release.md5
    if expected is None:
        md5_file = download(f"{url}.md5", downloads_dir(root) / f"{name}.zip.md5", max_bytes=4096,
                            allowed_hosts=hosts, session=session)
        match = re.search(r"\b([0-9a-f]{32})\b", md5_file.read_text("ascii", "replace"))
        if not match:
            raise DownloadError(f"{url}.md5: no MD5 in GroupLens's checksum file")
        expected = match.group(1)
    if dest.is_file() and file_digest(dest, "md5") == expected:
        return dest
    path = download(url, dest, max_bytes=2 * 1024**3, allowed_hosts=hosts, session=session)
    actual = file_digest(path, "md5")
    if actual != expected:
        path.unlink(missing_ok=True)
        raise DownloadError(f"{url}: MD5 {actual} does not match GroupLens's {expected}; the file was removed, rerun to download it again")
    return path


def _host(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname


def load_links(spec: str, root: Path, *, session=None, strict: bool = True, base_url: str = GROUPLENS_URL) -> list[Link]:
    """Links from ``spec``: a release name (downloaded and cached) or a local path."""
    if spec in RELEASES:
        return read_links(fetch_release(spec, root, session=session, base_url=base_url), strict)
    if re.match(r"^ml-[a-z0-9-]+$", spec) and not Path(spec).exists():
        raise UsageError(f"unknown MovieLens release {spec!r}; known: {', '.join(RELEASES)} (or give a links.csv, zip or folder)")
    return read_links(spec, strict)


def select(links: list[Link], ids: Iterable[str] | None = None, limit: int | None = None) -> list[Link]:
    """The links whose IMDb id is in ``ids`` (any spelling: tt0114709, 0114709, 114709),
    in links.csv order, then the first ``limit``."""
    chosen = links
    if ids is not None:
        from ..records.record import normalize_id

        wanted = set()
        for raw in ids:
            try:
                wanted.add(normalize_id(raw))
            except ValueError:
                raise UsageError(f"--ids: {raw!r} is not an IMDb title id") from None
        chosen = [link for link in links if link.imdb_id in wanted]
        missing = wanted - {link.imdb_id for link in chosen}
        if missing:
            raise UsageError(f"--ids: {len(missing)} id(s) are not in the MovieLens links, e.g. {sorted(missing)[0]}")
    if limit is not None:
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        chosen = chosen[:limit]
    return chosen
