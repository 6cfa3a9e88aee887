"""The release archive is checked against the digest MMF published for it, by default: a file
served under the published path, or a local mmimdb.tar.gz of the published size, that does
not match is refused in one line and nothing of it is kept."""
from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner

import generated_films as films
from loopback import ServerThread, handler_from
from mmimdb.records.store import RecordStore
from mmimdb.fetch import archive
from mmimdb_cli.main import cli


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory):
    """A generated release of 12 movies as mmimdb.tar.gz: not the published file."""
    return films.write_archive(tmp_path_factory.mktemp("digest-release"), count=12)


def serve(data: bytes, path: str):
    def answer(handler):
        if handler.path != path:
            return 404, {}, b""
        return 200, {"Content-Length": str(len(data))}, data
    return ServerThread(handler_from(answer))


def fetch(*args: str):
    return CliRunner().invoke(cli, ["fetch", "--from-archive", *args])


def test_the_published_digest_is_mmfs_and_applies_to_the_mirror_path_only():
    assert archive.RELEASE_SHA256 == "7facb412f84e8e707cf5c15bb58e4cf3ac12d33e6e944e1bdefebada1259a253"
    assert archive.expected_sha256(archive.RELEASE_URL) == archive.RELEASE_SHA256
    assert archive.expected_sha256("http://127.0.0.1:8000/download/mmimdb/mmimdb.tar.gz") == archive.RELEASE_SHA256
    assert archive.expected_sha256("http://127.0.0.1:8000/mmimdb.tar.gz") is None  # someone's own archive
    assert archive.expected_sha256(archive.RELEASE_URL, "none") is None
    assert archive.expected_sha256(archive.RELEASE_URL, "AB" * 32) == "ab" * 32


def test_a_file_under_the_published_name_with_another_digest_is_refused_and_removed(small_archive, tmp_path):
    data = small_archive.read_bytes()
    root = tmp_path / "root"
    with serve(data, str(archive.RELEASE_PATH)) as server:
        result = fetch(f"{server.url}{archive.RELEASE_PATH}", "--root", str(root))
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and archive.RELEASE_SHA256 in lines[0]
    assert "the digest MMF published for the release" in lines[0] and "removed" in lines[0]
    downloads = root / "downloads"
    assert not downloads.exists() or not any(downloads.iterdir())  # neither the file nor its part
    assert RecordStore(root / "dataset").ids() == []


def test_sha256_none_or_the_right_digest_imports_the_same_file(small_archive, tmp_path):
    data = small_archive.read_bytes()
    with serve(data, str(archive.RELEASE_PATH)) as server:
        url = f"{server.url}{archive.RELEASE_PATH}"
        unchecked = fetch(url, "--sha256", "none", "--root", str(tmp_path / "a"))
        checked = fetch(url, "--sha256", hashlib.sha256(data).hexdigest(), "--root", str(tmp_path / "b"))
    assert unchecked.exit_code == 0 and checked.exit_code == 0, unchecked.output + checked.output
    assert len(RecordStore(tmp_path / "a" / "dataset").ids()) == len(RecordStore(tmp_path / "b" / "dataset").ids()) == 12


def test_a_local_archive_of_the_published_size_is_checked(small_archive, tmp_path, monkeypatch):
    size = small_archive.stat().st_size
    monkeypatch.setattr(archive, "RELEASE_SIZE_RANGE", (size, size + 1))  # an 8 GB file has no place in a test
    result = fetch(str(small_archive), "--root", str(tmp_path / "root"))
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"error: {small_archive}: sha256 does not match {archive.RELEASE_SHA256} (the digest MMF published for the "
        f"release; the file's is {hashlib.sha256(small_archive.read_bytes()).hexdigest()}); nothing imported"]
    assert RecordStore(tmp_path / "root" / "dataset").ids() == []
    monkeypatch.setattr(archive, "RELEASE_SIZE_RANGE", (size + 1, size + 2))  # another size: someone's own archive
    assert fetch(str(small_archive), "--root", str(tmp_path / "other")).exit_code == 0


def test_a_sha256_that_is_not_hex_is_a_usage_error(small_archive, tmp_path):
    result = fetch(str(small_archive), "--sha256", "abc", "--root", str(tmp_path / "root"))
    assert result.exit_code == 2 and result.output.strip() == "error: --sha256 'abc': expected 64 hex digits (or 'none')"
