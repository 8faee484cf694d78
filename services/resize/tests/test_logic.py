"""resize.process on generated images."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from imgpipe.errors import Reason, Rejection
from imgpipe.imaging import SourceImage
from imgpipe.settings import parse
from tests import imagegen as g

from ..logic import process, target_widths
from ..settings import Settings

SETTINGS = {"widths": [320, 640, 1280, 1920], "jpeg_quality": 82, "webp_quality": 80}


def settings(**changes: object) -> Settings:
    """SETTINGS with ``changes``, parsed as the handler parses them."""
    return parse(Settings, {**SETTINGS, **changes}, service="resize")


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_all_widths_below_a_large_source() -> None:
    outputs = process(g.jpeg(g.gradient((2400, 1600))), settings())
    assert [o.name for o in outputs] == ["1920w", "1280w", "640w", "320w"]  # largest first
    assert [(o.width, o.height) for o in outputs] == [(1920, 1280), (1280, 853), (640, 427), (320, 213)]
    for out in outputs:
        im = opened(out.data)
        assert (out.format, im.format, im.size) == ("jpeg", "JPEG", (out.width, out.height))
        assert im.info.get("progressive") or im.info.get("progression")


@pytest.mark.parametrize(
    ("source_width", "expected"),
    [
        (1000, [1000, 640, 320]),
        (1920, [1920, 1280, 640, 320]),  # 1920 is "at" the source: the source width stands in
        (1921, [1920, 1280, 640, 320]),
        (320, [320]),
        (100, [100]),
    ],
)
def test_widths_at_or_above_the_source_are_replaced_by_the_source_width(source_width: int, expected: list[int]) -> None:
    assert target_widths(source_width, SETTINGS["widths"]) == expected


def test_small_source_is_reencoded_not_enlarged() -> None:
    outputs = process(g.png(g.photo((200, 120))), settings())
    assert [(o.name, o.width, o.height, o.format) for o in outputs] == [("200w", 200, 120, "jpeg")]


def test_transparent_images_become_webp_or_png() -> None:
    im = g.photo((800, 400)).convert("RGBA")
    im.paste((0, 0, 0, 0), (0, 0, 400, 400))
    data = g.png(im)
    webp = process(data, settings())
    assert [o.format for o in webp] == ["webp", "webp", "webp"]
    top = opened(webp[0].data).convert("RGBA")
    assert top.getpixel((10, 10))[3] < 10 and top.getpixel((790, 200))[3] > 245
    png = process(data, settings(alpha_format="png"))
    assert [o.format for o in png] == ["png", "png", "png"]
    with pytest.raises(ValueError):
        process(data, settings(alpha_format="gif"))


def test_orientation_colour_and_metadata() -> None:
    data = g.oriented_jpeg(8, size=(1400, 1000), gps=True, copyright="(c) Test")
    outputs = process(data, settings())
    assert outputs[0].name == "1400w" and (outputs[0].width, outputs[0].height) == (1400, 1000)
    for out in outputs:
        im = opened(out.data)
        assert g.close(im.getpixel((3, 3)), g.RED, 16)
        assert g.close(im.getpixel((im.width - 4, 3)), g.BLUE, 16)
        assert not g.has_gps(out.data)
        assert im.getexif().get(ExifTags.Base.Copyright) == "(c) Test"


def test_cmyk_source_keeps_its_colour() -> None:
    outputs = process(g.cmyk_jpeg((200, 100, 50), size=(700, 500)), settings())
    for out in outputs:
        assert g.close(g.mean_color(opened(out.data)), (200, 100, 50), 6)


def test_decodes_once_at_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int] | None] = []
    original = SourceImage.decode

    def spy(self: SourceImage, min_size: tuple[int, int] | None = None) -> Image.Image:
        calls.append(min_size)
        image = original(self, min_size)
        calls.append(image.size)
        return image

    monkeypatch.setattr(SourceImage, "decode", spy)
    process(g.jpeg(g.gradient((4000, 2000))), settings())
    assert calls == [(1920, 960), (2000, 1000)]  # one decode, at 1/2 scale


def test_deterministic_output() -> None:
    data = g.jpeg(g.photo((900, 600)))
    assert [o.data for o in process(data, settings())] == [o.data for o in process(data, settings())]


def test_bad_input_is_a_rejection() -> None:
    with pytest.raises(Rejection) as info:
        process(g.TEXT_FILE, settings())
    assert info.value.reason == Reason.UNSUPPORTED_FORMAT
