"""Facts about an image, for services/describe: small pixel grids to hash, a dominant-colour
palette, and a summary of the camera's EXIF.

Pixels leave here as plain Python lists of tiny images (at most a few thousand values), so the
hashing code needs neither Pillow nor numpy. The EXIF summary is read from the upload's header
again (``open_image`` keeps only the credit lines, by design), and what it returns is short,
printable text and plain numbers: the values are the uploader's, shown in a status page and an
email.
"""

from __future__ import annotations

import io
from datetime import datetime
from fractions import Fraction
from typing import Any

from PIL import ExifTags, Image

from imgpipe.imaging.decode import DECODE_ERRORS
from imgpipe.imaging.geometry import REDUCING_GAP, fit_long_edge

#: longest text kept from an EXIF string field
EXIF_TEXT_MAX = 64


def rgba_grid(im: Image.Image, long_edge: int) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """``im`` reduced to at most ``long_edge`` on its longer side: (width, height, RGBA pixels
    row by row). Box-filtered: every source pixel counts once, as a hash of the whole image wants."""
    size = fit_long_edge(im.size, long_edge)
    small = im.convert("RGBA").resize(size, Image.Resampling.BOX, reducing_gap=REDUCING_GAP)
    data = small.tobytes()
    return size[0], size[1], [tuple(data[i : i + 4]) for i in range(0, len(data), 4)]  # type: ignore[misc]


def luma_grid(im: Image.Image, side: int) -> list[float]:
    """``im`` squeezed to ``side`` x ``side`` grey (aspect ignored, as a perceptual hash wants: a
    crop-free resize of the same photo gives the same grid), row by row, 0-255."""
    grey = im.convert("RGB").convert("L").resize((side, side), Image.Resampling.BOX, reducing_gap=REDUCING_GAP)
    return [float(v) for v in grey.tobytes()]


def palette(im: Image.Image, colors: int, sample_edge: int = 64) -> list[tuple[tuple[int, int, int], float]]:
    """The ``colors`` dominant colours of ``im`` (median cut on a ``sample_edge`` copy) with the
    share of the visible pixels each stands for, largest first. Transparent pixels do not vote."""
    small = im.convert("RGBA").resize(fit_long_edge(im.size, sample_edge), Image.Resampling.BOX)
    visible = small.getchannel("A").point(lambda a: 255 if a >= 128 else 0)
    if visible.getbbox() is None:
        return []
    quantized = small.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    counts = quantized.histogram(mask=visible)
    lut = quantized.getpalette() or []
    total = sum(counts)
    found = [
        ((lut[3 * i], lut[3 * i + 1], lut[3 * i + 2]), n / total) for i, n in enumerate(counts[: len(lut) // 3]) if n
    ]
    return sorted(found, key=lambda c: -c[1])[:colors]


# --- EXIF ---------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(c for c in value if c.isprintable()).strip()
    return cleaned[:EXIF_TEXT_MAX] or None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if number == number and abs(number) < 1e9 else None  # NaN and nonsense out


def _exposure(seconds: float) -> str:
    """1/250 for short exposures, 2.5 s for long ones (as cameras print them)."""
    if seconds >= 0.3:
        return f"{seconds:g} s"
    return f"1/{round(1 / seconds)}" if seconds > 0 else "0"


def _taken_at(value: Any, offset: Any) -> str | None:
    """EXIF "YYYY:MM:DD HH:MM:SS" (+ its offset tag, when present) as ISO 8601."""
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    iso = moment.isoformat()
    tz = _text(offset)
    if tz and len(tz) == 6 and tz[0] in "+-" and tz[3] == ":":
        iso += tz
    return iso


def _degrees(dms: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(Fraction(str(float(v)))) for v in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return round(-value if _text(ref) in ("S", "W") else value, 6)


def _header_exif(im: Image.Image) -> Image.Exif:
    """The EXIF the header holds. A PNG's ``getexif`` decodes every pixel (an eXIf chunk may
    follow the image data): take only a chunk met before the pixels, which is where writers put it."""
    if im.format != "PNG":
        return im.getexif()
    exif = Image.Exif()
    raw = im.info.get("exif")
    if isinstance(raw, bytes):
        exif.load(raw)
    return exif


def exif_summary(data: bytes, *, include_gps: bool = False) -> dict[str, Any]:
    """Camera, lens, when and how the photo was taken, from the upload's EXIF (only what is
    there); the position only with ``include_gps``. Broken metadata gives what could be read."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            exif = _header_exif(im)
            sub = exif.get_ifd(ExifTags.IFD.Exif)
            gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if include_gps else {}
    except DECODE_ERRORS:
        return {}
    tags = ExifTags.Base
    out: dict[str, Any] = {
        "make": _text(exif.get(tags.Make)),
        "model": _text(exif.get(tags.Model)),
        "lens": _text(sub.get(tags.LensModel)) or _text(sub.get(tags.LensMake)),
        "taken_at": _taken_at(
            sub.get(tags.DateTimeOriginal) or exif.get(tags.DateTime), sub.get(tags.OffsetTimeOriginal)
        ),
    }
    seconds = _number(sub.get(tags.ExposureTime))
    if seconds is not None and seconds > 0:
        out["exposure_time"] = _exposure(seconds)
        out["exposure_s"] = round(seconds, 6)
    f_number = _number(sub.get(tags.FNumber))
    if f_number:
        out["f_number"] = round(f_number, 1)
    iso = sub.get(tags.ISOSpeedRatings)
    iso = iso[0] if isinstance(iso, tuple) and iso else iso
    if isinstance(iso, int) and 0 < iso < 10_000_000:
        out["iso"] = iso
    focal = _number(sub.get(tags.FocalLength))
    if focal:
        out["focal_length_mm"] = round(focal, 1)
    if gps:
        lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef))
        lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef))
        if lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180:
            out["gps"] = {"latitude": lat, "longitude": lon}
    return {k: v for k, v in out.items() if v is not None}
