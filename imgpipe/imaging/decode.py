"""Safe opening and decoding: every check that can be made from the header is made before a
single pixel is decoded, and every way Pillow can fail on bad bytes becomes a :class:`Rejection`.

Order of checks (cheapest first): empty, byte cap, format sniffed from the bytes, allowlist,
header parse, pixel cap (ours, and Pillow's bomb guard set from the same cap), frame cap and the
total pixels of an animation. Only then is the image decoded, by the engine the dispatch table
picks for its format (:mod:`imgpipe.imaging.engines`): Pillow at the smallest JPEG DCT scale that
still covers what the caller needs (``draft``), or libvips straight to that size. Both results
go through the same steps to 8-bit sRGB, upright.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from PIL import Image

from imgpipe.errors import Reason, Rejection
from imgpipe.imaging import engines
from imgpipe.imaging.color import to_srgb
from imgpipe.imaging.formats import ALLOWED, PILLOW_FORMAT, ensure_plugin, sniff
from imgpipe.imaging.geometry import orient, oriented_size, resize
from imgpipe.imaging.metadata import kept_exif, orientation_of
from imgpipe.limits import Limits

#: formats whose extra frames are an animation (a multi-page TIFF or a HEIF collection is not).
ANIMATED_FORMATS = frozenset({"gif", "webp", "png", "avif"})
#: an animation may decode at most this many times the pixel cap across all its frames: a GIF of
#: 300 frames at the full cap would take minutes to decode, i.e. hang the handler.
ANIMATION_PIXEL_FACTOR = 10

# Everything Pillow's decoders raise on malformed data (truncation, bad chunks, bad LZW codes...).
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)

_guard_lock = threading.Lock()


def _set_bomb_guard(max_pixels: int) -> None:
    with _guard_lock:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


@dataclass
class SourceImage:
    """An opened, header-checked upload whose pixels are not decoded yet."""

    _image: Image.Image | None
    format: str  # imgpipe name, e.g. "jpeg"
    mode: str  # Pillow mode as stored, e.g. "CMYK", "I;16", "P"
    stored_size: tuple[int, int]  # as stored, before EXIF orientation
    orientation: int  # EXIF orientation 1..8
    n_frames: int
    exif: Image.Exif | None  # what survives metadata stripping (copyright, artist), to embed in outputs
    _loop: int = 0
    limits: Limits = field(default_factory=Limits)
    _data: bytes | None = None  # the upload, for an engine that decodes from the bytes

    @property
    def engine(self) -> str:
        """The engine that decodes this upload at full size or a small size
        (:data:`imgpipe.imaging.engines.DISPATCH`; :meth:`decode` may pick libvips for a JPEG
        wanted at more than half its size: :data:`imgpipe.imaging.engines.JPEG_FULL_SCALE`)."""
        return engines.engine_for(self.format, self.animated)

    @property
    def size(self) -> tuple[int, int]:
        """Width and height as displayed (after orientation)."""
        return oriented_size(self.stored_size, self.orientation)

    @property
    def animated(self) -> bool:
        return self.n_frames > 1 and self.format in ANIMATED_FORMATS

    def decode(self, min_size: tuple[int, int] | None = None) -> Image.Image:
        """The first frame as an upright 8-bit sRGB image, RGB or RGBA (RGBA only when some pixel
        is not opaque). With ``min_size`` (displayed width, height) a JPEG is decoded at the
        smallest DCT scale (1/2, 1/4, 1/8) that is still at least that large; the libvips
        engine decodes straight to ``min_size``, at the scale the caller meant (see
        :func:`imgpipe.imaging.libvips.decode_size`: a side the caller rounded up may come back
        one pixel short), never enlarging."""
        # orientation swaps are symmetric: the stored size wanted is the displayed one, turned
        stored_target = oriented_size(min_size, self.orientation) if min_size else None
        engine = engines.engine_for(self.format, self.animated, self.stored_size, stored_target)
        data, self._data = self._data, None
        im = self._take()
        if engine == engines.VIPS and data is not None:
            return self._finish(self._decode_vips(im, data, min_size))
        if stored_target and self.format == "jpeg" and stored_target[0] < im.width and stored_target[1] < im.height:
            im.draft(None, (max(1, stored_target[0]), max(1, stored_target[1])))
        try:
            im.load()
        except DECODE_ERRORS as exc:
            raise Rejection(
                Reason.CORRUPT_IMAGE, f"the {self.format} data cannot be decoded: {_describe(exc)}"
            ) from None
        if self.format == "jpeg" and im.mode == "CMYK" and "adobe" not in im.info:
            im = _uninvert_cmyk(im)
        return self._finish(im)

    def _decode_vips(self, header: Image.Image, data: bytes, min_size: tuple[int, int] | None) -> Image.Image:
        from imgpipe.imaging import libvips

        info = header.info
        header.close()  # Pillow's parse has told what it knows; its pixels are never decoded
        target = oriented_size(min_size, self.orientation) if min_size else None
        im = libvips.decode(data, self.format, self.stored_size, target)
        if info.get("icc_profile"):
            im.info["icc_profile"] = info["icc_profile"]
        if self.format == "jpeg" and im.mode == "CMYK" and "adobe" not in info:
            im = _uninvert_cmyk(im)  # libvips reads CMYK JPEGs exactly as Pillow does
        return im

    def frames(self, size: tuple[int, int] | None = None) -> Iterator[tuple[Image.Image, int]]:
        """Every frame of an animation, composited, upright, 8-bit sRGB (RGBA when the frame has
        transparency, else RGB), with its duration in milliseconds, resized to ``size`` (displayed
        width, height) when given. Frames are produced one at a time; with ``size`` each is
        resampled straight from the decoder's own frame, so no full-size copy is ever made.

        A GIF's frames are composited by libvips where it composites them as Pillow does
        (:data:`imgpipe.imaging.engines.FRAMES_DISPATCH`): one canvas instead of Pillow's
        full-size copies per frame. Otherwise Pillow: a GIF frame may lie outside the canvas its
        header declares, and Pillow then grows the canvas: the header checks cannot see that, so
        every frame's canvas is checked against the pixel cap, and the running total against the
        animation budget, before decoding."""
        if engines.frames_engine(self.format) == engines.VIPS and self._data is not None:
            from imgpipe.imaging import libvips

            if libvips.composites_gif(self._data):
                yield from self._vips_frames(size)
                return
        im = self._take()
        budget = ANIMATION_PIXEL_FACTOR * self.limits.max_pixels
        total = 0
        for index in range(self.n_frames):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    im.seek(index)
                    width, height = im.size
                    total += width * height
                    if width * height > self.limits.max_pixels or total > budget:
                        raise Image.DecompressionBombError(
                            f"frame {index} is {width}x{height}, {total:,} pixels decoded so far"
                        )
                    im.load()
                duration = int(im.info.get("duration") or 100)
                # RGB unless the frame has transparency: an opaque frame as RGBA is a third more
                # memory, and Pillow resamples RGBA through a premultiplied copy (the 50 MP cap)
                frame = orient(to_srgb(im), self.orientation)
                if size is not None:
                    frame = resize(frame, size)
                if frame is im:  # the decoder's own frame, which the next seek overwrites
                    frame = im.copy()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise Rejection(
                    Reason.TOO_MANY_PIXELS,
                    f"{_describe(exc)}; the limits are {self.limits.max_pixels:,} pixels a frame "
                    f"and {budget:,} for the whole animation",
                ) from None
            except DECODE_ERRORS as exc:
                raise Rejection(
                    Reason.CORRUPT_IMAGE, f"frame {index} of the {self.format} cannot be decoded: {_describe(exc)}"
                ) from None
            frame.info = {}
            yield frame, duration
            # dropped before the next frame is decoded: the caller holds it if it needs it
            del frame

    def _vips_frames(self, size: tuple[int, int] | None) -> Iterator[tuple[Image.Image, int]]:
        """:meth:`frames` by libvips (:func:`imgpipe.imaging.libvips.frames`): one canvas, each
        frame shrunk as its rows stream. Only a GIF whose frames all lie inside the canvas its
        header declares comes here (:func:`imgpipe.imaging.libvips.composites_gif`), so the
        header's checks (pixel cap, frame count, animation budget) are the whole cost."""
        from imgpipe.imaging import libvips

        header = self._take()
        icc = header.info.get("icc_profile")
        header.close()  # Pillow's parse has told what it knows; its pixels are never decoded
        data, self._data = self._data, None
        assert data is not None
        stored_target = oriented_size(size, self.orientation) if size else None
        for frame, duration in libvips.frames(data, self.stored_size, self.n_frames, stored_target):
            if frame.mode == "RGBA" and frame.getextrema()[3][0] == 255:
                frame = frame.convert("RGB")  # RGB unless the frame shows transparency
            if icc:
                frame.info["icc_profile"] = icc
            frame = orient(to_srgb(frame), self.orientation)
            if size is not None:
                frame = resize(frame, size)  # a no-op unless libvips rounded a side the other way
            frame.info = {}
            yield frame, duration or 100
            del frame

    @property
    def loop(self) -> int:
        """How many times an animation repeats (0: forever)."""
        return self._loop

    def _take(self) -> Image.Image:
        """Hand the opened image over, once: the source keeps no reference to decoded pixels (so
        a caller that moves on to a smaller image frees the big one), and a second decode of the
        same upload is a bug this makes loud."""
        if self._image is None:
            raise RuntimeError("this SourceImage was already decoded; decode once and derive from it")
        im, self._image = self._image, None
        return im

    def _finish(self, im: Image.Image) -> Image.Image:
        try:
            out = to_srgb(im)
        except DECODE_ERRORS as exc:
            raise Rejection(
                Reason.UNSUPPORTED_FORMAT, f"colour mode {im.mode} cannot be converted: {_describe(exc)}"
            ) from None
        if out.mode == "RGBA" and out.getextrema()[3][0] == 255:
            # an alpha channel that hides nothing: treat the image as opaque (JPEG-able)
            out = out.convert("RGB")
        out = orient(out, self.orientation)
        out.info = {}
        return out


def _uninvert_cmyk(im: Image.Image) -> Image.Image:
    """Pillow reads every CMYK JPEG as Photoshop writes them: inverted, as the "Adobe" APP14
    marker announces. Files without that marker store plain ink values; undo the inversion."""
    from PIL import ImageChops

    plain = ImageChops.invert(im)
    plain.info = dict(im.info)
    return plain


def open_image(data: bytes, limits: Limits | None = None, allowed: Iterable[str] | None = None) -> SourceImage:
    """Open ``data`` lazily and check everything the header tells. Raises :class:`Rejection`."""
    limits = limits or Limits()
    allowed_set = frozenset(allowed) if allowed is not None else ALLOWED
    if not data:
        raise Rejection(Reason.EMPTY_OBJECT, "the object is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise Rejection(Reason.TOO_LARGE, f"{len(data):,} bytes; the limit is {limits.max_bytes:,} bytes")
    fmt = sniff(data)
    if fmt is None:
        names = ", ".join(sorted(f.upper() for f in allowed_set))
        raise Rejection(Reason.UNSUPPORTED_FORMAT, f"not an image in a supported format ({names})")
    if fmt not in allowed_set:
        raise Rejection(Reason.UNSUPPORTED_FORMAT, f"{fmt.upper()} images are not accepted")
    ensure_plugin(fmt)
    _set_bomb_guard(limits.max_pixels)
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that: make both an error,
            # so its guard and our cap agree (it is a backstop behind the explicit check below).
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[PILLOW_FORMAT[fmt]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Rejection(
            Reason.TOO_MANY_PIXELS, f"{_describe(exc)}; the limit is {limits.max_pixels:,} pixels"
        ) from None
    except DECODE_ERRORS as exc:
        raise Rejection(Reason.CORRUPT_IMAGE, f"the {fmt} header cannot be read: {_describe(exc)}") from None

    width, height = im.size
    if width <= 0 or height <= 0:
        raise Rejection(Reason.CORRUPT_IMAGE, f"the header claims a {width}x{height} image")
    if width * height > limits.max_pixels:
        raise Rejection(
            Reason.TOO_MANY_PIXELS,
            f"{width}x{height} is {width * height:,} pixels; the limit is {limits.max_pixels:,}",
        )

    n_frames = 1
    if fmt in ANIMATED_FORMATS:
        try:
            # GIF counts frames by skipping their data blocks, without decoding them.
            n_frames = int(getattr(im, "n_frames", 1))
        except DECODE_ERRORS as exc:
            raise Rejection(Reason.CORRUPT_IMAGE, f"the {fmt} frames cannot be read: {_describe(exc)}") from None
        if n_frames > limits.max_frames:
            raise Rejection(Reason.TOO_MANY_FRAMES, f"{n_frames} frames; the limit is {limits.max_frames}")
        total = n_frames * width * height
        budget = ANIMATION_PIXEL_FACTOR * limits.max_pixels
        if n_frames > 1 and total > budget:
            raise Rejection(
                Reason.TOO_MANY_PIXELS,
                f"{n_frames} frames of {width}x{height} are {total:,} pixels; the limit is {budget:,}",
            )
        if n_frames > 1:
            im.seek(0)

    try:
        # Pillow's PNG getexif() decodes every pixel to look for an eXIf chunk after the image
        # data: only one before it (where the PNG spec puts it, and browsers read it) counts.
        exif = im.getexif() if fmt != "png" or "exif" in im.info else Image.Exif()
    except DECODE_ERRORS:
        exif = Image.Exif()  # broken metadata is not a broken image: ignore it
    return SourceImage(
        _image=im,
        format=fmt,
        mode=im.mode,
        stored_size=(width, height),
        orientation=orientation_of(exif),
        n_frames=n_frames,
        exif=kept_exif(exif),
        _loop=int(im.info.get("loop", 0) or 0),
        limits=limits,
        _data=data,
    )
