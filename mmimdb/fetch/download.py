"""Resumable, capped, checksummed HTTP downloads that talk only to the hosts they should.

Requests go through :class:`~mmimdb.fetch.http.PoliteSession` (its redirect loop checks
every hop; its retries, timeouts and User-Agent apply).

>>> download("https://archive.org/download/mmimdb/mmimdb.tar.gz", Path("mmimdb.tar.gz"),
...          allowed_hosts={"archive.org", ".us.archive.org"})  # doctest: +SKIP
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

import requests
from tqdm import tqdm

from ..errors import DownloadError
from ..storage.checksums import sha256_of
from .hosts import download_session
from .http import HostAllowlist, HostNotAllowed, PoliteSession

# Small reads while streaming, so that a dropped connection loses little of what arrived.
STREAM_BYTES = 64 * 1024


def _open(session: PoliteSession, url: str, headers: dict[str, str], allowed: set[str]) -> requests.Response:
    try:
        return session.open(url, allowlist=HostAllowlist.of(allowed), headers=headers)
    except HostNotAllowed as error:
        raise DownloadError(f"{url}: host not allowed for this download (allowed: {', '.join(sorted(allowed))}; {error})") from None
    except requests.RequestException as error:
        raise DownloadError(f"{url}: {type(error).__name__}: {error}") from None


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    max_bytes: int = 16 * 1024**3,
    allowed_hosts: Iterable[str] | None = None,
    session: PoliteSession | None = None,
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
    session = session or download_session(url)

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
