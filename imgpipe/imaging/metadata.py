"""Metadata policy: outputs carry only the credit lines (artist, copyright).

Everything else in EXIF is dropped by building a fresh EXIF block instead of editing the
original: GPS, maker notes (which can hide serial numbers and locations), embedded thumbnails
(which keep showing what was cropped away), and the orientation tag, since the pixels are
already upright. XMP is never copied either, because it can repeat the GPS position.
"""

from __future__ import annotations

from PIL import ExifTags, Image

#: tags kept from the source EXIF, all in the first IFD.
KEPT_TAGS = (ExifTags.Base.Artist, ExifTags.Base.Copyright)


def orientation_of(exif: Image.Exif) -> int:
    value = exif.get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def kept_exif(exif: Image.Exif) -> Image.Exif | None:
    """A new EXIF block with only the kept tags, or None when there is nothing to keep."""
    out = Image.Exif()
    for tag in KEPT_TAGS:
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip("\x00 "):
            out[tag] = value.strip("\x00")
    return out if len(out) else None
