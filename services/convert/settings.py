"""convert's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them).

``formats`` is the list of variants made from each upload. An entry is either a format name (the
short form: named ``full``, quality from ``<format>_quality``, capped at ``max_long_edge``, and a
``jpeg`` entry skipped for JPEG uploads) or a table that says each of these itself::

    formats = [
      { name = "full", format = "jpeg", quality = 85 },
      { name = "low", format = "jpeg", quality = 60, max_long_edge = 1280 },
      "webp", "avif",
      { name = "lossless", format = "png" },
    ]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from imgpipe.keys import MAX_VARIANT_FILE_BYTES
from imgpipe.limits import Limits
from imgpipe.settings import EncoderSettings, Invalid, redefault, setting

CONVERT_FORMATS = ("webp", "avif", "jpeg", "png")
#: the file extension each format's variant key ends with (imgpipe.runtime.Output.ext; a test holds them equal)
EXTENSIONS = {"webp": "webp", "avif": "avif", "jpeg": "jpg", "png": "png"}
#: what each encoder takes as quality (EncoderSettings' ranges); PNG is lossless and has none
QUALITY_RANGES = {"jpeg": (1, 100), "webp": (0, 100), "avif": (0, 100)}
#: a variant's name is the last part of its key: no '/' (another level) and no '.' (the extension)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
DEFAULT_NAME = "full"


@dataclass(frozen=True)
class Variant:
    """One variant of each upload. ``quality`` and ``max_long_edge`` left out are the service's
    ``<format>_quality`` and ``max_long_edge``."""

    format: str = setting("", choices=CONVERT_FORMATS)
    name: str = setting(DEFAULT_NAME)
    quality: int | None = setting(None)  # its range depends on the format (QUALITY_RANGES)
    #: the longer side at most this many pixels, aspect kept; a smaller upload is never enlarged
    max_long_edge: int | None = setting(None, min=1)
    #: not made when the upload is already in this format (a JPEG of a JPEG only loses quality),
    #: unless every variant would be skipped
    skip_same_format: bool = setting(False)

    def __post_init__(self) -> None:
        if self.format not in EXTENSIONS:
            raise Invalid("format", f"is required: one of {', '.join(map(repr, CONVERT_FORMATS))}")
        if not NAME_PATTERN.fullmatch(self.name):
            raise Invalid("name", f"must be letters, digits, '-' and '_' (not first); got {self.name!r}")
        file_name = f"{self.name}.{EXTENSIONS[self.format]}"
        if len(file_name.encode()) > MAX_VARIANT_FILE_BYTES:
            raise Invalid(
                "name",
                f"makes {file_name!r}, over the {MAX_VARIANT_FILE_BYTES} bytes a variant's file name may have "
                "(imgpipe.keys.MAX_VARIANT_FILE_BYTES); choose a shorter name",
            )
        if self.quality is not None:
            if self.format not in QUALITY_RANGES:
                raise Invalid("quality", f"is not taken by {self.format}: it is lossless (see png_compress_level)")
            low, high = QUALITY_RANGES[self.format]
            if not low <= self.quality <= high:
                raise Invalid("quality", f"must be between {low} and {high} for {self.format}; got {self.quality}")


@dataclass(frozen=True)
class Settings(Limits, EncoderSettings):
    #: the variants to make: format names (jpeg only for inputs that are not JPEG) or tables (Variant)
    formats: tuple[str | Variant, ...] = setting(("webp", "avif", "jpeg"), choices=CONVERT_FORMATS, min_items=1)
    max_long_edge: int = setting(2560, min=1)
    #: pixels of all output frames of an animation together, held in memory until encoded:
    #: 40 MP of RGBA is 160 MB. Larger animations are scaled down further to fit.
    max_animation_pixels: int = setting(40_000_000, min=1)
    jpeg_quality: int = redefault(EncoderSettings, "jpeg_quality", 85)

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        for index, variant in enumerate(self.variants(), 1):
            file_name = f"{variant.name}.{EXTENSIONS[variant.format]}"
            if file_name in seen:
                raise Invalid(
                    "formats",
                    f"entries {seen[file_name]} and {index} both make {file_name!r}; give one of them another name",
                )
            seen[file_name] = index

    def variants(self) -> tuple[Variant, ...]:
        """Every entry of ``formats`` in full: a format name in its short form's meaning, and a
        table's missing quality and cap from this service's settings."""
        return tuple(self._full(entry) for entry in self.formats)

    def _full(self, entry: str | Variant) -> Variant:
        if isinstance(entry, str):
            entry = Variant(format=entry, skip_same_format=entry == "jpeg")
        quality = entry.quality
        if quality is None and entry.format in QUALITY_RANGES:
            quality = getattr(self, f"{entry.format}_quality")
        return replace(entry, quality=quality, max_long_edge=entry.max_long_edge or self.max_long_edge)
