"""The imaging core on generated fixtures: safe open, orientation, colour, alpha, metadata.

Every test runs on both decoding engines (the ``engine`` fixture forces the dispatch)."""

from __future__ import annotations

import io
import time

import pytest
from PIL import ExifTags, Image, ImageCms, ImageOps

from imgpipe.errors import Reason, Rejection
from imgpipe.imaging import EncodeOptions, encode, open_image, resize, sniff
from imgpipe.limits import Limits
from tests import imagegen as g
from tests.engines import engine  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("engine")

RGB = (200, 100, 50)


def reject_reason(data: bytes, limits: Limits | None = None, **kwargs: object) -> Reason:
    with pytest.raises(Rejection) as info:
        open_image(data, limits, **kwargs).decode()  # type: ignore[arg-type]
    return info.value.reason


# ---------------------------------------------------------------- sniffing and hostile inputs


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: g.jpeg(g.gradient((32, 32))), "jpeg"),
        (lambda: g.png(g.gradient((32, 32))), "png"),
        (lambda: g.webp(g.gradient((32, 32))), "webp"),
        (lambda: g.animated_gif(2), "gif"),
        (lambda: g.encode(g.gradient((32, 32)), "TIFF"), "tiff"),
        (lambda: g.encode(g.gradient((32, 32)), "BMP"), "bmp"),
        (lambda: g.avif(g.gradient((32, 32))), "avif"),
        (lambda: g.heic(g.gradient((32, 32))), "heif"),
        (lambda: g.TEXT_FILE, None),
        (lambda: g.GARBAGE, None),
        (lambda: b"%PDF-1.7\n", None),
    ],
)
def test_format_is_sniffed_from_the_bytes(make, expected) -> None:
    assert sniff(make()) == expected


@pytest.mark.parametrize(
    ("data", "limits", "reason"),
    [
        (b"", None, Reason.EMPTY_OBJECT),
        (g.TEXT_FILE, None, Reason.UNSUPPORTED_FORMAT),  # "photo.jpg" that is text
        (g.GARBAGE, None, Reason.UNSUPPORTED_FORMAT),
        (g.png_claiming(50_000, 50_000), None, Reason.TOO_MANY_PIXELS),
        (g.jpeg_claiming(50_000, 50_000), None, Reason.TOO_MANY_PIXELS),
        (g.jpeg(g.gradient((100, 100))), Limits(max_pixels=5_000), Reason.TOO_MANY_PIXELS),
        (g.truncated(g.jpeg(g.photo((200, 150)))), None, Reason.CORRUPT_IMAGE),
        (g.truncated(g.png(g.photo((200, 150)))), None, Reason.CORRUPT_IMAGE),
        (g.jpeg(g.gradient((64, 64)))[:120], None, Reason.CORRUPT_IMAGE),  # header cut short
        (g.animated_gif(12), Limits(max_frames=10), Reason.TOO_MANY_FRAMES),
        (g.jpeg(g.gradient((64, 64))), Limits(max_bytes=100), Reason.TOO_LARGE),
    ],
    ids=[
        "zero-bytes",
        "text-named-jpg",
        "garbage",
        "png-claims-50000x50000",
        "jpeg-claims-50000x50000",
        "pixel-cap",
        "truncated-jpeg",
        "truncated-png",
        "jpeg-header-only",
        "frame-cap",
        "byte-cap",
    ],
)
def test_bad_input_is_rejected_with_its_reason_quickly(data: bytes, limits: Limits | None, reason: Reason) -> None:
    started = time.perf_counter()
    assert reject_reason(data, limits) == reason
    assert time.perf_counter() - started < 2.0  # rejected from the header, not after decoding


def test_formats_outside_the_allowlist_are_refused() -> None:
    assert reject_reason(g.png(g.gradient((8, 8))), allowed={"jpeg"}) == Reason.UNSUPPORTED_FORMAT


def test_pillow_bomb_guard_follows_the_same_cap() -> None:
    open_image(g.png(g.gradient((8, 8))), Limits(max_pixels=1234))
    assert Image.MAX_IMAGE_PIXELS == 1234
    open_image(g.png(g.gradient((8, 8))), Limits())
    assert Limits().max_pixels == Image.MAX_IMAGE_PIXELS


def test_long_animations_are_rejected_by_total_pixels() -> None:
    # 80x60 frames (4,800 pixels each) under a 4,800 pixel cap: 10 frames fit the 10x budget, 12 do not
    assert open_image(g.animated_gif(10), Limits(max_pixels=4_800)).n_frames == 10
    assert reject_reason(g.animated_gif(12), Limits(max_pixels=4_800)) == Reason.TOO_MANY_PIXELS


def test_a_source_decodes_once() -> None:
    source = open_image(g.jpeg(g.gradient((16, 16))))
    source.decode()
    with pytest.raises(RuntimeError):
        source.decode()


# ---------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_eight_orientations_end_upright(orientation: int) -> None:
    data = g.oriented_jpeg(orientation, size=(120, 80))
    source = open_image(data)
    assert source.orientation == orientation
    assert source.size == (120, 80)
    out = source.decode()
    assert out.size == (120, 80)
    assert g.close(out.getpixel((6, 6)), g.RED, 12)  # red marker top-left
    assert g.close(out.getpixel((113, 6)), g.BLUE, 12)  # blue marker top-right
    assert g.close(out.getpixel((60, 70)), g.GREY, 12)
    # Pillow's own reading of the tag agrees (an independent oracle)
    reference = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert g.close(reference.getpixel((6, 6)), out.getpixel((6, 6)), 12)


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_orientation_with_reduced_scale_decode(orientation: int) -> None:
    source = open_image(g.oriented_jpeg(orientation, size=(1600, 1200)))
    out = source.decode(min_size=(400, 300))
    assert out.size == (400, 300)  # decoded at 1/4 scale, and turned the right way
    assert g.close(out.getpixel((5, 5)), g.RED, 12)
    assert g.close(out.getpixel((394, 5)), g.BLUE, 12)


def test_draft_never_goes_below_the_requested_size() -> None:
    source = open_image(g.jpeg(g.photo((1000, 700))))
    out = source.decode(min_size=(300, 200))
    assert out.width >= 300 and out.height >= 200
    if source.engine == "pillow":
        assert out.size == (500, 350)  # 1/2 scale: 1/4 would be 250x175, too small
    else:
        assert out.size == (300, 210)  # libvips resamples to the smallest covering size


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("container", ["png", "webp"])
def test_orientation_of_png_and_webp_exif(orientation: int, container: str) -> None:
    stored = g.stored_for_orientation(g.with_markers(g.solid((120, 80), g.GREY)), orientation)
    tags = g.exif(orientation=orientation)
    data = g.png(stored, exif=tags) if container == "png" else g.webp(stored, exif=tags, lossless=True)
    source = open_image(data)
    assert source.orientation == orientation
    out = source.decode(min_size=(60, 40))
    assert out.size == (60, 40) if source.engine == "vips" else out.size == (120, 80)
    scale = out.width / 60
    assert g.close(out.getpixel((3, 3)), g.RED, 16)
    assert g.close(out.getpixel((round(56 * scale), 3)), g.BLUE, 16)
    assert g.close(out.getpixel((round(30 * scale), round(35 * scale))), g.GREY, 16)


# ---------------------------------------------------------------- colour


@pytest.mark.parametrize("adobe_inverted", [True, False], ids=["adobe-inverted-cmyk", "plain-cmyk"])
def test_cmyk_jpegs_become_the_right_srgb(adobe_inverted: bool) -> None:
    data = g.cmyk_jpeg(RGB, adobe_inverted=adobe_inverted)
    assert open_image(data).mode == "CMYK"
    out = open_image(data).decode()
    assert out.mode == "RGB"
    assert g.close(g.mean_color(out), RGB, 6)


@pytest.mark.parametrize("space", [g.DISPLAY_P3, g.ADOBE_RGB], ids=["display-p3", "adobe-rgb"])
@pytest.mark.parametrize("container", ["png", "jpeg"])
def test_wide_gamut_profiles_are_converted_to_srgb(space: g.RGBSpace, container: str) -> None:
    pixels = g.solid((32, 32), RGB)
    data = g.png(pixels, icc_profile=space.icc()) if container == "png" else g.jpeg(pixels, icc_profile=space.icc())
    out = open_image(data).decode()
    expected = space.to_srgb(RGB)
    assert not g.close(expected, RGB, 10)  # the fixture is really out of sRGB: a no-op would fail
    assert g.close(g.mean_color(out), expected, 4)


def test_srgb_profile_leaves_pixels_alone() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = open_image(g.png(g.solid((16, 16), RGB), icc_profile=srgb)).decode()
    assert out.getpixel((3, 3)) == RGB


def test_sixteen_bit_rgb_png_is_scaled_not_clipped() -> None:
    data = g.png16((8, 8), lambda x, y: (65535, 32768, 1000))
    out = open_image(data).decode()
    assert out.mode == "RGB"
    assert g.close(out.getpixel((2, 2)), (255, 128, 4), 1)


def test_sixteen_bit_grey_png_is_scaled_not_clipped() -> None:
    data = g.png16((8, 8), lambda x, y: (32768,), channels=1)
    source = open_image(data)
    assert source.mode.startswith("I;16")
    assert g.close(source.decode().getpixel((1, 1)), (128, 128, 128), 1)


def test_sixteen_bit_rgba_keeps_alpha() -> None:
    data = g.png16((8, 8), lambda x, y: (0, 65535, 0, 0 if x < 4 else 65535), channels=4)
    out = open_image(data).decode()
    assert out.mode == "RGBA"
    assert out.getpixel((1, 1))[3] == 0 and out.getpixel((6, 1)) == (0, 255, 0, 255)


def test_palette_with_transparency_becomes_rgba() -> None:
    out = open_image(g.palette_png((64, 64), transparent_box=(0, 0, 15, 15))).decode()
    assert out.mode == "RGBA"
    assert out.getpixel((5, 5))[3] == 0
    assert out.getpixel((40, 40)) == (220, 30, 30, 255)


@pytest.mark.parametrize("container", ["png", "webp"])
def test_alpha_survives_a_reduced_decode_without_colour_bleeding(container: str) -> None:
    # left half fully transparent *green*, right half opaque red: a resampler that does not
    # premultiply drags the hidden green into the visible edge
    im = Image.new("RGBA", (400, 200), (0, 255, 0, 0))
    im.paste((220, 30, 30, 255), (200, 0, 400, 200))
    data = g.png(im) if container == "png" else g.webp(im, lossless=True, exact=True)
    out = resize(open_image(data).decode(min_size=(100, 50)), (100, 50))  # as the processors do
    assert out.mode == "RGBA"
    assert out.getpixel((10, 25))[3] == 0 and out.getpixel((90, 25)) == (220, 30, 30, 255)
    edge = [out.getpixel((x, 25)) for x in range(out.width) if out.getpixel((x, 25))[3] > 64]
    assert all(px[1] < 60 for px in edge), edge[:4]


def test_palette_without_transparency_and_opaque_alpha_become_rgb() -> None:
    assert open_image(g.palette_png((16, 16))).decode().mode == "RGB"
    assert open_image(g.png(g.solid((16, 16), (1, 2, 3, 255), mode="RGBA"))).decode().mode == "RGB"


@pytest.mark.parametrize("make", [g.heic, g.avif, g.webp], ids=["heic", "avif", "webp"])
def test_modern_formats_decode(make) -> None:
    out = open_image(make(g.solid((64, 48), RGB))).decode()
    assert out.size == (64, 48)
    assert g.close(g.mean_color(out), RGB, 8)


# ---------------------------------------------------------------- alpha and encoders


def test_jpeg_flattens_alpha_onto_the_background() -> None:
    im = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    with Image.open(io.BytesIO(encode(im, "jpeg", EncodeOptions(background=(0, 0, 255))))) as out:
        assert g.close(out.getpixel((5, 5)), (0, 0, 255), 6)


@pytest.mark.parametrize("fmt", ["webp", "png", "avif"])
def test_alpha_formats_keep_alpha(fmt: str) -> None:
    im = Image.new("RGBA", (16, 16), (255, 0, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 8, 16))
    with Image.open(io.BytesIO(encode(im, fmt))) as out:
        out = out.convert("RGBA")
        assert out.getpixel((2, 8))[3] < 10 and out.getpixel((13, 8))[3] > 245


def test_jpeg_output_is_progressive() -> None:
    with Image.open(io.BytesIO(encode(g.photo((64, 64)), "jpeg"))) as out:
        assert out.info.get("progressive") or out.info.get("progression")


# ---------------------------------------------------------------- metadata


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif", "png"])
def test_gps_maker_notes_and_orientation_are_stripped_credits_kept(fmt: str) -> None:
    tags = g.exif(orientation=6, gps=True, maker_note=True, artist="Ann Example", copyright="(c) 2026 Ann Example")
    data = g.jpeg(g.photo((64, 48)), exif=tags)
    assert g.has_gps(data)  # the fixture really carries GPS
    source = open_image(data)
    out = encode(source.decode(), fmt, exif=source.exif)
    assert not g.has_gps(out)
    assert b"SECRET-MAKER-NOTE" not in out and b"imgpipe-test-camera" not in out
    with Image.open(io.BytesIO(out)) as im:
        exif = im.getexif()
    assert exif.get(ExifTags.Base.Copyright) == "(c) 2026 Ann Example"
    assert exif.get(ExifTags.Base.Artist) == "Ann Example"
    assert ExifTags.Base.Orientation not in exif
    assert not exif.get_ifd(ExifTags.IFD.Exif)


@pytest.mark.parametrize("container", ["png", "webp"])
def test_png_and_webp_exif_is_stripped_credits_kept(container: str) -> None:
    tags = g.exif(orientation=3, gps=True, maker_note=True, copyright="(c) 2026 Ann Example")
    pixels = g.photo((64, 48))
    data = g.png(pixels, exif=tags) if container == "png" else g.webp(pixels, exif=tags)
    assert g.has_gps(data)
    source = open_image(data)
    out = encode(source.decode(min_size=(32, 24)), "webp", exif=source.exif)
    assert not g.has_gps(out) and b"SECRET-MAKER-NOTE" not in out
    with Image.open(io.BytesIO(out)) as im:
        exif = im.getexif()
    assert exif.get(ExifTags.Base.Copyright) == "(c) 2026 Ann Example"
    assert ExifTags.Base.Orientation not in exif


def test_xmp_is_never_copied() -> None:
    im = g.photo((32, 32))
    data = g.jpeg(im, xmp=b'<x:xmpmeta><rdf:Description exif:GPSLatitude="48,51.5N"/></x:xmpmeta>')
    assert g.has_gps(data)
    source = open_image(data)
    assert not g.has_gps(encode(source.decode(), "jpeg", exif=source.exif))


def test_no_metadata_means_no_exif_block() -> None:
    source = open_image(g.jpeg(g.photo((32, 32)), exif=g.exif(gps=True)))
    assert source.exif is None
