"""MovieLens links: the real ml-20m links.csv, zips and folders, malformed rows with their
line numbers, GroupLens downloads checked against the published MD5."""
from __future__ import annotations

import hashlib
import zipfile

import pytest

from conftest import shared_path
from loopback import ServerThread, handler_from, mmimdb
from mmimdb.fetch import movielens
from mmimdb.errors import DownloadError, UsageError
from mmimdb.fetch.http import PoliteSession


def test_reads_the_real_ml20m_links():
    links = movielens.read_links(shared_path("ml-20m-links.csv"))
    assert len(links) == 27278
    assert (links[0].movielens_id, links[0].imdb_id, links[0].tmdb_id) == ("1", "tt0114709", "862")
    assert sum(1 for link in links if link.tmdb_id is None) == 349
    assert all(len(link.imdb_id) == 9 for link in links)


def test_reads_a_release_folder_and_zip(tmp_path):
    folder_links = movielens.read_links(shared_path("ml-latest-small"))
    assert len(folder_links) == 9742
    archive = tmp_path / "ml-20m.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(shared_path("ml-20m-links.csv"), "ml-20m/links.csv")
        zipped.writestr("ml-20m/README.txt", "readme")
    assert len(movielens.read_links(archive)) == 27278
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no links.csv"):
        movielens.read_links(empty)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(archive.read_bytes()[:1000])
    with pytest.raises(UsageError):
        movielens.read_links(broken)


def test_malformed_rows_are_reported_with_line_numbers(tmp_path):
    text = "movieId,imdbId,tmdbId\n1,0114709,862\nx,0113497,8844\n3,01134a7,\n4,0113228\n5,0114885,31357\n"
    with pytest.raises(movielens.MalformedLinks) as error:
        movielens.read_links_text(text)
    assert [line for line, _ in error.value.problems] == [3, 4, 5]
    assert "line 3: movieId 'x' is not a number" in str(error.value)
    lenient = movielens.read_links_text(text, strict=False)
    assert [link.imdb_id for link in lenient] == ["tt0114709", "tt0114885"]
    bad = tmp_path / "links.csv"
    bad.write_text(text)
    result = mmimdb("fetch", "--movielens", str(bad), "--source", "omdb", "--omdb-key", "k", "--root", str(tmp_path / "root"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "line 3" in result.stderr
    with pytest.raises(UsageError, match="header"):
        movielens.read_links_text("a,b,c\n1,2,3\n")


def test_unknown_release_and_missing_file_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="unknown MovieLens release"):
        movielens.load_links("ml-99m", tmp_path)
    with pytest.raises(UsageError, match="no such file"):
        movielens.load_links(str(tmp_path / "links.csv"), tmp_path)


def test_select_ids_and_limit():
    links = movielens.read_links(shared_path("ml-20m-links.csv"))
    chosen = movielens.select(links, ["0113497", "tt0114709", "114885"])
    assert [link.imdb_id for link in chosen] == ["tt0114709", "tt0113497", "tt0114885"]
    assert len(movielens.select(links, limit=10)) == 10
    with pytest.raises(UsageError, match="not in the MovieLens links"):
        movielens.select(links, ["tt9999999"])
    with pytest.raises(UsageError, match="not an IMDb title id"):
        movielens.select(links, ["Toy Story"])


def _grouplens(tmp_path, md5_text: str | None):
    """A loopback GroupLens serving ml-latest-small.zip (made from the real folder) + its .md5."""
    archive = tmp_path / "served.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(shared_path("ml-latest-small/links.csv"), "ml-latest-small/links.csv")
    data = archive.read_bytes()
    md5 = md5_text if md5_text is not None else f"MD5 (ml-latest-small.zip) = {hashlib.md5(data).hexdigest()}\n"
    log: list[str] = []

    def answer(handler):
        if handler.path.endswith(".zip"):
            return 200, {}, data
        if handler.path.endswith(".zip.md5"):
            return 200, {}, md5.encode()
        return 404, {}, b""

    return ServerThread(handler_from(answer, log)), log


def test_release_download_is_checked_against_grouplens_md5(tmp_path):
    server, log = _grouplens(tmp_path, None)
    with server:
        session = PoliteSession(rate=0, allow_private=True)
        links = movielens.load_links("ml-latest-small", tmp_path / "root", session=session, base_url=server.url + "/")
        assert len(links) == 9742
        again = movielens.load_links("ml-latest-small", tmp_path / "root", session=session, base_url=server.url + "/")
        assert len(again) == 9742
    assert sum(path.endswith(".zip") for path in log) == 1  # cached, not downloaded twice


def test_release_with_a_wrong_md5_is_removed(tmp_path):
    server, _ = _grouplens(tmp_path, "MD5 (ml-latest-small.zip) = " + "0" * 32)
    with server:
        session = PoliteSession(rate=0, allow_private=True)
        with pytest.raises(DownloadError, match="does not match"):
            movielens.load_links("ml-latest-small", tmp_path / "root", session=session, base_url=server.url + "/")
    assert not (tmp_path / "root" / "downloads" / "ml-latest-small.zip").exists()
