"""Resumable, capped, checksummed HTTP downloads that talk only to the hosts they should.

>>> download("https://archive.org/download/mmimdb/mmimdb.tar.gz", Path("mmimdb.tar.gz"),
...          allowed_hosts={"archive.org", ".us.archive.org"})  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Iterable
from urllib.parse import urljoin, urlsplit

import requests
from tqdm import tqdm

from . import __version__
from .errors import DownloadError

USER_AGENT = f"mmimdb/{__version__} (+https://github.com/mmimdb/mmimdb)"
#: Connect and read timeouts, seconds.
TIMEOUT = (10, 60)
MAX_REDIRECTS = 5
CHUNK_BYTES = 1 << 20
# Small reads while streaming, so that a dropped connection loses little of what arrived.
STREAM_BYTES = 64 * 1024


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", chunk: int = CHUNK_BYTES) -> str:
    """Hex digest of a file (``sha256``, ``md5``, ...), read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    return file_digest(path, "sha256")


def host_allowed(url: str, allowed_hosts: Iterable[str]) -> bool:
    """True if ``url`` is http(s) and its host is listed; a leading dot allows subdomains.

    >>> host_allowed("https://ia800.us.archive.org/x", {"archive.org", ".us.archive.org"})
    True
    >>> host_allowed("file:///etc/passwd", {"archive.org"}), host_allowed("https://evil.org/", {"archive.org"})
    (False, False)
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    for allowed in allowed_hosts:
        allowed = allowed.lower()
        if host == allowed.lstrip(".") or (allowed.startswith(".") and host.endswith(allowed)):
            return True
    return False


def _new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def _open(session: requests.Session, url: str, headers: dict[str, str], allowed: set[str]) -> requests.Response:
    """GET ``url`` following redirects by hand, so every hop's host is checked first."""
    for _ in range(MAX_REDIRECTS + 1):
        if not host_allowed(url, allowed):
            raise DownloadError(f"{url}: host not allowed for this download (allowed: {', '.join(sorted(allowed))})")
        try:
            response = session.get(url, headers=headers, stream=True, timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as error:
            raise DownloadError(f"{url}: {type(error).__name__}: {error}") from None
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            response.close()
            continue
        return response
    raise DownloadError(f"{url}: more than {MAX_REDIRECTS} redirects")


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    max_bytes: int = 16 * 1024**3,
    allowed_hosts: Iterable[str] | None = None,
    session: requests.Session | None = None,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` and return ``dest``.

    Resumes a previous partial download (``dest.part``) with an HTTP Range request, refuses
    hosts outside ``allowed_hosts`` (default: the URL's own host) on every redirect, stops
    past ``max_bytes``, and checks ``sha256`` when given. An existing ``dest`` whose checksum
    matches (or any existing ``dest`` when no checksum is given) is not downloaded again.
    """
    dest = Path(dest)
    allowed = set(allowed_hosts) if allowed_hosts is not None else {urlsplit(url).hostname or ""}
    expected = sha256.lower() if sha256 else None
    if dest.is_file() and (expected is None or sha256_of(dest) == expected):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    session = session or _new_session()

    have = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    response = _open(session, url, headers, allowed)
    with response:
        if response.status_code == 416 and have:
            pass  # the partial file is already whole; the checksum below decides
        elif response.status_code not in (200, 206):
            raise DownloadError(f"{url}: HTTP {response.status_code} {response.reason}")
        else:
            if response.status_code == 200:
                have = 0  # the server ignored the Range header: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise DownloadError(f"{url}: {total} bytes is over the {max_bytes}-byte cap")
            bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=dest.name,
                       disable=not progress, file=sys.stderr)
            try:
                with open(part, "ab" if have else "wb") as handle:
                    for block in response.iter_content(STREAM_BYTES):
                        have += len(block)
                        if have > max_bytes:
                            raise DownloadError(f"{url}: over the {max_bytes}-byte cap; stopped")
                        handle.write(block)
                        bar.update(len(block))
            except requests.RequestException as error:
                raise DownloadError(f"{url}: connection lost after {have} bytes ({type(error).__name__}); rerun to resume") from None
            finally:
                bar.close()
            if total is not None and have < total:
                raise DownloadError(f"{url}: got {have} of {total} bytes; rerun to resume")
    if expected is not None:
        actual = sha256_of(part)
        if actual != expected:
            part.unlink()
            raise DownloadError(f"{url}: sha256 {actual} does not match the expected {expected}; the file was removed")
    os.replace(part, dest)
    return dest
