"""Draws the shipped mark, ``services/watermark/logo.png``: a ring around two peaks and a sun,
white on transparent. Generated here (no borrowed art); ``python -m services.watermark.tests.make_logo``
rewrites the file, and a test holds the shipped file equal to what this draws."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

LOGO = Path(__file__).resolve().parents[1] / "logo.png"
SIZE = 512
#: drawn at 4x and reduced, for smooth edges
SUPERSAMPLE = 4


def draw() -> Image.Image:
    s = SIZE * SUPERSAMPLE
    shape = Image.new("L", (s, s), 0)
    d = ImageDraw.Draw(shape)
    ring = s // 14
    d.ellipse((0, 0, s - 1, s - 1), fill=255)
    d.ellipse((ring, ring, s - 1 - ring, s - 1 - ring), fill=0)
    # two peaks and a sun, inside the ring
    d.polygon([(s * 0.18, s * 0.72), (s * 0.42, s * 0.34), (s * 0.66, s * 0.72)], fill=255)
    d.polygon([(s * 0.46, s * 0.72), (s * 0.64, s * 0.46), (s * 0.84, s * 0.72)], fill=255)
    d.ellipse((s * 0.60, s * 0.20, s * 0.76, s * 0.36), fill=255)
    d.rectangle((s * 0.18, s * 0.72, s * 0.84, s * 0.76), fill=255)
    shape = shape.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    logo = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 0))
    logo.putalpha(shape)
    return logo


def png_bytes() -> bytes:
    buf = io.BytesIO()
    draw().save(buf, format="PNG", optimize=True)
    return buf.getvalue()


if __name__ == "__main__":
    LOGO.write_bytes(png_bytes())
    print(f"wrote {LOGO} ({LOGO.stat().st_size:,} bytes)")
