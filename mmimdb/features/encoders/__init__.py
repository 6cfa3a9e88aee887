"""Pretrained encoders, selectable by name: an open registry.

A text encoder turns token lists into one vector per plot; an image encoder is a torch
module plus the preprocessing its DataLoader workers apply to each poster. Each knows the
HDF5/Parquet name of its output, its dimension and what the manifest records about it.

Built in:

- text: ``word2vec`` (GoogleNews, the paper's ``features``; downloaded when missing),
  ``glove-50`` (offline), ``minilm`` (sentence-transformers all-MiniLM-L6-v2), ``bert`` /
  ``bert-cls`` (a transformers BERT-family model, mean-pooled / [CLS]), ``clip`` (open_clip's
  text tower);
- image: ``vgg16`` (fc7, the paper's ``vgg_features``; downloaded when missing),
  ``efficientnet-lite0`` (offline), ``clip`` (open_clip's image tower).

Adding one takes a few lines (``output`` and ``summary`` let ``build-features --help`` and
``mmimdb benchmark --probe`` know it before it runs)::

    from . import ImageEncoder, register_image_encoder
    from .preprocessing import Preprocessing

    @register_image_encoder("tiny", output="tiny_features", summary="mean colour")
    def tiny(options):
        import torch
        module = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        return ImageEncoder(name="tiny", output="tiny_features", dim=3,
                            build=lambda: module, preprocess=Preprocessing("imagenet"))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .base import EncoderOptions, ImageEncoder, TextEncoder, WeightsFile

TextFactory = Callable[[EncoderOptions], TextEncoder]
ImageFactory = Callable[[EncoderOptions], ImageEncoder]

TEXT_ENCODERS: dict[str, TextFactory] = {}
IMAGE_ENCODERS: dict[str, ImageFactory] = {}


@dataclass(frozen=True)
class Registration:
    """What is known of an encoder before it runs: its output name and a one-line summary."""

    name: str
    modality: str  # "text" or "image"
    output: str | None
    summary: str


REGISTERED: dict[tuple[str, str], Registration] = {}


def register_text_encoder(name: str, output: str | None = None, summary: str = "") -> Callable[[TextFactory], TextFactory]:
    """Decorator: make ``factory(options) -> TextEncoder`` selectable as ``--text name``."""
    def decorate(factory: TextFactory) -> TextFactory:
        TEXT_ENCODERS[name] = factory
        REGISTERED[("text", name)] = Registration(name, "text", output, summary)
        return factory
    return decorate


def register_image_encoder(name: str, output: str | None = None, summary: str = "") -> Callable[[ImageFactory], ImageFactory]:
    """Decorator: make ``factory(options) -> ImageEncoder`` selectable as ``--image name``."""
    def decorate(factory: ImageFactory) -> ImageFactory:
        IMAGE_ENCODERS[name] = factory
        REGISTERED[("image", name)] = Registration(name, "image", output, summary)
        return factory
    return decorate


def encoder_outputs() -> dict[str, str]:
    """Every registered encoder's output name -> its modality (``text`` or ``image``)."""
    return {entry.output: entry.modality for entry in REGISTERED.values() if entry.output}


def describe_encoders(modality: str) -> str:
    """``'word2vec (summary), glove-50 (summary), ...'`` for ``--help``."""
    return ", ".join(f"{entry.name} ({entry.summary})" if entry.summary else entry.name
                     for entry in REGISTERED.values() if entry.modality == modality)


def text_encoder(name: str, options: EncoderOptions | None = None) -> TextEncoder:
    """The registered text encoder ``name``, with its vectors located and checked."""
    from ...errors import UsageError
    if name not in TEXT_ENCODERS:
        raise UsageError(f"unknown text encoder '{name}' (known: {', '.join(sorted(TEXT_ENCODERS))})")
    return TEXT_ENCODERS[name](options or EncoderOptions())


def image_encoder(name: str, options: EncoderOptions | None = None) -> ImageEncoder:
    """The registered image encoder ``name``, with its weights file located and checked."""
    from ...errors import UsageError
    if name not in IMAGE_ENCODERS:
        raise UsageError(f"unknown image encoder '{name}' (known: {', '.join(sorted(IMAGE_ENCODERS))})")
    return IMAGE_ENCODERS[name](options or EncoderOptions())


# The built-in encoders register themselves on import (none imports torch or a model
# library until it is used).
from . import word_vectors as _word_vectors  # noqa: E402,F401
from . import vgg16 as _vgg16  # noqa: E402,F401
from . import efficientnet as _efficientnet  # noqa: E402,F401
from . import sentence as _sentence  # noqa: E402,F401
from . import transformer as _transformer  # noqa: E402,F401
from . import clip as _clip  # noqa: E402,F401

__all__ = [
    "EncoderOptions", "ImageEncoder", "TextEncoder", "WeightsFile", "TEXT_ENCODERS", "IMAGE_ENCODERS", "REGISTERED",
    "Registration", "register_text_encoder", "register_image_encoder", "text_encoder", "image_encoder",
    "encoder_outputs", "describe_encoders",
]
