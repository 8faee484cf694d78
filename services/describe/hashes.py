"""Placeholders and a perceptual hash, in plain Python on tiny images (at most 32x32 pixels):
the layer gains no numpy, and each runs in a few milliseconds.

- **ThumbHash**: luminance, two chroma channels and (when there is transparency) alpha, each as a
  few low-frequency cosine coefficients quantized to 4 bits; a 5-byte header carries the DC terms,
  the scales, the aspect and the alpha flag. The byte layout is ThumbHash's, so the standard
  client decoders render it. :func:`thumbhash_to_rgba` is our own decoder (used by the tests).
- **BlurHash**: ``x`` by ``y`` cosine components of the linear-light colour, in base 83; the
  layout is BlurHash's, so the standard client decoders render it. :func:`blurhash_to_rgb` decodes.
- **pHash**: the 8x8 lowest frequencies (without the DC row and column) of a 2D DCT-II of the
  32x32 grey image, each bit set where the coefficient is above their median: 64 bits that
  re-encoding and resizing barely change, and that differ in about half the bits between
  unrelated photos.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from functools import lru_cache

Pixel = tuple[int, int, int, int]

# --- shared cosine tables ------------------------------------------------------------------


@lru_cache(maxsize=64)
def _cosines(n: int, count: int, half: bool = True) -> tuple[tuple[float, ...], ...]:
    """cos(pi / n * k * (i + 0.5)) (``half``) or cos(pi * k * i / n), for k < count, i < n."""
    shift = 0.5 if half else 0.0
    return tuple(tuple(math.cos(math.pi / n * k * (i + shift)) for i in range(n)) for k in range(count))


def _project(channel: Sequence[float], w: int, h: int, nx: int, ny: int, half: bool = True) -> list[list[float]]:
    """coefficient[cy][cx] = mean over pixels of channel * basis (separable: rows, then columns)."""
    fx, fy = _cosines(w, nx, half), _cosines(h, ny, half)
    rows = [channel[y * w : (y + 1) * w] for y in range(h)]
    # per row, its projection on each horizontal frequency
    by_row = [[sum(v * c for v, c in zip(row, fx[cx], strict=True)) for cx in range(nx)] for row in rows]
    scale = 1.0 / (w * h)
    return [[sum(by_row[y][cx] * fy[cy][y] for y in range(h)) * scale for cx in range(nx)] for cy in range(ny)]


# --- ThumbHash -----------------------------------------------------------------------------

#: ThumbHash's input is at most this many pixels a side
THUMBHASH_MAX_SIDE = 100


def _triangle(nx: int, ny: int) -> list[tuple[int, int]]:
    """The coefficients a ThumbHash channel keeps: a triangle of low frequencies, row by row."""
    return [(cx, cy) for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy)]


def _encode_channel(channel: list[float], w: int, h: int, nx: int, ny: int) -> tuple[float, list[float], float]:
    coefficients = _project(channel, w, h, nx, ny)
    dc, ac = 0.0, []
    for cx, cy in _triangle(nx, ny):
        if cx or cy:
            ac.append(coefficients[cy][cx])
        else:
            dc = coefficients[0][0]
    scale = max((abs(f) for f in ac), default=0.0)
    if scale > 0:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


def thumbhash(w: int, h: int, pixels: Sequence[Pixel]) -> bytes:
    """The ThumbHash of a ``w`` x ``h`` RGBA image (row by row, each side at most 100)."""
    if not (0 < w <= THUMBHASH_MAX_SIDE and 0 < h <= THUMBHASH_MAX_SIDE) or len(pixels) != w * h:
        raise ValueError(f"thumbhash takes 1..{THUMBHASH_MAX_SIDE} pixels a side, got {w}x{h}")
    total_a = sum(p[3] for p in pixels) / 255
    avg = [0.0, 0.0, 0.0]
    for r, g, b, a in pixels:
        weight = a / 255 / 255
        avg[0] += weight * r
        avg[1] += weight * g
        avg[2] += weight * b
    if total_a > 0:
        avg = [v / total_a for v in avg]
    has_alpha = total_a < w * h
    l_limit = 5 if has_alpha else 7  # fewer luminance terms leave room for alpha's
    lx = max(1, round(l_limit * w / max(w, h)))
    ly = max(1, round(l_limit * h / max(w, h)))
    lum, p_ch, q_ch, a_ch = [], [], [], []
    for r, g, b, a in pixels:
        alpha = a / 255
        # transparent pixels take the average colour, so they do not drag edges towards black
        rr = avg[0] * (1 - alpha) + alpha / 255 * r
        gg = avg[1] * (1 - alpha) + alpha / 255 * g
        bb = avg[2] * (1 - alpha) + alpha / 255 * b
        lum.append((rr + gg + bb) / 3)
        p_ch.append((rr + gg) / 2 - bb)
        q_ch.append(rr - gg)
        a_ch.append(alpha)
    l_dc, l_ac, l_scale = _encode_channel(lum, w, h, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _encode_channel(p_ch, w, h, 3, 3)
    q_dc, q_ac, q_scale = _encode_channel(q_ch, w, h, 3, 3)
    a_dc, a_ac, a_scale = _encode_channel(a_ch, w, h, 5, 5) if has_alpha else (1.0, [], 1.0)
    landscape = w > h  # the header keeps the shorter axis's count; the longer one has l_limit
    header24 = (
        round(63 * l_dc)
        | (round(31.5 + 31.5 * p_dc) << 6)
        | (round(31.5 + 31.5 * q_dc) << 12)
        | (round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (
        (ly if landscape else lx) | (round(63 * p_scale) << 3) | (round(63 * q_scale) << 9) | (int(landscape) << 15)
    )
    out = bytearray([header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8])
    if has_alpha:
        out.append(round(15 * a_dc) | (round(15 * a_scale) << 4))
    nibbles = [round(15 * f) for f in (*l_ac, *p_ac, *q_ac, *(a_ac if has_alpha else ()))]
    for i in range(0, len(nibbles), 2):
        out.append(nibbles[i] | ((nibbles[i + 1] if i + 1 < len(nibbles) else 0) << 4))
    return bytes(out)


def thumbhash_to_rgba(hash_: bytes, long_edge: int = 32) -> tuple[int, int, list[Pixel]]:
    """Render a ThumbHash back to a small RGBA image: (width, height, pixels row by row)."""
    header24 = hash_[0] | (hash_[1] << 8) | (hash_[2] << 16)
    header16 = hash_[3] | (hash_[4] << 8)
    l_dc = (header24 & 63) / 63
    p_dc = ((header24 >> 6) & 63) / 31.5 - 1
    q_dc = ((header24 >> 12) & 63) / 31.5 - 1
    l_scale = ((header24 >> 18) & 31) / 31
    has_alpha = bool(header24 >> 23)
    p_scale = ((header16 >> 3) & 63) / 63
    q_scale = ((header16 >> 9) & 63) / 63
    landscape = bool(header16 >> 15)
    l_limit = 5 if has_alpha else 7
    lx = max(3, l_limit if landscape else header16 & 7)
    ly = max(3, header16 & 7 if landscape else l_limit)
    a_dc, a_scale = ((hash_[5] & 15) / 15, (hash_[5] >> 4) / 15) if has_alpha else (1.0, 1.0)
    start = 6 if has_alpha else 5
    index = 0

    def channel(nx: int, ny: int, scale: float) -> list[tuple[int, int, float]]:
        nonlocal index
        terms = []
        for cx, cy in _triangle(nx, ny):
            if cx or cy:
                nibble = (hash_[start + (index >> 1)] >> ((index & 1) * 4)) & 15
                terms.append((cx, cy, (nibble / 7.5 - 1) * scale))
                index += 1
        return terms

    l_ac, p_ac, q_ac = channel(lx, ly, l_scale), channel(3, 3, p_scale), channel(3, 3, q_scale)
    a_ac = channel(5, 5, a_scale) if has_alpha else []
    # the aspect ratio is what the two luminance term counts say
    ratio = (l_limit if landscape else header16 & 7) / (header16 & 7 if landscape else l_limit)
    w = round(long_edge if ratio > 1 else long_edge * ratio)
    h = round(long_edge / ratio if ratio > 1 else long_edge)
    fx, fy = _cosines(w, 7), _cosines(h, 7)

    def value(dc: float, terms: list[tuple[int, int, float]], x: int, y: int) -> float:
        # the inverse of a mean-projection: each non-zero frequency on an axis counts twice
        return dc + sum(f * fx[cx][x] * fy[cy][y] * (2 if cx else 1) * (2 if cy else 1) for cx, cy, f in terms)

    pixels: list[Pixel] = []
    for y in range(h):
        for x in range(w):
            lum, p, q = value(l_dc, l_ac, x, y), value(p_dc, p_ac, x, y), value(q_dc, q_ac, x, y)
            a = value(a_dc, a_ac, x, y) if has_alpha else 1.0
            b = lum - 2 / 3 * p
            r = (3 * lum - b + q) / 2
            g = r - q
            pixels.append(tuple(max(0, min(255, round(255 * v))) for v in (r, g, b, a)))  # type: ignore[misc]
    return w, h, pixels


def thumbhash_b64(hash_: bytes) -> str:
    return base64.b64encode(hash_).decode("ascii")


# --- BlurHash ------------------------------------------------------------------------------

_B83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def _b83(value: int, length: int) -> str:
    return "".join(_B83[(value // 83 ** (length - 1 - i)) % 83] for i in range(length))


def _unb83(text: str) -> int:
    value = 0
    for c in text:
        value = value * 83 + _B83.index(c)
    return value


def _to_linear(v: int) -> float:
    s = v / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


_LINEAR = tuple(_to_linear(v) for v in range(256))
_linear = _LINEAR.__getitem__


def _srgb(v: float) -> int:
    v = max(0.0, min(1.0, v))
    s = v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055
    return round(s * 255)


def _sign_pow(v: float, exp: float) -> float:
    return math.copysign(abs(v) ** exp, v)


def blurhash(w: int, h: int, pixels: Sequence[Pixel], x_components: int = 4, y_components: int = 3) -> str:
    """The BlurHash of a ``w`` x ``h`` image (alpha ignored: BlurHash has none)."""
    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("BlurHash takes 1 to 9 components on each axis")
    channels = [[_linear(p[c]) for p in pixels] for c in range(3)]
    # BlurHash's basis is cos(pi * k * x / w), without the half-pixel shift
    projected = [_project(ch, w, h, x_components, y_components, half=False) for ch in channels]
    factors = []
    for cy in range(y_components):
        for cx in range(x_components):
            norm = 1 if cx == 0 and cy == 0 else 2
            factors.append(tuple(norm * projected[c][cy][cx] for c in range(3)))
    dc, ac = factors[0], factors[1:]
    out = _b83((x_components - 1) + (y_components - 1) * 9, 1)
    if ac:
        actual = max(abs(v) for f in ac for v in f)
        quantized = max(0, min(82, math.floor(actual * 166 - 0.5)))
        maximum = (quantized + 1) / 166
        out += _b83(quantized, 1)
    else:
        maximum = 1.0
        out += _b83(0, 1)
    out += _b83((_srgb(dc[0]) << 16) + (_srgb(dc[1]) << 8) + _srgb(dc[2]), 4)
    for f in ac:
        q = [max(0, min(18, math.floor(_sign_pow(v / maximum, 0.5) * 9 + 9.5))) for v in f]
        out += _b83(q[0] * 19 * 19 + q[1] * 19 + q[2], 2)
    return out


def blurhash_to_rgb(text: str, w: int, h: int) -> list[tuple[int, int, int]]:
    """Render a BlurHash at ``w`` x ``h`` (pixels row by row)."""
    size = _unb83(text[0])
    nx, ny = size % 9 + 1, size // 9 + 1
    if len(text) != 4 + 2 * nx * ny:
        raise ValueError(f"a BlurHash of {nx}x{ny} components is {4 + 2 * nx * ny} characters, got {len(text)}")
    maximum = (_unb83(text[1]) + 1) / 166
    dc = _unb83(text[2:6])
    colors = [(_linear(dc >> 16), _linear((dc >> 8) & 255), _linear(dc & 255))]
    for i in range(1, nx * ny):
        v = _unb83(text[4 + 2 * i : 6 + 2 * i])
        q = (v // 361, (v // 19) % 19, v % 19)
        colors.append(tuple(_sign_pow((c - 9) / 9, 2) * maximum for c in q))  # type: ignore[arg-type]
    fx, fy = _cosines(w, nx, half=False), _cosines(h, ny, half=False)
    out = []
    for y in range(h):
        for x in range(w):
            rgb = [0.0, 0.0, 0.0]
            for j in range(ny):
                for i in range(nx):
                    basis = fx[i][x] * fy[j][y]
                    color = colors[i + j * nx]
                    for c in range(3):
                        rgb[c] += color[c] * basis
            out.append((_srgb(rgb[0]), _srgb(rgb[1]), _srgb(rgb[2])))
    return out


# --- pHash ---------------------------------------------------------------------------------

PHASH_SIDE = 32
PHASH_BITS = 64
_PHASH_BAND = 8  # the 8x8 block of frequencies 1..8 on each axis


def phash(grey: Sequence[float]) -> int:
    """The 64-bit perceptual hash of a 32x32 grey image (row by row)."""
    if len(grey) != PHASH_SIDE * PHASH_SIDE:
        raise ValueError(f"pHash takes a {PHASH_SIDE}x{PHASH_SIDE} grey image")
    # frequencies 0..8 computed, 1..8 kept: the DC term and the first row/column's mean-only
    # terms say how bright the image is, not what it shows
    coefficients = _project(grey, PHASH_SIDE, PHASH_SIDE, _PHASH_BAND + 1, _PHASH_BAND + 1)
    low = [coefficients[v][u] for v in range(1, _PHASH_BAND + 1) for u in range(1, _PHASH_BAND + 1)]
    median = sorted(low)[len(low) // 2 - 1 : len(low) // 2 + 1]
    threshold = sum(median) / 2
    bits = 0
    for value in low:
        bits = (bits << 1) | (value > threshold)
    return bits


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
