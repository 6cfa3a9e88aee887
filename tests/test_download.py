"""Resumable, capped, checksummed downloads against a loopback server."""
from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from mmimdb.fetch.download import download
from mmimdb.errors import DownloadError
from mmimdb.dataset.store import RecordStore
from mmimdb_cli.main import cli

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class RangeServer:
    """Serves PAYLOAD at /file with Range support; /redirect-away points at another host;
    /drop sends half and closes; records the Range headers it saw."""

    def __init__(self, payload: bytes = PAYLOAD):
        self.payload = payload
        self.ranges: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.ranges.append(self.headers.get("Range"))
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
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
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
