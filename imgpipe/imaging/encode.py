"""Encoders. Settings come from a processor's manifest (``<format>_quality``, ``webp_method``,
``avif_speed``); defaults were picked from ``bench/encoders.py`` (see docs/decisions.md)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
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


class AnimationEncoder:
    """An animated WebP built a frame at a time: each frame goes to libwebp's animation encoder as
    it comes and may be dropped at once, so an animation never has all its frames decoded together
    (Pillow's ``save_all`` takes them as one list: 10 frames at 2560 px held 160 MB more at the
    50 MP cap). The settings and the bytes are those of Pillow's ``save_all`` (held by a test):
    lossy, transparent background, keyframes every 3 to 5 frames, alpha at full quality."""

    def __init__(self, size: tuple[int, int], loop: int, options: EncodeOptions | None = None) -> None:
        ensure_plugin("webp")
        from PIL import _webp  # Pillow's own binding to libwebp's WebPAnimEncoder

        self.size = size
        self.options = options or EncodeOptions()
        # size, background (transparent), loop, minimize_size, kmin, kmax, allow_mixed, verbose
        self._encoder = _webp.WebPAnimEncoder(size, 0, loop, False, 3, 5, False, False)
        self._timestamp = 0
        self.frames = 0

    def add(self, frame: Image.Image, duration: int) -> None:
        if frame.size != self.size:
            raise ValueError(f"a {frame.size} frame in a {self.size} animation")
        if frame.mode not in ("RGB", "RGBA"):
            frame = frame.convert("RGBA")
        o = self.options
        self._encoder.add(frame.getim(), round(self._timestamp), False, o.webp_quality, 100, o.webp_method)
        self._timestamp += duration
        self.frames += 1

    def finish(self) -> bytes:
        if not self.frames:
            raise ValueError("an animation needs at least one frame")
        o = self.options
        self._encoder.add(None, round(self._timestamp), False, o.webp_quality, 100, 0)
        data = self._encoder.assemble("", "", "")
        if data is None:
            raise OSError("cannot write the animation as WebP (the encoder returned nothing)")
        return bytes(data)


def encode_animation(
    frames: Iterable[Image.Image],
    durations: Sequence[int],
    loop: int,
    options: EncodeOptions | None = None,
) -> bytes:
    """An animated WebP of RGBA frames (see :class:`AnimationEncoder` to hand them one at a time)."""
    encoder: AnimationEncoder | None = None
    for frame, duration in zip(frames, durations, strict=True):
        encoder = encoder or AnimationEncoder(frame.size, loop, options)
        encoder.add(frame, duration)
    if encoder is None:
        raise ValueError("an animation needs at least one frame")
    return encoder.finish()
