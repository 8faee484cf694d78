"""resize: responsive widths of an upload, for ``srcset``.

Each configured width below the source's becomes ``<width>w``. Widths at or above the source
are never enlarged: the source's own width (re-encoded) stands in for them, so a srcset always
has a candidate as large as the upload allows, and every upload gets at least one variant.
Opaque images become progressive JPEG; images with visible transparency become WebP (or PNG
with ``alpha_format = "png"``), see docs/decisions.md.
"""

from __future__ import annotations

from imgpipe.imaging import EncodeOptions, encode, fit_width, has_alpha, open_image, resize
from imgpipe.limits import Limits
from imgpipe.runtime import Output

from .settings import Settings


def target_widths(source_width: int, widths: list[int] | tuple[int, ...]) -> list[int]:
    """The widths to make for a source this wide, largest first."""
    wanted = sorted({int(w) for w in widths if int(w) > 0}, reverse=True)
    below = [w for w in wanted if w < source_width]
    if len(below) < len(wanted):
        below.insert(0, source_width)
    return below


def process(data: bytes, settings: Settings) -> list[Output]:
    options = EncodeOptions.from_settings(settings)
    source = open_image(data, Limits.from_settings(settings))
    widths = target_widths(source.size[0], settings.widths)

    # One decode, at the smallest JPEG scale that still covers the largest width; each smaller
    # width is then made from the previous one, so every step is a small reduction.
    image = source.decode(min_size=fit_width(source.size, widths[0]))
    outputs: list[Output] = []
    for width in widths:
        image = resize(image, fit_width(source.size, width))
        fmt = settings.alpha_format if has_alpha(image) else "jpeg"
        outputs.append(Output(f"{width}w", fmt, encode(image, fmt, options, source.exif), *image.size))
    return outputs
