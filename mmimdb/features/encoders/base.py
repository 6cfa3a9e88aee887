"""What every encoder is: its output name, dimension, weights file and how it runs."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ...storage.checksums import sha256_of
from ...errors import UsageError


@dataclass(frozen=True)
class EncoderOptions:
    """User choices that encoders read: files given on the command line, preprocessing."""

    word2vec: str | None = None
    word2vec_limit: int | None = None
    vgg16_weights: str | None = None
    preprocessing: str = "imagenet"
    image_size: int | None = None
    cache_dir: Path | None = None


@dataclass(frozen=True)
class WeightsFile:
    """A user-supplied pretrained file and how the user names it (option, env variable)."""

    what: str
    option: str | None
    env: str | None

    def hint(self) -> str:
        ways = [way for way in (f"{self.option} PATH" if self.option else None, f"${self.env}" if self.env else None) if way]
        return f"give it with {' or '.join(ways)}" if ways else "reinstall the package that ships it"

    def error(self, path: Path | str | None, problem: str) -> UsageError:
        """One line naming the file, the option and the environment variable."""
        where = f"{path}: " if path else ""
        return UsageError(f"{where}{self.what} {problem} ({self.hint()})")

    def locate(self, given: str | os.PathLike | None, defaults: Sequence[Path] = ()) -> Path:
        """The file: ``given``, else ``$env``, else the first default that exists."""
        chosen = given or (os.environ.get(self.env) if self.env else None)
        if chosen:
            path = Path(chosen).expanduser()
            if not path.is_file():
                raise self.error(path, "not found")
            return path
        for path in defaults:
            if path.is_file():
                return path
        raise self.error(None, "not given and not found" + (f" at {defaults[0]}" if defaults else ""))


_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.(?:pth|pt)$")


def check_hash_in_name(path: Path, weights: WeightsFile) -> str:
    """sha256 of ``path``; if its name carries a hash prefix (torch hub style
    ``vgg16-397923af.pth``) the digest must start with it."""
    digest = sha256_of(path)
    match = _HASH_IN_NAME.search(path.name)
    if match and not digest.startswith(match.group(1)):
        raise weights.error(path, f"has the wrong checksum (sha256 {digest[:8]}..., its name says {match.group(1)})")
    return digest


@dataclass
class TextEncoder:
    """Plot tokens -> one float32 vector per plot.

    ``encode(token_lists)`` returns (n, dim) float32; ``info`` goes into the manifest.
    """

    name: str
    output: str
    dim: int
    encode: Callable[[Sequence[Sequence[str]]], np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImageEncoder:
    """A torch module (B,3,H,W) float32 -> (B,dim) plus the per-poster preprocessing.

    ``build()`` returns the module in eval mode on the CPU (torch is imported there, not
    here); ``preprocess`` is picklable so DataLoader workers run it; ``info`` goes into
    the manifest.
    """

    name: str
    output: str
    dim: int
    build: Callable[[], Any]
    preprocess: Any
    info: dict[str, Any] = field(default_factory=dict)
