"""What the pretrained-model encoders (sentence-transformers, transformers, open_clip) share:
a model named by a local folder or by its hub name, one-line errors when it cannot be had,
the provenance the manifest records, importing their libraries, and running plots through
them in batches.

A model is a local path when it exists on this machine (or is written like a path: it
starts with ``/``, ``.`` or ``~``); anything else is a name on the Hugging Face hub, which
the library downloads into its own cache (``~/.cache/huggingface``) when there is network.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ...errors import UsageError
from ...storage.checksums import sha256_of

#: Weight files whose digest identifies a model folder.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")


@dataclass(frozen=True)
class ModelSource:
    """How the user names an encoder's model: option, environment variable, default, and
    how a folder of it is written (for the error that says how to provide one)."""

    what: str
    option: str
    env: str
    saved_with: str

    def choose(self, given: str | None, default: str) -> "ModelRef":
        """The model to load: ``given``, else ``$env``, else ``default``."""
        return ModelRef(given or os.environ.get(self.env) or default, self)

    def missing(self, name: str, reason: str) -> UsageError:
        """One line: what is missing, why, and the two ways to provide it."""
        return UsageError(f"{self.what} model '{name}' {reason}; give a local folder with {self.option} PATH "
                          f"(or ${self.env}; a folder written by {self.saved_with}), or a hub name on a machine with network")


@dataclass(frozen=True)
class ModelRef:
    """A model named by the user: a local folder or file, or a hub name."""

    name: str
    source: ModelSource

    @property
    def path(self) -> Path | None:
        """The local path, when the name is one (existing or written like a path)."""
        path = Path(self.name).expanduser()
        if path.exists() or self.name.startswith(("/", ".", "~")) or os.sep != "/" and os.sep in self.name:
            return path
        return None

    def local_path(self) -> Path | None:
        """The existing local path; a path that does not exist is a one-line error."""
        path = self.path
        if path is not None and not path.exists():
            raise self.source.missing(self.name, "is not on this machine (no such folder)")
        return path.resolve() if path is not None else None


def weights_digest(path: Path) -> str | None:
    """sha256 identifying a model's weights: the file's, or over a folder's weight files
    (name and sha256 of each, sorted); None when there are none."""
    if path.is_file():
        return sha256_of(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not files:
        return None
    if len(files) == 1:
        return sha256_of(files[0])
    listing = "\n".join(f"{p.relative_to(path)} {sha256_of(p)}" for p in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def hub_snapshot(name: str) -> Path | None:
    """The local folder of hub model ``name`` in the Hugging Face cache, once downloaded."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or not a hub name): no folder to hash
        return None


def provenance(ref: ModelRef, library: str) -> dict[str, Any]:
    """What the manifest says about where a model came from: path or hub name, library
    version, and the sha256 of its weights."""
    module = sys.modules.get(library)
    info: dict[str, Any] = {"model": ref.name, "library": f"{library} {getattr(module, '__version__', '?')}"}
    path = ref.path
    if path is None:
        info["source"] = "Hugging Face hub"
        path = hub_snapshot(ref.name)
        if path is not None:
            info["revision"] = path.name  # the snapshot folder is named by the commit
    else:
        info["source"] = "local path"
    digest = weights_digest(path) if path is not None else None
    if digest is not None:
        info["sha256"] = digest
    return info


# ----------------------------------------------------------------------------------- imports

_TORCHVISION_OPS = ("nms", "qnms")


def _let_torchvision_import_without_its_ops() -> None:
    """Make a torchvision whose C++ ops cannot load importable anyway.

    PyPI's torchvision wheels are built against torch's CUDA build. Beside torch's CPU-only
    build of the same version their ``_C`` library does not load, and ``import torchvision``
    then stops at registering fake kernels for ops that do not exist ("operator
    torchvision::nms does not exist"). transformers, sentence-transformers and open_clip all
    import torchvision when it is installed, so they fail with it, although none of them
    needs its ops: CLIP and text models use only its pure-Python image transforms.
    Declaring the two ops' schemas lets the import finish; calling them still fails loudly.
    """
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is None:
        return
    try:
        importlib.import_module("torchvision")
        return
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
    import torch

    for op in _TORCHVISION_OPS:
        try:
            torch.library.define(f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        except RuntimeError:
            pass  # already declared
    importlib.import_module("torchvision")


def import_library(module: str, package: str, extra: str) -> Any:
    """``import module``, or a usage error saying which package and extra install it."""
    _let_torchvision_import_without_its_ops()
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise UsageError(f"this encoder needs the package {package} ({error.name or error}): "
                         f"pip install 'mmimdb[{extra}]'") from None


def first_line(error: BaseException, limit: int = 200) -> str:
    """An exception as one short line."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------------- running

def torch_device(options: Any) -> Any:
    """The torch device text models run on (the features stage's ``--device``)."""
    from ...device import resolve_device

    return resolve_device(options.device, log=None)


def encode_in_batches(texts: Sequence[str], encode_batch: Callable[[list[str]], np.ndarray], dim: int,
                      batch_size: int = 32, desc: str = "plots", progress: bool = True) -> np.ndarray:
    """(n, dim) float32: ``encode_batch`` over ``texts`` in batches of similar length (less
    padding), rows back in the order of ``texts``."""
    from tqdm import tqdm

    out = np.zeros((len(texts), dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with tqdm(total=len(texts), unit="plot", desc=desc, file=sys.stderr, disable=not progress) as bar:
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            out[rows] = encode_batch([texts[i] for i in rows])
            bar.update(len(rows))
    return out
