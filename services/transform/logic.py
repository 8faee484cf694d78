"""transform's pure rendering: one upload's bytes and a checked transform -> one image.

Every step is the imaging seam's, with the caps the processors apply (``open_image`` with this
service's :class:`~imgpipe.limits.Limits`): EXIF orientation, conversion to sRGB and metadata
stripping happen there, and ``fit=cover`` is thumbnail's own crop (:func:`imgpipe.imaging.cover`).
An animation stays animated only as WebP; any other format gets its first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from imgpipe.imaging import (
    EncodeOptions,
    SourceImage,
    aspect_box,
    contain,
    cover,
    crop_size,
    encode,
    encode_animation,
    fit_pixels,
    has_alpha,
    inside,
    inside_size,
    open_image,
    pad,
    resize,
)
from imgpipe.limits import Limits
from imgpipe.transforms import LOSSY, Transform, negotiate

from .settings import Settings

CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}


@dataclass(frozen=True)
class Rendered:
    data: bytes
    format: str
    width: int
    height: int
    animated: bool = False

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def output_format(transform: Transform, accept: str | None) -> str:
    """The format written: the one asked for, or for ``auto`` the one the client takes best."""
    return negotiate(accept) if transform.format == "auto" else transform.format


def _options(settings: Settings, fmt: str, quality: int | None) -> EncodeOptions:
    options = EncodeOptions.from_settings(settings)
    if quality is None or fmt not in LOSSY:
        return options
    return replace(options, **{f"{fmt}_quality": quality})


def _still(source: SourceImage, transform: Transform, strategy: str) -> Any:
    # a decoded image of the seam (this service never touches the image library itself)
    width, height = transform.box
    if transform.fit == "cover":
        assert width is not None and height is not None  # Transform.check
        return cover(source, (width, height), strategy)
    if transform.fit == "contain":
        assert width is not None and height is not None
        return contain(source, (width, height))
    return inside(source, (width, height))


def _frame_geometry(
    source: SourceImage, transform: Transform, settings: Settings
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(the size each frame is resampled to, the canvas it ends on) within the animation budget."""
    width, height = transform.box
    if transform.fit == "cover":
        assert width is not None and height is not None
        size = crop_size(source.size, (width, height))
    else:
        size = inside_size(source.size, (width, height))
    budget = max(1, settings.max_animation_pixels // source.n_frames)
    fitted = fit_pixels(size, budget)
    canvas = (width, height) if transform.fit == "contain" and fitted == size else fitted
    assert canvas[0] is not None and canvas[1] is not None
    return fitted, (int(canvas[0]), int(canvas[1]))


def _animation(source: SourceImage, transform: Transform, settings: Settings, options: EncodeOptions) -> Rendered:
    size, canvas = _frame_geometry(source, transform, settings)
    window: tuple[int, int, int, int] | None = None
    frames, durations = [], []
    for frame, duration in source.frames():
        if transform.fit == "cover" and window is None:
            # one window for every frame, placed on the first: a crop that moved would jitter
            window = aspect_box(frame, size, settings.crop)
        scaled = resize(frame, size, box=window)
        frames.append(pad(scaled, canvas) if transform.fit == "contain" else scaled)
        durations.append(duration)
    data = encode_animation(frames, durations, source.loop, options)
    return Rendered(data, "webp", *frames[0].size, animated=True)


def render(data: bytes, transform: Transform, settings: Settings, accept: str | None = None) -> Rendered:
    """``data`` rendered as ``transform`` asks (checked against the bounds by the caller).
    Raises :class:`imgpipe.errors.Rejection` for an upload the caps refuse."""
    fmt = output_format(transform, accept)
    source = open_image(data, Limits.from_settings(settings))
    options = _options(settings, fmt, transform.quality)
    if source.animated and fmt == "webp":
        return _animation(source, transform, settings, options)
    image = _still(source, transform, settings.crop)
    if transform.format == "auto" and fmt == "jpeg" and has_alpha(image):
        fmt = "png"  # a client without AVIF or WebP still sees the transparency
    return Rendered(encode(image, fmt, options, source.exif), fmt, *image.size)
