"""A copy in a Hugging Face Hub dataset repository, by id (``user/name``, ``hf:user/name``
or ``hf://datasets/user/name``), fetched with ``huggingface_hub`` into
``<root>/downloads/hub/<user>--<name>`` and then read as a local folder. Offline, point
``--from-copy`` at a snapshot folder instead.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ... import paths
from ...errors import MmimdbError, UsageError

#: Most bytes a Hub copy may bring (the release's posters and records are about 8 GB; Arrow
#: copies with every plot are about as large). A larger repository holds more than the copy:
#: pick the copy's files with ``include``.
MAX_HUB_BYTES = 32 * 1024**3
_HUB_ID = re.compile(r"^(?:hf:|hf://datasets/)?([A-Za-z0-9][\w.-]*/[\w.-]+)$")


def is_hub_id(text: str) -> bool:
    """True for ``user/name`` and its ``hf:`` / ``hf://datasets/`` forms.

    >>> is_hub_id("someone/mmimdb"), is_hub_id("hf://datasets/someone/mmimdb"), is_hub_id("./a/b/c")
    (True, True, False)
    """
    return _HUB_ID.match(text.strip()) is not None


def repo_id(text: str) -> str:
    match = _HUB_ID.match(text.strip())
    if match is None:
        raise UsageError(f"{text}: not a Hub dataset id (user/name)")
    return match.group(1)


def snapshot_dir(root: Path, repo: str) -> Path:
    return paths.downloads_dir(root) / "hub" / repo.replace("/", "--")


def snapshot(text: str, root: Path, revision: str | None = None, include: Sequence[str] | None = None,
             max_bytes: int = MAX_HUB_BYTES) -> tuple[Path, str]:
    """Download the dataset repository ``text`` (only the files matching ``include``, when
    given) under the data root; return the folder and ``user/name@commit``.

    The repository's file list is read first: more than ``max_bytes`` is refused before a
    byte of it is downloaded, and the files come from the commit that list was read at.
    """
    try:
        from huggingface_hub import HfApi, snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled
        from huggingface_hub.utils import filter_repo_objects
    except ImportError:
        raise UsageError("reading a Hub dataset by id needs huggingface_hub: pip install 'mmimdb[hub]' "
                         "(or give the folder of a local snapshot)") from None
    repo = repo_id(text)
    patterns = list(include) if include else None
    try:
        info = HfApi().dataset_info(repo, revision=revision, files_metadata=True)
        files = list(filter_repo_objects(info.siblings or [], allow_patterns=patterns, key=lambda s: s.rfilename))
        total = sum(sibling.size or 0 for sibling in files)
        if not files:
            raise UsageError(f"{repo}: no file of the repository matches {', '.join(patterns or [])}")
        if total > max_bytes:
            raise MmimdbError(f"{repo}: {len(files)} files of {total} bytes, over the {max_bytes}-byte cap; "
                              "pick the copy's files with --hub-include PATTERN")
        folder = snapshot_download(repo, repo_type="dataset", revision=info.sha, allow_patterns=patterns,
                                   local_dir=str(snapshot_dir(root, repo)))
    except (OfflineModeIsEnabled, LocalEntryNotFoundError) as error:
        raise MmimdbError(f"{repo}: the Hub cannot be reached ({str(error).splitlines()[0][:160]}); "
                          "give the folder of a local snapshot instead") from None
    except HfHubHTTPError as error:
        raise MmimdbError(f"{repo}: the Hub refused ({str(error).splitlines()[0][:160]})") from None
    except OSError as error:
        raise MmimdbError(f"{repo}: download failed ({error.strerror or error})") from None
    return Path(folder), f"{repo}@{info.sha}"
