"""File checksums: one reader for every digest the package computes or checks."""
from __future__ import annotations

import hashlib
import os
from typing import Callable

CHUNK_BYTES = 1 << 20


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", chunk: int = CHUNK_BYTES,
                on_bytes: Callable[[int], None] | None = None) -> str:
    """Hex digest of a file (``sha256``, ``md5``, ...), read in chunks; ``on_bytes(n)`` is
    called after each chunk (a progress bar's ``update``)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            if on_bytes is not None:
                on_bytes(len(block))
    return digest.hexdigest()


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    return file_digest(path, "sha256")
