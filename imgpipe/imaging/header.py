"""What an image's first bytes say about it, without decoding a pixel: its format and its upright
dimensions. For code that only records facts (notify's catalog): any doubt gives None rather than
an error, because the processors, which open the whole image, are the judges of it."""

from __future__ import annotations

import contextlib
import io
import warnings

from PIL import Image

from imgpipe.imaging.formats import PILLOW_FORMAT, ensure_plugin, sniff
from imgpipe.imaging.geometry import oriented_size
from imgpipe.imaging.metadata import orientation_of


def header_facts(head: bytes) -> tuple[str | None, tuple[int, int] | None]:
    """The format sniffed from the magic bytes (None: not one imgpipe reads), and the size the
    header states with EXIF orientation applied (None: the head does not hold it, or it is
    corrupt). A JPEG whose EXIF block is cut off by the head keeps its stored size."""
    fmt = sniff(head)
    if fmt is None:
        return None, None
    try:
        ensure_plugin(fmt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a huge header is the processors' verdict, not this one's
            with Image.open(io.BytesIO(head), formats=[PILLOW_FORMAT[fmt]]) as im:
                size = im.size
                with contextlib.suppress(Exception):
                    size = oriented_size(size, orientation_of(im.getexif()))
    except Exception:  # a header the head does not hold, or a corrupt one
        return fmt, None
    width, height = size
    return fmt, (size if width > 0 and height > 0 else None)
