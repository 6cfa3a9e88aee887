"""Loopback HTTP servers for tests: 127.0.0.1, port 0, a daemon thread each."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent


class ServerThread:
    """A ThreadingHTTPServer on 127.0.0.1 (port 0) in a daemon thread; a context manager."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


Reply = tuple[int, dict[str, str], bytes]


def handler_from(answer: Callable[[BaseHTTPRequestHandler], Reply], log: list[str] | None = None) -> type[BaseHTTPRequestHandler]:
    """A handler class whose GETs are answered by ``answer(handler) -> (status, headers, body)``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 256 * 1024

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            if log is not None:
                log.append(self.path)
            status, headers, body = answer(self)
            self.send_response(status)
            for name, value in headers.items():
                if value:  # an empty value leaves the header out
                    self.send_header(name, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def mmimdb(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the ``mmimdb`` command line in a subprocess (the real entry point)."""
    return subprocess.run([sys.executable, "-m", "mmimdb_cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


class ServerProcess:
    """``tests/omdb_server.py`` in its own process (its own GIL: fast crawls); a context manager."""

    def __init__(self, shared: Path, *extra: str):
        self.args = [sys.executable, str(HERE / "omdb_server.py"), str(shared), *extra]

    def __enter__(self) -> "ServerProcess":
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url
        return self

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
