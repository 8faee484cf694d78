"""convert: the upload in modern formats (WebP, AVIF), plus JPEG when the upload is not a JPEG
(HEIC from phones, PNG photos), all named ``full`` and capped at ``max_long_edge``.

An animation (GIF, animated WebP/PNG) becomes one animated WebP, frame by frame within the
frame cap; AVIF and JPEG are not made for animations (see docs/decisions.md).
"""

from __future__ import annotations

from imgpipe.imaging import (
    EncodeOptions,
    SourceImage,
    encode,
    encode_animation,
    fit_long_edge,
    fit_pixels,
    open_image,
    resize,
)
from imgpipe.limits import Limits
from imgpipe.runtime import Output

from .settings import Settings


def _formats(settings: Settings, source_format: str) -> list[str]:
    formats = list(settings.formats)
    # A JPEG of a JPEG only loses quality; unless nothing else is asked for.
    without_jpeg = [f for f in formats if not (f == "jpeg" and source_format == "jpeg")]
    return without_jpeg or formats


def _animation(source: SourceImage, settings: Settings, options: EncodeOptions) -> Output:
    size = fit_long_edge(source.size, settings.max_long_edge)
    size = fit_pixels(size, max(1, settings.max_animation_pixels // source.n_frames))
    frames, durations = [], []
    for frame, duration in source.frames():
        frames.append(resize(frame, size))  # each big frame is dropped as soon as it is shrunk
        durations.append(duration)
    data = encode_animation(frames, durations, source.loop, options)
    return Output("full", "webp", data, *size)


def process(data: bytes, settings: Settings) -> list[Output]:
    options = EncodeOptions.from_settings(settings)
    source = open_image(data, Limits.from_settings(settings))
    formats = _formats(settings, source.format)
    if source.animated and "webp" in formats:
        return [_animation(source, settings, options)]

    size = fit_long_edge(source.size, settings.max_long_edge)
    image = resize(source.decode(min_size=size), size)
    return [Output("full", fmt, encode(image, fmt, options, source.exif), *image.size) for fmt in formats]
