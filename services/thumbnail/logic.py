"""thumbnail: one square (by default 300x300) cover crop, placed where the detail is.

The variant is named after the requested box (``300x300``) so clients can build its URL; an
upload smaller than the box is not enlarged, the crop is then the largest square it has.
"""

from __future__ import annotations

from imgpipe.imaging import (
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

from .settings import Settings


def box_of(settings: Settings) -> tuple[int, int]:
    if isinstance(settings.size, int):
        return settings.size, settings.size
    width, height = settings.size
    return width, height


def process(data: bytes, settings: Settings) -> list[Output]:
    box = box_of(settings)
    options = EncodeOptions.from_settings(settings)

    source = open_image(data, Limits.from_settings(settings))
    # A JPEG is decoded straight at 1/2, 1/4 or 1/8 scale, still covering the box: a 24 MP
    # photo becomes ~0.4 MP here. The window is chosen on that, and only it is resampled.
    image = source.decode(min_size=cover_size(source.size, box))
    image = resize(image, crop_size(source.size, box), box=aspect_box(image, box, settings.crop))
    name = f"{box[0]}x{box[1]}"
    return [Output(name, fmt, encode(image, fmt, options, source.exif), *image.size) for fmt in settings.formats]
