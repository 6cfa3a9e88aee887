"""Resumable, capped, checksummed downloads against a loopback server."""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from loopback import ServerThread, handler_from
from mmimdb.fetch.download import DownloadStopped, download
from mmimdb.errors import DownloadError
from mmimdb.records.store import RecordStore
from mmimdb_cli.main import cli

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class RangeServer:
    """Serves PAYLOAD at /file with Range support (and ``If-Range`` when it has an ``etag``,
    as HTTP says: a validator that does not match gets the whole file); /redirect-away
    points at another host; /drop sends half and closes; records the Range and If-Range
    headers it saw."""

    def __init__(self, payload: bytes = PAYLOAD, etag: str | None = None):
        self.payload = payload
        self.etag = etag
        self.ranges: list[str | None] = []
        self.if_ranges: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.ranges.append(self.headers.get("Range"))
                owner.if_ranges.append(self.headers.get("If-Range"))
                if self.path == "/redirect-away":
                    self.send_response(302)
                    self.send_header("Location", f"http://localhost:{owner.port}/file")
                    self.end_headers()
                    return
                if self.path == "/redirect-here":
                    self.send_response(301)
                    self.send_header("Location", "/file")
                    self.end_headers()
                    return
                if self.path not in ("/file", "/drop"):
                    self.send_error(404)
                    return
                data, start = owner.payload, 0
                validator = self.headers.get("If-Range")
                if self.headers.get("Range") and (validator is None or validator == owner.etag):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                if owner.etag:
                    self.send_header("ETag", owner.etag)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                self.wfile.write(body[: len(body) // 2] if self.path == "/drop" else body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    running = RangeServer()
    yield running
    running.close()


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_checks_the_checksum(server, tmp_path):
    dest = download(f"{server.url}/file", tmp_path / "f.bin", sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    # a second call with a matching file does not touch the network
    download(f"{server.url}/file", dest, sha256=SHA, progress=False)
    assert len(server.ranges) == 1


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError, match="rerun to resume"):
        download(f"{server.url}/drop", dest, progress=False)
    part = tmp_path / "f.bin.part"
    assert 0 < part.stat().st_size < len(PAYLOAD) and not dest.exists()
    have = part.stat().st_size
    download(f"{server.url}/file", dest, sha256=SHA, progress=False)
    assert server.ranges[-1] == f"bytes={have}-"
    assert dest.read_bytes() == PAYLOAD and not part.exists()


def test_a_file_that_changed_on_the_server_is_downloaded_again_not_joined(tmp_path):
    old, new = PAYLOAD, bytes(reversed(PAYLOAD))
    running = RangeServer(old, etag='"v1"')
    try:
        dest = tmp_path / "title.basics.tsv.gz"
        with pytest.raises(DownloadStopped, match="rerun to resume"):
            download(f"{running.url}/drop", dest, progress=False)
        have = (tmp_path / "title.basics.tsv.gz.part").stat().st_size
        assert 0 < have < len(old)
        running.payload, running.etag = new, '"v2"'  # IMDb publishes a new file meanwhile
        download(f"{running.url}/file", dest, progress=False)  # no checksum to catch a mix
        assert running.ranges[-1] == f"bytes={have}-" and running.if_ranges[-1] == '"v1"'
        assert dest.read_bytes() == new
        assert not (tmp_path / "title.basics.tsv.gz.part.validator").exists()
        # Unchanged on the server: the part is continued, not fetched again.
        with pytest.raises(DownloadStopped):
            download(f"{running.url}/drop", tmp_path / "again.bin", progress=False)
        have = (tmp_path / "again.bin.part").stat().st_size
        download(f"{running.url}/file", tmp_path / "again.bin", progress=False)
        assert running.ranges[-1] == f"bytes={have}-" and (tmp_path / "again.bin").read_bytes() == new
    finally:
        running.close()


def test_a_416_is_not_taken_for_a_whole_file_without_a_checksum(tmp_path):
    running = RangeServer(PAYLOAD, etag='"v1"')
    try:
        dest = tmp_path / "f.bin"
        # A part longer than the file (the file shrank on the server): asking for more bytes gets 416.
        (tmp_path / "f.bin.part").write_bytes(PAYLOAD + b"old tail")
        (tmp_path / "f.bin.part.validator").write_text(json.dumps({"etag": '"v1"'}))
        download(f"{running.url}/file", dest, progress=False)
        assert running.ranges[0] == f"bytes={len(PAYLOAD) + 8}-"  # it did ask to resume
        assert dest.read_bytes() == PAYLOAD  # then started over instead of keeping the old bytes
        # A part that is exactly the whole file is accepted from the 416's Content-Range.
        (tmp_path / "g.bin.part").write_bytes(PAYLOAD)
        (tmp_path / "g.bin.part.validator").write_text(json.dumps({"etag": '"v1"'}))
        asked = len(running.ranges)
        assert download(f"{running.url}/file", tmp_path / "g.bin", progress=False).read_bytes() == PAYLOAD
        assert len(running.ranges) == asked + 1
    finally:
        running.close()


@pytest.mark.parametrize("status,body,said", [
    (202, b"", "HTTP 202 with an empty body"), (403, b"no", "HTTP 403 Forbidden"),
    (401, b"", "HTTP 401"), (503, b"", "HTTP 503, still after the retries"), (429, b"", "HTTP 429"),
])
def test_a_refused_download_stops_with_exit_3_and_one_line(tmp_path, status, body, said):
    log: list[str] = []
    with ServerThread(handler_from(lambda handler: (status, {"Retry-After": "0"}, body), log)) as server:
        result = CliRunner().invoke(cli, ["fetch", "--from-archive", f"{server.url}/mmimdb.tar.gz", "--root", str(tmp_path / "root")])
    assert result.exit_code == 3, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"error: {server.url}/mmimdb.tar.gz: 127.0.0.1 answered {said}") and "rerun" in line
    assert len(log) <= 3  # the download session's two retries at most


def test_checksum_mismatch_removes_the_file(server, tmp_path):
    with pytest.raises(DownloadError, match="does not match"):
        download(f"{server.url}/file", tmp_path / "f.bin", sha256="0" * 64, progress=False)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_redirect_to_another_host_is_refused_but_same_host_is_followed(server, tmp_path):
    with pytest.raises(DownloadError, match="host not allowed"):
        download(f"{server.url}/redirect-away", tmp_path / "a.bin", progress=False)
    assert download(f"{server.url}/redirect-here", tmp_path / "b.bin", progress=False).read_bytes() == PAYLOAD


def test_size_cap_and_http_errors(server, tmp_path):
    with pytest.raises(DownloadError, match="over the 1000-byte cap"):
        download(f"{server.url}/file", tmp_path / "f.bin", max_bytes=1000, progress=False)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{server.url}/missing", tmp_path / "g.bin", progress=False)
    with pytest.raises(DownloadError, match="host not allowed"):
        download("file:///etc/passwd", tmp_path / "h.bin", allowed_hosts={"127.0.0.1"}, progress=False)


def test_fetch_from_archive_url_downloads_then_imports(tmp_path):
    from mmimdb import demo as greatest_films

    rows = [row for row in greatest_films.read_films() if greatest_films.is_complete(row)][:25]
    archive = greatest_films.write_archive(tmp_path, rows).read_bytes()
    running = RangeServer(archive)
    try:
        root = tmp_path / "root"
        sha = hashlib.sha256(archive).hexdigest()
        result = CliRunner().invoke(cli, ["fetch", "--from-archive", f"{running.url}/file", "--sha256", sha, "--root", str(root)])
        assert result.exit_code == 0, result.output
        assert (root / "downloads" / "file").read_bytes() == archive
        assert len(RecordStore(root / "dataset").ids()) == 25
        bad = CliRunner().invoke(cli, ["fetch", "--from-archive", f"{running.url}/missing", "--root", str(root)])
        assert bad.exit_code == 1 and bad.output.strip().splitlines()[-1].startswith("error: ") and "HTTP 404" in bad.output
    finally:
        running.close()
