"""Poster bytes -> a normalized (3, size, size) float32 array, run in DataLoader workers.

``imagenet`` is torchvision's ImageNet evaluation transform: resize the short side to 256
(bilinear, antialiased), centre-crop 224, scale to [0, 1], subtract the ImageNet mean and
divide by its std. ``original`` first takes the paper's poster crop (the centre region of
width:height 160:256) and resizes it to size x size, then normalizes the same way.

A model trained with other settings says so: CLIP resizes the short side straight to the
input size (``crop_fraction`` 1) with bicubic interpolation and has its own mean and std;
some models squash the whole poster to a square (``resize_mode="squash"``).

JPEGs decode in Pillow's draft mode (DCT scaling), which decodes straight at the smallest
scale that is still at least the size needed: large posters cost a fraction of a full decode.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ...records.posters import decode_poster

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The paper's poster aspect ratio, width / height (images stored as 160 x 256).
POSTER_ASPECT = 160 / 256
KINDS = ("imagenet", "original")
RESIZE_MODES = ("shortest", "squash")
_FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


@dataclass(frozen=True)
class Preprocessing:
    """How a poster becomes a model input; picklable, so DataLoader workers can run it.

    ``kind`` is the user's choice (the model's own geometry, or the paper's poster crop);
    the other fields are the model's: the normalisation it was trained with (``mean``,
    ``std``, called ``norm``), the share of the resized short side kept by the centre crop,
    the resampling filter, and whether it crops (``shortest``) or squashes (``squash``).
    """

    kind: str = "imagenet"
    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    norm: str = "ImageNet"
    crop_fraction: float = 224 / 256
    interpolation: str = "bilinear"
    resize_mode: str = "shortest"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown preprocessing '{self.kind}' (known: {', '.join(KINDS)})")
        if self.interpolation not in _FILTERS:
            raise ValueError(f"unknown interpolation '{self.interpolation}' (known: {', '.join(_FILTERS)})")
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode '{self.resize_mode}' (known: {', '.join(RESIZE_MODES)})")

    @property
    def resize(self) -> int:
        """Short side before the centre crop (256 for a 224 crop, as torchvision does)."""
        return round(self.size / self.crop_fraction)

    def describe(self) -> str:
        normalization = f"{self.norm} mean {tuple(self.mean)} std {tuple(self.std)}"
        if self.kind == "imagenet" and self.resize_mode == "squash":
            return f"RGB, resize {self.size}x{self.size} ({self.interpolation}, antialiased), {normalization}"
        if self.kind == "imagenet":
            return (f"RGB, resize short side {self.resize} ({self.interpolation}, antialiased), centre-crop {self.size}, "
                    f"{normalization}")
        return (f"RGB, centre-crop to width:height 160:256, resize {self.size}x{self.size} ({self.interpolation}), "
                f"{normalization}")

    def _draft(self, width: int, height: int) -> tuple[int, int]:
        """Smallest decoded size that still leaves >= ``size`` pixels after resizing/cropping."""
        if self.kind == "imagenet" and self.resize_mode == "squash":
            scale = max(self.size / width, self.size / height)
        elif self.kind == "imagenet":
            scale = self.resize / min(width, height)
        else:  # the 160:256 crop must still be >= size in both directions
            scale = max(self.size / width, self.size / POSTER_ASPECT / height)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def decode(self, data: bytes, name: str = "poster") -> Image.Image:
        """The poster as an RGB image, decoded in draft mode; :class:`ImageError` if unreadable."""
        image, _, _, _ = decode_poster(data, name, self._draft)
        return image.convert("RGB")

    def geometry(self, image: Image.Image) -> Image.Image:
        """Resize and crop an RGB image to size x size."""
        resample = _FILTERS[self.interpolation]
        if self.kind == "imagenet" and self.resize_mode == "squash":
            return image.resize((self.size, self.size), resample)
        if self.kind == "imagenet":
            width, height = image.size
            # torchvision's Resize(int): the short side becomes `resize`, the long one is truncated.
            if width <= height:
                new_size = (self.resize, max(self.resize, int(self.resize * height / width)))
            else:
                new_size = (max(self.resize, int(self.resize * width / height)), self.resize)
            image = image.resize(new_size, resample)
            left = int(round((new_size[0] - self.size) / 2.0))
            top = int(round((new_size[1] - self.size) / 2.0))
            return image.crop((left, top, left + self.size, top + self.size))
        width, height = image.size
        if width / height > POSTER_ASPECT:  # too wide: keep the full height
            crop_width, crop_height = height * POSTER_ASPECT, height
        else:
            crop_width, crop_height = width, width / POSTER_ASPECT
        left, top = (width - crop_width) / 2, (height - crop_height) / 2
        return image.resize((self.size, self.size), resample, box=(left, top, left + crop_width, top + crop_height))

    def normalize(self, image: Image.Image) -> np.ndarray:
        array = np.asarray(image, dtype=np.float32) / 255.0
        array = (array - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(array.transpose(2, 0, 1))

    def __call__(self, data: bytes, name: str = "poster") -> np.ndarray:
        """(3, size, size) float32 from poster bytes; :class:`ImageError` if unreadable."""
        return self.normalize(self.geometry(self.decode(data, name)))
