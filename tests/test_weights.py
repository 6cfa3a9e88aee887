"""The paper's files on demand: word2vec and VGG16 downloaded from a loopback server that
serves small files in the real formats under the published names, checked, cached, resumed.

The word2vec file is written by gensim's ``save_word2vec_format(binary=True)`` and gzipped,
as gensim-data's ``word2vec-google-news-300.gz`` is; the VGG16 file is a state dict in
torchvision's layout written by ``torch.save`` under torch hub's naming rule
(``vgg16-<first 8 hex digits of its sha256>.pth``).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli_output import one_line_error
from dataset_builds import first_films
from loopback import ServerThread, handler_from
from mmimdb.errors import DownloadError, UsageError
from mmimdb.features.encoders import EncoderOptions, text_encoder
from mmimdb.features.encoders.downloads import (GOOGLE_NEWS_WORD2VEC, VGG16_IMAGENET, Checksum, PublishedFile, fetch,
                                                resolve_source)
from mmimdb.features.rows import dataset_rows, plot_tokens
from mmimdb_cli.main import cli

ROWS = 24
DIM = 16
W2V_PATH = "/RaRe-Technologies/gensim-data/releases/download/word2vec-google-news-300/word2vec-google-news-300.gz"


class FileServer:
    """Serves ``files`` (path -> bytes) with an ETag and HTTP Range (If-Range honoured);
    ``drop_once`` paths send half their bytes once and close; ``redirects`` answer 302; every
    request is logged with its Range."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.drop_once: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        self.thread = ServerThread(handler_from(self._answer))

    def _answer(self, handler):
        self.requests.append((handler.path, handler.headers.get("Range")))
        if handler.path in self.redirects:
            return 302, {"Location": self.redirects[handler.path]}, b""
        if handler.path not in self.files:
            return 404, {}, b"not here"
        data, start = self.files[handler.path], 0
        etag = f'"{hashlib.md5(data).hexdigest()}"'  # as GitHub's and PyTorch's file hosts send one
        status, headers = 200, {"ETag": etag}
        if handler.headers.get("Range") and handler.headers.get("If-Range", etag) == etag:
            start = int(handler.headers["Range"].split("=")[1].split("-")[0])
            status, headers = 206, {**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        if handler.path in self.drop_once:
            self.drop_once.discard(handler.path)
            return status, {**headers, "Connection": "close"}, body[: len(body) // 2]
        return status, headers, body

    def __enter__(self) -> "FileServer":
        self.thread.__enter__()
        self.url = self.thread.url
        return self

    def __exit__(self, *exc_info) -> None:
        self.thread.__exit__(*exc_info)


@pytest.fixture
def server():
    with FileServer() as running:
        yield running


@pytest.fixture(scope="module")
def root(greatest_films_root, tmp_path_factory) -> Path:
    return first_films(greatest_films_root, tmp_path_factory.mktemp("weights") / "root", ROWS)


@pytest.fixture(scope="module")
def word2vec_gz(root, tmp_path_factory) -> bytes:
    """A gzipped word2vec binary (gensim's writer) holding the 60 commonest words of the plots
    and 4,000 others: about 260 kB, a few of the downloader's 64 kB reads."""
    from gensim.models import KeyedVectors

    counts = Counter(token for tokens in plot_tokens(root, dataset_rows(root).ids) for token in tokens)
    words = [word for word, _ in counts.most_common(60)] + [f"filler{i}" for i in range(4000)]
    keyed = KeyedVectors(vector_size=DIM)
    keyed.add_vectors(words, np.random.default_rng(0).normal(size=(len(words), DIM)).astype(np.float32))
    path = tmp_path_factory.mktemp("w2v") / "vectors.bin"
    keyed.save_word2vec_format(str(path), binary=True)
    return gzip.compress(path.read_bytes(), mtime=0)


@pytest.fixture(scope="module")
def vgg16_state(tmp_path_factory) -> tuple[str, bytes]:
    """(torch hub file name, bytes) of a VGG16 state dict in torchvision's layout."""
    import torch

    from mmimdb.features.encoders.vgg16 import vgg16_module

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.save(vgg16_module().state_dict(), path)
    data = path.read_bytes()
    path.unlink()
    return f"vgg16-{hashlib.sha256(data).hexdigest()[:8]}.pth", data


@pytest.fixture
def isolated_caches(tmp_path, monkeypatch):
    """No torch hub or gensim-data cache of the user's, no files named in the environment."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path / "gensim-data"))
    for name in ("MMIMDB_WORD2VEC", "MMIMDB_VGG16_WEIGHTS", "MMIMDB_WORD2VEC_URL", "MMIMDB_VGG16_URL"):
        monkeypatch.delenv(name, raising=False)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ------------------------------------------------------------------------ end to end

@pytest.mark.slow
def test_build_features_downloads_the_paper_files_once_then_gmu_runs(root, server, word2vec_gz, vgg16_state,
                                                                     isolated_caches, tmp_path, monkeypatch):
    vgg_name, vgg_bytes = vgg16_state
    server.files[W2V_PATH] = word2vec_gz
    server.files[f"/models/{vgg_name}"] = vgg_bytes
    # The published file name, with the checksum of this small stand-in in the fragment.
    monkeypatch.setenv("MMIMDB_WORD2VEC_URL", f"{server.url}{W2V_PATH}#md5={md5(word2vec_gz)}")
    monkeypatch.setenv("MMIMDB_VGG16_URL", f"{server.url}/models/{vgg_name}")
    args = ["build-features", "--root", str(root), "--only", "text,image", "--image-size", "32", "--device", "cpu",
            "--batch-size", "8", "--workers", "0", "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    downloads = root / "downloads"
    for name, data in (("word2vec-google-news-300.gz", word2vec_gz), (vgg_name, vgg_bytes)):
        # what, from where, how big (unknown for a stand-in: "size as served"), where it is cached
        assert f"{server.url}" in result.output and f"to {downloads / name}" in result.output
        assert (downloads / name).read_bytes() == data
        assert not list(downloads.glob(f"{name}.*"))  # no .unverified or .part left
    assert "word2vec vectors (gensim-data's word2vec-google-news-300)" in result.output
    assert "VGG16 ImageNet weights" in result.output
    entries = json.loads((root / "manifest.json").read_text())["features"]
    assert entries["features"]["url"] == f"{server.url}{W2V_PATH}" and entries["features"]["checksum"] == f"md5 {md5(word2vec_gz)}"
    assert entries["vgg_features"]["checksum"] == f"sha256 starting with {vgg_name[6:14]}"
    with h5py.File(root / "multimodal_imdb.hdf5") as handle:
        assert handle["features"].shape == (ROWS, DIM) and np.abs(handle["features"][()]).sum() > 0
        assert handle["vgg_features"].shape == (ROWS, 4096)

    served = len(server.requests)
    again = CliRunner().invoke(cli, args + ["--force"])
    assert again.exit_code == 0, again.output
    assert len(server.requests) == served and "downloading" not in again.output  # from the cache

    out = tmp_path / "benchmark"
    gmu = CliRunner().invoke(cli, ["benchmark", "--model", "gmu", "--root", str(root), "--epochs", "2",
                                   "--device", "cpu", "--out", str(out)])
    assert gmu.exit_code == 0, gmu.output
    assert json.loads((out / "results.json").read_text())["models"]["GMU"]["status"] == "ok"


# ------------------------------------------------------------------------ checks

def test_a_changed_byte_is_refused_and_nothing_is_cached(server, word2vec_gz, vgg16_state, tmp_path):
    changed = bytearray(word2vec_gz)
    changed[len(changed) // 2] ^= 0x01
    server.files[W2V_PATH] = bytes(changed)
    source = resolve_source(GOOGLE_NEWS_WORD2VEC, f"{server.url}{W2V_PATH}#md5={md5(word2vec_gz)}")
    with pytest.raises(DownloadError, match=f"md5 {md5(bytes(changed))} does not match the expected md5 {md5(word2vec_gz)}"):
        fetch(source, tmp_path, say=lambda message: None, progress=False)
    assert list(tmp_path.iterdir()) == []

    # torch hub's rule: the hash prefix in the file name must start the sha256.
    vgg_name, vgg_bytes = vgg16_state
    changed = bytearray(vgg_bytes[:4096])
    server.files[f"/models/{vgg_name}"] = bytes(changed)
    with pytest.raises(DownloadError, match=f"expected sha256 starting with {vgg_name[6:14]}"):
        fetch(resolve_source(VGG16_IMAGENET, f"{server.url}/models/{vgg_name}"), tmp_path, lambda m: None, False)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_download_resumes_where_it_stopped(root, server, word2vec_gz, isolated_caches, tmp_path):
    server.files[W2V_PATH] = word2vec_gz
    server.drop_once.add(W2V_PATH)
    options = EncoderOptions(word2vec_url=f"{server.url}{W2V_PATH}#md5={md5(word2vec_gz)}", downloads_dir=tmp_path,
                             progress=False, log=lambda message: None)
    with pytest.raises(DownloadError, match=r"; rerun to retry \(a partial download resumes\)"):
        text_encoder("word2vec", options)
    part = tmp_path / "word2vec-google-news-300.gz.unverified.part"
    have = part.stat().st_size
    assert 0 < have < len(word2vec_gz)
    encoder = text_encoder("word2vec", options)
    assert server.requests[-1] == (W2V_PATH, f"bytes={have}-")
    assert Path(encoder.info["file"]).read_bytes() == word2vec_gz and not part.exists()
    assert encoder.encode([["the", "a"], ["no-such-word"]]).shape == (2, DIM)


def test_a_wrong_host_is_refused(server, word2vec_gz, tmp_path):
    server.files[W2V_PATH] = word2vec_gz
    port = server.url.rsplit(":", 1)[1]
    server.redirects["/elsewhere.gz"] = f"http://localhost:{port}{W2V_PATH}"
    source = resolve_source(GOOGLE_NEWS_WORD2VEC, f"{server.url}/elsewhere.gz#md5={md5(word2vec_gz)}")
    with pytest.raises(DownloadError, match="host not allowed"):
        fetch(source, tmp_path, lambda m: None, False)
    assert not (tmp_path / "elsewhere.gz").exists()
    # The published files may only be fetched from their publishers' hosts (and GitHub's asset hosts).
    assert resolve_source(GOOGLE_NEWS_WORD2VEC).hosts == {"github.com", "objects.githubusercontent.com",
                                                          "release-assets.githubusercontent.com"}
    assert resolve_source(VGG16_IMAGENET).hosts == {"download.pytorch.org"}
    assert resolve_source(VGG16_IMAGENET, "https://mirror.example/vgg16-397923af.pth").hosts == {"mirror.example"}


def test_downloads_are_capped_in_size(server, tmp_path):
    server.files["/big-0123abcd.pth"] = b"x" * 5000
    small = PublishedFile("a test file", "https://example.org/published.pth", 100, Checksum("sha256", "0123abcd"),
                          ("example.org",), "MMIMDB_TEST_URL", max_bytes=1000)
    with pytest.raises(DownloadError, match="1000-byte cap"):
        fetch(resolve_source(small, f"{server.url}/big-0123abcd.pth"), tmp_path, lambda m: None, False)
    # the published file itself is capped at its published size
    assert resolve_source(GOOGLE_NEWS_WORD2VEC).max_bytes == GOOGLE_NEWS_WORD2VEC.size == 1_743_563_840


# ------------------------------------------------------------------------ offline and checksum rules

def test_offline_the_error_names_file_url_cache_and_the_offline_encoder(root, isolated_caches, monkeypatch):
    import socket

    with socket.socket() as probe:  # a loopback port that nothing listens on: no network
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    shutil.rmtree(root / "downloads", ignore_errors=True)  # nothing cached by another test
    monkeypatch.setenv("MMIMDB_WORD2VEC_URL", f"{closed}{W2V_PATH}#md5={'0' * 32}")
    result = CliRunner().invoke(cli, ["build-features", "--root", str(root), "--only", "text", "--no-progress"])
    line = one_line_error(result)
    assert result.exit_code == 3  # stopped early: rerun when the network is back
    cache = root / "downloads" / "word2vec-google-news-300.gz"
    for part in ("word2vec-google-news-300.gz", f"{closed}{W2V_PATH}", str(cache), "--word2vec PATH", "--text glove-50",
                 f"{closed.removeprefix('http://')} refused the connection"):
        assert part in line, (part, line)
    assert line.count("rerun") == 1, line  # said once

    result = CliRunner().invoke(cli, ["build-features", "--root", str(root), "--only", "image", "--no-download"])
    line = one_line_error(result)
    assert result.exit_code == 2
    for part in ("vgg16-397923af.pth", VGG16_IMAGENET.url, "528 MiB", str(root / "downloads" / "vgg16-397923af.pth"),
                 "--vgg16-weights PATH", "--image efficientnet-lite0"):
        assert part in line, (part, line)


def test_which_checksum_a_url_gets():
    assert VGG16_IMAGENET.checksum.value.startswith("397923af")  # the name's prefix, torch hub's rule
    published = resolve_source(VGG16_IMAGENET, "https://mirror.example/models/vgg16-397923af.pth")
    assert published.checksum == VGG16_IMAGENET.checksum and published.size == 553_433_881
    renamed = resolve_source(VGG16_IMAGENET, "https://mirror.example/vgg16-deadbeef.pth")
    assert renamed.checksum == Checksum("sha256", "deadbeef") and renamed.size is None
    given = resolve_source(GOOGLE_NEWS_WORD2VEC, "https://mirror.example/GoogleNews-vectors-negative300.bin.gz#sha256=" + "ab" * 32)
    assert given.checksum == Checksum("sha256", "ab" * 32) and given.file_name == "GoogleNews-vectors-negative300.bin.gz"
    assert given.url == "https://mirror.example/GoogleNews-vectors-negative300.bin.gz"  # the fragment is not sent
    with pytest.raises(UsageError, match="#sha256=HEX"):
        resolve_source(GOOGLE_NEWS_WORD2VEC, "https://mirror.example/vectors.bin.gz")
    with pytest.raises(UsageError, match="not an http"):
        resolve_source(GOOGLE_NEWS_WORD2VEC, "file:///etc/passwd")
    with pytest.raises(UsageError, match="hex digits"):
        resolve_source(GOOGLE_NEWS_WORD2VEC, "https://mirror.example/v.gz#md5=xyz")
