"""Test images made by code, for anyone's tests: no binary fixtures in the repository.

Everything returns ``bytes`` of an encoded file (or a Pillow image where noted). The building
blocks are general: any size, mode, EXIF orientation, embedded ICC profile, EXIF with GPS and
a maker note, animations, and deliberately broken files. Colour-space maths used as a test
oracle lives here too (:class:`RGBSpace`), written from the published primaries, independent of
LittleCMS.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageDraw

RED = (220, 30, 30)
BLUE = (30, 60, 220)
GREY = (128, 128, 128)

# Where the displayed top-left corner of an image is found in the *stored* pixels, for each EXIF
# orientation (from the TIFF/EXIF definition of the tag): "TL", "TR", "BR", "BL".
STORED_CORNER_OF_DISPLAYED_TOP_LEFT = {1: "TL", 2: "TR", 3: "BR", 4: "BL", 5: "TL", 6: "BL", 7: "BR", 8: "TR"}

# How to get from the displayed image to the stored one for each orientation (the inverse of
# what a viewer does). 6 is "rotate 90 clockwise to view", so the stored image is the displayed
# one turned 90 counter-clockwise (Pillow's ROTATE_90), and so on.
_DISPLAYED_TO_STORED: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


# ---------------------------------------------------------------- pixels


def gradient(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A smooth, colourful image (something for encoders to chew on)."""
    w, h = size
    r = Image.linear_gradient("L").resize((w, h))
    g = Image.linear_gradient("L").rotate(90).resize((w, h))
    b = Image.radial_gradient("L").resize((w, h))
    im = Image.merge("RGB", (r, g, b))
    return im if mode == "RGB" else im.convert(mode)


def photo(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """A photo-like RGB image: noise at several scales (the 1/f texture of natural scenes, down
    to pixel grain) over a gradient, with hard-edged shapes. Encoders and decoders behave on it
    much as on photographs (a 24 MP one is ~4 MB as a quality-90 JPEG), unlike flat colours or
    pure noise. The seed fixes the shapes and the noise strength, not the grain: Pillow's
    ``effect_noise`` is unseeded, so two calls differ in their pixels. A test that needs the same
    picture twice (a re-encode, a near-duplicate) builds it once and reuses it."""
    w, h = size
    layers = []
    for band in range(3):
        acc = Image.new("L", size, 128)
        for octave, weight in ((8, 0.6), (48, 0.35), (256, 0.25), (1024, 0.15), (0, 0.12)):
            if octave == 0:  # grain at full resolution
                noise = Image.effect_noise(size, 48)
            else:
                cells = (max(2, w * octave // max(w, h)), max(2, h * octave // max(w, h)))
                noise = Image.effect_noise(cells, 72 + 8 * band + seed % 5).resize(size, Image.Resampling.BICUBIC)
            acc = Image.blend(acc, noise, weight)
        layers.append(acc)
    im = Image.blend(Image.merge("RGB", layers), gradient(size), 0.3)
    draw = ImageDraw.Draw(im)
    state = seed * 7919 + 1
    for i in range(8):
        state = (state * 1103515245 + 12345) % 2**31
        x, y = state % w, (state // w) % h
        r = max(4, min(w, h) // (5 + 2 * i))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=((i * 53) % 256, (i * 91) % 256, (i * 17 + 80) % 256))
    return im


def solid(size: tuple[int, int], color: tuple[int, ...], mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, color)


def with_markers(
    im: Image.Image, top_left: tuple[int, ...] = RED, top_right: tuple[int, ...] = BLUE, fraction: float = 0.25
) -> Image.Image:
    """Solid squares in the top-left and top-right corners: two asymmetric markers tell all
    eight orientations apart."""
    im = im.copy()
    side = max(2, round(min(im.size) * fraction))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, side - 1, side - 1), fill=top_left)
    draw.rectangle((im.width - side, 0, im.width - 1, side - 1), fill=top_right)
    return im


def stored_for_orientation(displayed: Image.Image, orientation: int) -> Image.Image:
    """The stored pixels that a viewer honouring ``orientation`` shows as ``displayed``."""
    transpose = _DISPLAYED_TO_STORED[orientation]
    return displayed.transpose(transpose) if transpose is not None else displayed.copy()


def textured(size: tuple[int, int], box: tuple[int, int, int, int], seed: int = 7) -> Image.Image:
    """A flat grey image with a busy checkered "subject" inside ``box`` (for content crops)."""
    im = solid(size, (120, 140, 160))
    draw = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    step = max(2, (x1 - x0) // 12)
    for i, x in enumerate(range(x0, x1, step)):
        for j, y in enumerate(range(y0, y1, step)):
            shade = (i * 37 + j * 91 + seed * 13) % 2
            draw.rectangle(
                (x, y, min(x + step, x1) - 1, min(y + step, y1) - 1), fill=(250, 220, 30) if shade else (20, 20, 20)
            )
    return im


def mean_color(im: Image.Image, box: tuple[int, int, int, int] | None = None) -> tuple[float, ...]:
    """Mean of each band over ``box`` (the whole image by default)."""
    region = im.crop(box) if box else im
    from PIL import ImageStat

    return tuple(ImageStat.Stat(region).mean)


def close(a: Sequence[float], b: Sequence[float], tolerance: float) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- metadata


def exif(
    *,
    orientation: int | None = None,
    gps: bool = False,
    maker_note: bool = False,
    artist: str | None = None,
    copyright: str | None = None,
) -> Image.Exif:
    """An EXIF block with the requested tags (GPS: a position in Paris; maker note: opaque bytes)."""
    e = Image.Exif()
    if orientation is not None:
        e[ExifTags.Base.Orientation] = orientation
    if artist:
        e[ExifTags.Base.Artist] = artist
    if copyright:
        e[ExifTags.Base.Copyright] = copyright
    e[ExifTags.Base.Make] = "imgpipe-test-camera"
    if gps:
        ifd = e.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
        ifd[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
        ifd[ExifTags.GPS.GPSLongitudeRef] = "E"
        ifd[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    if maker_note:
        e.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.MakerNote] = b"SECRET-MAKER-NOTE-SERIAL-0042"
    return e


def has_gps(data: bytes) -> bool:
    """Whether an encoded image carries any GPS data in its EXIF or XMP."""
    with Image.open(io.BytesIO(data)) as im:
        e = im.getexif()
        xmp = im.info.get("xmp") or b""
    gps_ifd = e.get_ifd(ExifTags.IFD.GPSInfo)
    text = xmp.decode("utf-8", "ignore") if isinstance(xmp, bytes) else str(xmp)
    return bool(gps_ifd) or ExifTags.Base.GPSInfo in e or "GPS" in text


# ---------------------------------------------------------------- encoders


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def jpeg(im: Image.Image, quality: int = 92, **params: object) -> bytes:
    return encode(im, "JPEG", quality=quality, **params)


def png(im: Image.Image, **params: object) -> bytes:
    return encode(im, "PNG", **params)


def webp(im: Image.Image, **params: object) -> bytes:
    return encode(im, "WEBP", **params)


def avif(im: Image.Image, **params: object) -> bytes:
    from PIL import AvifImagePlugin  # noqa: F401  (registers the encoder)

    return encode(im, "AVIF", **params)


def heic(im: Image.Image, quality: int = 90, **params: object) -> bytes:
    """HEIC as iPhones write it (pillow-heif's x265 encoder)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return encode(im, "HEIF", quality=quality, **params)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small, valid JPEG whose frame header (SOF) is rewritten to claim ``width`` x ``height``."""
    data = bytearray(jpeg(solid((16, 16), GREY)))
    i = 2
    while i + 9 < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5 : i + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker found")


def oriented_jpeg(orientation: int, size: tuple[int, int] = (120, 80), **exif_tags: object) -> bytes:
    """A JPEG that *displays* as ``size`` with a red marker top-left and a blue one top-right,
    stored rotated/mirrored with the EXIF orientation tag saying so."""
    displayed = with_markers(solid(size, GREY))
    stored = stored_for_orientation(displayed, orientation)
    return jpeg(stored, exif=exif(orientation=orientation, **exif_tags))  # type: ignore[arg-type]


def cmyk_jpeg(color: tuple[int, int, int], size: tuple[int, int] = (64, 48), adobe_inverted: bool = True) -> bytes:
    """A CMYK JPEG that should look like RGB ``color``.

    Photoshop writes CMYK JPEGs inverted, with an "Adobe" APP14 marker saying so; Pillow does the
    same. ``adobe_inverted=False`` gives the other kind: plain CMYK values and no APP14 marker.
    """
    cmyk = solid(size, color).convert("CMYK")
    if adobe_inverted:
        return jpeg(cmyk)
    from PIL import ImageChops

    # Pillow inverts on save; invert first so the stored values are plain, then drop the marker.
    return _drop_app14(jpeg(ImageChops.invert(cmyk)))


def _drop_app14(data: bytes) -> bytes:
    out = bytearray(data[:2])
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] not in (0xDA, 0xD9):
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if data[i + 1] != 0xEE:
            out += data[i : i + 2 + length]
        i += 2 + length
    out += data[i:]
    return bytes(out)


def png16(size: tuple[int, int], pixel: Callable[[int, int], tuple[int, ...]], channels: int = 3) -> bytes:
    """A 16-bit PNG (grey: 1 channel, RGB: 3, RGBA: 4), which Pillow cannot write itself.
    ``pixel(x, y)`` returns 16-bit channel values."""
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    w, h = size
    rows = bytearray()
    for y in range(h):
        rows.append(0)  # filter: none
        for x in range(w):
            rows += struct.pack(f">{channels}H", *pixel(x, y))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return _png_file(ihdr, zlib.compress(bytes(rows)))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_file(ihdr: bytes, idat: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` with almost no pixel data behind it
    (the shape of a decompression bomb: tiny file, enormous canvas)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _png_file(ihdr, zlib.compress(b"\x00" * 64))


def palette_png(size: tuple[int, int] = (64, 64), transparent_box: tuple[int, int, int, int] | None = None) -> bytes:
    """A palette PNG: red, with index 0 (fully transparent) inside ``transparent_box``."""
    im = Image.new("P", size, 1)
    im.putpalette([0, 0, 0, 220, 30, 30] + [0, 0, 0] * 254)
    if transparent_box:
        ImageDraw.Draw(im).rectangle(transparent_box, fill=0)
        return png(im, transparency=0)
    return png(im)


def animated_gif(n_frames: int = 6, size: tuple[int, int] = (80, 60), duration: int = 70) -> bytes:
    """Frames of alternating colours with a moving white bar, looping forever."""
    frames = []
    for i in range(n_frames):
        im = solid(size, (40 * (i % 6), 200 - 30 * (i % 6), 90))
        x = (i * size[0]) // max(1, n_frames)
        ImageDraw.Draw(im).rectangle((x, 0, x + 4, size[1] - 1), fill=(255, 255, 255))
        frames.append(im.convert("P", palette=Image.Palette.ADAPTIVE))
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(1, int(len(data) * keep))]


TEXT_FILE = b"Hello! This is a text file that was named photo.jpg by mistake.\n" * 4
GARBAGE = bytes(range(256)) * 8


# ---------------------------------------------------------------- ICC profiles and colour maths

_D50 = (0.9642, 1.0, 0.8249)
_BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))

Matrix = tuple[tuple[float, float, float], ...]


def _mul(a: Matrix, b: Matrix) -> Matrix:
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3))


def _apply(m: Matrix, v: Sequence[float]) -> tuple[float, float, float]:
    return (
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    )


def _inv(m: Matrix) -> Matrix:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


def _xyz(x: float, y: float) -> tuple[float, float, float]:
    return x / y, 1.0, (1 - x - y) / y


@dataclass(frozen=True)
class RGBSpace:
    """An RGB colour space from its primaries' and white point's chromaticities and a pure
    gamma transfer curve (sRGB's piecewise curve is handled by :func:`srgb_encode`)."""

    name: str
    red: tuple[float, float]
    green: tuple[float, float]
    blue: tuple[float, float]
    white: tuple[float, float]
    gamma: float

    def to_xyz(self) -> Matrix:
        """Linear RGB -> XYZ under the space's own white."""
        cols = [_xyz(*self.red), _xyz(*self.green), _xyz(*self.blue)]
        m: Matrix = tuple(tuple(cols[j][i] for j in range(3)) for i in range(3))
        s = _apply(_inv(m), _xyz(*self.white))
        return tuple(tuple(m[i][j] * s[j] for j in range(3)) for i in range(3))

    def to_xyz_d50(self) -> Matrix:
        """Bradford-adapted to D50, as ICC colorant tags require."""
        src = _apply(_BRADFORD, _xyz(*self.white))
        dst = _apply(_BRADFORD, _D50)
        scale: Matrix = ((dst[0] / src[0], 0, 0), (0, dst[1] / src[1], 0), (0, 0, dst[2] / src[2]))
        return _mul(_mul(_mul(_inv(_BRADFORD), scale), _BRADFORD), self.to_xyz())

    def to_srgb(self, rgb: Sequence[int]) -> tuple[float, float, float]:
        """What an 8-bit colour of this space is in 8-bit sRGB (clipped), by plain maths."""
        linear = [(c / 255) ** self.gamma for c in rgb]
        xyz = _apply(self.to_xyz(), linear)
        srgb_linear = _apply(_inv(SRGB_PRIMARIES.to_xyz()), xyz)
        return tuple(255 * srgb_encode(min(1.0, max(0.0, v))) for v in srgb_linear)  # type: ignore[return-value]

    def icc(self) -> bytes:
        return rgb_icc_profile(self)


def srgb_encode(v: float) -> float:
    return 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055


SRGB_PRIMARIES = RGBSpace("sRGB", (0.64, 0.33), (0.30, 0.60), (0.15, 0.06), (0.3127, 0.3290), 2.2)
DISPLAY_P3 = RGBSpace(
    "imgpipe test Display P3 (gamma 2.2)", (0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.3127, 0.3290), 2.2
)
ADOBE_RGB = RGBSpace(
    "imgpipe test Adobe RGB (1998)", (0.64, 0.33), (0.21, 0.71), (0.15, 0.06), (0.3127, 0.3290), 563 / 256
)


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + _s15(x) + _s15(y) + _s15(z)


def _desc_tag(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\x00"
    return (
        b"desc\x00\x00\x00\x00"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + b"\x00" * 8
        + b"\x00" * 3
        + b"\x00" * 67
    )


def rgb_icc_profile(space: RGBSpace) -> bytes:
    """A minimal ICC v2 display profile (matrix/TRC) for ``space``."""
    m = space.to_xyz_d50()
    gamma = struct.pack(">H", round(space.gamma * 256))
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">I", 1) + gamma + b"\x00\x00"
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", _desc_tag(space.name)),
        (b"cprt", b"text\x00\x00\x00\x00" + b"No copyright, test data\x00"),
        (b"wtpt", _xyz_tag(*_D50)),
        (b"rXYZ", _xyz_tag(m[0][0], m[1][0], m[2][0])),
        (b"gXYZ", _xyz_tag(m[0][1], m[1][1], m[2][1])),
        (b"bXYZ", _xyz_tag(m[0][2], m[1][2], m[2][2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table = struct.pack(">I", len(tags))
    body = b""
    for sig, data in tags:
        padded = data + b"\x00" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = 128 + table_size + len(body)
    header = (
        struct.pack(">I", size)
        + b"\x00" * 4
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\x00" * 24
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + _s15(_D50[0])
        + _s15(_D50[1])
        + _s15(_D50[2])
        + b"\x00" * 48
    )
    assert len(header) == 128
    return header + table + body
