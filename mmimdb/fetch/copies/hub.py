"""A copy in a Hugging Face Hub dataset repository, by id (``user/name``, ``hf:user/name``
or ``hf://datasets/user/name``), fetched with ``huggingface_hub`` into
``<root>/downloads/hub/<user>--<name>`` and then read as a local folder. Offline, point
``--from-copy`` at a snapshot folder instead.
"""
from __future__ import annotations

import re
from pathlib import Path

from ... import paths
from ...errors import MmimdbError, UsageError

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


def snapshot(text: str, root: Path, revision: str | None = None) -> Path:
    """Download (or bring up to date) the dataset repository ``text`` under the data root."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled
    except ImportError:
        raise UsageError("reading a Hub dataset by id needs huggingface_hub: pip install 'mmimdb[hub]' "
                         "(or give the folder of a local snapshot)") from None
    repo = repo_id(text)
    target = snapshot_dir(root, repo)
    try:
        return Path(snapshot_download(repo, repo_type="dataset", revision=revision, local_dir=str(target)))
    except (OfflineModeIsEnabled, LocalEntryNotFoundError) as error:
        raise MmimdbError(f"{repo}: the Hub cannot be reached ({str(error).splitlines()[0][:160]}); "
                          "give the folder of a local snapshot instead") from None
    except HfHubHTTPError as error:
        raise MmimdbError(f"{repo}: the Hub refused ({str(error).splitlines()[0][:160]})") from None
    except OSError as error:
        raise MmimdbError(f"{repo}: download failed ({error.strerror or error})") from None
