"""Small file systems for the fault tests: a tmpfs of a given size (disk full) and a
read-only mount. Both need root (``mount -t tmpfs``); elsewhere the test skips with the reason."""
from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'mount failed'}); the test needs root")


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``mount`` syntax: 2m, 512k) mounted at ``path``, unmounted after."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a tmpfs of a chosen size needs root and mount(8) (mount -t tmpfs -o size=...)")
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount_read_only(path: Path) -> None:
    """Make the tmpfs at ``path`` read-only (root ignores permission bits, so a mount it is)."""
    _mount("-o", "remount,ro", str(path))
