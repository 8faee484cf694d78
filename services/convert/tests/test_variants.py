"""convert's variant list: tables with their own name, format, quality and cap, and what a bad one says."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgpipe.manifest import load_manifest
from imgpipe.registry import parse_settings
from imgpipe.runtime import Output
from imgpipe.settings import SettingsError, parse
from tests import imagegen as g

from ..logic import process
from ..settings import EXTENSIONS, Settings, Variant

MANIFEST = load_manifest(Path(__file__).resolve().parents[1])
FULL_AND_LOW = [
    {"name": "full", "format": "jpeg", "quality": 85},
    {"name": "low", "format": "jpeg", "quality": 60},
    "webp",
    "avif",
    {"name": "lossless", "format": "png", "max_long_edge": 400},
]


def settings(formats: list[Any], **changes: object) -> Settings:
    """The manifest's settings with these variants, parsed as synth and `local up` parse them."""
    return parse_settings(MANIFEST, {"formats": formats, **changes})


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_the_defaults_are_todays_variants() -> None:
    assert Settings().variants() == (
        Variant("webp", "full", 80, 2560),
        Variant("avif", "full", 60, 2560),
        Variant("jpeg", "full", 85, 2560, skip_same_format=True),
    )
    assert parse_settings(MANIFEST) == Settings()


def test_extensions_are_the_runtimes() -> None:
    for fmt, ext in EXTENSIONS.items():
        assert Output("x", fmt, b"", 1, 1).ext == ext


def test_two_jpegs_at_two_qualities_plus_webp_avif_and_png() -> None:
    upload = g.jpeg(g.photo((800, 600)), quality=95)  # once: photo()'s noise differs call to call
    outputs = process(upload, settings(FULL_AND_LOW))
    assert [(o.name, o.format) for o in outputs] == [
        ("full", "jpeg"),
        ("low", "jpeg"),
        ("full", "webp"),
        ("full", "avif"),
        ("lossless", "png"),
    ]
    full, low, webp, avif, png = outputs
    assert len(low.data) < 0.8 * len(full.data)  # quality 60 against 85: clearly smaller
    for out in (full, low, webp, avif):
        assert (out.width, out.height) == (800, 600) and opened(out.data).size == (800, 600)
    assert (png.width, png.height) == (400, 300) and opened(png.data).format == "PNG"
    # a table's quality is the one used: the same JPEG at the service's jpeg_quality is `full`'s
    (again,) = process(upload, settings([{"format": "jpeg"}], jpeg_quality=60))
    assert again.data == low.data


def test_alpha_is_flattened_in_every_jpeg_and_kept_in_png() -> None:
    im = Image.new("RGBA", (100, 100), (0, 0, 255, 255))
    im.paste((0, 0, 0, 0), (0, 0, 50, 100))
    full, low, _webp, _avif, png = process(g.png(im), settings(FULL_AND_LOW))
    for out in (full, low):
        pixels = opened(out.data).convert("RGB")
        assert g.close(pixels.getpixel((10, 50)), (255, 255, 255), 8), out.name
        assert g.close(pixels.getpixel((90, 50)), (0, 0, 255), 8), out.name
    alpha = opened(png.data).convert("RGBA")
    assert alpha.getpixel((10, 50))[3] == 0 and alpha.getpixel((90, 50))[3] == 255


def test_each_cap_is_honoured_and_nothing_is_enlarged() -> None:
    caps = [
        {"name": "big", "format": "webp", "max_long_edge": 5000},
        {"name": "mid", "format": "webp", "max_long_edge": 1000},
        {"name": "tiny", "format": "jpeg", "max_long_edge": 64},
        "webp",  # the service's max_long_edge
    ]
    big, mid, tiny, default = process(g.jpeg(g.gradient((3000, 1500))), settings(caps, max_long_edge=2000))
    assert [(o.width, o.height) for o in (big, mid, tiny, default)] == [
        (3000, 1500),
        (1000, 500),
        (64, 32),
        (2000, 1000),
    ]
    for out in (big, mid, tiny, default):
        assert opened(out.data).size == (out.width, out.height)
    portrait = process(g.png(g.photo((300, 500))), settings(caps))
    assert [(o.width, o.height) for o in portrait] == [(300, 500), (300, 500), (38, 64), (300, 500)]


def test_the_same_format_skip_is_per_variant() -> None:
    jpeg = g.jpeg(g.photo((200, 100)))
    tables = [
        {"name": "full", "format": "jpeg", "skip_same_format": True},
        {"name": "low", "format": "jpeg", "quality": 40},
    ]
    assert [o.name for o in process(jpeg, settings(tables))] == ["low"]
    assert [o.name for o in process(g.png(g.photo((200, 100))), settings(tables))] == ["full", "low"]
    # the short form keeps today's rule: "jpeg" is skipped for a JPEG, unless nothing else is left
    assert [o.format for o in process(jpeg, settings(["jpeg", "webp"]))] == ["webp"]
    assert [o.format for o in process(jpeg, settings([tables[0]]))] == ["jpeg"]


def test_an_animation_becomes_each_webp_variant() -> None:
    data = g.animated_gif(n_frames=6, size=(200, 100), duration=50)
    variants = ["webp", {"name": "small", "format": "webp", "max_long_edge": 50, "quality": 30}, "avif"]
    full, small = process(data, settings(variants))
    assert [(o.name, o.width, o.height) for o in (full, small)] == [("full", 200, 100), ("small", 50, 25)]
    for out in (full, small):
        im = Image.open(io.BytesIO(out.data))
        assert im.is_animated and im.n_frames == 6 and im.size == (out.width, out.height)


@pytest.mark.parametrize(
    ("formats", "message"),
    [
        ([], "'formats' must have at least 1 entry; got []"),
        (["bmp"], "'formats' entries must be one of 'webp', 'avif', 'jpeg', 'png'; got 'bmp'"),
        (
            ["webp", {"name": "low", "format": "gif"}],
            "'formats' entry 2 (name 'low'): 'format' must be one of 'webp', 'avif', 'jpeg', 'png'; got 'gif'",
        ),
        (
            [{"name": "low"}],
            "'formats' entry 1 (name 'low'): 'format' is required: one of 'webp', 'avif', 'jpeg', 'png'",
        ),
        (
            [{"name": "low", "format": "jpeg", "quality": 0}],
            "'formats' entry 1 (name 'low'): 'quality' must be between 1 and 100 for jpeg; got 0",
        ),
        (
            [{"name": "hi", "format": "webp", "quality": 101}],
            "'formats' entry 1 (name 'hi'): 'quality' must be between 0 and 100 for webp; got 101",
        ),
        (
            [{"name": "lossless", "format": "png", "quality": 90}],
            "'formats' entry 1 (name 'lossless'): 'quality' is not taken by png: it is lossless",
        ),
        (
            ["webp", {"format": "webp", "quality": 50}],
            "settings of convert: 'formats' entries 1 and 2 both make 'full.webp'; give one of them another name",
        ),
        (
            [{"name": "a-variant-name-of-28-letters", "format": "avif"}],
            "'formats' entry 1 (name 'a-variant-name-of-28-letters'): "
            "'name' makes 'a-variant-name-of-28-letters.avif', over the 32 bytes",
        ),
        ([{"name": "../x", "format": "png"}], "'formats' entry 1 (name '../x'): 'name' must be letters, digits"),
        (
            [{"name": "x", "format": "png", "max_long_edge": 0}],
            "'formats' entry 1 (name 'x'): 'max_long_edge' must be at least 1",
        ),
        ([{"format": "png", "size": 9}], "'formats' entry 1: 'size' is not a known setting"),
        ([["jpeg", 85]], "'formats' must be a list of strings or tables; got [['jpeg', 85]]"),
    ],
)
def test_a_bad_variant_list_stops_synth_naming_the_entry(formats: list[Any], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)) as info:
        parse_settings(MANIFEST, {"formats": formats})
    assert info.value.setting == "formats" and info.value.service == "convert"


def test_a_name_that_just_fits_is_taken() -> None:
    name = "n" * 27  # + ".avif" = 32 bytes
    parsed = parse(Settings, {"formats": [{"name": name, "format": "avif"}]}, service="convert")
    assert parsed.variants()[0].name == name
