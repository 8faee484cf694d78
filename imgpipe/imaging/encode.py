"""Encoders. Settings come from a processor's manifest (``<format>_quality``, ``webp_method``,
``avif_speed``); defaults were picked from ``bench/encoders.py`` (see docs/decisions.md)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from imgpipe.imaging.formats import ensure_plugin
from imgpipe.settings import as_mapping

#: formats imgpipe writes (a subset of runtime._FORMATS)
OUTPUT_FORMATS = ("jpeg", "png", "webp", "avif")
BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class EncodeOptions:
    jpeg_quality: int = 82
    webp_quality: int = 80
    webp_method: int = 4
    avif_quality: int = 60
    avif_speed: int = 8
    png_compress_level: int = 6
    background: tuple[int, int, int] = BACKGROUND

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | Any) -> EncodeOptions:
        """From a service's parsed settings (:class:`imgpipe.settings.EncoderSettings` fields) or
        a plain mapping; defaults where absent."""
        settings = as_mapping(settings)
        d = cls()
        bg = settings.get("background", d.background)
        return cls(
            jpeg_quality=int(settings.get("jpeg_quality", d.jpeg_quality)),
            webp_quality=int(settings.get("webp_quality", d.webp_quality)),
            webp_method=int(settings.get("webp_method", d.webp_method)),
            avif_quality=int(settings.get("avif_quality", d.avif_quality)),
            avif_speed=int(settings.get("avif_speed", d.avif_speed)),
            png_compress_level=int(settings.get("png_compress_level", d.png_compress_level)),
            background=_color(bg),
        )


def _color(value: Any) -> tuple[int, int, int]:
    if isinstance(value, str):
        from PIL import ImageColor

        rgb = ImageColor.getrgb(value)
        return rgb[0], rgb[1], rgb[2]
    r, g, b = (int(v) for v in value)
    return r, g, b


def flatten(im: Image.Image, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """Composite an RGBA image onto an opaque background (for formats without alpha)."""
    if im.mode != "RGBA":
        return im if im.mode == "RGB" else im.convert("RGB")
    base = Image.new("RGB", im.size, background)
    base.paste(im, mask=im.getchannel("A"))
    return base


def has_alpha(im: Image.Image) -> bool:
    return im.mode == "RGBA"


def encode(im: Image.Image, fmt: str, options: EncodeOptions | None = None, exif: Image.Exif | None = None) -> bytes:
    """``im`` (RGB or RGBA, sRGB) encoded as ``fmt``. JPEG flattens alpha; nothing from
    ``im.info`` (profiles, XMP, old EXIF) is written, only ``exif`` when given."""
    options = options or EncodeOptions()
    if fmt == "jpeg":
        im = flatten(im, options.background)
    im.info = {}  # some plugins fall back to im.info for icc_profile / exif / xmp
    params: dict[str, Any] = {}
    if exif is not None:
        params["exif"] = exif
    if fmt == "jpeg":
        params.update(quality=options.jpeg_quality, optimize=True, progressive=True)
    elif fmt == "webp":
        params.update(quality=options.webp_quality, method=options.webp_method)
    elif fmt == "avif":
        ensure_plugin("avif")
        params.update(quality=options.avif_quality, speed=options.avif_speed)
    elif fmt == "png":
        params.update(compress_level=options.png_compress_level)
    else:
        raise ValueError(f"cannot write {fmt!r}; one of {OUTPUT_FORMATS}")
    if fmt == "webp":
        ensure_plugin("webp")
    buf = io.BytesIO()
    im.save(buf, format=fmt.upper(), **params)
    return buf.getvalue()


def encode_animation(
    frames: Sequence[Image.Image],
    durations: Sequence[int],
    loop: int,
    options: EncodeOptions | None = None,
) -> bytes:
    """An animated WebP of RGBA frames."""
    options = options or EncodeOptions()
    ensure_plugin("webp")
    first, rest = frames[0], list(frames[1:])
    first.info = {}
    buf = io.BytesIO()
    first.save(
        buf,
        format="WEBP",
        save_all=True,
        append_images=rest,
        duration=list(durations),
        loop=loop,
        quality=options.webp_quality,
        method=options.webp_method,
    )
    return buf.getvalue()
