"""watermark: copies of an upload at the configured widths, each with a mark (the folder's logo,
or a line of text) in one of nine positions.

Everything but the mark is resize's policy: one reduced-scale decode, upright 8-bit sRGB, widths at
or above the source replaced by the source's own width (never enlarged), opaque images as JPEG and
images with visible transparency as WebP (or PNG), only the credit lines of EXIF kept. The mark is
sized from each output's width, so it looks the same at every width, and its tone is picked from
the pixels under it (imgpipe/imaging/overlay.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from imgpipe.imaging import EncodeOptions, encode, fit_width, has_alpha, open_image, resize
from imgpipe.imaging.overlay import apply_mark, fit_shape, load_shape, position, text_shape
from imgpipe.limits import Limits
from imgpipe.runtime import Output

from .settings import Settings

FOLDER = Path(__file__).resolve().parent
#: a mark never covers more than this fraction of the output's height
MAX_MARK_HEIGHT_FRACTION = 0.5


def target_widths(source_width: int, widths: tuple[int, ...]) -> list[int]:
    """The widths to make for a source this wide, largest first; never above the source."""
    wanted = sorted(set(widths), reverse=True)
    below = [w for w in wanted if w < source_width]
    if len(below) < len(wanted):
        below.insert(0, source_width)
    return below


@lru_cache(maxsize=4)
def logo_shape(name: str):  # -> PIL.Image.Image ("L"); the type stays in the imaging seam
    """The shape of a PNG shipped in this folder. A name with a path in it is refused: the
    setting picks one of the folder's files, never a file elsewhere in the function."""
    if not name or Path(name).name != name:
        raise ValueError(f"setting 'logo' must be a file name in services/watermark/, got {name!r}")
    return load_shape((FOLDER / name).read_bytes())


def mark_for(settings: Settings, width: int, height: int):  # -> PIL.Image.Image ("L")
    """The mark's shape at its size in an output of ``width`` x ``height``."""
    target = max(1, round(width * settings.scale))
    max_height = max(1, round(height * MAX_MARK_HEIGHT_FRACTION))
    if settings.text:
        # text is sized by its height: a line as tall as the logo would be at this width is huge
        return fit_shape(text_shape(settings.text, max(8, round(target / 4))), target, max_height)
    return fit_shape(logo_shape(settings.logo), target, max_height)


def process(data: bytes, settings: Settings) -> list[Output]:
    options = EncodeOptions.from_settings(settings)
    source = open_image(data, Limits.from_settings(settings))
    widths = target_widths(source.size[0], settings.widths)
    image = source.decode(min_size=fit_width(source.size, widths[0]))
    outputs: list[Output] = []
    for width in widths:
        # each width from the previous clean one: a mark is never resampled into the next
        image = resize(image, fit_width(source.size, width))
        shape = mark_for(settings, *image.size)
        xy = position(image.size, shape.size, settings.gravity, round(image.width * settings.margin))
        marked, _ = apply_mark(image, shape, xy, settings.opacity, settings.tone)
        fmt = settings.alpha_format if has_alpha(marked) else "jpeg"
        outputs.append(Output(f"{width}w", fmt, encode(marked, fmt, options, source.exif), *marked.size))
    return outputs
