"""The dispatch table, and what each engine is (and is not) asked to decode.

The imaging property tests run on both engines through the ``engine`` fixture; this module
says explicitly where the libvips engine is *not* used even when forced, and why, so a test that
"passed on libvips" cannot silently have run on Pillow."""

from __future__ import annotations

import pytest
from PIL import Image

from imgpipe.errors import Reason, Rejection
from imgpipe.imaging import engines, libvips, open_image
from imgpipe.imaging.engines import FORCE_ENV, PILLOW, VIPS
from tests import imagegen as g


def test_the_dispatch_table_is_the_measured_one() -> None:
    # chosen from bench/results (docs/decisions.md, Imaging): Pillow's DCT-scaled decode is
    # ahead on JPEG; libvips streams PNG and shrinks WebP while decoding
    assert engines.DISPATCH == {"jpeg": PILLOW, "png": VIPS, "webp": VIPS}
    assert {fmt for fmt, engine in engines.DISPATCH.items() if engine == VIPS} <= engines.VIPS_FORMATS


def test_unforced_uploads_follow_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FORCE_ENV, raising=False)
    assert open_image(g.jpeg(g.photo((32, 24)))).engine == PILLOW
    assert open_image(g.png(g.photo((32, 24)))).engine == VIPS
    assert open_image(g.webp(g.photo((32, 24)))).engine == VIPS


@pytest.mark.parametrize("forced", [PILLOW, VIPS])
def test_forcing_reaches_every_format_the_engine_decodes(monkeypatch: pytest.MonkeyPatch, forced: str) -> None:
    monkeypatch.setenv(FORCE_ENV, forced)
    for data in (g.jpeg(g.photo((32, 24))), g.png(g.photo((32, 24))), g.webp(g.photo((32, 24)))):
        assert open_image(data).engine == forced


def test_a_forced_libvips_decode_really_runs_libvips(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = libvips.decode
    monkeypatch.setattr(libvips, "decode", lambda data, fmt, *a: calls.append(fmt) or real(data, fmt, *a))
    monkeypatch.setenv(FORCE_ENV, VIPS)
    for data in (g.jpeg(g.photo((32, 24))), g.png(g.photo((32, 24))), g.webp(g.photo((32, 24)))):
        open_image(data).decode()
    assert calls == ["jpeg", "png", "webp"]
    monkeypatch.setenv(FORCE_ENV, PILLOW)
    open_image(g.png(g.photo((32, 24)))).decode()
    assert calls == ["jpeg", "png", "webp"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: g.animated_gif(3),
        lambda: g.encode(g.photo((32, 24)), "WEBP", save_all=True, append_images=[g.photo((32, 24), seed=2)]),
        lambda: g.encode(g.photo((32, 24)), "PNG", save_all=True, append_images=[g.photo((32, 24), seed=2)]),
    ],
    ids=["gif", "webp", "apng"],
)
def test_animations_stay_with_pillow_even_when_libvips_is_forced(monkeypatch: pytest.MonkeyPatch, make) -> None:
    # An animation's first frame (a still made of it) is Pillow's; the frames themselves of a
    # GIF are composited by libvips (tests/unit/test_gif_frames.py), of WebP and APNG by Pillow.
    monkeypatch.setenv(FORCE_ENV, VIPS)
    source = open_image(make())
    assert source.animated
    assert source.engine == PILLOW


@pytest.mark.parametrize(
    "make",
    [
        lambda: g.encode(g.photo((32, 24)), "GIF"),
        lambda: g.encode(g.photo((32, 24)), "TIFF"),
        lambda: g.encode(g.photo((32, 24)), "BMP"),
        lambda: g.heic(g.photo((32, 24))),
        lambda: g.avif(g.photo((32, 24))),
    ],
    ids=["gif", "tiff", "bmp", "heic", "avif"],
)
def test_formats_outside_the_libvips_engine_stay_with_pillow(monkeypatch: pytest.MonkeyPatch, make) -> None:
    # libvips is neither measured nor tested on these (the binary wheel has no BMP loader and no
    # HEVC decoder), so forcing it does not reach them
    monkeypatch.setenv(FORCE_ENV, VIPS)
    assert open_image(make()).engine == PILLOW


def test_an_unknown_forced_engine_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FORCE_ENV, "imagemagick")
    with pytest.raises(ValueError):
        open_image(g.png(g.photo((8, 8)))).engine  # noqa: B018


def test_libvips_must_see_the_size_pillows_header_checks_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    # the engines parse the header independently: if they disagree, nothing is decoded
    monkeypatch.setenv(FORCE_ENV, VIPS)
    with pytest.raises(Rejection) as info:
        libvips.decode(g.png(g.photo((40, 30))), "png", (30, 40), None)
    assert info.value.reason == Reason.CORRUPT_IMAGE


@pytest.mark.parametrize(
    ("stored", "target", "expected"),
    [
        ((4240, 2832), (1920, 1282), (1920, 1282)),  # fit_width: the caller's size, exactly
        ((6000, 4000), (450, 300), (450, 300)),  # cover_size of a 300x300 box, exact
        # cover_size rounded 449.15 up to 450: the box's scale (300 / 2832) is what it meant
        ((4240, 2832), (450, 300), (449, 300)),
        ((2832, 4240), (300, 450), (300, 449)),
        ((1000, 700), (300, 200), (300, 210)),  # another aspect: the smallest covering size
        ((100, 80), (400, 300), (100, 80)),  # never enlarged
    ],
)
def test_libvips_decodes_at_the_scale_the_caller_meant(stored, target, expected) -> None:
    assert libvips.decode_size(stored, target) == expected


def test_decode_size_reproduces_every_size_the_processors_ask_for() -> None:
    from imgpipe.imaging import cover_size, fit_long_edge, fit_width

    for stored in [(4240, 2832), (6000, 4000), (123, 4567), (4567, 123), (1001, 999), (3024, 4032)]:
        for n in (1, 2, 3, 17, 300, 640, 1280, 1920, 2560):
            for size in (fit_width(stored, n), fit_long_edge(stored, n)):
                assert libvips.decode_size(stored, size) == size, (stored, size)
            cover = cover_size(stored, (n, n))
            got = libvips.decode_size(stored, cover)
            # at least the box, and at most the pixel cover_size rounded up
            assert min(got) >= min(n, *stored) and cover[0] - 1 <= got[0] <= cover[0], (stored, cover, got)
            assert cover[1] - 1 <= got[1] <= cover[1], (stored, cover, got)


def test_libvips_reduced_decode_is_the_requested_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FORCE_ENV, VIPS)
    for data in (g.jpeg(g.photo((800, 600))), g.png(g.photo((800, 600))), g.webp(g.photo((800, 600)))):
        assert open_image(data).decode(min_size=(199, 149)).size == (199, 149)


def test_a_jpeg_wanted_at_more_than_half_its_size_goes_to_libvips(monkeypatch: pytest.MonkeyPatch) -> None:
    # the DCT cannot shrink it: Pillow would decode and resample every pixel (bench convert part)
    monkeypatch.delenv(engines.FORCE_ENV, raising=False)
    assert engines.engine_for("jpeg", stored=(4032, 3024), target=(2560, 1920)) == VIPS
    assert engines.engine_for("jpeg", stored=(4032, 3024), target=(2016, 1512)) == PILLOW  # 1/2 scale
    assert engines.engine_for("jpeg", stored=(4032, 3024), target=(300, 300)) == PILLOW
    assert engines.engine_for("jpeg", stored=(4032, 3024), target=(4032, 3024)) == PILLOW  # full size
    assert engines.engine_for("jpeg", stored=(4032, 3024)) == PILLOW
    monkeypatch.setenv(engines.FORCE_ENV, "pillow")
    assert engines.engine_for("jpeg", stored=(4032, 3024), target=(2560, 1920)) == PILLOW


def test_convert_s_12_mp_jpeg_is_decoded_by_libvips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(engines.FORCE_ENV, raising=False)
    calls: list[tuple[int, int] | None] = []
    real = libvips.decode

    def spy(data: bytes, fmt: str, stored: tuple[int, int], target: tuple[int, int] | None) -> Image.Image:
        calls.append(target)
        return real(data, fmt, stored, target)

    monkeypatch.setattr(libvips, "decode", spy)
    source = open_image(g.jpeg(g.photo((1200, 900))))
    out = source.decode(min_size=(800, 600))
    assert out.size == (800, 600) and calls == [(800, 600)]
