"""Resumable, capped, checksummed HTTP downloads that talk only to the hosts they should.

Requests go through :class:`~mmimdb.fetch.http.PoliteSession` (its redirect loop checks
every hop; its retries, timeouts and User-Agent apply).

A partial download is kept as ``<dest>.part`` with the server's validator (ETag or
Last-Modified) beside it in ``<dest>.part.validator``. A rerun asks only for the missing
bytes and sends the validator as ``If-Range``: a file that changed on the server meanwhile
(IMDb's TSVs change daily) comes whole from byte 0 instead of being joined to old bytes.
Without a validator a part is resumed only when a checksum will check the result.

A server that refuses (a firewall's 202 with an empty body, 401, 403, 429 or 5xx after the
retries) or a connection that drops stops the download with :class:`DownloadStopped`
(exit 3): the part is kept and a rerun resumes.

>>> download("https://archive.org/download/mmimdb/mmimdb.tar.gz", Path("mmimdb.tar.gz"),
...          allowed_hosts={"archive.org", ".us.archive.org"})  # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

import requests
from tqdm import tqdm

from ..errors import DownloadError, StoppedEarly
from ..storage import atomic
from ..storage.checksums import sha256_of
from .hosts import download_session
from .http import HostAllowlist, HostNotAllowed, HostUnresolvable, PoliteSession, refusal

# Small reads while streaming, so that a dropped connection loses little of what arrived.
STREAM_BYTES = 64 * 1024
VALIDATOR_SUFFIX = ".validator"
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.I)


class DownloadStopped(StoppedEarly, DownloadError):
    """The server refused or the connection dropped: the part is kept, a rerun resumes
    (exit 3). Also a :class:`DownloadError`, for callers that catch every failed download."""


class _Restart(Exception):
    """The part on disk cannot be continued: start over from byte 0."""


def _open(session: PoliteSession, url: str, headers: dict[str, str], allowed: set[str]) -> requests.Response:
    try:
        return session.open(url, allowlist=HostAllowlist.of(allowed), headers=headers)
    except HostNotAllowed as error:
        raise DownloadError(f"{url}: host not allowed for this download (allowed: {', '.join(sorted(allowed))}; {error})") from None
    except HostUnresolvable as error:  # no network, as for a refused connection: rerun when it is back
        raise DownloadStopped(f"{url}: {error}; rerun to resume") from None
    except requests.RequestException as error:
        if _refused(error):
            where = urlsplit(url)
            raise DownloadStopped(f"{url}: {where.hostname}:{where.port or {'https': 443}.get(where.scheme, 80)} refused "
                                  "the connection (nothing listens there, or a firewall); check the URL and the network; "
                                  "rerun to resume") from None
        raise DownloadStopped(f"{url}: {type(error).__name__} ({_first_line(error)}); rerun to resume") from None


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


def _refused(error: BaseException) -> bool:
    """Whether a ``ConnectionRefusedError`` is inside ``error`` (requests wraps it in urllib3's
    ``MaxRetryError`` and ``NewConnectionError``: their text is a cut-off repr, not words)."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        pending.extend(inner for inner in (getattr(current, "reason", None), current.__cause__, current.__context__,
                                           *current.args) if isinstance(inner, BaseException))
    return False


def _validator(response: requests.Response) -> dict[str, str]:
    """What identifies this version of the file: a strong ETag, else Last-Modified
    (``If-Range`` takes no weak ETag)."""
    etag = response.headers.get("ETag", "")
    found = {}
    if etag and not etag.startswith("W/"):
        found["etag"] = etag
    if response.headers.get("Last-Modified"):
        found["last_modified"] = response.headers["Last-Modified"]
    return found


def _read_validator(path: Path) -> dict[str, str]:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return {k: v for k, v in value.items() if k in ("etag", "last_modified") and isinstance(v, str)} if isinstance(value, dict) else {}


def _content_range(response: requests.Response) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range`` header; None where absent or ``*``."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if not match:
        return None, None
    first = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return first, total


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    max_bytes: int = 16 * 1024**3,
    allowed_hosts: Iterable[str] | None = None,
    session: PoliteSession | None = None,
    progress: bool = True,
    expected_from: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` and return ``dest``.

    Resumes a previous partial download (``dest.part``) with an HTTP Range request guarded by
    ``If-Range``, refuses hosts outside ``allowed_hosts`` (default: the URL's own host) on
    every redirect, stops past ``max_bytes``, and checks ``sha256`` when given. An existing
    ``dest`` whose checksum matches (or any existing ``dest`` when no checksum is given) is
    not downloaded again. ``expected_from`` says in a mismatch's message where ``sha256``
    comes from. Raises :class:`DownloadStopped` (exit 3, resumable) when the
    server refuses or the connection drops, :class:`DownloadError` otherwise.
    """
    dest = Path(dest)
    allowed = set(allowed_hosts) if allowed_hosts is not None else {urlsplit(url).hostname or ""}
    expected = sha256.lower() if sha256 else None
    if dest.is_file() and (expected is None or sha256_of(dest) == expected):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    validator_file = part.with_name(part.name + VALIDATOR_SUFFIX)
    session = session or download_session(url)
    try:
        _fetch(session, url, part, validator_file, allowed, max_bytes, expected, progress)
    except _Restart:
        # The server's file is not the one the part began (or the part cannot be told whole):
        # one fresh download from byte 0.
        part.unlink(missing_ok=True)
        validator_file.unlink(missing_ok=True)
        try:
            _fetch(session, url, part, validator_file, allowed, max_bytes, expected, progress)
        except _Restart:
            raise DownloadError(f"{url}: the server answers a byte range that was not asked for") from None
    if expected is not None:
        actual = sha256_of(part)
        if actual != expected:
            part.unlink()
            validator_file.unlink(missing_ok=True)
            source = f" ({expected_from})" if expected_from else ""
            raise DownloadError(f"{url}: sha256 {actual} does not match the expected {expected}{source}; "
                                "the file was removed")
    os.replace(part, dest)
    validator_file.unlink(missing_ok=True)
    return dest


def _fetch(session: PoliteSession, url: str, part: Path, validator_file: Path, allowed: set[str],
           max_bytes: int, expected: str | None, progress: bool) -> None:
    """Bring ``part`` to the whole file (resuming when that is safe); raises :class:`_Restart`
    when what is on disk cannot be continued."""
    have = part.stat().st_size if part.is_file() else 0
    saved = _read_validator(validator_file) if have else {}
    headers: dict[str, str] = {}
    if have and (saved or expected):
        headers["Range"] = f"bytes={have}-"
        if saved:
            headers["If-Range"] = saved.get("etag") or saved["last_modified"]
    else:
        have = 0  # nothing would tell old bytes from new ones: start over
    host = urlsplit(url).hostname or url
    response = _open(session, url, headers, allowed)
    with response:
        status = response.status_code
        if status == 416 and have:
            _, total = _content_range(response)
            if total == have or (total is None and expected):
                return  # the part is whole (the checksum, when given, has the last word)
            raise _Restart()  # nothing says the part is whole: never accept it blindly
        if status not in (200, 206):
            # Only a 202's body matters (empty: a firewall's block); read a little of it.
            said = refusal(status, next(response.iter_content(1024), b"") if status == 202 else None)
            if said:
                kept = f"what was downloaded is kept ({part.name}); " if have else ""
                raise DownloadStopped(f"{url}: {host} answered {said}; {kept}rerun the same command later to resume")
            raise DownloadError(f"{url}: HTTP {status} {response.reason}")
        if status == 206:
            first, total = _content_range(response)
            now = _validator(response)
            changed = saved.get("etag") and now.get("etag") and now["etag"] != saved["etag"]
            if first != have or changed:
                raise _Restart()  # another range, or a server that ignored If-Range for a changed file
        else:
            have, total = 0, None  # the server sent the whole file (a new version, or no Range support)
            now = _validator(response)
        if now and now != saved:
            atomic.write_json(validator_file, now)
        if total is None:
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isascii() and length.isdigit() else None
        if total is not None and total > max_bytes:
            raise DownloadError(f"{url}: {total} bytes is over the {max_bytes}-byte cap")
        bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=part.name[: -len(".part")],
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
            raise DownloadStopped(f"{url}: connection lost after {have} bytes ({type(error).__name__}); rerun to resume") from None
        finally:
            bar.close()
        if total is not None and have < total:
            raise DownloadStopped(f"{url}: got {have} of {total} bytes; rerun to resume")
