"""Posters: the one safe decoder every stage uses.

A poster counts only once it decodes completely and safely (:func:`decode_poster`:
size caps, decompression bombs, truncation); :func:`check_poster` is what the fetch and the
build keep of it (size, format, sha256). The original HDF5's pixels (the 160:256 crop, the
Caffe means) are the build's: :mod:`mmimdb.dataset.images`.
"""
from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from typing import Callable

from PIL import Image

from ..errors import ImageError

#: Largest poster accepted, in pixels. Real posters are under 1 Mpx; a bigger one is a
#: decompression bomb or not a poster.
MAX_POSTER_PIXELS = 40_000_000
#: Largest poster file accepted, in bytes.
MAX_POSTER_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class PosterInfo:
    width: int
    height: int
    format: str
    sha256: str

    def record_fields(self) -> dict[str, int | str]:
        """What a record keeps of its checked poster: the ``poster`` object's ``sha256``,
        ``width`` and ``height``."""
        return {"sha256": self.sha256, "width": self.width, "height": self.height}


def decode_poster(data: bytes, name: str = "poster",
                  draft: Callable[[int, int], tuple[int, int] | None] | None = None) -> tuple[Image.Image, int, int, str]:
    """Decode ``data`` completely and safely: (loaded image, original width, height, format).

    Raises :class:`ImageError` (naming ``name``) if it is empty, too large, not an image,
    truncated or corrupt. For a JPEG, ``draft(width, height)`` gives the smallest size the
    caller needs; Pillow's draft mode then decodes at the smallest DCT scale still at least
    that large (every byte of the entropy-coded data is still read, so truncation is caught);
    ``draft`` returning None decodes at full size.
    """
    if not data:
        raise ImageError(f"{name}: empty poster file")
    if len(data) > MAX_POSTER_BYTES:
        raise ImageError(f"{name}: poster is {len(data)} bytes, over the {MAX_POSTER_BYTES}-byte cap")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; treat it as an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_POSTER_PIXELS:
                raise ImageError(f"{name}: {width}x{height} pixels is over the {MAX_POSTER_PIXELS}-pixel cap")
            image_format = image.format or "unknown"
            if image_format == "JPEG" and draft is not None:
                size = draft(width, height)
                if size is not None:
                    image.draft("RGB", size)
            image.load()
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        # Pillow names the buffer by its address ("<_io.BytesIO object at 0x7fd8...>"): reports
        # of two runs must be the same bytes
        reason = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "", reason)
        raise ImageError(f"{name}: not a readable image ({reason})") from None
    return image, width, height, image_format


def check_poster(data: bytes, name: str = "poster") -> PosterInfo:
    """Decode ``data`` fully and return its size, format and sha256.

    Raises :class:`ImageError` (naming ``name``) if it is empty, too large, not an image,
    truncated or corrupt. JPEGs decode in draft mode at 1/8 scale: the whole file is still
    read, at a fraction of the cost.
    """
    image, width, height, image_format = decode_poster(data, name, lambda w, h: (max(1, w // 8), max(1, h // 8)))
    image.close()
    return PosterInfo(width, height, image_format, hashlib.sha256(data).hexdigest())


#: Thumbnail size in pixels (width, height): the posters' 160:256 shape, half size.
THUMBNAIL_SIZE = (80, 128)


def thumbnail_jpeg(data: bytes, name: str = "poster", size: tuple[int, int] = THUMBNAIL_SIZE,
                   quality: int = 80) -> bytes:
    """``data`` (a poster file) decoded safely and shrunk to fit ``size``, as JPEG bytes (for
    pages that show many posters at once: the report, the qualitative examples).

    Raises :class:`ImageError` naming ``name`` when the poster does not decode.
    """
    # Draft mode decodes a JPEG at the smallest DCT scale still at least twice the thumbnail.
    image, _, _, _ = decode_poster(data, name, lambda w, h: (2 * size[0], 2 * size[1]))
    with image:
        small = image.convert("RGB")
        small.thumbnail(size)
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
