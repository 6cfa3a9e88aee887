"""A throwaway PostgreSQL server for tests: a temporary data directory, a free loopback port,
stopped and removed at the end.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root they run as the ``postgres``
user (which Debian's ``postgresql`` package creates) with the data directory owned by it.
Where no server can be started (no binaries, no such user, no driver), the test that asked
is skipped with the reason, unless ``MMIMDB_REQUIRE_SERVICES=1`` (set by ``.ci/run``) makes
that a failure: CI must never pass by skipping.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

USER = "postgres"


def require(reason: str) -> None:
    """Skip with ``reason``, or fail where services are required (CI)."""
    if os.environ.get("MMIMDB_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` on 127.0.0.1:<free port>; ``url(database)`` for clients."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            require("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                import pwd

                entry = pwd.getpwnam(USER)
            except KeyError:
                require(f"running as root and there is no '{USER}' user to run initdb/pg_ctl as")
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
        self.directory = Path(tempfile.mkdtemp(prefix="mmimdb-pg-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self.user = USER if self.as_root else os.environ.get("USER", "postgres")

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", USER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def start(self) -> "PostgresServer":
        if self.as_root:
            os.chown(self.directory, self.uid, self.gid)
        result = self._run(self.initdb, "-D", str(self.data), "-A", "trust", "-U", self.user, "--no-sync", "-E", "UTF8")
        if result.returncode != 0:
            self.remove()
            require(f"initdb failed: {result.stderr.strip()[-300:]}")
        # TCP on loopback only, no Unix socket (its default folder may not be writable); no
        # fsync: a test server, thrown away at the end.
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
                   f"-c fsync=off -c max_connections=50")
        result = self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"),
                           "-w", "-t", "60", "start")
        if result.returncode != 0:
            log = (self.directory / "log").read_text(errors="replace")[-300:] if (self.directory / "log").exists() else ""
            self.remove()
            require(f"pg_ctl start failed: {result.stderr.strip()[-300:]} {log}")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def running_server() -> Iterator[PostgresServer]:
    """A started server, stopped at the end (the body of a session fixture)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require("psycopg is not installed: pip install 'mmimdb[postgres]'")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
