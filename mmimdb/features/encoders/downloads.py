"""The paper's pretrained files, fetched on demand and checked: where each is published, its
checksum, where it is cached, and the one function that downloads it.

- VGG16's ImageNet weights, torchvision's ``vgg16-397923af.pth`` (528 MiB) from
  ``https://download.pytorch.org/models/``; its sha256 starts with ``397923af`` as its name
  says (torch hub's rule), and the whole digest is checked;
- the GoogleNews word2vec vectors as gensim-data publishes them, ``word2vec-google-news-300.gz``
  (a gzipped word2vec binary, 1.6 GiB) from the GitHub release ``word2vec-google-news-300``
  of RaRe-Technologies/gensim-data, checked against the md5 of gensim-data's ``list.json``.

Every download goes through :func:`mmimdb.fetch.download.download`: resumable (``.part`` and
HTTP Range), capped in size, and allowed only to the hosts the file is served from (checked
again on every redirect: GitHub hands release files to its asset hosts). A downloaded file
is moved into the cache only after its checksum matched, so a file in the cache is a checked
file; one that does not match is deleted.

A URL can be replaced (an option or ``$MMIMDB_VGG16_URL`` / ``$MMIMDB_WORD2VEC_URL``), e.g. by
a local mirror. Its checksum is then the published one when the file name is the published
name, the hash prefix in its name (``name-<sha256 prefix>.pth``, torch hub's convention), or
one given in the URL's fragment as pip does: ``https://mirror/vectors.bin.gz#sha256=<hex>``
(or ``#md5=<hex>``). A file whose checksum is unknown is not downloaded.

>>> resolve_source(VGG16_IMAGENET).checksum.describe()
'sha256 397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0'
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

from ...errors import DownloadError, UsageError
from ...storage.checksums import file_digest
from .base import WeightsFile, hash_prefix_in_name

_HEX = re.compile(r"^[0-9a-f]+$")
_DIGEST_LENGTHS = {"sha256": 64, "md5": 32}


@dataclass(frozen=True)
class Checksum:
    """An expected digest: the whole hex digest, or its first digits (a name's hash prefix)."""

    algorithm: str
    value: str

    def __post_init__(self) -> None:
        if self.algorithm not in _DIGEST_LENGTHS:
            raise UsageError(f"unsupported checksum '{self.algorithm}' (use sha256 or md5)")
        if not _HEX.match(self.value) or not 8 <= len(self.value) <= _DIGEST_LENGTHS[self.algorithm]:
            raise UsageError(f"{self.algorithm} checksum '{self.value}' is not {_DIGEST_LENGTHS[self.algorithm]} hex digits")

    def describe(self) -> str:
        prefix = len(self.value) < _DIGEST_LENGTHS[self.algorithm]
        return f"{self.algorithm} {'starting with ' if prefix else ''}{self.value}"

    def check(self, path: Path) -> str | None:
        """None when ``path`` matches, else its actual digest."""
        actual = file_digest(path, self.algorithm)
        return None if actual.startswith(self.value) else actual


@dataclass(frozen=True)
class PublishedFile:
    """A pretrained file as its publisher serves it."""

    what: str
    url: str
    size: int
    checksum: Checksum
    #: Hosts the URL and its redirects may use ('.example.com' allows subdomains).
    hosts: tuple[str, ...]
    #: Environment variable that replaces ``url``.
    url_env: str
    #: Largest download accepted from a replacement URL (the published file must be ``size``).
    max_bytes: int

    @property
    def file_name(self) -> str:
        return _file_name(self.url)


VGG16_IMAGENET = PublishedFile(
    what="VGG16 ImageNet weights (torchvision's vgg16-397923af.pth)",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    size=553_433_881,
    # torch hub checks the 8 digits of the name; the whole digest (the same file as recorded
    # by several independent projects) checks every byte.
    checksum=Checksum("sha256", "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0"),
    hosts=("download.pytorch.org",),
    url_env="MMIMDB_VGG16_URL",
    max_bytes=1 << 30,
)

GOOGLE_NEWS_WORD2VEC = PublishedFile(
    what="GoogleNews word2vec vectors (gensim-data's word2vec-google-news-300)",
    url="https://github.com/RaRe-Technologies/gensim-data/releases/download/"
        "word2vec-google-news-300/word2vec-google-news-300.gz",
    size=1_743_563_840,
    checksum=Checksum("md5", "a5e5354d40acb95f9ec66d5977d140ef"),  # gensim-data's list.json
    hosts=("github.com", "objects.githubusercontent.com", "release-assets.githubusercontent.com"),
    url_env="MMIMDB_WORD2VEC_URL",
    # the uncompressed GoogleNews-vectors-negative300.bin is 3.6 GB
    max_bytes=4 << 30,
)


def _file_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise UsageError(f"{url}: the URL does not end in a file name to cache it under")
    return name


def human_size(size: int) -> str:
    """``553433881`` -> ``'528 MiB'``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.{1 if size < 10 * scale else 0}f} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Source:
    """Where a published file comes from in this run: URL, checksum, hosts, cache name."""

    published: PublishedFile
    url: str
    checksum: Checksum
    hosts: frozenset[str]
    file_name: str
    #: The size to expect, when the file is the published one.
    size: int | None

    @property
    def max_bytes(self) -> int:
        return self.size if self.size is not None else self.published.max_bytes

    def describe_size(self) -> str:
        return human_size(self.size) if self.size is not None else "size as served"


def resolve_source(published: PublishedFile, url: str | None = None) -> Source:
    """The source of ``published``: ``url``, else ``$url_env``, else the publisher's URL."""
    url = url or os.environ.get(published.url_env) or published.url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url}: not an http(s) URL (for {published.what})")
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    name = _file_name(bare)
    published_name = name == published.file_name
    if parts.fragment:
        algorithm, _, value = parts.fragment.partition("=")
        checksum = Checksum(algorithm.lower(), value.lower())
    elif published_name:
        checksum = published.checksum
    elif prefix := hash_prefix_in_name(name):
        checksum = Checksum("sha256", prefix)
    else:
        raise UsageError(f"{url}: cannot check {name} (not the published {published.file_name}, no hash in its name); "
                         f"add its checksum to the URL as {bare}#sha256=HEX (or #md5=HEX)")
    host = parts.hostname.lower()
    hosts = {host} | (set(published.hosts) if host in published.hosts else set())
    same_file = published_name and checksum == published.checksum
    return Source(published, bare, checksum, frozenset(hosts), name, published.size if same_file else None)


def fetch(source: Source, cache_dir: Path, say: Callable[[str], None], progress: bool = True) -> Path:
    """``cache_dir/<file name>``, downloaded and checked first if it is not there.

    The download lands in ``<name>.unverified`` (resumed from ``<name>.unverified.part``)
    and is renamed to ``<name>`` only once its checksum matched.
    """
    from ...fetch.download import download

    cache_dir = Path(cache_dir)
    dest = cache_dir / source.file_name
    if dest.is_file():
        return dest
    staging = cache_dir / f"{source.file_name}.unverified"
    say(f"downloading {source.published.what}: {source.url} ({source.describe_size()}) to {dest}")
    download(url=source.url, dest=staging, max_bytes=source.max_bytes, allowed_hosts=sorted(source.hosts), progress=progress)
    actual = source.checksum.check(staging)
    if actual is not None:
        staging.unlink()
        raise DownloadError(f"{source.url}: {source.checksum.algorithm} {actual} does not match the expected "
                            f"{source.checksum.describe()}; the download was deleted")
    os.replace(staging, dest)
    say(f"{dest.name}: {source.checksum.describe()} checked, cached at {dest}")
    return dest


def default_downloads_dir() -> Path:
    """The data root's ``downloads/`` (``$MMIMDB_HOME/downloads``, else ``~/.cache/mmimdb/downloads``)."""
    from ... import paths

    return paths.downloads_dir(paths.data_root(None))


def locate_or_download(weights: WeightsFile, given: str | None, published: PublishedFile, *, url: str | None,
                       also: Sequence[Path], downloads_dir: Path | None, download: bool,
                       say: Callable[[str], None], progress: bool = True) -> tuple[Path, dict[str, str]]:
    """The pretrained file to use and where it came from (for the manifest).

    A file the user names (``given`` or the option's environment variable) must exist. Else
    the first of ``also`` (another library's cache, e.g. torch hub's) and the downloads
    folder that holds it; else it is downloaded from the source (unless ``download`` is
    False). Every failure is one line naming the file, the URL, the cache path, how to give
    the file, and the offline encoder.
    """
    if given or (weights.env and os.environ.get(weights.env)):
        return weights.locate(given), {}
    source = resolve_source(published, url)
    cache_dir = Path(downloads_dir) if downloads_dir is not None else default_downloads_dir()
    cached = cache_dir / source.file_name
    for path in (*also, cached):
        if path.is_file():
            return path, {}
    if not download:
        raise UsageError(f"{weights.what} not found (looked at {', '.join(str(p) for p in (*also, cached))}) and downloads "
                         f"are off: without --no-download it is fetched from {source.url} ({source.describe_size()}) "
                         f"into {cached}; or {weights.hint()}{weights.alternative()}")
    try:
        path = fetch(source, cache_dir, say, progress)
    except DownloadError as error:
        reason = str(error).removeprefix(f"{source.url}: ").removesuffix("; rerun to resume")  # said below, once
        # the same class: a dropped connection stays "stopped early, resumable" (exit 3)
        raise type(error)(f"{source.file_name} could not be downloaded from {source.url} to {cached}: {reason}; "
                          f"rerun to retry (a partial download resumes), or {weights.hint()}{weights.alternative()}") from None
    return path, {"url": source.url, "checksum": source.checksum.describe()}
