"""thumbnail: one square (by default 300x300) cover crop, placed where the detail is.

The variant is named after the requested box (``300x300``) so clients can build its URL; an
upload smaller than the box is not enlarged, the crop is then the largest square it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imgpipe.imaging import (
    STRATEGIES,
    EncodeOptions,
    aspect_box,
    cover_size,
    crop_size,
    encode,
    open_image,
    resize,
)
from imgpipe.limits import Limits
from imgpipe.runtime import Output

DEFAULT_SIZE = 300
THUMBNAIL_FORMATS = ("webp", "jpeg", "avif", "png")


def box_of(settings: Mapping[str, Any]) -> tuple[int, int]:
    size = settings.get("size", DEFAULT_SIZE)
    if isinstance(size, int):
        return size, size
    width, height = (int(v) for v in size)
    return width, height


def process(data: bytes, settings: Mapping[str, Any]) -> list[Output]:
    box = box_of(settings)
    strategy = str(settings.get("crop", "content"))
    if strategy not in STRATEGIES:
        raise ValueError(f"thumbnail: crop must be one of {STRATEGIES}, not {strategy!r}")
    formats = [str(f) for f in settings.get("formats", ["webp"])]
    unknown = set(formats) - set(THUMBNAIL_FORMATS)
    if unknown or not formats:
        raise ValueError(f"thumbnail: formats must be a non-empty subset of {THUMBNAIL_FORMATS}, not {formats}")
    options = EncodeOptions.from_settings(settings)

    source = open_image(data, Limits.from_settings(settings))
    # A JPEG is decoded straight at 1/2, 1/4 or 1/8 scale, still covering the box: a 24 MP
    # photo becomes ~0.4 MP here. The window is chosen on that, and only it is resampled.
    image = source.decode(min_size=cover_size(source.size, box))
    image = resize(image, crop_size(source.size, box), box=aspect_box(image, box, strategy))
    name = f"{box[0]}x{box[1]}"
    return [Output(name, fmt, encode(image, fmt, options, source.exif), *image.size) for fmt in formats]
