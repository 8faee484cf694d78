"""The frame-at-a-time animated WebP encoder writes what Pillow's ``save_all`` writes from the whole
list, and convert's animations (encoded frame by frame) are those of encoding the frames as a list."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from imgpipe.imaging import AnimationEncoder, EncodeOptions, encode_animation


def frames(n: int, size: tuple[int, int] = (96, 64)) -> list[Image.Image]:
    out = []
    for i in range(n):
        im = Image.new("RGBA", size, (20 * i, 100, 200 - 10 * i, 255))
        ImageDraw.Draw(im).ellipse((4 * i, 3, 4 * i + 30, 40), fill=(255, 255, 0, 128 + i))
        out.append(im)
    return out


@pytest.mark.parametrize("options", [EncodeOptions(), EncodeOptions(webp_quality=60, webp_method=2)])
def test_frame_by_frame_bytes_are_pillows_save_all_bytes(options: EncodeOptions) -> None:
    shots, durations = frames(6), [40, 80, 40, 120, 40, 60]
    buf = io.BytesIO()
    first = shots[0].copy()
    first.save(
        buf,
        format="WEBP",
        save_all=True,
        append_images=shots[1:],
        duration=durations,
        loop=2,
        quality=options.webp_quality,
        method=options.webp_method,
    )
    encoder = AnimationEncoder(shots[0].size, 2, options)
    for shot, duration in zip(shots, durations, strict=True):
        encoder.add(shot, duration)
    assert encoder.finish() == buf.getvalue()
    assert encode_animation(iter(shots), durations, 2, options) == buf.getvalue()
    with Image.open(io.BytesIO(buf.getvalue())) as made:
        assert made.n_frames == 6 and made.info["loop"] == 2


def test_frames_of_another_size_or_none_are_refused() -> None:
    encoder = AnimationEncoder((96, 64), 0)
    with pytest.raises(ValueError, match="frame"):
        encoder.add(Image.new("RGBA", (64, 64)), 100)
    with pytest.raises(ValueError, match="at least one frame"):
        encoder.finish()
    with pytest.raises(ValueError, match="at least one frame"):
        encode_animation([], [], 0)
