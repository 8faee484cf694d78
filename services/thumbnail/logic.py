"""thumbnail: one square (by default 300x300) cover crop, placed where the detail is.

The variant is named after the requested box (``300x300``) so clients can build its URL; an
upload smaller than the box is not enlarged, the crop is then the largest square it has.
"""

from __future__ import annotations

from imgpipe.imaging import EncodeOptions, cover, encode, open_image
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
    # the same steps as a transform's fit=cover (imgpipe.imaging.fit)
    image = cover(source, box, settings.crop)
    name = f"{box[0]}x{box[1]}"
    return [Output(name, fmt, encode(image, fmt, options, source.exif), *image.size) for fmt in settings.formats]
