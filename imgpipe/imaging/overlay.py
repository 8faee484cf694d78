"""Marks drawn over an image (services/watermark): a logo's shape or a line of text, in a tone
that contrasts with what lies under it, with a soft halo of the opposite tone so the mark stays
legible on busy backgrounds too.

Only the mark's *shape* (its alpha) is taken from a logo: the colour is chosen per image, so one
logo works on snow and on night skies alike.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageStat

from imgpipe.imaging.decode import DECODE_ERRORS

#: where a mark may be placed: the compass points, plus the centre
GRAVITIES = ("northwest", "north", "northeast", "west", "center", "east", "southwest", "south", "southeast")
LIGHT = (255, 255, 255)
DARK = (0, 0, 0)
#: a background brighter than this (Rec. 709 luma, 0-255) gets the dark mark
LUMA_THRESHOLD = 140.0
#: the halo is the shape grown by this fraction of the mark's height, then blurred
HALO_FRACTION = 0.06
#: the halo's own opacity, relative to the mark's
HALO_OPACITY = 0.55
#: text is drawn this many times the target height, then reduced (smoother edges)
TEXT_SUPERSAMPLE = 2


@dataclass(frozen=True)
class Placement:
    """Where a mark went and in which tone (the tests measure the first, log the second)."""

    box: tuple[int, int, int, int]  # left, top, right, bottom in the output
    tone: str  # "light" | "dark"


def load_shape(data: bytes) -> Image.Image:
    """A logo's shape: its alpha channel ("L"), or its luminance when it has no alpha (white is
    ink). Raises ValueError for a file that is not a readable image."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                return im.convert("RGBA").getchannel("A")
            return im.convert("L")
    except DECODE_ERRORS as exc:
        raise ValueError(f"the mark is not a readable image: {exc}") from None


def text_shape(text: str, height: int) -> Image.Image:
    """A line of text as a shape ("L", white ink on black), ``height`` pixels tall."""
    font = ImageFont.load_default(size=max(8, height * TEXT_SUPERSAMPLE))
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(canvas).text((-left, -top), text, fill=255, font=font)
    return canvas


def fit_shape(shape: Image.Image, width: int, max_height: int) -> Image.Image:
    """``shape`` scaled to ``width`` (aspect kept), or smaller to stay under ``max_height``."""
    scale = min(width / shape.width, max_height / shape.height)
    size = (max(1, round(shape.width * scale)), max(1, round(shape.height * scale)))
    return shape if size == shape.size else shape.resize(size, Image.Resampling.LANCZOS)


def position(canvas: tuple[int, int], mark: tuple[int, int], gravity: str, margin: int) -> tuple[int, int]:
    """Top-left corner of a ``mark``-sized box placed by ``gravity`` with ``margin`` pixels from
    the edges it is pulled towards (the centre ignores the margin on the axis it centres on)."""
    if gravity not in GRAVITIES:
        raise ValueError(f"gravity must be one of {GRAVITIES}, got {gravity!r}")
    (cw, ch), (mw, mh) = canvas, mark
    x = margin if "west" in gravity else (cw - mw - margin if "east" in gravity else (cw - mw) // 2)
    y = margin if "north" in gravity else (ch - mh - margin if "south" in gravity else (ch - mh) // 2)
    return max(0, min(x, cw - mw)), max(0, min(y, ch - mh))


def local_luma(im: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Mean Rec. 709 luma (0-255) of ``box``; transparent pixels count as the page behind them
    (unknown): they are left out, and a fully transparent box reads as mid-grey."""
    region = im.crop(box)
    mask = region.getchannel("A") if region.mode == "RGBA" else None
    if mask is not None and mask.getextrema()[1] == 0:
        return 128.0
    r, g, b = ImageStat.Stat(region.convert("RGB"), mask=mask).mean
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _tinted(shape: Image.Image, color: tuple[int, int, int], opacity: float) -> Image.Image:
    layer = Image.new("RGBA", shape.size, color)
    layer.putalpha(shape.point(lambda v: round(v * opacity)))
    return layer


def apply_mark(
    im: Image.Image, shape: Image.Image, xy: tuple[int, int], opacity: float, tone: str = "auto"
) -> tuple[Image.Image, Placement]:
    """``im`` (RGB or RGBA) with ``shape`` drawn at ``xy``: in the tone that contrasts with the
    pixels under it (``tone="auto"``) or the one asked for, over a blurred halo of the other
    tone. Returns a new image of the same mode and size."""
    box = (xy[0], xy[1], xy[0] + shape.width, xy[1] + shape.height)
    if tone == "auto":
        tone = "dark" if local_luma(im, box) > LUMA_THRESHOLD else "light"
    ink, halo_ink = (DARK, LIGHT) if tone == "dark" else (LIGHT, DARK)
    grow = max(1, round(shape.height * HALO_FRACTION))
    pad = 2 * grow
    padded = Image.new("L", (shape.width + 2 * pad, shape.height + 2 * pad), 0)
    padded.paste(shape, (pad, pad))
    halo = padded.filter(ImageFilter.MaxFilter(2 * grow + 1)).filter(ImageFilter.GaussianBlur(grow))
    # drawn on a canvas one halo wider on every side (a mark at the edge has its halo cut, and
    # Pillow composites at non-negative offsets only), then cut back to the image
    layer = Image.new("RGBA", (im.width + 2 * pad, im.height + 2 * pad), (0, 0, 0, 0))
    layer.alpha_composite(_tinted(halo, halo_ink, opacity * HALO_OPACITY), xy)
    layer.alpha_composite(_tinted(shape, ink, opacity), (xy[0] + pad, xy[1] + pad))
    layer = layer.crop((pad, pad, pad + im.width, pad + im.height))
    base = im.convert("RGBA")
    base.alpha_composite(layer)
    out = base if im.mode == "RGBA" else base.convert("RGB")
    return out, Placement(box, tone)
