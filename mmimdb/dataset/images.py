"""The original HDF5's ``images``: a poster as the release stores it.

:func:`preprocess_poster` decodes a poster with the records' safe decoder
(:func:`mmimdb.records.posters.decode_poster`, so with its caps) and turns it into the array
the original HDF5 stores: the 160:256 centre crop (:func:`crop_box`), 160 x 256, BGR minus the
Caffe means, channels first.
"""
from __future__ import annotations

import numpy as np

from PIL import Image

from ..errors import ImageError
from ..records.posters import decode_poster

#: Image size (width, height) of the original: 160 x 256.
IMAGE_SIZE: tuple[int, int] = (160, 256)
#: Shape of one preprocessed image: channels first, BGR.
IMAGE_SHAPE: tuple[int, int, int] = (3, IMAGE_SIZE[1], IMAGE_SIZE[0])
#: Caffe's ImageNet means, in BGR order, subtracted from every image.
CAFFE_MEAN_BGR: tuple[float, float, float] = (103.939, 116.779, 123.68)
# Pixel value -> stored value per BGR channel, computed with the original's float32
# arithmetic (value - mean, truncated to int32): a table lookup gives the same integers
# without a float image.
_MEAN_TABLES = (np.arange(256, dtype=np.float32)[None, :]
                - np.asarray(CAFFE_MEAN_BGR, dtype=np.float32)[:, None]).astype(np.int32)


def crop_box(width: int, height: int, size: tuple[int, int] = IMAGE_SIZE) -> tuple[int, int, int, int]:
    """The original's centre crop to the aspect ratio of ``size`` (width, height).

    >>> crop_box(300, 450)
    (9, 0, 290, 450)
    >>> crop_box(300, 300)
    (56, 0, 243, 300)
    """
    width_ratio, height_ratio = width / size[0], height / size[1]
    if height_ratio > width_ratio:
        return 0, int(height / 2 - size[1] * width_ratio / 2), width, int(height / 2 + size[1] * width_ratio / 2)
    return int(width / 2 - size[0] * height_ratio / 2), 0, int(width / 2 + size[0] * height_ratio / 2), height


def _original_draft(width: int, height: int) -> tuple[int, int] | None:
    """Draft size for :func:`preprocess_poster`: decode large JPEGs at 1/2, 1/4 or 1/8 scale
    while the crop stays at least 160 x 256 (the original shrank such large images with a
    nearest-neighbour pre-resize instead)."""
    scale = max(IMAGE_SIZE[0] / width, IMAGE_SIZE[1] / height)
    return (int(np.ceil(width * scale)), int(np.ceil(height * scale))) if scale < 0.5 else None


def preprocess_poster(data: bytes, name: str = "poster") -> np.ndarray:
    """A poster as the original HDF5 stores it: (3, 256, 160) int32.

    Decoded by :func:`decode_poster` (so with its caps), centre-cropped to 160:256, resized
    to 160 x 256 with Lanczos (the original's ANTIALIAS), RGB to BGR, minus the Caffe means,
    channels first, truncated to int32 as the original's float-to-int32 store did. Raises
    :class:`ImageError` naming ``name``.
    """
    image, _, _, _ = decode_poster(data, name, _original_draft)
    try:
        cropped = image.crop(crop_box(*image.size))
        resized = cropped.resize(IMAGE_SIZE, Image.LANCZOS).convert("RGB")
    except (OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ImageError(f"{name}: not a readable image ({reason})") from None
    finally:
        image.close()
    rgb = np.asarray(resized)
    return np.stack([np.take(_MEAN_TABLES[channel], rgb[..., 2 - channel]) for channel in range(3)])
