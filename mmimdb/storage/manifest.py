"""The manifest of a data root (``<root>/manifest.json``): what was built, from what, and the
sha256 of every output, so that integrity is checked rather than assumed.

``outputs`` maps each file's path relative to the root to ``{"sha256", "bytes"}``; ``mmimdb
build`` writes it, and every later stage that writes or changes a file records it again.
:func:`verify` compares the files with it (``mmimdb info --verify``,
``mmimdb.load(..., verify=True)``).

>>> problems = verify(data_root())   # doctest: +SKIP
>>> problems                          # doctest: +SKIP
['multimodal_imdb.hdf5: sha256 differs from the manifest (the file changed after it was written)']
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import paths
from ..errors import MmimdbError
from . import atomic, lock
from .checksums import sha256_of

OUTPUTS = "outputs"
FEATURES = "features"
#: Sections that map names to entries (objects), and sections that are one object: the
#: shapes every reader relies on.
_OBJECTS_OF_OBJECTS = (OUTPUTS, FEATURES, "exports", "missing", "card")
_OBJECTS = ("split", "choices", "counts", "versions")


def read_manifest(root: str | os.PathLike) -> dict[str, Any]:
    """The manifest of ``root`` ({} when there is none); :class:`MmimdbError` if it is damaged."""
    path = paths.manifest_path(Path(root).expanduser())
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise MmimdbError(f"{path}: not a readable manifest ({error}); rerun `mmimdb build`") from None
    if not isinstance(manifest, dict):
        raise MmimdbError(f"{path}: not a readable manifest (a JSON object is expected); rerun `mmimdb build`")
    # Every reader goes through here: a section of the wrong shape (valid JSON, damaged or
    # hand-edited) is refused once, in one line, instead of failing later in each reader.
    for section, value in manifest.items():
        if section in _OBJECTS_OF_OBJECTS and not (
                isinstance(value, dict) and all(isinstance(entry, dict) for entry in value.values())):
            raise MmimdbError(f"{path}: not a readable manifest ('{section}' is not an object of objects); rerun `mmimdb build`")
        if section in _OBJECTS and not isinstance(value, dict):
            raise MmimdbError(f"{path}: not a readable manifest ('{section}' is not an object); rerun `mmimdb build`")
    return manifest


def output_entry(path: str | os.PathLike) -> dict[str, Any]:
    """``{"sha256", "bytes"}`` of a file, as the manifest records it."""
    return {"sha256": sha256_of(path), "bytes": Path(path).stat().st_size}


def update(root: str | os.PathLike, outputs: Iterable[str] = (), features: dict[str, Any] | None = None) -> None:
    """Record (again) the checksums of ``outputs`` (paths relative to ``root``) and set
    ``features[name] = entry`` for each of ``features``; read-modify-write, atomic."""
    root = Path(root).expanduser()
    with lock.manifest_update(root):
        manifest = read_manifest(root)
        for relative in outputs:
            manifest.setdefault(OUTPUTS, {})[relative] = output_entry(root / relative)
        for name, entry in (features or {}).items():
            manifest.setdefault(FEATURES, {})[name] = entry
        _write(root, manifest)


def record(root: str | os.PathLike, section: str, name: str, entry: dict[str, Any],
           outputs: Iterable[str] = ()) -> None:
    """Set ``manifest[section][name] = entry`` (what ``export``, ``missing`` or ``card`` wrote,
    with which choices) and record the checksums of ``outputs`` (files under ``root``, so that
    ``mmimdb info --verify`` checks them too); read-modify-write, atomic."""
    root = Path(root)
    with lock.manifest_update(root):
        manifest = read_manifest(root)
        manifest.setdefault(section, {})[name] = entry
        for relative in outputs:
            manifest.setdefault(OUTPUTS, {})[relative] = output_entry(root / relative)
        _write(root, manifest)


def _write(root: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest (under :func:`lock.manifest_update`, so a temporary file of it that
    is already there is a killed writer's, removed first)."""
    path = paths.manifest_path(root)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)
    atomic.write_json(path, manifest)


def feature_entries(root: str | os.PathLike) -> dict[str, Any]:
    """The manifest's ``features`` section: what ``mmimdb build-features`` wrote."""
    return read_manifest(root).get(FEATURES, {})


def unlisted_files(root: Path, manifest: dict[str, Any]) -> list[str]:
    """Files in the root's output folders (``parquet/``, ``features/``, ``missing/``,
    ``figures/``, ``exports/``) that the manifest does not account for. Not outputs: the
    encoders' caches (``features/cache``) and an interrupted job's chunks
    (``features/.partial``); an export folder is accounted for as a whole by its entry."""
    listed = set(manifest.get(OUTPUTS, {}))
    exports = [Path(str(entry.get("out", ""))) for entry in manifest.get("exports", {}).values()]
    skipped = [paths.features_cache_dir(root), paths.features_dir(root) / ".partial"]
    found = []
    for folder in (paths.parquet_dir(root), paths.features_dir(root), paths.missing_dir(root), paths.figures_dir(root),
                   paths.exports_dir(root)):
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if not path.is_file() or any(path.is_relative_to(place) for place in skipped):
                continue
            if any(out.is_absolute() and path.resolve().is_relative_to(out.resolve()) for out in exports):
                continue
            relative = str(path.relative_to(root))
            if relative not in listed:
                found.append(relative)
    return found


def verify(root: str | os.PathLike, only: Iterable[str] | None = None,
           on_file: Callable[[str], None] | None = None) -> list[str]:
    """Compare the outputs under ``root`` with the manifest; return one line per file that
    is missing or differs (empty: all match). ``only`` limits the check to those relative
    paths; ``on_file(path)`` is called before each file is hashed (progress)."""
    root = Path(root).expanduser()
    manifest = read_manifest(root)
    if OUTPUTS not in manifest:
        raise MmimdbError(f"{paths.manifest_path(root)}: no manifest of the outputs; run `mmimdb build`")
    wanted = set(only) if only is not None else None
    problems = [f"{relative}: not in the manifest, so nothing to check it against"
                for relative in sorted((wanted or set()) - set(manifest[OUTPUTS]))]
    if wanted is None:
        problems += [f"{relative}: in an output folder but not in the manifest (left by an earlier build, or put there "
                     "by hand); remove it or rerun the command that writes it" for relative in unlisted_files(root, manifest)]
    for relative, expected in sorted(manifest[OUTPUTS].items()):
        if wanted is not None and relative not in wanted:
            continue
        if on_file is not None:
            on_file(relative)
        path = root / relative
        if not path.is_file():
            problems.append(f"{relative}: missing (the manifest lists it)")
        elif path.stat().st_size != expected.get("bytes"):
            problems.append(f"{relative}: {path.stat().st_size} bytes, the manifest says {expected.get('bytes')}")
        elif sha256_of(path) != expected.get("sha256"):
            problems.append(f"{relative}: sha256 differs from the manifest (the file changed after it was written)")
    return problems
