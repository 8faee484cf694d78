"""A corpus of hostile and awkward uploads, made by code (nothing downloaded, nothing stored).

Each :class:`HostileFile` says what a processor may make of it: ``VARIANTS`` (the file is a real,
if odd, image and must be processed) and/or the rejection reason codes that are acceptable. The
promise tested with it (tests/integration/test_hostile_inputs.py): every file ends as variants or
as a rejection with a reason code, never as an unhandled exception, a hang or a DLQ record.

Files are small (the bombs are small on disk: that is what makes them bombs) so the whole corpus
goes through three processors in seconds. Everything is deterministic: fixed seeds, no clock.
"""

from __future__ import annotations

import gzip
import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageCms, ImageDraw

from imgpipe.limits import DEFAULT_MAX_BYTES
from tests import imagegen

VARIANTS = "variants"
# Reason codes (imgpipe.errors.Reason values), spelled out so the corpus reads on its own.
UNSUPPORTED = "unsupported_format"
CORRUPT = "corrupt_image"
PIXELS = "too_many_pixels"
FRAMES = "too_many_frames"
EMPTY = "empty_object"
TOO_LARGE = "too_large"


@dataclass(frozen=True)
class HostileFile:
    name: str  # also the upload key; every name ends in an image extension, whatever the bytes
    data: bytes
    expect: frozenset[str]  # VARIANTS and/or acceptable reason codes
    #: bytes an attacker planted; no variant may carry them (outputs are re-encoded, metadata stripped)
    payload: bytes | None = None
    why: str = ""
    #: stricter expectations for some processors, e.g. convert decodes every frame of an animation
    expect_for: tuple[tuple[str, frozenset[str]], ...] = ()

    def expected(self, processor: str) -> frozenset[str]:
        return dict(self.expect_for).get(processor, self.expect)


# --- building blocks -----------------------------------------------------------------------------


def _picture(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """A small image with structure (gradient + shapes) so encoders and croppers have work to do."""
    w, h = size
    im = imagegen.gradient(size)
    if w >= 8 and h >= 8:
        draw = ImageDraw.Draw(im)
        draw.rectangle((w // 4, h // 4, w // 2, h // 2), fill=(255, 0, 0))
        draw.ellipse((w // 2, h // 2, w - 2, h - 2), fill=(0, 0, 255))
    if mode == "RGBA":
        im.putalpha(Image.linear_gradient("L").resize(size))
    elif mode != "RGB":
        im = im.convert(mode)
    return im


_save = imagegen.encode


@cache
def _jpeg() -> bytes:
    return _save(_picture(), "JPEG", quality=90)


@cache
def _png() -> bytes:
    return _save(_picture(mode="RGBA"), "PNG")


@cache
def _webp() -> bytes:
    return _save(_picture(), "WEBP", quality=80)


@cache
def _gif() -> bytes:
    return _save(_picture().convert("P", palette=Image.Palette.ADAPTIVE), "GIF")


BASES: dict[str, Callable[[], bytes]] = {"jpg": _jpeg, "png": _png, "webp": _webp, "gif": _gif}


def _bitflip(data: bytes, seed: int, flips: int = 12) -> bytes:
    """Flip bits after the magic bytes (so the format is still recognised and a decoder runs)."""
    rng = random.Random(seed)
    buf = bytearray(data)
    for _ in range(flips):
        i = rng.randrange(12, len(buf))
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_raw(width: int, height: int, bit_depth: int, colour: int, idat: bytes, extra: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + extra + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    )


def _png_bomb(width: int, height: int) -> bytes:
    """A real decompression bomb: a 1-bit image of zeros, deflated row by row (~1000:1)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return _png_raw(width, height, 1, 0, idat)


def _gif_frames(screen: tuple[int, int], frames: int, *, tail: bytes = b"") -> bytes:
    """An animated GIF of ``frames`` 1x1-pixel frames on a ``screen``-sized canvas, written by
    hand so thousands of frames cost a few bytes each. Decoders composite every frame at the
    full canvas size, which is what the frame and animation caps are about."""
    w, h = screen
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    out += b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for i in range(frames):
        out += b"!\xf9\x04\x00\x02\x00\x00\x00"  # graphic control: 20 ms
        out += b"," + struct.pack("<HHHHB", i % w, (i // w) % h, 1, 1, 0)
        # LZW, min code size 2: clear(4), pixel 0 or 1, end(5) -> 3-bit codes packed LSB first
        out += b"\x02\x02" + (b"\x44\x01" if i % 2 == 0 else b"\x4c\x01") + b"\x00"
    out += b";" + tail
    return bytes(out)


def _gif_growing_canvas(frames: int, at: tuple[int, int]) -> bytes:
    """A 16x16 GIF whose later frames are placed at ``at``: decoders grow the canvas to hold
    them, so the header's size says nothing about what decoding the frames costs."""
    w, h = 16, 16
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    for i in range(frames):
        x, y = (0, 0) if i == 0 else at
        out += b"!\xf9\x04\x00\x02\x00\x00\x00" + b"," + struct.pack("<HHHHB", x, y, 1, 1, 0)
        out += b"\x02\x02\x44\x01\x00"
    return bytes(out + b";")


def _patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    buf = bytearray(data)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        i = buf.find(marker)
        if i > 0:
            buf[i + 5 : i + 9] = struct.pack(">HH", height, width)
            return bytes(buf)
    raise ValueError("no SOF marker")


def _tiff_with_size(width: int, height: int) -> bytes:
    """An uncompressed little-endian TIFF whose IFD claims ``width`` x ``height``."""
    buf = bytearray(_save(_picture((8, 8)), "TIFF"))
    (ifd,) = struct.unpack_from("<I", buf, 4)
    (count,) = struct.unpack_from("<H", buf, ifd)
    for n in range(count):
        at = ifd + 2 + 12 * n
        tag, typ = struct.unpack_from("<HH", buf, at)
        if tag in (256, 257):
            value = width if tag == 256 else height
            struct.pack_into("<HHII", buf, at, tag, 4, 1, value)  # LONG, so 65535+ fits
        del typ
    return bytes(buf)


def _bmp_with_size(width: int, height: int) -> bytes:
    pixels = b"\x00" * 64
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def _webp_vp8x_canvas(width: int, height: int) -> bytes:
    """A lossless WebP whose VP8X header claims a canvas of ``width`` x ``height``."""
    lossless = _save(_picture((16, 16)), "WEBP", lossless=True)
    vp8l = lossless[12:]  # the VP8L chunk (tag, size, payload)
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little")
    vp8x += (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _invalid_orientation(value: int) -> bytes:
    return _save(_picture((60, 40)), "JPEG", exif=imagegen.exif(orientation=value), quality=90)


def _icc(kind: str) -> bytes:
    if kind == "lab":
        return ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    if kind == "xyz":
        return ImageCms.ImageCmsProfile(ImageCms.createProfile("XYZ")).tobytes()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    if kind == "truncated":
        return srgb[: len(srgb) // 2]
    if kind == "garbage":
        return bytes(random.Random(9).randrange(256) for _ in range(600))
    if kind == "srgb":
        return srgb
    if kind == "huge_declared":
        return struct.pack(">I", 0x7FFFFFF0) + srgb[4:]  # header claims 2 GiB
    raise ValueError(kind)


def _cmyk_jpeg_with_rgb_profile() -> bytes:
    return _save(_picture().convert("CMYK"), "JPEG", quality=90, icc_profile=_icc("srgb"))


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "not an image")
    return out.getvalue()


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b'<script>alert(1)</script><rect width="100" height="100" fill="red"/></svg>'
)
XML_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
    )
    + b']><svg xmlns="http://www.w3.org/2000/svg">&lol9;</svg>'
)
PHP = b"<?php system($_GET['c']); ?>"
JS = b"*/=alert(document.domain);//"


def _jpeg_with_comment(comment: bytes) -> bytes:
    data = _jpeg()
    com = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return data[:2] + com + data[2:]


def _jpeg_with_exif_text(text: bytes) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = text.decode()  # ImageDescription
    exif[0x8298] = "(c) imgpipe tests"  # Copyright: kept, by design
    return _save(_picture(), "JPEG", exif=exif, quality=90)


def _jpeg_with_broken_exif() -> bytes:
    data = _jpeg()
    body = b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(random.Random(4).randrange(256) for _ in range(80))
    app1 = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return data[:2] + app1 + data[2:]


def _png_text(text: bytes) -> bytes:
    data = _png()
    chunk = _png_chunk(b"tEXt", b"Comment\x00" + text)
    return data[:33] + chunk + data[33:]  # after the signature (8) and IHDR (25)


def _png_ztxt_bomb() -> bytes:
    """A zTXt chunk that inflates to 64 MiB of text (Pillow caps text chunks)."""
    z = zlib.compressobj(9)
    text = b"".join(z.compress(b"A" * (1 << 20)) for _ in range(64)) + z.flush()
    data = _png()
    return data[:33] + _png_chunk(b"zTXt", b"Comment\x00\x00" + text) + data[33:]


def _gif_js_polyglot() -> bytes:
    """Valid GIF that is also valid JavaScript: the screen width bytes open a JS comment."""
    body = _gif_frames((1, 1), 1, tail=JS)
    return b"GIF89a/*" + body[8:]


def _animated_webp(frames: int) -> bytes:
    images = [_picture((32, 24), "RGBA").rotate(i * 20) for i in range(frames)]
    return _save(images[0], "WEBP", save_all=True, append_images=images[1:], duration=50, loop=0)


def _tiny(size: tuple[int, int], fmt: str) -> bytes:
    return _save(_picture(size).convert("RGB"), fmt)


def _large_bytes() -> bytes:
    """Just over the byte cap: rejected from the object's size, before it is read."""
    return b"\xff\xd8\xff\xe0" + b"\x00" * (DEFAULT_MAX_BYTES + 1)


# --- the corpus ----------------------------------------------------------------------------------

E = frozenset


def _generate() -> list[HostileFile]:
    files: list[HostileFile] = []

    def add(
        name: str,
        data: bytes,
        expect: set[str],
        why: str,
        payload: bytes | None = None,
        animated_expect: set[str] | None = None,
    ) -> None:
        # resize and thumbnail use the first frame of an animation; convert keeps them all.
        strict = (("convert", E(animated_expect)),) if animated_expect else ()
        files.append(HostileFile(name, data, E(expect), payload, why, strict))

    # Truncated: headers often survive, pixel data does not. A decoder may also make the most
    # of what is there; either way the upload ends.
    for ext, base in BASES.items():
        for fraction in (0.05, 0.3, 0.6, 0.95):
            add(
                f"truncated/{int(fraction * 100)}pct.{ext}",
                imagegen.truncated(base(), fraction),
                {CORRUPT, VARIANTS},
                f"{ext} cut to {fraction:.0%} of its bytes",
            )
    # Bit flips after the magic: the decoder runs on garbage.
    for ext, base in BASES.items():
        for seed in (1, 2, 3):
            add(
                f"bitflip/{seed}.{ext}",
                _bitflip(base(), seed),
                {CORRUPT, VARIANTS, PIXELS, UNSUPPORTED},
                f"{ext} with 12 random bits flipped (seed {seed})",
            )

    # Headers that claim huge dimensions over a few bytes of data.
    add("claims/jpeg-65000x65000.jpg", _patch_jpeg_size(_jpeg(), 65000, 65000), {PIXELS}, "SOF says 4.2 gigapixels")
    add("claims/jpeg-50000x50000.jpg", _patch_jpeg_size(_jpeg(), 50000, 50000), {PIXELS}, "the issue's example")
    add(
        "claims/png-100000x100000.png",
        imagegen.png_claiming(100_000, 100_000),
        {PIXELS},
        "IHDR says 10 gigapixels over 64 bytes of data",
    )
    add("claims/gif-65535x65535.gif", _gif_frames((65535, 65535), 1), {PIXELS}, "logical screen 65535 squared")
    add(
        "claims/webp-16384x16384.webp",
        _webp_vp8x_canvas(16384, 16384),
        {PIXELS, CORRUPT},
        "VP8X canvas larger than its bitstream",
    )
    add("claims/bmp-50000x50000.jpg", _bmp_with_size(50000, 50000), {PIXELS}, "BMP header claims 2.5 GP")
    add("claims/bmp-negative.jpg", _bmp_with_size(-7, -7), {CORRUPT, PIXELS, VARIANTS}, "negative size (top-down)")
    add("claims/tiff-60000x60000.tif", _tiff_with_size(60000, 60000), {PIXELS}, "TIFF IFD claims 3.6 GP")
    add("claims/jpeg-0x0.jpg", _patch_jpeg_size(_jpeg(), 0, 0), {CORRUPT}, "zero dimensions")

    # Decompression bombs: tiny files that inflate far past the pixel cap.
    add("bombs/png-20000x20000-1bit.png", _png_bomb(20000, 20000), {PIXELS}, "400 MP of zeros in ~50 KB")
    add("bombs/png-8000x7000-1bit.png", _png_bomb(8000, 7000), {PIXELS}, "56 MP, just over the 50 MP cap")
    add(
        "bombs/gif-1500x1500-250frames.gif",
        _gif_frames((1500, 1500), 250),
        {PIXELS},
        "250 frames composited at 1500x1500: 562 MP to decode",
    )
    add(
        "bombs/gif-frame-grows-canvas-past-cap.gif",
        _gif_growing_canvas(2, (12000, 12000)),
        {PIXELS, VARIANTS},
        "16x16 header; frame 2 grows the canvas to 144 MP (found by tests/unit/test_fuzz_safe_open.py)",
        animated_expect={PIXELS},
    )
    add(
        "bombs/gif-frames-grow-canvas-to-49mp.gif",
        _gif_growing_canvas(40, (7000, 7000)),
        {PIXELS, VARIANTS},
        "16x16 header; 39 frames each composited on a 49 MP canvas: 1.9 GP, past the animation budget",
        animated_expect={PIXELS},
    )
    add("bombs/png-ztxt-64mib.png", _png_ztxt_bomb(), {VARIANTS, CORRUPT}, "zTXt chunk inflating to 64 MiB")
    add("bombs/xml-billion-laughs.jpg", XML_BOMB, {UNSUPPORTED}, "XML entity bomb: never parsed")

    # Animations with too many frames.
    add("frames/gif-3000-frames.gif", _gif_frames((16, 16), 3000), {FRAMES}, "3000 frames")
    add("frames/gif-301-frames.gif", _gif_frames((16, 16), 301), {FRAMES}, "one over the 300 frame cap")
    add("frames/gif-20-frames.gif", imagegen.animated_gif(20), {VARIANTS}, "a normal animation")
    add("frames/webp-12-frames.webp", _animated_webp(12), {VARIANTS}, "an animated WebP with alpha")

    # Not images at all, named like images.
    add("renamed/zip.jpg", _zip(), {UNSUPPORTED}, "a zip archive")
    add("renamed/pdf.jpg", PDF, {UNSUPPORTED}, "a PDF")
    add("renamed/html.jpg", HTML, {UNSUPPORTED}, "an HTML page with a script")
    add("renamed/svg.jpg", SVG, {UNSUPPORTED}, "an SVG with a script (not on the allowlist)")
    add("renamed/svg.png", SVG, {UNSUPPORTED}, "the same SVG named .png")
    add("renamed/elf.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 57, {UNSUPPORTED}, "an executable header")
    add("renamed/gzip-of-jpeg.jpg", gzip.compress(_jpeg(), mtime=0), {UNSUPPORTED}, "a gzipped JPEG")
    add("renamed/text-utf16.jpg", "not an image".encode("utf-16"), {UNSUPPORTED}, "UTF-16 text")
    add("renamed/ico.jpg", _tiny((16, 16), "ICO"), {UNSUPPORTED}, "an icon: an image, but not allowed")
    add("renamed/ppm.jpg", _tiny((16, 16), "PPM"), {UNSUPPORTED}, "a netpbm image: not allowed")
    add(
        "renamed/html-with-gif-magic.gif",
        b"GIF89a<html><script>alert(1)</script></html>",
        {CORRUPT, UNSUPPORTED},
        "GIF magic, then HTML",
    )

    # Polyglots: real images carrying something else. They may be processed, but the outputs are
    # re-encoded pixels: the planted bytes never reach a variant.
    add("polyglot/jpeg-plus-zip.jpg", _jpeg() + _zip(), {VARIANTS}, "a zip appended after EOI", b"readme.txt")
    add("polyglot/jpeg-plus-pdf.jpg", _jpeg() + PDF, {VARIANTS}, "a PDF appended after EOI", b"/Catalog")
    add("polyglot/jpeg-php-comment.jpg", _jpeg_with_comment(PHP), {VARIANTS}, "PHP in a COM segment", PHP)
    add("polyglot/jpeg-php-exif.jpg", _jpeg_with_exif_text(PHP), {VARIANTS}, "PHP in EXIF ImageDescription", PHP)
    add("polyglot/png-html-text.png", _png_text(HTML), {VARIANTS}, "HTML in a tEXt chunk", b"<script>")
    add("polyglot/gif-javascript.gif", _gif_js_polyglot(), {VARIANTS, PIXELS, CORRUPT}, "GIF that is also JS", JS)

    # Degenerate sizes of data.
    add("tiny/zero-bytes.jpg", b"", {EMPTY}, "0 bytes")
    add("tiny/one-byte.jpg", b"\xff", {UNSUPPORTED}, "1 byte")
    add("tiny/jpeg-magic-only.jpg", b"\xff\xd8\xff", {CORRUPT}, "a JPEG's first 3 bytes")
    add("tiny/png-signature-only.png", b"\x89PNG\r\n\x1a\n", {CORRUPT}, "a PNG signature and nothing else")
    add("tiny/over-the-byte-cap.jpg", _large_bytes(), {TOO_LARGE}, "50 MiB + 5 bytes")

    # Colour: CMYK, 16-bit, odd and broken ICC profiles. All real images: they must be processed.
    add("colour/cmyk-adobe-inverted.jpg", imagegen.cmyk_jpeg((200, 40, 40)), {VARIANTS}, "Adobe inverted CMYK")
    add(
        "colour/cmyk-plain.jpg",
        imagegen.cmyk_jpeg((40, 200, 40), adobe_inverted=False),
        {VARIANTS},
        "CMYK JPEG without the Adobe marker",
    )
    add("colour/cmyk-with-rgb-profile.jpg", _cmyk_jpeg_with_rgb_profile(), {VARIANTS}, "CMYK pixels, an RGB profile")
    add(
        "colour/16bit-grey.png",
        imagegen.png16((64, 48), lambda x, y: (x * 1000,), channels=1),
        {VARIANTS},
        "16-bit greyscale PNG",
    )
    add(
        "colour/16bit-rgb.png",
        imagegen.png16((40, 30), lambda x, y: (x * 1600, y * 2100, 40000)),
        {VARIANTS},
        "48-bit RGB PNG",
    )
    add(
        "colour/16bit-rgba.png",
        imagegen.png16((40, 30), lambda x, y: (x * 1600, 9000, 40000, y * 2100), channels=4),
        {VARIANTS},
        "64-bit RGBA PNG",
    )
    add(
        "colour/display-p3.jpg",
        _save(_picture(), "JPEG", icc_profile=imagegen.rgb_icc_profile(imagegen.DISPLAY_P3)),
        {VARIANTS},
        "wide-gamut profile",
    )
    for kind in ("lab", "xyz", "truncated", "garbage", "huge_declared"):
        add(
            f"colour/icc-{kind}.jpg",
            _save(_picture(), "JPEG", icc_profile=_icc(kind)),
            {VARIANTS},
            f"RGB JPEG with a {kind} ICC profile",
        )
    add(
        "colour/icc-garbage.png",
        _save(_picture(mode="RGBA"), "PNG", icc_profile=_icc("garbage")),
        {VARIANTS},
        "PNG with a garbage iCCP",
    )
    add(
        "colour/palette-transparency.png",
        _save(_picture().convert("P"), "PNG", transparency=3),
        {VARIANTS},
        "palette PNG with a transparent index",
    )
    add("colour/la.png", _save(_picture(mode="RGBA").convert("LA"), "PNG"), {VARIANTS}, "grey + alpha")
    add("colour/1bit.png", _save(_picture().convert("1"), "PNG"), {VARIANTS}, "bilevel")
    add(
        "colour/cmyk.tif",
        _save(_picture().convert("CMYK"), "TIFF", compression="tiff_lzw"),
        {VARIANTS},
        "CMYK TIFF, LZW",
    )

    # Every EXIF orientation, plus values that do not exist and EXIF that does not parse.
    for value in range(1, 9):
        add(f"orientation/{value}.jpg", imagegen.oriented_jpeg(value), {VARIANTS}, f"EXIF orientation {value}")
    add("orientation/0.jpg", _invalid_orientation(0), {VARIANTS}, "orientation 0 (invalid: treated as 1)")
    add("orientation/9.jpg", _invalid_orientation(9), {VARIANTS}, "orientation 9 (invalid: treated as 1)")
    add(
        "privacy/gps-and-maker-note.jpg",
        _save(_picture(), "JPEG", exif=imagegen.exif(gps=True, maker_note=True)),
        {VARIANTS},
        "GPS position and a maker note with a serial number",
        b"SECRET-MAKER-NOTE",
    )
    add("orientation/broken-exif.jpg", _jpeg_with_broken_exif(), {VARIANTS}, "an EXIF block that does not parse")

    # Extreme shapes.
    add("shape/1x1.jpg", _tiny((1, 1), "JPEG"), {VARIANTS}, "one pixel")
    add("shape/1x1.png", _tiny((1, 1), "PNG"), {VARIANTS}, "one pixel")
    add("shape/1x1.gif", _gif_frames((1, 1), 1), {VARIANTS}, "one pixel, one frame")
    add("shape/1x10000.png", _tiny((1, 10000), "PNG"), {VARIANTS}, "one pixel wide")
    add("shape/10000x1.png", _tiny((10000, 1), "PNG"), {VARIANTS}, "one pixel high")
    add("shape/1x10000.jpg", _tiny((1, 10000), "JPEG"), {VARIANTS}, "one pixel wide, JPEG")
    add("shape/3x7000.webp", _tiny((3, 7000), "WEBP"), {VARIANTS}, "a sliver")
    return files


@cache
def corpus() -> tuple[HostileFile, ...]:
    files = _generate()
    names = [f.name for f in files]
    assert len(names) == len(set(names)), "corpus names must be unique (they are the upload keys)"
    return tuple(files)


if __name__ == "__main__":  # `python -m tests.hostile_corpus DIR` writes the corpus out for a look
    import sys
    from pathlib import Path

    root = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile")
    for f in corpus():
        path = root / f.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
    print(f"{len(corpus())} files under {root}/")
