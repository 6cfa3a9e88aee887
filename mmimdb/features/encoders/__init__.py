"""Pretrained encoders, selectable by name: an open registry.

A text encoder turns token lists into one vector per plot; an image encoder is a torch
module plus the preprocessing its DataLoader workers apply to each poster. Each knows the
HDF5/Parquet name of its output, its dimension and what the manifest records about it.

Built in: text ``word2vec`` (GoogleNews, the paper's ``features``), ``glove-50`` (offline);
image ``vgg16`` (fc7, the paper's ``vgg_features``), ``efficientnet-lite0`` (offline).

Adding one takes a few lines::

    from . import ImageEncoder, register_image_encoder
    from .preprocessing import Preprocessing

    @register_image_encoder("tiny")
    def tiny(options):
        import torch
        module = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        return ImageEncoder(name="tiny", output="tiny_features", dim=3,
                            build=lambda: module, preprocess=Preprocessing("imagenet"))
"""
from __future__ import annotations

from typing import Callable

from .base import EncoderOptions, ImageEncoder, TextEncoder, WeightsFile

TextFactory = Callable[[EncoderOptions], TextEncoder]
ImageFactory = Callable[[EncoderOptions], ImageEncoder]

TEXT_ENCODERS: dict[str, TextFactory] = {}
IMAGE_ENCODERS: dict[str, ImageFactory] = {}


def register_text_encoder(name: str) -> Callable[[TextFactory], TextFactory]:
    """Decorator: make ``factory(options) -> TextEncoder`` selectable as ``--text name``."""
    def decorate(factory: TextFactory) -> TextFactory:
        TEXT_ENCODERS[name] = factory
        return factory
    return decorate


def register_image_encoder(name: str) -> Callable[[ImageFactory], ImageFactory]:
    """Decorator: make ``factory(options) -> ImageEncoder`` selectable as ``--image name``."""
    def decorate(factory: ImageFactory) -> ImageFactory:
        IMAGE_ENCODERS[name] = factory
        return factory
    return decorate


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


# The built-in encoders register themselves on import.
from . import word_vectors as _word_vectors  # noqa: E402,F401
from . import vgg16 as _vgg16  # noqa: E402,F401
from . import efficientnet as _efficientnet  # noqa: E402,F401

__all__ = [
    "EncoderOptions", "ImageEncoder", "TextEncoder", "WeightsFile", "TEXT_ENCODERS", "IMAGE_ENCODERS",
    "register_text_encoder", "register_image_encoder", "text_encoder", "image_encoder",
]
