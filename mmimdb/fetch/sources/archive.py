"""The original release as a source: records and posters of an extracted MM-IMDb release.

For the ids the 2017 release has, its records (scraped from IMDb's pages in 2016, with
2.48 genres a movie and the full plots) are the best there is; put ``archive`` first in
``--source`` and let today's sources fill the ids it lacks. ``--archive-dir`` is the
extracted release (the folder holding ``dataset/``, its parent, or ``dataset/`` itself).
No network: the poster is the release's own JPEG, checked like any other.
To import the whole release as it is, use ``mmimdb fetch --from-archive`` instead.
"""
from __future__ import annotations

from pathlib import Path

from ..archive import SOURCE_NAME
from ...errors import RecordError, UsageError
from ..http import PoliteSession
from ..movielens import Link
from ...records.record import is_file_id
from ...records.store import RecordStore
from .base import NEXT_STEP, Found, NotFound, Source, SourceFailed, SourceStopped, SourceUnavailable


def _dataset_folder(location: Path) -> Path:
    for candidate in (location, location / "dataset", location / "mmimdb" / "dataset"):
        # A record's name, not any JSON: the release's top folder holds split.json.
        if candidate.is_dir() and any(is_file_id(path.stem) for path in candidate.glob("*.json")):
            return candidate
    raise UsageError(f"--archive-dir: {location} holds no extracted release (no <id>.json under it, dataset/ or mmimdb/dataset/)")


class ArchiveSource(Source):
    name = SOURCE_NAME
    default_url = "https://archive.org/download/mmimdb"  # where the release is; never fetched here

    def __init__(self, location: str | None):
        super().__init__(None)
        if not location:
            raise UsageError("the archive source needs --archive-dir (the extracted original release)")
        self.store = RecordStore(_dataset_folder(Path(location).expanduser()))

    def lookup(self, link: Link, session: PoliteSession) -> Found:
        if link.imdb_id not in self.store:
            if not self.store.directory.is_dir():
                # A folder that went away (an unmounted disk) must not turn every id into a
                # final "not found".
                raise SourceStopped(f"archive: {self.store.directory} is no longer there (an unmounted disk?); {NEXT_STEP}")
            raise NotFound("archive: not in the release")
        try:
            record = self.store.read(link.imdb_id)
            path = self.store.poster_path(link.imdb_id)
            poster_data = path.read_bytes() if path.is_file() else None
        except RecordError as error:
            raise SourceFailed(f"archive: {error}") from None
        except OSError as error:  # a failing disk: several in a row stop the crawl
            raise SourceUnavailable(f"archive: cannot read {link.imdb_id} ({error.strerror or error})") from None
        poster = record.pop("poster", {})
        for key in ("imdb_id", "sources"):
            record.pop(key, None)
        return Found(record, poster_url=poster.get("url"), full_size_poster_url=poster.get("full_size_url"),
                     poster_data=poster_data)
