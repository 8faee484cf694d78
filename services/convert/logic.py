"""convert: each upload as the variants ``formats`` lists (settings.py): by default WebP and AVIF,
plus JPEG when the upload is not a JPEG (HEIC from phones, PNG photos), all named ``full`` and
capped at ``max_long_edge``; a deployment may list any fixed set (name, format, quality, cap).

An animation (GIF, animated WebP/PNG) becomes animated WebP, frame by frame within the frame cap;
AVIF, JPEG and PNG are not made for animations (see docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import replace

from imgpipe.imaging import (
    AnimationEncoder,
    EncodeOptions,
    SourceImage,
    encode,
    fit_long_edge,
    fit_pixels,
    open_image,
    resize,
)
from imgpipe.limits import Limits
from imgpipe.runtime import Output

from .settings import Settings, Variant


def _wanted(settings: Settings, source_format: str) -> list[Variant]:
    variants = list(settings.variants())
    kept = [v for v in variants if not (v.skip_same_format and v.format == source_format)]
    return kept or variants  # an upload always gets its variants, even if all were to be skipped


def _options(options: EncodeOptions, variant: Variant) -> EncodeOptions:
    if variant.quality is None:  # png: lossless
        return options
    return replace(options, **{f"{variant.format}_quality": variant.quality})


def _size(size: tuple[int, int], variant: Variant) -> tuple[int, int]:
    assert variant.max_long_edge is not None  # Settings.variants() fills it in
    return fit_long_edge(size, variant.max_long_edge)


def _animations(
    source: SourceImage, variants: list[Variant], settings: Settings, options: EncodeOptions
) -> list[Output]:
    # Frame by frame: each frame is decoded, shrunk to the largest size asked for (straight from
    # the decoder's frame) and handed to every variant's encoder (shrunk again for the smaller
    # ones), then dropped, so one frame is held decoded whatever the frame count (bench cap).
    budget = max(1, settings.max_animation_pixels // source.n_frames)
    sizes = [fit_pixels(_size(source.size, v), budget) for v in variants]
    largest = max(sizes, key=lambda s: s[0] * s[1])
    encoders = [
        AnimationEncoder(size, source.loop, _options(options, v)) for v, size in zip(variants, sizes, strict=True)
    ]
    for big, duration in source.frames(largest):
        for encoder, size in zip(encoders, sizes, strict=True):
            encoder.add(resize(big, size), duration)
    return [
        Output(variant.name, "webp", encoder.finish(), *size)
        for variant, encoder, size in zip(variants, encoders, sizes, strict=True)
    ]


def process(data: bytes, settings: Settings) -> list[Output]:
    options = EncodeOptions.from_settings(settings)
    source = open_image(data, Limits.from_settings(settings))
    variants = _wanted(settings, source.format)
    webp = [v for v in variants if v.format == "webp"]
    if source.animated and webp:
        return _animations(source, webp, settings, options)

    sizes = [_size(source.size, v) for v in variants]
    # one decode, at the largest size asked for; every variant is resampled from it
    image = source.decode(min_size=max(sizes, key=lambda s: s[0] * s[1]))
    outputs = []
    for variant, size in zip(variants, sizes, strict=True):
        scaled = resize(image, size)
        encoded = encode(scaled, variant.format, _options(options, variant), source.exif)
        outputs.append(Output(variant.name, variant.format, encoded, *scaled.size))
    return outputs
