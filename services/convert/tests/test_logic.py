"""convert.process on generated images."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imgpipe.errors import Reason, Rejection
from imgpipe.imaging import open_image, resize
from imgpipe.limits import Limits
from imgpipe.settings import parse
from tests import imagegen as g

from ..logic import process
from ..settings import Settings

SETTINGS = {
    "formats": ["webp", "avif", "jpeg"],
    "max_long_edge": 2560,
    "webp_quality": 80,
    "webp_method": 4,
    "avif_quality": 60,
    "avif_speed": 8,
    "jpeg_quality": 85,
}


def settings(**changes: object) -> Settings:
    """SETTINGS with ``changes``, parsed as the handler parses them."""
    return parse(Settings, {**SETTINGS, **changes}, service="convert")


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_png_gets_webp_avif_and_jpeg_jpeg_gets_no_jpeg() -> None:
    pixels = g.photo((640, 480))
    assert [(o.name, o.format) for o in process(g.png(pixels), settings())] == [
        ("full", "webp"),
        ("full", "avif"),
        ("full", "jpeg"),
    ]
    assert [o.format for o in process(g.jpeg(pixels), settings())] == ["webp", "avif"]
    # a JPEG-only configuration still produces something for a JPEG
    assert [o.format for o in process(g.jpeg(pixels), settings(formats=["jpeg"]))] == ["jpeg"]


def test_heic_upload_is_converted() -> None:
    outputs = process(g.heic(g.solid((320, 240), (200, 100, 50))), settings())
    assert [o.format for o in outputs] == ["webp", "avif", "jpeg"]
    for out in outputs:
        im = opened(out.data)
        assert im.size == (320, 240)
        assert g.close(g.mean_color(im.convert("RGB")), (200, 100, 50), 8)


def test_long_edge_is_capped_and_small_images_kept() -> None:
    (big,) = process(g.jpeg(g.gradient((3000, 1000))), settings(formats=["webp"]))
    assert (big.width, big.height) == (2560, 853) and opened(big.data).size == (2560, 853)
    (small,) = process(g.jpeg(g.photo((300, 200))), settings(formats=["webp"]))
    assert (small.width, small.height) == (300, 200)


def test_alpha_kept_in_webp_and_avif_flattened_in_jpeg() -> None:
    im = Image.new("RGBA", (100, 100), (0, 0, 255, 255))
    im.paste((0, 0, 0, 0), (0, 0, 50, 100))
    webp, avif, jpeg = process(g.png(im), settings())
    for out in (webp, avif):
        pixels = opened(out.data).convert("RGBA")
        assert pixels.getpixel((10, 50))[3] < 10 and pixels.getpixel((90, 50))[3] > 245
    assert g.close(opened(jpeg.data).convert("RGB").getpixel((10, 50)), (255, 255, 255), 6)


def test_wide_gamut_colour_survives_every_format() -> None:
    data = g.png(g.solid((64, 64), (200, 100, 50)), icc_profile=g.DISPLAY_P3.icc())
    expected = g.DISPLAY_P3.to_srgb((200, 100, 50))
    for out in process(data, settings()):
        im = opened(out.data)
        assert "icc_profile" not in im.info or not im.info["icc_profile"]  # sRGB now, untagged
        assert g.close(g.mean_color(im.convert("RGB")), expected, 6), out.format


def test_animated_gif_becomes_animated_webp() -> None:
    data = g.animated_gif(n_frames=8, size=(80, 60), duration=70)
    (out,) = process(data, settings())
    assert (out.name, out.format, out.width, out.height) == ("full", "webp", 80, 60)
    im = Image.open(io.BytesIO(out.data))
    assert im.n_frames == 8 and im.is_animated
    assert im.info.get("loop") == 0
    im.seek(3)
    im.load()
    assert im.info.get("duration") == 70


def test_big_animations_are_scaled_to_the_memory_budget() -> None:
    data = g.animated_gif(n_frames=10, size=(400, 300))
    (out,) = process(data, settings(max_animation_pixels=10 * 100 * 75))
    assert (out.width, out.height) == (100, 75)
    assert Image.open(io.BytesIO(out.data)).n_frames == 10


def test_animations_are_encoded_frame_by_frame_to_the_bytes_of_the_whole_list() -> None:
    """Two WebP variants of one GIF: each frame is shrunk once to the largest, again for the smaller,
    and handed to both encoders, with the bytes Pillow's save_all makes from the full lists."""
    data = g.animated_gif(n_frames=6, size=(200, 150), duration=60)
    s = settings(formats=[{"name": "big", "format": "webp"}, {"name": "small", "format": "webp", "max_long_edge": 80}])
    big, small = process(data, s)
    source = open_image(data, Limits.from_settings(s))
    frames = [(f, d) for f, d in source.frames((200, 150))]
    for out, size in ((big, (200, 150)), (small, (80, 60))):
        shots = [resize(f, size) for f, _ in frames]
        buf = io.BytesIO()
        shots[0].save(
            buf,
            format="WEBP",
            save_all=True,
            append_images=shots[1:],
            duration=[d for _, d in frames],
            loop=source.loop,
            quality=s.webp_quality,
            method=s.webp_method,
        )
        assert (out.width, out.height) == size and out.data == buf.getvalue()


def test_opaque_frames_stay_rgb_and_transparent_ones_keep_their_alpha() -> None:
    opaque = g.animated_gif(n_frames=3, size=(40, 30))
    assert {f.mode for f, _ in open_image(opaque, Limits()).frames()} == {"RGB"}
    clear = []
    for i in range(3):
        frame = Image.new("P", (40, 30), 0)
        frame.putpalette([0, 0, 0, 255, 0, 0])
        frame.paste(1, (10 * i, 5, 10 * i + 8, 20))
        clear.append(frame)
    buf = io.BytesIO()
    clear[0].save(buf, "GIF", save_all=True, append_images=clear[1:], transparency=0, duration=50, loop=0, disposal=2)
    assert {f.mode for f, _ in open_image(buf.getvalue(), Limits()).frames()} == {"RGBA"}
    (out,) = process(buf.getvalue(), settings())
    with Image.open(io.BytesIO(out.data)) as made:
        made.seek(1)
        rgba = made.convert("RGBA")
        assert rgba.getpixel((0, 0))[3] == 0
        assert [abs(a - b) <= 4 for a, b in zip(rgba.getpixel((14, 10)), (255, 0, 0, 255), strict=True)] == [True] * 4


def test_frame_cap_rejects() -> None:
    with pytest.raises(Rejection) as info:
        process(g.animated_gif(n_frames=20), settings(max_frames=10))
    assert info.value.reason == Reason.TOO_MANY_FRAMES
    assert Limits.from_settings({"max_frames": 10}).max_frames == 10


def test_no_gps_anywhere() -> None:
    data = g.png(g.photo((200, 100)), exif=g.exif(gps=True, maker_note=True, copyright="(c) X"))
    for out in process(data, settings()):
        assert not g.has_gps(out.data), out.format
