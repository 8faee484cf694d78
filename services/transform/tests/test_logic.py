"""transform's rendering: exact sizes and types per fit and format, the seam's promises
(orientation, metadata, caps), animations, and cover == thumbnail."""

from __future__ import annotations

import io
import re
import tomllib
from dataclasses import asdict, fields, replace
from pathlib import Path

import pytest
from PIL import Image

from imgpipe.errors import Reason, Rejection
from imgpipe.manifest import load_manifest
from imgpipe.registry import parse_settings
from imgpipe.settings import SettingsError
from imgpipe.transforms import Transform
from services.transform.logic import render
from services.transform.settings import Settings

SETTINGS = Settings()


def jpeg(size: tuple[int, int] = (1200, 800), exif: Image.Exif | None = None) -> bytes:
    im = Image.new("RGB", size, (40, 90, 160))
    # detail on the right third: a content-aware crop goes there, a centred one does not
    for x in range(size[0] * 2 // 3, size[0], 6):
        for y in range(0, size[1], 6):
            im.putpixel((x, y), (255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, exif=exif or Image.Exif())
    return buf.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize(
    ("transform", "size"),
    [
        (Transform(300, 300, "cover", "webp"), (300, 300)),
        (Transform(640, None, "inside", "jpeg"), (640, 427)),
        (Transform(None, 200, "inside", "png"), (300, 200)),
        (Transform(500, 500, "inside", "avif"), (500, 333)),
        (Transform(400, 400, "contain", "png"), (400, 400)),
        (Transform(400, 100, "cover", "jpeg", 40), (400, 100)),
    ],
)
def test_exact_size_and_type(transform: Transform, size: tuple[int, int]) -> None:
    out = render(jpeg(), transform, SETTINGS)
    im = opened(out.data)
    assert (im.width, im.height) == size == (out.width, out.height)
    assert im.format.lower() == transform.format
    assert out.content_type == f"image/{transform.format}"


def test_never_enlarges() -> None:
    out = render(jpeg((200, 100)), Transform(800, None, "inside", "png"), SETTINGS)
    assert opened(out.data).size == (200, 100)


def test_contain_pads_with_transparency_and_jpeg_flattens_it() -> None:
    png = opened(render(jpeg(), Transform(400, 400, "contain", "png"), SETTINGS).data).convert("RGBA")
    assert png.getpixel((200, 5))[3] == 0  # the band above the picture
    assert png.getpixel((200, 200))[3] == 255
    flat = opened(render(jpeg(), Transform(400, 400, "contain", "jpeg"), SETTINGS).data)
    assert flat.mode == "RGB" and min(flat.getpixel((200, 5))) > 240  # the background colour


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [("image/avif,image/webp,*/*", "avif"), ("image/webp,*/*", "webp"), ("*/*", "jpeg"), (None, "jpeg")],
)
def test_auto_is_negotiated_from_accept(accept: str | None, fmt: str) -> None:
    out = render(jpeg(), Transform(320, None, "inside", "auto"), SETTINGS, accept)
    assert out.format == fmt and opened(out.data).format.lower() == fmt


def test_quality_is_applied() -> None:
    low = render(jpeg(), Transform(600, None, "inside", "webp", 10), SETTINGS)
    high = render(jpeg(), Transform(600, None, "inside", "webp", 95), SETTINGS)
    assert len(low.data) < len(high.data) / 2


def test_exif_orientation_is_applied_and_metadata_stripped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif[0x010F] = "CameraMaker"  # Make: not kept
    out = opened(render(jpeg((800, 400), exif), Transform(200, None, "inside", "jpeg"), SETTINGS).data)
    assert out.size == (200, 400)  # displayed upright: portrait
    assert 0x0112 not in out.getexif() and 0x010F not in out.getexif()
    assert "icc_profile" not in out.info


def test_the_caps_apply() -> None:
    capped = replace(SETTINGS, max_pixels=1_000_000)
    with pytest.raises(Rejection) as caught:
        render(jpeg((1200, 900)), Transform(100, None, "inside", "webp"), capped)
    assert caught.value.reason == Reason.TOO_MANY_PIXELS


def gif(frames: int = 3) -> bytes:
    images = [Image.new("RGB", (120, 80), (60 * i, 0, 0)) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buf.getvalue()


def test_an_animation_stays_animated_as_webp_and_is_a_first_frame_otherwise() -> None:
    animated = render(gif(), Transform(60, None, "inside", "webp"), SETTINGS)
    im = opened(animated.data)
    assert animated.animated and im.n_frames == 3 and im.size == (60, 40)
    still = render(gif(), Transform(60, None, "inside", "png"), SETTINGS)
    assert opened(still.data).size == (60, 40) and not still.animated
    assert getattr(opened(still.data), "n_frames", 1) == 1


def test_an_animation_keeps_the_frame_cap() -> None:
    with pytest.raises(Rejection) as caught:
        render(gif(5), Transform(60, None, "inside", "webp"), replace(SETTINGS, max_frames=4))
    assert caught.value.reason == Reason.TOO_MANY_FRAMES


def test_settings_defaults_are_the_manifests() -> None:
    manifest = tomllib.loads((Path(__file__).parents[1] / "manifest.toml").read_text())["settings"]
    defaults = asdict(SETTINGS)
    assert {k: defaults[k] for k in manifest} == {
        k: (tuple(v) if isinstance(v, list) else v) for k, v in manifest.items()
    }
    assert set(manifest) <= {f.name for f in fields(Settings)}


@pytest.mark.parametrize(
    ("presets", "message"),
    [
        ({"card": {"width": 5000}}, "'presets' entry 'card': 'width' must be 1 to 4096 pixels; got 5000"),
        ({"card": {"width": 320, "fit": "cover"}}, "'presets' entry 'card': 'height' fit=cover needs both"),
        ({"card": {"width": 320, "format": "gif"}}, "'presets' entry 'card': 'format' must be one of"),
        ({"card": {"width": 320, "format": "png", "quality": 80}}, "'presets' entry 'card': 'quality' PNG is lossless"),
        ({"card": {"widht": 320}}, "'presets' entry 'card': 'widht' is not a known setting"),
        ({"card": 320}, "'presets' entry 'card': must be a table of name = value; got 320"),
        ({"Card Big": {"width": 320}}, "'presets' entry 'Card Big': a preset's name is 1 to 40 lowercase"),
        ({"p": {"width": 320}, "wide": {"width": 640}}, None),
    ],
)
def test_a_bad_preset_stops_the_deployment_naming_it(presets: dict[str, object], message: str | None) -> None:
    manifest = load_manifest(Path(__file__).parents[1])
    if message is None:
        assert set(parse_settings(manifest, {"presets": presets}).presets) == set(presets)
        return
    with pytest.raises(SettingsError, match=re.escape(f"settings of transform: {message}")):
        parse_settings(manifest, {"presets": presets})


def test_a_preset_is_held_to_the_deployment_s_bounds() -> None:
    manifest = load_manifest(Path(__file__).parents[1])
    card = {"card": {"width": 750, "height": 500, "fit": "cover"}}
    assert parse_settings(manifest, {"presets": card, "widths": [750]}).presets["card"].transform.width == 750
    with pytest.raises(SettingsError, match="entry 'card': 'width' must be one of this deployment's widths"):
        parse_settings(manifest, {"presets": card, "widths": [640, 1280]})
    with pytest.raises(SettingsError, match="entry 'card': 'width' must be 1 to 512 pixels"):
        parse_settings(manifest, {"presets": card, "max_dimension": 512})
