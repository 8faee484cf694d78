"""The libvips engine: decode straight to the size the caller needs, never holding the full image.

JPEG shrinks in the DCT (1/2, 1/4, 1/8), WebP inside libwebp's decoder, and PNG rows stream
through the resampler as they are inflated (sequential access): the largest buffer is the
output, not the upload's pixels. What comes back is a Pillow image in stored orientation with
its raw colour (8 bits, L/LA/RGB/RGBA/CMYK); :class:`imgpipe.imaging.decode.SourceImage` then
applies the same ICC, CMYK, alpha and orientation steps as for Pillow's own decode.

pyvips is imported on first use only, so handlers that never see a PNG or WebP do not pay for
loading libvips on a cold start.
"""

from __future__ import annotations

import ctypes
import math
import os
import struct
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

from PIL import Image

from imgpipe.errors import Reason, Rejection

#: imgpipe format -> the one libvips loader allowed for it (as Pillow is told one plugin: a
#: polyglot file is never handed to a loader libvips would pick by sniffing).
LOADERS: dict[str, str] = {"jpeg": "jpegload_source", "png": "pngload_source", "webp": "webpload_source"}
#: sequential: rows are decoded as the pipeline asks for them and then dropped; truncated or
#: broken data fails the decode (Pillow's decoders refuse it too) instead of leaving grey rows.
LOAD_OPTIONS: dict[str, Any] = {"access": "sequential", "fail_on": "error"}
THUMBNAIL_LOAD_OPTIONS = "fail_on=error"
#: libjpeg's DCT scales, largest reduction first.
JPEG_SHRINKS = (8, 4, 2)
#: bands -> Pillow mode of an 8-bit image (4 bands are CMYK when libvips says so).
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
#: the premultiplied form of a mode with alpha, as Pillow names it
_PREMULTIPLIED = {"LA": "La", "RGBA": "RGBa"}

_setup_lock = threading.Lock()


@cache
def _pyvips() -> Any:
    with _setup_lock:
        import pyvips

        # A warm Lambda keeps its process: libvips' operation cache would keep the last upload's
        # bytes and pixels alive between invocations, for no hit (every upload is new).
        pyvips.cache_set_max(0)
        pyvips.cache_set_max_mem(0)
        pyvips.cache_set_max_files(0)
        # Only the three loaders above may run; nothing marked untrusted (matload, magick...).
        pyvips.block_untrusted_set(True)
        if "VIPS_CONCURRENCY" not in os.environ:
            # below 1,769 MB a Lambda has less than one vCPU: worker threads only add overhead
            pyvips.concurrency_set(1)
        return pyvips


def _source(data: bytes) -> Any:
    """The upload as a libvips source over Python's own bytes: the ``*_buffer`` loaders copy
    the file first (14 MB more at the peak for a 12 MP PNG)."""
    return _pyvips().Source.new_from_memory(data)


def _corrupt(fmt: str, exc: BaseException) -> Rejection:
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    return Rejection(Reason.CORRUPT_IMAGE, f"the {fmt} data cannot be decoded: {text}")


def _jpeg_shrink(stored: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest DCT shrink whose output (libjpeg rounds up) still covers ``target``."""
    for shrink in JPEG_SHRINKS:
        if math.ceil(stored[0] / shrink) >= target[0] and math.ceil(stored[1] / shrink) >= target[1]:
            return shrink
    return 1


def decode_size(stored: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """The size to decode to for a caller that asked for at least ``target``: at the scale the
    caller meant, so the later crop or resize lands on the same pixel grid as a resample from
    the full image would (a 0.2% stretch shifts a 300 px thumbnail by half a pixel).

    Callers derive ``target`` from one exact side and round the other (``fit_width``) or round
    it up (``cover_size``): the scale is the exact side's, found by which side reproduces the
    other; a target of another aspect ratio gets the smallest scale that covers it. Never
    larger than the source."""
    width, height = stored
    tw, th = max(1, target[0]), max(1, target[1])
    candidates = sorted({tw / width, th / height})

    def ceil(v: float) -> int:
        return math.ceil(v - 1e-9)

    scale = max(candidates)
    for rounding in (round, ceil):
        fits = [c for c in candidates if rounding(width * c) == tw and rounding(height * c) == th]
        if fits:
            scale = min(fits)
            break
    scale = min(1.0, scale)
    return min(width, max(1, round(width * scale))), min(height, max(1, round(height * scale)))


def decode(data: bytes, fmt: str, stored_size: tuple[int, int], target: tuple[int, int] | None) -> Image.Image:
    """``data`` (already header-checked as ``fmt`` of ``stored_size``) decoded to
    :func:`decode_size` of ``target`` (stored orientation), or at full size without one."""
    pyvips = _pyvips()
    width, height = stored_size
    if target is not None:
        target = decode_size(stored_size, target)
        if target == stored_size:
            target = None
    try:
        # libvips parses the header again, with the one loader for the sniffed format: it must
        # see the image Pillow's checks passed, or nothing is decoded
        header = getattr(pyvips.Image, LOADERS[fmt])(_source(data), **LOAD_OPTIONS)
        if (header.width, header.height) != stored_size:
            raise Rejection(
                Reason.CORRUPT_IMAGE,
                f"the {fmt} header is ambiguous: {header.width}x{header.height} to libvips, {width}x{height} to Pillow",
            )
        if target is None:
            image = _to_8bit(header)
        elif header.interpretation == "cmyk":
            image = _cmyk_reduced(data, stored_size, target)
        else:
            image = _thumbnail(data, fmt, target)
        pixels = image.write_to_memory()
    except pyvips.Error as exc:
        raise _corrupt(fmt, exc) from None
    mode = "CMYK" if image.bands == 4 and image.interpretation == "cmyk" else _MODES.get(image.bands)
    if mode is None:
        raise Rejection(Reason.UNSUPPORTED_FORMAT, f"{image.bands} colour bands cannot be converted")
    size = (image.width, image.height)
    del image, header
    _return_freed_memory()
    return Image.frombuffer(mode, size, pixels, "raw", mode, 0, 1)


@cache
def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc, as on Lambda
    except (OSError, AttributeError):
        return None


def _return_freed_memory() -> None:
    """libvips decodes in its worker thread, whose glibc arena keeps what it freed (~25 MB after
    a 12 MP PNG) as resident memory under the encoders' own peak that follows; hand it back."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _thumbnail(data: bytes, fmt: str, target: tuple[int, int]) -> Any:
    """libvips' own pipeline: shrink-on-load where the format has one, rows streamed through a
    premultiplied Lanczos 3 reduce. No rotation (the seam orients from the EXIF Pillow read) and
    no colour management (the profile is applied by the seam, like Pillow's decode)."""
    pyvips = _pyvips()
    image = pyvips.Image.thumbnail_source(
        _source(data), target[0], height=target[1], size="force", no_rotate=True, option_string=THUMBNAIL_LOAD_OPTIONS
    )
    loader = image.get("vips-loader") if image.get_typeof("vips-loader") else None
    if loader != LOADERS[fmt]:
        # thumbnail_source picks its loader by sniffing: refuse anything but the checked one
        raise Rejection(Reason.UNSUPPORTED_FORMAT, f"libvips read this {fmt} upload as {loader}")
    return _to_8bit(image)


def _cmyk_reduced(data: bytes, stored_size: tuple[int, int], target: tuple[int, int]) -> Any:
    """A CMYK JPEG, shrunk in the DCT then resampled, still CMYK: thumbnail_source would turn
    it into sRGB with libvips' own CMYK profile, where the seam's colour policy decides."""
    pyvips = _pyvips()
    shrink = _jpeg_shrink(stored_size, target)
    image = _to_8bit(pyvips.Image.jpegload_source(_source(data), shrink=shrink, **LOAD_OPTIONS))
    if (image.width, image.height) != target:
        image = image.resize(target[0] / image.width, vscale=target[1] / image.height, kernel="lanczos3")
    return image


def _to_8bit(image: Any) -> Any:
    """Deeper samples keep their top 8 bits (16-bit 32768 -> 128, as Pillow's PNG decoder)."""
    if image.format == "uchar":
        return image
    if image.format in ("ushort", "short", "uint", "int"):
        return image.cast("uchar", shift=True)
    return image.cast("uchar")


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while data[pos]:
        pos += 1 + data[pos]
    return pos + 1


def composites_gif(data: bytes) -> bool:
    """Whether :func:`frames` composites this GIF as Pillow does: not when a frame's disposal is
    "restore previous" (libvips' loader restores a first frame's to nothing, and without a
    declared transparent index it drops the alpha: black where Pillow keeps the first frame),
    not when a frame reaches outside the canvas the header declares (Pillow grows its canvas,
    and :meth:`SourceImage.frames` checks each grown canvas against the pixel cap), nor when the
    block structure cannot be followed (Pillow then says what is wrong)."""
    try:
        if data[:6] not in (b"GIF87a", b"GIF89a"):
            return False
        width, height = struct.unpack_from("<HH", data, 6)
        flags = data[10]
        pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
        while data[pos] != 0x3B:  # the trailer
            if data[pos] == 0x21:  # an extension; 0xF9 is a frame's graphic control
                if data[pos + 1] == 0xF9 and (data[pos + 3] >> 2) & 7 == 3:
                    return False
                pos = _skip_sub_blocks(data, pos + 2)
            elif data[pos] == 0x2C:  # an image: descriptor, local colour table, LZW data
                x, y, w, h = struct.unpack_from("<HHHH", data, pos + 1)
                if x + w > width or y + h > height:
                    return False
                local = data[pos + 9]
                pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
                pos = _skip_sub_blocks(data, pos + 1)
            else:
                return False
        return True
    except (IndexError, struct.error):
        return False


def frames(
    data: bytes, stored_size: tuple[int, int], n_frames: int, target: tuple[int, int] | None
) -> Iterator[tuple[Image.Image, int]]:
    """Every frame of an animated GIF (already header-checked), composited by libvips' GIF
    loader, at ``target`` (stored orientation) when given, with its duration in ms (0: unset).

    One decode streams through all frames (sequential access, one page after the other) and each
    frame is shrunk as its rows come: libvips holds one composited canvas, never a full-size
    copy per step as Pillow's GIF decoder does (bench ``cap`` part)."""
    pyvips = _pyvips()
    width, height = stored_size
    try:
        image = pyvips.Image.gifload_source(_source(data), n=-1, **LOAD_OPTIONS)
        page_height = image.get("page-height") if image.get_typeof("page-height") else image.height
        pages = image.height // page_height
        if (image.width, page_height, pages) != (width, height, n_frames):
            raise Rejection(
                Reason.CORRUPT_IMAGE,
                f"the gif header is ambiguous: {pages} frames of {image.width}x{page_height} to libvips, "
                f"{n_frames} of {width}x{height} to Pillow",
            )
        delays = list(image.get("delay")) if image.get_typeof("delay") else []
        if target == stored_size:
            target = None
        for index in range(pages):
            page = image.crop(0, index * page_height, width, page_height)
            # the loader leaves a transparent pixel all zero, so its RGBA is already premultiplied
            # (alpha is 0 or 255): resampled as it is, it is resampled premultiplied, as Pillow
            # resamples RGBA, without libvips' float premultiply (which cost 6x the CPU)
            mode = _MODES[page.bands]  # RGB when the GIF declares no transparency, else RGBA
            if target is not None:
                page = page.resize(target[0] / width, vscale=target[1] / height, kernel="lanczos3")
            raw = _PREMULTIPLIED.get(mode, mode) if target is not None else mode
            pixels = page.write_to_memory()
            size = (page.width, page.height)
            del page
            frame = Image.frombuffer(raw, size, pixels, "raw", raw, 0, 1)
            if raw != mode:
                frame = frame.convert(mode)
            yield frame, int(delays[index] if index < len(delays) else 0)
            del frame, pixels
    except pyvips.Error as exc:
        raise _corrupt("gif", exc) from None
