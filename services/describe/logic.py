"""describe: what an upload is, from one reduced-scale decode, for pages and for search.

The facts (docs/events.md "describe's facts"): upright size and aspect, format, alpha, animation,
a ThumbHash and a BlurHash (placeholders a page paints before the image arrives), the dominant
colours, a 64-bit perceptual hash and, when an earlier upload of the same owner or prefix is
within ``duplicate_distance`` bits of it, ``duplicate_of``; and a summary of the camera's EXIF
(the GPS position only with ``include_gps``).

:func:`describe` is pure. The duplicate lookup needs the index, so :class:`Describer` (what the
handler runs) adds it; its one output is the facts as a JSON document, which the runtime writes
to ``describe/<key>/description.json`` and announces with the facts on the event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imgpipe.events import Upload
from imgpipe.imaging import cover_size, fit_long_edge, open_image, resize
from imgpipe.imaging.facts import exif_summary, luma_grid, palette, rgba_grid
from imgpipe.limits import Limits
from imgpipe.runtime import Output

from .duplicates import Index, check_and_remember
from .hashes import PHASH_SIDE, blurhash, phash, thumbhash, thumbhash_b64
from .settings import Settings

OUTPUT_NAME = "description"
#: ThumbHash is computed on at most this many pixels a side: it keeps a handful of low
#: frequencies, which a 32-pixel image holds as well as a 100-pixel one
THUMBHASH_EDGE = 32
#: BlurHash's cosines are not orthogonal on a small grid (its basis has no half-pixel shift):
#: a flat colour leaks into the other terms by about 1/width, so it gets twice the pixels
BLURHASH_EDGE = 64
#: the decode covers this on both sides (a JPEG decodes at 1/8 scale down to it)
DECODE_EDGE = 64
#: everything is computed from one copy this small: a PNG or WebP decodes at full size, and each
#: grid's own conversion of 12 MP would cost more than all the hashing
WORKING_EDGE = 256


def describe(data: bytes, settings: Settings) -> dict[str, Any]:
    """Every fact but ``duplicate_of``. Raises :class:`imgpipe.errors.Rejection` for bad input."""
    source = open_image(data, Limits.from_settings(settings))
    width, height = source.size
    decoded = source.decode(min_size=cover_size(source.size, (DECODE_EDGE, DECODE_EDGE)))
    image = resize(decoded, fit_long_edge(decoded.size, WORKING_EDGE))
    del decoded  # a 50 MP PNG's pixels: free them before the hashing
    w, h, pixels = rgba_grid(image, THUMBHASH_EDGE)
    bw, bh, bpixels = rgba_grid(image, BLURHASH_EDGE)
    return {
        "format": source.format,
        "width": width,
        "height": height,
        "aspect": round(width / height, 4),
        "has_alpha": image.mode == "RGBA",
        "animated": source.animated,
        "frames": source.n_frames,
        "thumbhash": thumbhash_b64(thumbhash(w, h, pixels)),
        "blurhash": blurhash(bw, bh, bpixels, settings.blurhash_x, settings.blurhash_y),
        "palette": [
            {"color": "#{:02x}{:02x}{:02x}".format(*rgb), "fraction": round(share, 3)}
            for rgb, share in palette(image, settings.palette_size)
        ],
        "phash": f"{phash(luma_grid(image, PHASH_SIDE)):016x}",
        "exif": exif_summary(data, include_gps=settings.include_gps),
    }


def output(facts: dict[str, Any]) -> Output:
    body = json.dumps(facts, sort_keys=True, separators=(",", ":")).encode()
    return Output(OUTPUT_NAME, "json", body, int(facts["width"]), int(facts["height"]), facts=facts)


def process(data: bytes, settings: Settings) -> list[Output]:
    """The facts without the duplicate lookup (no index at hand)."""
    return [output({**describe(data, settings), "duplicate_of": None})]


@dataclass
class Describer:
    """The handler's process: :func:`describe`, then the near-duplicate lookup in ``index``. The
    runtime tells it the upload first (``start``), since ``process`` gets only the bytes."""

    index: Index | None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: whether an earlier upload is still in the bucket (the key as indexed)
    exists: Callable[[str], bool] = field(default=lambda _key: True)
    key: str | None = None

    def start(self, upload: Upload) -> None:
        self.key = upload.key

    def process(self, data: bytes, settings: Settings) -> list[Output]:
        facts: dict[str, Any] = {**describe(data, settings), "duplicate_of": None}
        if self.index is not None and self.key is not None and settings.find_duplicates:
            value, distance = int(facts["phash"], 16), settings.duplicate_distance
            # looked up before it is indexed, so an upload never finds itself; a retry finds its
            # own entries and skips them (duplicates.lookup)
            match = check_and_remember(self.index, self.key, value, distance, self.clock().isoformat(), self.exists)
            if match is not None:
                facts["duplicate_of"] = match.key
                facts["duplicate_distance"] = match.distance
        return [output(facts)]
