"""Which engine decodes which input format: the one dispatch table.

Both engines hand the rest of the seam the same thing (a Pillow image in stored orientation,
with its raw colour and the header's ICC profile), so the colour, orientation, alpha and
metadata steps are shared and every promise is kept in one place. The header checks always
run first, with Pillow, whatever the engine (:func:`imgpipe.imaging.open_image`).

The table was chosen from measurements (``python -m bench --only imaging``, figures in
docs/decisions.md): Pillow's DCT-scaled decode wins on JPEG; libvips wins on PNG (it streams
the rows through the shrink, so the full image is never in memory) and on WebP (libwebp shrinks
while it decodes). An animation's first frame (a still made of it) stays with Pillow; the frames
of an animated GIF are composited by libvips (:data:`FRAMES_DISPATCH`), those of animated WebP
and PNG by Pillow.

``IMGPIPE_IMAGING_ENGINE=pillow`` or ``=vips`` forces one engine wherever it can decode, for
the tests (every imaging property runs on both) and for the bench's A/B runs.
"""

from __future__ import annotations

import os

PILLOW = "pillow"
VIPS = "vips"
ENGINES = (PILLOW, VIPS)
#: environment variable that forces one engine (tests, bench); unset in production.
FORCE_ENV = "IMGPIPE_IMAGING_ENGINE"

#: input format -> engine. Formats not listed decode with Pillow.
DISPATCH: dict[str, str] = {
    "jpeg": PILLOW,
    "png": VIPS,
    "webp": VIPS,
}
#: formats the libvips engine can decode with every promise kept (tested on both engines).
VIPS_FORMATS = frozenset({"jpeg", "png", "webp"})
#: animation format -> the engine that composites its frames (:meth:`SourceImage.frames`). GIF
#: goes to libvips: Pillow's GIF decoder holds about four full-canvas copies per frame (its
#: canvas turns RGB after the first frame, and each frame is converted and cropped at full size
#: before it is pasted), libvips one canvas; at the 50 MP cap 640 against 325 MB, a quarter of
#: the CPU (bench ``cap`` part, docs/decisions.md).
FRAMES_DISPATCH: dict[str, str] = {"gif": VIPS}


def forced() -> str | None:
    value = os.environ.get(FORCE_ENV, "").strip().lower()
    if not value:
        return None
    if value not in ENGINES:
        raise ValueError(f"{FORCE_ENV} must be one of {ENGINES}, not {value!r}")
    return value


#: JPEG wanted at more than half its stored size (convert's 2560 px of a 12 MP photo): the DCT
#: cannot shrink it, so Pillow decodes every pixel and resamples them all, while libvips streams
#: the rows through its shrink. 12 MP to 2560 px: 94 against 226 ms CPU, and closer to a full
#: Lanczos reference (SSIM 0.998 against 1.0 for Pillow's own Lanczos): bench ``convert`` part.
JPEG_FULL_SCALE = VIPS


def engine_for(
    fmt: str,
    animated: bool = False,
    stored: tuple[int, int] | None = None,
    target: tuple[int, int] | None = None,
) -> str:
    """The engine that decodes a (first-frame or still) image of format ``fmt``, stored at
    ``stored`` and wanted at least ``target`` (stored orientation) when the caller says."""
    if animated or fmt not in VIPS_FORMATS:
        return PILLOW
    chosen = forced() or DISPATCH.get(fmt, PILLOW)
    if chosen == PILLOW and not forced() and fmt == "jpeg" and stored and target and _dct_cannot_halve(stored, target):
        return JPEG_FULL_SCALE
    return chosen


def frames_engine(fmt: str) -> str:
    """The engine that composites the frames of an animation of format ``fmt``."""
    if fmt not in FRAMES_DISPATCH:
        return PILLOW
    return forced() or FRAMES_DISPATCH[fmt]


def _dct_cannot_halve(stored: tuple[int, int], target: tuple[int, int]) -> bool:
    """Smaller than stored, yet too large for the 1/2 DCT scale (libjpeg rounds its sides up)."""
    smaller = target[0] < stored[0] and target[1] < stored[1]
    halved = -(-stored[0] // 2) >= target[0] and -(-stored[1] // 2) >= target[1]
    return smaller and not halved
