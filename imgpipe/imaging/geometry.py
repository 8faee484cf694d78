"""Sizes, orientation and resampling. Sizes are (width, height) as displayed unless named
``stored``; nothing here ever enlarges an image."""

from __future__ import annotations

import math

from PIL import Image

#: EXIF orientation -> the transpose that makes the image upright (1 needs none).
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

#: Pillow first shrinks by an integer factor with a box filter while the remaining ratio stays
#: above this gap, then resamples with Lanczos: much faster on large reductions, and at 3 the
#: result cannot be told from a full Lanczos pass.
REDUCING_GAP = 3.0


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """Orientations 5 to 8 turn the image a quarter: width and height swap."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def orient(im: Image.Image, orientation: int) -> Image.Image:
    transpose = _TRANSPOSE.get(orientation)
    return im.transpose(transpose) if transpose is not None else im


def fit_width(size: tuple[int, int], width: int) -> tuple[int, int]:
    """The size at ``width`` keeping the aspect ratio (no enlargement)."""
    w, h = size
    width = min(width, w)
    return width, max(1, round(h * width / w))


def fit_long_edge(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """The size whose longer side is at most ``long_edge`` (no enlargement)."""
    w, h = size
    scale = min(1.0, long_edge / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def fit_pixels(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """The size with at most ``max_pixels`` pixels (no enlargement)."""
    w, h = size
    scale = min(1.0, math.sqrt(max_pixels / (w * h)))
    return max(1, math.floor(w * scale)), max(1, math.floor(h * scale))


def cover_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The smallest size that covers ``box`` keeping the aspect ratio, never above ``size``."""
    w, h = size
    scale = min(1.0, max(box[0] / w, box[1] / h))
    return max(1, math.ceil(w * scale - 1e-9)), max(1, math.ceil(h * scale - 1e-9))


def crop_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest size with ``box``'s aspect ratio that fits in ``size``, at most ``box``."""
    scale = min(1.0, size[0] / box[0], size[1] / box[1])
    return max(1, min(size[0], round(box[0] * scale))), max(1, min(size[1], round(box[1] * scale)))


def resize(im: Image.Image, size: tuple[int, int], box: tuple[int, int, int, int] | None = None) -> Image.Image:
    """Lanczos resampling (Pillow premultiplies alpha itself), with the integer pre-shrink.
    ``box`` resamples only that region, without first copying it out as a crop would."""
    if im.size == size and box in (None, (0, 0, *im.size)):
        return im
    return im.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
