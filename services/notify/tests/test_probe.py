"""notify's look at the first bytes of an upload: format and upright dimensions, or less."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ..probe import HEAD_BYTES, SourceFacts, probe


def _image(fmt: str, size: tuple[int, int], orientation: int | None = None) -> bytes:
    im = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    kwargs = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    im.save(out, fmt, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "name"), [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif"), ("AVIF", "avif")]
)
def test_format_and_size_from_the_header(fmt: str, name: str) -> None:
    assert probe(_image(fmt, (640, 480))[:HEAD_BYTES]) == SourceFacts(name, 640, 480)


def test_exif_orientation_gives_the_upright_size() -> None:
    assert probe(_image("JPEG", (600, 400), orientation=6)) == SourceFacts("jpeg", 400, 600)
    assert probe(_image("JPEG", (600, 400), orientation=3)) == SourceFacts("jpeg", 600, 400)


def test_a_head_without_the_dimensions_gives_the_format_only() -> None:
    assert probe(_image("JPEG", (64, 64))[:20]) == SourceFacts("jpeg")


@pytest.mark.parametrize("head", [b"", b"hello, plain text", b"%PDF-1.7\n"])
def test_not_an_image_gives_nothing(head: bytes) -> None:
    assert probe(head) == SourceFacts()
