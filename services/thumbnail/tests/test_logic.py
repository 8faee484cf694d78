"""thumbnail.process on generated images."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imgpipe.settings import parse
from tests import imagegen as g

from ..logic import process
from ..settings import Settings

SETTINGS = {"size": 300, "crop": "content", "formats": ["webp"], "webp_quality": 80, "jpeg_quality": 82}


def settings(**changes: object) -> Settings:
    """SETTINGS with ``changes``, parsed as the handler parses them."""
    return parse(Settings, {**SETTINGS, **changes}, service="thumbnail")


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im.convert("RGBA") if im.mode in ("RGBA", "LA", "P") else im.convert("RGB")


def test_square_webp_and_optional_jpeg() -> None:
    data = g.jpeg(g.photo((1200, 800)))
    (webp,) = process(data, settings())
    assert (webp.name, webp.format, webp.width, webp.height) == ("300x300", "webp", 300, 300)
    assert opened(webp.data).size == (300, 300)
    both = process(data, settings(formats=["webp", "jpeg"]))
    assert [(o.name, o.format) for o in both] == [("300x300", "webp"), ("300x300", "jpeg")]


def test_content_crop_follows_the_subject_and_center_does_not() -> None:
    im = g.textured((1500, 500), box=(1100, 60, 1480, 440))  # busy subject at the far right
    data = g.png(im)
    (content,) = process(data, settings())
    (center,) = process(data, settings(crop="center"))
    # the full-height 500x500 window that holds the whole subject is the rightmost one
    rightmost = g.mean_color(im.crop((1000, 0, 1500, 500)))
    background = (120, 140, 160)
    assert g.close(g.mean_color(opened(content.data)), rightmost, 8)
    assert not g.close(rightmost, background, 20)
    assert g.close(g.mean_color(opened(center.data)), background, 6)


def test_orientation_is_applied_before_cropping() -> None:
    displayed = Image.new("RGB", (400, 800), g.RED)
    displayed.paste(g.BLUE, (0, 400, 400, 800))  # red top half, blue bottom half
    stored = g.stored_for_orientation(displayed, 6)
    (out,) = process(g.jpeg(stored, exif=g.exif(orientation=6)), settings(crop="center"))
    im = opened(out.data)
    assert g.close(im.getpixel((150, 20)), g.RED, 16)
    assert g.close(im.getpixel((150, 280)), g.BLUE, 16)


def test_small_sources_are_not_enlarged() -> None:
    (out,) = process(g.png(g.photo((200, 150))), settings())
    assert (out.name, out.width, out.height) == ("300x300", 150, 150)


def test_alpha_kept_in_webp_and_flattened_in_jpeg() -> None:
    im = Image.new("RGBA", (600, 600), (0, 200, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 600, 300))
    webp, jpeg = process(g.png(im), settings(formats=["webp", "jpeg"], crop="center"))
    w = opened(webp.data)
    assert w.mode == "RGBA" and w.getpixel((150, 20))[3] < 10
    j = opened(jpeg.data)
    assert j.mode == "RGB" and g.close(j.getpixel((150, 20)), (255, 255, 255), 6)


def test_no_gps_in_thumbnails() -> None:
    data = g.jpeg(g.photo((800, 600)), exif=g.exif(gps=True, maker_note=True))
    for out in process(data, settings(formats=["webp", "jpeg"])):
        assert not g.has_gps(out.data)


def test_bad_settings_are_configuration_errors() -> None:
    data = g.png(g.photo((40, 40)))
    with pytest.raises(ValueError):
        process(data, settings(crop="faces"))
    with pytest.raises(ValueError):
        process(data, settings(formats=["bmp"]))
