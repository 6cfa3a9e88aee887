"""Sections that commands after the build add to ``<root>/manifest.json``.

``mmimdb build`` writes the manifest; ``export``, ``missing`` and ``card`` each record what
they wrote under a section of their own (``exports``, ``missing``, ``card``), so that one
file says how every artefact under the root was made. A rebuild writes a new manifest: the
sections go with it, as the artefacts they describe no longer match the dataset.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import atomic, paths
from .errors import MmimdbError


def read(root: Path) -> dict[str, Any]:
    """The manifest of the build under ``root`` ({} when there is none)."""
    path = paths.manifest_path(root)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MmimdbError(f"{path}: not valid JSON ({error}); rerun `mmimdb build`") from None


def record(root: Path, section: str, name: str, entry: dict[str, Any]) -> None:
    """Set ``manifest[section][name] = entry`` (read-modify-write, atomic)."""
    manifest = read(root)
    manifest.setdefault(section, {})[name] = entry
    atomic.write_json(paths.manifest_path(root), manifest)
