"""Which engine decodes which input format: the one dispatch table.

Both engines hand the rest of the seam the same thing (a Pillow image in stored orientation,
with its raw colour and the header's ICC profile), so the colour, orientation, alpha and
metadata steps are shared and every promise is kept in one place. The header checks always
run first, with Pillow, whatever the engine (:func:`imgpipe.imaging.open_image`).

The table was chosen from measurements (``python -m bench --only imaging``, figures in
docs/decisions.md): Pillow's DCT-scaled decode wins on JPEG; libvips wins on PNG (it streams
the rows through the shrink, so the full image is never in memory) and on WebP (libwebp shrinks
while it decodes). Animations stay with Pillow: the libvips engine decodes a first frame only,
and the frame-by-frame canvas checks of :meth:`SourceImage.frames` are Pillow's.

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


def _dct_cannot_halve(stored: tuple[int, int], target: tuple[int, int]) -> bool:
    """Smaller than stored, yet too large for the 1/2 DCT scale (libjpeg rounds its sides up)."""
    smaller = target[0] < stored[0] and target[1] < stored[1]
    halved = -(-stored[0] // 2) >= target[0] and -(-stored[1] // 2) >= target[1]
    return smaller and not halved
