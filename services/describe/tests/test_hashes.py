"""ThumbHash, BlurHash and pHash on generated images: each placeholder decoded back and compared
with the image; the perceptual hash stable under re-encoding and resizing, apart for other photos."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from imgpipe.imaging.facts import luma_grid, rgba_grid
from tests import imagegen as g

from ..hashes import (
    PHASH_SIDE,
    blurhash,
    blurhash_to_rgb,
    hamming,
    phash,
    thumbhash,
    thumbhash_to_rgba,
)


def scene(size: tuple[int, int] = (400, 300), flip: bool = False) -> Image.Image:
    """Large, soft shapes: what a placeholder can show (a sky over a dark hill, a sun)."""
    im = Image.new("RGB", size, (70, 130, 220))
    d = ImageDraw.Draw(im)
    w, h = size
    d.rectangle((0, h * 0.6, w, h), fill=(40, 90, 30))
    d.ellipse((w * 0.65, h * 0.1, w * 0.85, h * 0.1 + w * 0.2), fill=(250, 220, 80))
    return im.transpose(Image.Transpose.FLIP_TOP_BOTTOM) if flip else im


def mean_error(a: list[tuple[int, ...]], b: list[tuple[int, ...]], channels: int = 3) -> float:
    return sum(abs(x[c] - y[c]) for x, y in zip(a, b, strict=True) for c in range(channels)) / (len(a) * channels)


def reference(im: Image.Image, size: tuple[int, int]) -> list[tuple[int, ...]]:
    """The image at the placeholder's size, blurred about as much as a handful of cosines blur."""
    from PIL import ImageFilter

    small = im.convert("RGBA").resize(size, Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(2))
    data = small.tobytes()
    return [tuple(data[i : i + 4]) for i in range(0, len(data), 4)]


def test_thumbhash_decodes_back_to_the_image() -> None:
    im = scene()
    w, h, pixels = rgba_grid(im, 32)
    hashed = thumbhash(w, h, pixels)
    assert 5 < len(hashed) <= 25
    dw, dh, decoded = thumbhash_to_rgba(hashed)
    assert abs(dw / dh - 4 / 3) < 0.2  # the aspect survives (approximately, by design)
    ref = reference(im, (dw, dh))
    own = mean_error(decoded, ref)
    other = mean_error(decoded, reference(scene(flip=True), (dw, dh)))
    assert own < 18, own
    assert other > 2 * own, (own, other)
    assert all(p[3] == 255 for p in decoded)  # opaque in, opaque out


def test_thumbhash_keeps_transparency() -> None:
    im = scene().convert("RGBA")
    im.paste((0, 0, 0, 0), (0, 0, 200, 300))  # left half transparent
    w, h, pixels = rgba_grid(im, 32)
    hashed = thumbhash(w, h, pixels)
    assert hashed[2] & 0x80  # the alpha flag
    dw, dh, decoded = thumbhash_to_rgba(hashed)
    left = [decoded[y * dw + x][3] for y in range(dh) for x in range(dw // 4)]
    right = [decoded[y * dw + x][3] for y in range(dh) for x in range(3 * dw // 4, dw)]
    assert sum(left) / len(left) < 60 and sum(right) / len(right) > 200


def test_thumbhash_refuses_oversized_input() -> None:
    with pytest.raises(ValueError):
        thumbhash(101, 10, [(0, 0, 0, 255)] * 1010)


@pytest.mark.parametrize(("x", "y"), [(4, 3), (3, 4), (1, 1), (9, 9)])
def test_blurhash_decodes_back_to_the_image(x: int, y: int) -> None:
    im = scene()
    w, h, pixels = rgba_grid(im, 64)
    text = blurhash(w, h, pixels, x, y)
    assert len(text) == 4 + 2 * x * y
    decoded = blurhash_to_rgb(text, w, h)
    own = mean_error(decoded, reference(im, (w, h)))
    other = mean_error(decoded, reference(scene(flip=True), (w, h)))
    assert own < (45 if (x, y) == (1, 1) else 25), own
    if (x, y) != (1, 1):  # one component is the average colour only: both scenes share it
        assert other > 2 * own, (own, other)


def test_blurhash_of_a_flat_colour_is_that_colour() -> None:
    """Within BlurHash's own leak on a 64-pixel grid (see logic.BLURHASH_EDGE)."""
    pixels = [(200, 40, 90, 255)] * (64 * 48)
    decoded = blurhash_to_rgb(blurhash(64, 48, pixels), 8, 6)
    assert all(abs(a - b) <= 10 for p in decoded for a, b in zip(p, (200, 40, 90), strict=True))


def _reencoded(im: Image.Image, fmt: str, **params: object) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def hash_of(im: Image.Image) -> int:
    return phash(luma_grid(im, PHASH_SIDE))


def test_phash_is_stable_under_reencoding_and_resizing() -> None:
    photo = g.photo((800, 600), seed=3)
    base = hash_of(photo)
    variants = {
        "jpeg q40": _reencoded(photo, "JPEG", quality=40),
        "webp q50": _reencoded(photo, "WEBP", quality=50),
        "half size": photo.resize((400, 300), Image.Resampling.LANCZOS),
        "thumbnail 160": photo.resize((160, 120), Image.Resampling.BILINEAR),
        "brighter": photo.point(lambda v: min(255, v + 20)),
    }
    distances = {name: hamming(base, hash_of(im)) for name, im in variants.items()}
    assert all(d <= 6 for d in distances.values()), distances


def test_phash_tells_different_photos_apart() -> None:
    photos = [g.photo((800, 600), seed=s) for s in (1, 2, 5)] + [scene((800, 600)), g.gradient((800, 600))]
    hashes = [hash_of(p) for p in photos]
    pairs = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(pairs) >= 16, pairs


def test_phash_has_64_balanced_bits() -> None:
    value = hash_of(g.photo((320, 240), seed=9))
    assert value < 2**64
    assert 24 <= value.bit_count() <= 40  # the median splits the 64 coefficients in halves
