"""The polite HTTP session every crawler request goes through.

:class:`PoliteSession` is a :class:`requests.Session` that

- retries 429 and 5xx answers, connection errors and read timeouts with exponential
  backoff plus jitter, honouring ``Retry-After`` (urllib3's :class:`~urllib3.util.Retry`,
  not a hand-written loop);
- sends a real User-Agent (``mmimdb/<version> (+<project url>)``) and always sets
  connect/read timeouts;
- keeps to a per-host request rate and a per-host number of requests in flight;
- refuses URLs that are not ``http``/``https``, hosts outside an allowlist, hosts that do
  not resolve, and private or loopback addresses (unless the crawl itself targets a
  loopback server) on the first request *and on every redirect*, and checks the address
  each connection really reached before anything is sent on it (DNS rebinding);
- caps the size of every response body it reads.

:func:`refusal` is the one place that says what a refusing answer looks like (a firewall's
202 with an empty body, 401, 403, 429 or 5xx after the retries): the sources, the poster
fetch and the downloader all stop on it.

>>> session = PoliteSession(rate=2.0, concurrency=2)
>>> session.headers["User-Agent"].startswith("mmimdb/")
True
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from .. import __version__
from ..errors import DownloadError

USER_AGENT = f"mmimdb/{__version__} (+https://github.com/mmimdb/mmimdb)"

#: Status codes retried with backoff (Retry-After honoured on 429 and 503).
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: Default cap on a response body read into memory (pages, API answers, posters).
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: The longest a server's Retry-After is obeyed before retrying anyway.
RETRY_AFTER_MAX_S = 120.0
MAX_REDIRECTS = 5
#: How long a DNS answer is trusted by the private-address check. Short: a crawl runs for
#: days and a host may move (or be made to point inward) meanwhile.
DNS_TTL_S = 60.0


class HostNotAllowed(DownloadError):
    """A URL whose scheme, host or address the crawl may not fetch."""


class ResponseTooLarge(DownloadError):
    """A response body over the size cap."""


class HostUnresolvable(DownloadError):
    """A host name that DNS does not resolve (a typo, or no network)."""


def refusal(status: int, body: bytes | None) -> str | None:
    """What an answer that refuses us says, in words; None when it is not a refusal.

    A blocking firewall answers HTTP 202 with an empty body (or 403); 401 refuses the key or
    the credentials; 429 and 5xx reach the caller only after the session's retries, so they
    mean the server keeps refusing or failing.

    >>> refusal(202, b""), refusal(200, b"{}"), refusal(404, b"")
    ('HTTP 202 with an empty body (how a blocking firewall answers)', None, None)
    """
    if status == 202 and not (body or b"").strip():
        return "HTTP 202 with an empty body (how a blocking firewall answers)"
    if status == 401:
        return "HTTP 401 (the key or credentials are refused)"
    if status == 403:
        return "HTTP 403 Forbidden"
    if status == 429:
        return "HTTP 429 Too Many Requests, still after the retries"
    if status >= 500:
        return f"HTTP {status}, still after the retries"
    return None


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


@dataclass(frozen=True)
class HostAllowlist:
    """Hosts a request may go to. ``'.example.com'`` also allows every subdomain.

    >>> HostAllowlist.of(["api.example.com", ".cdn.example"]).allows("http://img.cdn.example/x.jpg")
    True
    """

    hosts: frozenset[str]

    @classmethod
    def of(cls, hosts: Iterable[str]) -> "HostAllowlist":
        return cls(frozenset(host.lower() for host in hosts if host))

    def allows(self, url: str) -> bool:
        return host_allowed(url, self.hosts)


def is_loopback_url(url: str) -> bool:
    """True if ``url`` names a loopback host (127.0.0.0/8, ::1 or localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_dns_cache: dict[str, tuple[float, tuple[str, ...]]] = {}
_dns_lock = threading.Lock()


def _addresses(host: str) -> tuple[str, ...]:
    """The addresses ``host`` resolves to, remembered for :data:`DNS_TTL_S` seconds;
    :class:`HostUnresolvable` when it does not resolve (not remembered: it may come back)."""
    now = time.monotonic()
    with _dns_lock:
        cached = _dns_cache.get(host)
    if cached is not None and now - cached[0] < DNS_TTL_S:
        return cached[1]
    try:
        addresses = tuple(sorted({info[4][0] for info in socket.getaddrinfo(host, None)}))
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise HostUnresolvable(f"{host} does not resolve (DNS: {reason}); check the URL and the network") from None
    if not addresses:
        raise HostUnresolvable(f"{host} does not resolve (DNS gave no address); check the URL and the network")
    with _dns_lock:
        if len(_dns_cache) > 4096:  # a crawl touches a handful of hosts; never grow without end
            _dns_cache.clear()
        _dns_cache[host] = (now, addresses)
    return addresses


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified


def check_url(url: str, allowlist: HostAllowlist | None = None, allow_private: bool = False,
              resolve: bool = True) -> None:
    """Raise :class:`HostNotAllowed` unless ``url`` may be fetched.

    Only ``http``/``https``; the host must be in ``allowlist`` (when given); the host must
    not be or resolve to a private, loopback or link-local address unless ``allow_private``;
    a host that does not resolve raises :class:`HostUnresolvable`. ``resolve=False`` (a
    proxy resolves the name, this machine may not be able to) checks literal addresses only.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise HostNotAllowed(f"refused {url!r}: only http and https URLs are fetched")
    host = (parts.hostname or "").lower()
    if not host:
        raise HostNotAllowed(f"refused {url!r}: no host")
    if allowlist is not None and not allowlist.allows(url):
        raise HostNotAllowed(f"refused {url!r}: host {host} is not one this source uses")
    if allow_private:
        return
    try:
        addresses: tuple[str, ...] = (str(ipaddress.ip_address(host)),)
    except ValueError:
        if host == "localhost":
            addresses = ("127.0.0.1",)
        elif resolve:
            addresses = _addresses(host)
        else:
            addresses = ()
    for address in addresses:
        if _is_private(address):
            raise HostNotAllowed(f"refused {url!r}: {host} is a private or loopback address")


def _refuse_private_peer(sock: socket.socket, host: str) -> None:
    """Close ``sock`` and raise :class:`HostNotAllowed` if it is connected to a private address.

    The check before a request resolves the name once; the connection resolves it again. A
    name that answers with a public address to the first and a private one to the second
    (DNS rebinding) would slip between the two: this checks where the socket really went."""
    try:
        address = sock.getpeername()[0]
    except OSError:
        return  # not connected: sending fails on its own
    if _is_private(address):
        sock.close()
        raise HostNotAllowed(f"refused {host}: it connected to {address}, a private or loopback address")


class _PublicPeer:
    """A urllib3 connection whose new socket must reach a public address (checked before
    TLS, so not even a hello goes to a private peer)."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        _refuse_private_peer(sock, self.host)  # type: ignore[attr-defined]
        return sock


class _PublicHTTPConnection(_PublicPeer, urllib3.connection.HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeer, urllib3.connection.HTTPSConnection):
    pass


class _PublicHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicPeerAdapter(HTTPAdapter):
    """An adapter whose direct connections must end at a public address (a proxy's are
    the proxy's business: it resolves the names)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


class _HostGate:
    """Per-host pacing (a minimum interval between request starts) and a concurrency cap."""

    def __init__(self, rate: float, concurrency: int):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.slots = threading.BoundedSemaphore(max(1, concurrency))
        self.lock = threading.Lock()
        self.next_start = 0.0

    def __enter__(self) -> "_HostGate":
        self.slots.acquire()
        if self.interval:
            with self.lock:
                now = time.monotonic()
                start = max(now, self.next_start)
                self.next_start = start + self.interval
            if start > now:
                time.sleep(start - now)
        return self

    def __exit__(self, *exc_info) -> None:
        self.slots.release()


def make_retry(retries: int, backoff: float, jitter: float) -> Retry:
    """The retry policy: GET/HEAD only, 429/5xx, connect and read errors, Retry-After obeyed."""
    return Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        redirect=0,  # redirects are followed by PoliteSession.fetch, which checks each hop
        backoff_factor=backoff,
        backoff_jitter=jitter,
        backoff_max=60.0,
        retry_after_max=RETRY_AFTER_MAX_S,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


class PoliteSession(requests.Session):
    """A requests Session with retries, pacing, timeouts, a size cap and a host allowlist.

    ``rate`` is requests per second per host (0: no pacing, for loopback tests and
    benchmarks); ``concurrency`` is the most requests in flight per host. ``allowed_hosts``
    (None: any public host) and ``allow_private`` apply to every request and redirect.
    """

    def __init__(
        self,
        *,
        rate: float = 2.0,
        concurrency: int = 4,
        timeout: tuple[float, float] = (10.0, 30.0),
        retries: int = 4,
        backoff: float = 0.5,
        jitter: float = 0.5,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allowed_hosts: Iterable[str] | None = None,
        allow_private: bool = False,
    ):
        super().__init__()
        self.headers["User-Agent"] = USER_AGENT
        self.rate = rate
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allowlist = HostAllowlist.of(allowed_hosts) if allowed_hosts is not None else None
        self.allow_private = allow_private
        self._gates: dict[str, _HostGate] = {}
        self._environment: dict[tuple, dict] = {}
        self._gates_lock = threading.Lock()
        # Where private addresses are refused, the connection's own peer is checked too.
        adapter = (HTTPAdapter if allow_private else _PublicPeerAdapter)(
            max_retries=make_retry(retries, backoff, jitter),
            pool_connections=16,
            pool_maxsize=max(10, concurrency * 2),
        )
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[override]
        """requests reads the environment (proxies, no_proxy, CA bundle, netrc) again on every
        request, a quarter of a crawl's CPU; the environment does not change during a crawl,
        so the answer is remembered per scheme and host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert)
        cached = self._environment.get(key)
        if cached is None:
            cached = self._environment[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return {name: dict(value) if isinstance(value, dict) else value for name, value in cached.items()}

    def _gate(self, url: str) -> _HostGate:
        parts = urlsplit(url)
        key = f"{parts.hostname}:{parts.port or ''}"
        with self._gates_lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = self._gates[key] = _HostGate(self.rate, self.concurrency)
            return gate

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        """Check the URL, wait for the host's turn, send; read the body under the cap
        unless the caller streams it."""
        url = request.url or ""
        # Through a proxy the proxy resolves the name; this machine may have no DNS at all.
        proxied = select_proxy(url, kwargs.get("proxies") or {}) is not None
        check_url(url, self.allowlist, self.allow_private, resolve=not proxied)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        stream = kwargs.get("stream", False)
        kwargs["stream"] = True
        with self._gate(url):
            response = super().send(request, **kwargs)
            if not stream:
                try:
                    read_capped(response, self.max_bytes)
                finally:
                    response.close()
        return response

    def open(
        self,
        url: str,
        *,
        allowlist: HostAllowlist | None = None,
        params: dict | None = None,
        headers: dict | None = None,
    ) -> requests.Response:
        """GET ``url`` following at most :data:`MAX_REDIRECTS` redirects, each hop checked
        against ``allowlist``; the body is left unread (the caller streams it, and closes
        the response). The one redirect loop of the package: pages, API answers, posters and
        downloads all come through it."""
        for _hop in range(MAX_REDIRECTS + 1):
            # The allowlist here; addresses and DNS in send(), which knows about proxies.
            check_url(url, allowlist, allow_private=True)
            response = self.get(url, params=params, headers=headers, allow_redirects=False, stream=True)
            target = self.get_redirect_target(response) if response.is_redirect else None
            if target is None:
                return response
            response.close()
            url, params = urljoin(url, target), None
        raise DownloadError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def fetch(
        self,
        url: str,
        *,
        allowlist: HostAllowlist | None = None,
        params: dict | None = None,
        headers: dict | None = None,
        max_bytes: int | None = None,
    ) -> requests.Response:
        """:meth:`open`, then read the body under ``max_bytes`` before returning; the status
        code is the caller's to judge (retries on 429/5xx have already happened)."""
        response = self.open(url, allowlist=allowlist, params=params, headers=headers)
        try:
            read_capped(response, max_bytes or self.max_bytes)
        finally:
            response.close()
        return response


def read_capped(response: requests.Response, max_bytes: int) -> bytes:
    """Read the whole body of a streamed ``response`` into ``response.content``, refusing
    more than ``max_bytes`` (by Content-Length up front, else while reading)."""
    if getattr(response, "_content_consumed", False) and response._content is not None:
        return response.content
    declared = response.headers.get("Content-Length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"{response.url}: {declared} bytes is over the {max_bytes}-byte cap")
    chunks, total = [], 0
    for chunk in response.iter_content(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise ResponseTooLarge(f"{response.url}: body over the {max_bytes}-byte cap")
        chunks.append(chunk)
    response._content = b"".join(chunks)
    response._content_consumed = True
    return response._content


def retry_after_seconds(response: requests.Response) -> float | None:
    """The ``Retry-After`` of ``response`` in seconds, or None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return Retry().parse_retry_after(value)
    except (InvalidHeader, ValueError, OverflowError):
        return None
