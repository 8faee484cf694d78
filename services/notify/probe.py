"""What the first bytes of an upload say about it: format and (upright) dimensions.

notify records them in the catalog "when known": it reads only the head of the object
(:data:`HEAD_BYTES`), never decodes pixels, and any doubt gives None rather than an error,
because these facts are informative and the processors are the judges of the image.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

#: enough for the header of every supported format, and for a JPEG's EXIF block in most files
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class SourceFacts:
    format: str | None = None
    width: int | None = None
    height: int | None = None


def probe(head: bytes) -> SourceFacts:
    """Format sniffed from the magic bytes; dimensions from the header, EXIF orientation
    applied, when the head holds them."""
    from imgpipe.imaging.formats import PILLOW_FORMAT, ensure_plugin, sniff

    fmt = sniff(head)
    if fmt is None:
        return SourceFacts()
    try:
        from PIL import Image

        from imgpipe.imaging.geometry import oriented_size
        from imgpipe.imaging.metadata import orientation_of

        ensure_plugin(fmt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a huge header is the processors' verdict, not ours
            with Image.open(io.BytesIO(head), formats=[PILLOW_FORMAT[fmt]]) as im:
                size = im.size
                # EXIF cut off by the head: keep the stored size
                with contextlib.suppress(Exception):
                    size = oriented_size(size, orientation_of(im.getexif()))
    except Exception:  # a header the head does not hold, or a corrupt one
        return SourceFacts(fmt)
    width, height = size
    return SourceFacts(fmt, width, height) if width > 0 and height > 0 else SourceFacts(fmt)
