"""The polite session: retries with Retry-After, timeouts, size cap, host checks on every
redirect, pacing and per-host concurrency. Loopback servers only."""
from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from loopback import ServerThread, handler_from
from mmimdb.fetch import http
from mmimdb.fetch.crawl import describe
from mmimdb.fetch.http import (USER_AGENT, HostAllowlist, HostNotAllowed, HostUnresolvable, PoliteSession,
                               ResponseTooLarge, check_url)


def session(**kwargs) -> PoliteSession:
    options = dict(rate=0, concurrency=4, retries=3, backoff=0.01, jitter=0.01, allow_private=True, timeout=(2, 2))
    options.update(kwargs)
    return PoliteSession(**options)


def test_sends_a_real_user_agent():
    seen = []
    with ServerThread(handler_from(lambda h: (seen.append(h.headers["User-Agent"]) or 200, {}, b"ok"))) as server:
        assert session().fetch(server.url + "/").content == b"ok"
    assert seen == [USER_AGENT] and USER_AGENT.startswith("mmimdb/")


def test_429_is_retried_after_the_retry_after_delay():
    log: list[str] = []

    def answer(handler):
        if len(log) == 1:
            return 429, {"Retry-After": "1"}, b""
        return 200, {}, b"fine"

    with ServerThread(handler_from(answer, log)) as server:
        start = time.monotonic()
        response = session().fetch(server.url + "/x")
        elapsed = time.monotonic() - start
    assert response.status_code == 200 and response.content == b"fine"
    assert len(log) == 2 and elapsed >= 0.95


def test_500s_are_retried_with_backoff_then_given_up():
    log: list[str] = []
    with ServerThread(handler_from(lambda h: (500 if len(log) <= 2 else 200, {}, b"x"), log)) as server:
        assert session().fetch(server.url + "/").status_code == 200
        assert len(log) == 3
        log.clear()
    with ServerThread(handler_from(lambda h: (503, {}, b"down"), log)) as server:
        assert session(retries=2).fetch(server.url + "/").status_code == 503
        assert len(log) == 3  # the first try and two retries


def test_read_timeout_raises_after_retries():
    log: list[str] = []
    given_up = threading.Event()

    def slow(handler):
        given_up.wait(30)  # answers only after the client gave up, however slow the machine
        return 200, {}, b"late"

    with ServerThread(handler_from(slow, log)) as server:
        try:
            with pytest.raises(requests.ConnectionError):
                session(retries=1, timeout=(1, 0.3)).fetch(server.url + "/")
        finally:
            given_up.set()
    assert len(log) == 2


def test_response_size_cap():
    body = b"x" * 300_000
    with ServerThread(handler_from(lambda h: (200, {}, body))) as server:
        with pytest.raises(ResponseTooLarge, match="cap"):
            session().fetch(server.url + "/", max_bytes=100_000)
        assert len(session().fetch(server.url + "/", max_bytes=400_000).content) == 300_000

    def no_length(handler):  # no Content-Length: the cap applies while reading
        handler.close_connection = True
        return 200, {"Content-Length": "", "Connection": "close"}, body

    with ServerThread(handler_from(no_length)) as server:
        with pytest.raises(ResponseTooLarge):
            session(max_bytes=1000).get(server.url + "/")  # plain get(): the session's own cap


def test_every_redirect_hop_is_checked_against_the_allowlist():
    def answer(handler):
        if handler.path == "/away":
            return 302, {"Location": "http://evil.example.org/poster.jpg"}, b""
        if handler.path == "/file":
            return 302, {"Location": "file:///etc/passwd"}, b""
        if handler.path == "/here":
            return 302, {"Location": "/final"}, b""
        return 200, {}, b"final"

    with ServerThread(handler_from(answer)) as server:
        allow = HostAllowlist.of(["127.0.0.1"])
        assert session().fetch(server.url + "/here", allowlist=allow).content == b"final"
        with pytest.raises(HostNotAllowed, match="evil.example.org"):
            session().fetch(server.url + "/away", allowlist=allow)
        with pytest.raises(HostNotAllowed, match="only http and https"):
            session().fetch(server.url + "/file", allowlist=allow)
        # requests' own redirect following goes through send(), which checks too
        with pytest.raises(HostNotAllowed):
            session(allow_private=False).get(server.url + "/here")


def test_private_and_odd_urls_are_refused():
    for url in ("file:///etc/passwd", "ftp://example.org/x", "http://127.0.0.1:9/", "http://10.0.0.1/",
                "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://localhost/"):
        with pytest.raises(HostNotAllowed):
            check_url(url)
    check_url("http://127.0.0.1:9/", allow_private=True)
    with pytest.raises(HostNotAllowed, match="not one this source uses"):
        check_url("https://example.org/x.jpg", HostAllowlist.of(["image.tmdb.org"]))
    check_url("https://m.media-amazon.com/images/x.jpg", HostAllowlist.of([".media-amazon.com"]), allow_private=True)


def test_rate_limit_paces_requests_to_one_host():
    with ServerThread(handler_from(lambda h: (200, {}, b"ok"))) as server:
        polite = session(rate=10.0)
        start = time.monotonic()
        for _ in range(6):
            polite.fetch(server.url + "/")
        assert time.monotonic() - start >= 0.45  # 6 starts at 10/s: at least 0.5 s apart in total


def test_per_host_concurrency_cap():
    active, peak, lock = [0], [0], threading.Condition()

    def answer(handler):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            lock.notify_all()
            # The first request waits for the second (a loaded machine may start them far
            # apart), so two at once is always reached when the cap allows it.
            lock.wait_for(lambda: peak[0] >= 2, timeout=30)
        time.sleep(0.1)  # room for a third request, were the cap not enforced
        with lock:
            active[0] -= 1
        return 200, {}, b"ok"

    with ServerThread(handler_from(answer)) as server:
        polite = session(concurrency=2)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: polite.fetch(server.url + "/"), range(8)))
    assert peak[0] == 2


@pytest.fixture
def fake_dns(monkeypatch):
    """A DNS of our own: host -> address; any other name does not resolve. Counts lookups."""
    answers: dict[str, str] = {}
    asked: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, asked


def test_dns_answers_expire_so_a_host_that_moves_inward_is_refused(fake_dns, monkeypatch):
    answers, asked = fake_dns
    answers["moves.example"] = "93.184.216.34"
    check_url("http://moves.example/a")
    check_url("http://moves.example/b")
    assert asked.count("moves.example") == 1  # remembered for a while
    answers["moves.example"] = "10.0.0.5"  # the name now points into the local network
    monkeypatch.setattr(http, "DNS_TTL_S", 0.0)  # ... and the remembered answer has expired
    with pytest.raises(HostNotAllowed, match="private or loopback"):
        check_url("http://moves.example/c")


def test_a_host_that_does_not_resolve_is_refused_and_reported_as_such(fake_dns):
    with pytest.raises(HostUnresolvable, match=r"^nowhere\.example does not resolve \(DNS: "):
        check_url("http://nowhere.example/")
    # With private addresses allowed (a loopback crawl) the name is only looked up when
    # connecting; the failure then says "does not resolve", not "timed out".
    with pytest.raises(requests.ConnectionError) as failure:
        session(retries=0).get("http://nowhere.example:9/x")
    assert describe(failure.value) == "nowhere.example does not resolve (DNS): http://nowhere.example:9/x"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_name_that_rebinds_between_check_and_connect_is_refused_before_anything_is_sent(monkeypatch, scheme):
    """DNS rebinding: the check before the request is told a public address, the connection
    a loopback one. The socket's real peer is checked before a byte (or a TLS hello) is sent."""
    monkeypatch.setattr(http, "_dns_cache", {})
    log: list[str] = []
    connected = threading.Event()

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if port is None:  # the check
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))]
        connected.set()  # the connection
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    with ServerThread(handler_from(lambda h: (200, {}, b"the inside"), log)) as server:
        port = server.server.server_address[1]
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        with pytest.raises(HostNotAllowed, match=r"^refused rebind\.example: it connected to 127\.0\.0\.1, a private"):
            session(retries=0, allow_private=False).get(f"{scheme}://rebind.example:{port}/secret")
    assert connected.is_set() and log == []
