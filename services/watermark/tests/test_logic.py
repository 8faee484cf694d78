"""watermark.process on generated images: where the mark lands, that it reads on light and dark
images, and that the rest follows resize's rules (never enlarged, alpha, orientation, metadata)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from imgpipe.errors import Reason, Rejection
from imgpipe.imaging.overlay import GRAVITIES
from imgpipe.settings import parse
from tests import imagegen as g

from ..logic import logo_shape, process, target_widths
from ..settings import GRAVITIES as SETTING_GRAVITIES
from ..settings import Settings
from .make_logo import LOGO, draw

LIGHT_BG = (245, 245, 240)
DARK_BG = (12, 14, 20)
SOURCE = (1600, 1000)  # the output is 1280x800
OUT_W, OUT_H = 1280, 800


def settings(**changes: object) -> Settings:
    return parse(Settings, {"widths": [OUT_W], **changes}, service="watermark")


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def luma(im: Image.Image) -> Image.Image:
    return im.convert("RGB").convert("L")


def mark_box(out: Image.Image, background: tuple[int, int, int], threshold: int = 40) -> tuple[int, int, int, int]:
    """The bounding box of the pixels that differ from the flat background (the mark's ink)."""
    diff = ImageChops.difference(luma(out), luma(Image.new("RGB", out.size, background)))
    box = diff.point(lambda v: 255 if v > threshold else 0).getbbox()
    assert box is not None, "no mark found"
    return box


def expected_box(gravity: str, mark: int, margin: int) -> tuple[int, int, int, int]:
    x = margin if "west" in gravity else (OUT_W - mark - margin if "east" in gravity else (OUT_W - mark) // 2)
    y = margin if "north" in gravity else (OUT_H - mark - margin if "south" in gravity else (OUT_H - mark) // 2)
    return x, y, x + mark, y + mark


@pytest.mark.parametrize("background", [LIGHT_BG, DARK_BG], ids=["light", "dark"])
@pytest.mark.parametrize("gravity", GRAVITIES)
def test_mark_lands_where_gravity_says_on_light_and_dark_images(gravity: str, background: tuple[int, int, int]) -> None:
    (out,) = process(g.jpeg(g.solid(SOURCE, background)), settings(gravity=gravity, scale=0.15, margin=0.03))
    im = opened(out.data)
    assert (out.name, out.format, im.size) == ("1280w", "jpeg", (OUT_W, OUT_H))
    mark, margin = round(OUT_W * 0.15), round(OUT_W * 0.03)  # the logo is square: 192x192, 38 from the edges
    found = mark_box(im, background)
    want = expected_box(gravity, mark, margin)
    assert all(abs(a - b) <= 3 for a, b in zip(found, want, strict=True)), (found, want)


@pytest.mark.parametrize("background", [LIGHT_BG, DARK_BG], ids=["light", "dark"])
def test_mark_contrasts_with_light_and_dark_images(background: tuple[int, int, int]) -> None:
    """The ring's ink (where the logo is opaque) differs from the background by a wide margin:
    a dark mark on a light image, a light one on a dark image."""
    (out,) = process(g.png(g.solid(SOURCE, background)), settings(gravity="center", scale=0.3, opacity=0.7))
    im = luma(opened(out.data))
    shape = logo_shape("logo.png").resize((round(OUT_W * 0.3),) * 2)
    x0, y0 = (OUT_W - shape.width) // 2, (OUT_H - shape.height) // 2
    ink = shape.point(lambda v: 255 if v > 250 else 0)
    (mean_ink,) = ImageStat.Stat(im.crop((x0, y0, x0 + shape.width, y0 + shape.height)), mask=ink).mean
    bg = luma(Image.new("RGB", (1, 1), background)).getpixel((0, 0))
    assert abs(mean_ink - bg) > 120, (mean_ink, bg)
    assert (mean_ink < bg) == (background == LIGHT_BG)


def test_tone_follows_the_pixels_under_the_mark() -> None:
    """Left half dark, right half light: the same logo is light at the west, dark at the east."""
    im = g.solid(SOURCE, DARK_BG)
    im.paste(g.solid((SOURCE[0] // 2, SOURCE[1]), LIGHT_BG), (SOURCE[0] // 2, 0))
    data = g.png(im)
    west = luma(opened(process(data, settings(gravity="west"))[0].data))
    east = luma(opened(process(data, settings(gravity="east"))[0].data))
    mark, margin = round(OUT_W * 0.15), round(OUT_W * 0.03)
    w_box = expected_box("west", mark, margin)
    e_box = expected_box("east", mark, margin)
    # the west mark's ink is far above the dark background; the east mark's far below the light one
    assert west.crop(w_box).getextrema()[1] > 150
    assert east.crop(e_box).getextrema()[0] < 100


def test_mark_reads_on_a_busy_photo() -> None:
    """On a textured photo, the marked corner differs clearly from the unmarked original."""
    photo = g.photo(SOURCE)
    (out,) = process(g.png(photo), settings(gravity="southeast"))
    plain = photo.resize((OUT_W, OUT_H))
    mark, margin = round(OUT_W * 0.15), round(OUT_W * 0.03)
    box = expected_box("southeast", mark, margin)
    diff = ImageChops.difference(luma(opened(out.data)).crop(box), luma(plain).crop(box))
    assert ImageStat.Stat(diff).mean[0] > 25


def test_never_enlarges() -> None:
    outputs = process(g.jpeg(g.photo((600, 400))), settings(widths=[1920, 1280, 320]))
    assert [(o.name, o.width, o.height) for o in outputs] == [("600w", 600, 400), ("320w", 320, 213)]
    assert target_widths(1280, (1280, 640)) == [1280, 640]
    assert target_widths(100, (1280, 640)) == [100]


def test_mark_scales_with_each_output_width() -> None:
    outputs = process(g.png(g.solid(SOURCE, LIGHT_BG)), settings(widths=[1280, 640], gravity="northwest"))
    boxes = [mark_box(opened(o.data), LIGHT_BG) for o in outputs]
    assert [b[2] - b[0] for b in boxes] == pytest.approx([192, 96], abs=3)


def test_alpha_input_keeps_its_transparency_and_gets_the_mark() -> None:
    """An RGBA upload: WebP out, the transparent part stays transparent away from the mark, and
    the mark is opaque enough to see where it lies over transparency."""
    im = g.solid(SOURCE, (200, 40, 40, 255), mode="RGBA")
    im.paste((0, 0, 0, 0), (0, 0, SOURCE[0], SOURCE[1] // 2))  # top half transparent
    (out,) = process(g.png(im), settings(gravity="north"))
    result = opened(out.data)
    assert (out.format, result.mode) == ("webp", "RGBA")
    alpha = result.getchannel("A")
    assert alpha.getpixel((10, 10)) == 0  # far from the mark
    assert alpha.getpixel((OUT_W // 2, OUT_H - 10)) == 255
    mark, margin = round(OUT_W * 0.15), round(OUT_W * 0.03)
    assert alpha.crop(expected_box("north", mark, margin)).getextrema()[1] > 100
    png_out = process(g.png(im), settings(alpha_format="png"))[0]
    assert png_out.format == "png"


def test_text_mark() -> None:
    (out,) = process(g.jpeg(g.solid(SOURCE, DARK_BG)), settings(text="(c) imgpipe", gravity="southwest"))
    box = mark_box(opened(out.data), DARK_BG)
    margin = round(OUT_W * 0.03)
    assert abs(box[0] - margin) <= 4 and abs(box[3] - (OUT_H - margin)) <= 4
    assert box[2] - box[0] <= round(OUT_W * 0.15) + 2


def test_orientation_and_metadata_follow_resize_rules() -> None:
    data = g.jpeg(
        g.stored_for_orientation(g.solid((1600, 1000), LIGHT_BG), 6),
        exif=g.exif(orientation=6, gps=True, copyright="Ann"),
    )
    (out,) = process(data, settings(widths=[800]))
    im = opened(out.data)
    assert im.size == (800, 500)  # upright
    assert not g.has_gps(out.data)
    assert im.getexif().get(0x8298) == "Ann"  # copyright kept
    assert im.getexif().get(0x0112) is None  # orientation applied, tag gone


def test_bad_input_is_rejected() -> None:
    with pytest.raises(Rejection) as caught:
        process(b"hello, not an image", settings())
    assert caught.value.reason == Reason.UNSUPPORTED_FORMAT
    with pytest.raises(Rejection) as caught:
        process(g.jpeg(g.solid((400, 300), LIGHT_BG)), settings(max_pixels=1000))
    assert caught.value.reason == Reason.TOO_MANY_PIXELS


def test_logo_setting_names_a_file_of_the_folder_only() -> None:
    with pytest.raises(ValueError, match="file name"):
        process(g.jpeg(g.solid((400, 300), LIGHT_BG)), settings(logo="../resize/manifest.toml"))


def test_shipped_logo_is_the_generated_one() -> None:
    shipped = opened(LOGO.read_bytes()).getchannel("A")
    drawn = draw().getchannel("A")
    assert ImageChops.difference(shipped, drawn).getextrema()[1] <= 1


def test_gravities_agree_with_the_imaging_seam() -> None:
    assert SETTING_GRAVITIES == GRAVITIES
