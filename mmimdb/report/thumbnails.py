"""Small JPEG copies of the posters, for pages that show many of them at once."""
from __future__ import annotations

import io

from ..records.posters import decode_poster

#: Thumbnail size in pixels (width, height): the posters' 160:256 shape, half size.
THUMBNAIL_SIZE = (80, 128)


def thumbnail_jpeg(data: bytes, name: str = "poster", size: tuple[int, int] = THUMBNAIL_SIZE,
                   quality: int = 80) -> bytes:
    """``data`` (a poster file) decoded safely and shrunk to fit ``size``, as JPEG bytes.

    Raises :class:`mmimdb.errors.ImageError` naming ``name`` when the poster does not decode.
    """
    # Draft mode decodes a JPEG at the smallest DCT scale still at least twice the thumbnail.
    image, _, _, _ = decode_poster(data, name, lambda w, h: (2 * size[0], 2 * size[1]))
    with image:
        small = image.convert("RGB")
        small.thumbnail(size)
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
