"""An animated GIF's frames are composited by libvips (one canvas; Pillow's GIF decoder holds
about four full-canvas copies per frame, 640 MB at the 50 MP cap), with the pixels Pillow's
decoder gives, and stay with Pillow where libvips would composite otherwise."""

from __future__ import annotations

import io
import itertools
import struct

import pytest
from PIL import GifImagePlugin, Image, ImageChops

from imgpipe.imaging import engines, libvips, open_image
from imgpipe.imaging.engines import FORCE_ENV, PILLOW, VIPS
from imgpipe.limits import Limits
from tests import imagegen as g

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 200, 0), (0, 0, 255), (250, 250, 250)


def _gif(disposal: int, transparency: int | None, optimize: bool, local: bool) -> bytes:
    """Four frames, a bar moving over a red field; ``local``: every other frame brings its own
    palette; ``optimize``: Pillow writes only the changed part of each frame."""
    frames = []
    for i in range(4):
        frame = Image.new("P", (60, 40), 0)
        palette = [*RED, *GREEN, *BLUE, *WHITE]
        if local and i % 2:
            palette = [10, 10, 10, 0, 200, 200, 200, 0, 200, 90, 90, 90]
        frame.putpalette(palette)
        frame.paste(1 + i % 3, (8 * i, 4, 8 * i + 20, 30))
        frames.append(frame)
    options = {"transparency": transparency} if transparency is not None else {}
    buf = io.BytesIO()
    frames[0].save(
        buf,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[60, 70, 80, 90],
        loop=0,
        disposal=disposal,
        optimize=optimize,
        **options,
    )
    return buf.getvalue()


def _frames(data: bytes, monkeypatch: pytest.MonkeyPatch, engine: str, size: tuple[int, int] | None = None):
    monkeypatch.setenv(FORCE_ENV, engine)
    return list(open_image(data, Limits()).frames(size))


def _visible(im: Image.Image) -> Image.Image:
    """RGBA with the colour of fully transparent pixels zeroed (it is not seen)."""
    rgba = im.convert("RGBA")
    return Image.composite(rgba, Image.new("RGBA", rgba.size, 0), rgba.getchannel("A"))


def test_gif_frames_go_to_libvips_and_other_animations_to_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FORCE_ENV, raising=False)
    assert engines.FRAMES_DISPATCH == {"gif": VIPS}
    assert [engines.frames_engine(f) for f in ("gif", "webp", "png")] == [VIPS, PILLOW, PILLOW]
    monkeypatch.setenv(FORCE_ENV, PILLOW)
    assert engines.frames_engine("gif") == PILLOW


def test_gif_frames_are_never_composited_by_pillows_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow's GIF decoder turns its canvas RGB after the first frame and converts and crops
    # each frame at full size: at the 50 MP cap that is what held convert's 752 MiB peak
    monkeypatch.delenv(FORCE_ENV, raising=False)
    seeks: list[int] = []
    real = GifImagePlugin.GifImageFile.seek
    monkeypatch.setattr(GifImagePlugin.GifImageFile, "seek", lambda im, f: seeks.append(f) or real(im, f))
    data = _gif(1, None, True, False)
    source = open_image(data, Limits())
    seeks.clear()  # counting frames in the header checks walks the file without decoding
    frames = list(source.frames((30, 20)))
    assert [(f.size, d) for f, d in frames] == [((30, 20), d) for d in (60, 70, 80, 90)]
    assert [s for s in seeks if s > 0] == []


@pytest.mark.parametrize(
    ("disposal", "transparency", "optimize", "local"),
    list(itertools.product((0, 1, 2, 3), (None, 0), (False, True), (False, True))),
)
def test_frames_have_the_pixels_and_durations_pillow_composites(
    monkeypatch: pytest.MonkeyPatch, disposal: int, transparency: int | None, optimize: bool, local: bool
) -> None:
    data = _gif(disposal, transparency, optimize, local)
    # "restore previous" stays with Pillow: libvips restores a first frame's to nothing
    assert libvips.composites_gif(data) == (disposal != 3)
    pillow = _frames(data, monkeypatch, PILLOW)
    vips = _frames(data, monkeypatch, VIPS)
    assert [d for _, d in vips] == [d for _, d in pillow] == [60, 70, 80, 90]
    for (a, _), (b, _) in zip(pillow, vips, strict=True):
        assert a.mode == b.mode
        assert ImageChops.difference(_visible(a), _visible(b)).getbbox() is None


def test_a_shrunk_transparent_frame_has_no_fringe_of_the_hidden_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    # the hidden index is red: shrunk, the square's soft edge must stay green, neither pink (the
    # hidden colour) nor dark (transparent pixels resampled as black without premultiplying)
    frames = []
    for i in range(2):
        frame = Image.new("P", (60, 40), 0)
        frame.putpalette([*RED, *GREEN])
        frame.paste(1, (10 + 9 * i, 10, 31 + 9 * i, 29))
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], transparency=0, duration=50, disposal=2)
    for frame, _ in _frames(buf.getvalue(), monkeypatch, VIPS, (20, 14)):
        assert frame.mode == "RGBA"
        pixels = [frame.getpixel((x, y)) for x in range(20) for y in range(14)]
        # an 8-bit premultiplied colour is coarse where the alpha is a few levels (Pillow's too)
        edge = [p for p in pixels if 64 <= p[3] < 255]
        assert edge
        assert all(r <= 8 and green >= 185 and b <= 8 for r, green, b, _ in edge), edge  # Lanczos rings above 200


def _gif_frame_at(x: int) -> bytes:
    """A 16x16 GIF of two one-pixel frames, the second at (x, 0)."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", 16, 16, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    for left in (0, x):
        out += b"!\xf9\x04\x00\x02\x00\x00\x00" + b"," + struct.pack("<HHHHB", left, 0, 1, 1, 0)
        out += b"\x02\x02\x44\x01\x00"  # LZW: clear, pixel 0, end
    return bytes(out + b";")


def test_a_frame_outside_the_header_canvas_stays_with_pillow_and_its_checks() -> None:
    # Pillow grows its canvas for such a frame, and SourceImage.frames checks each grown canvas
    assert libvips.composites_gif(_gif_frame_at(15))
    assert not libvips.composites_gif(_gif_frame_at(16))
    assert not libvips.composites_gif(g.truncated(g.animated_gif(3)))
