"""The operations the image bench compares, each producing the same variants.

- ``processor``: imgpipe's own ``services.<name>.logic.process(data, settings)``.
- ``naive``: what the seeds do, per output: ``Image.open`` -> ``resize`` (or, for a square
  thumbnail, ``ImageOps.fit``) with Pillow's defaults -> ``save`` with the format's defaults.
- ``floor``: decoding alone, at the smallest DCT scale the largest output allows (``draft``,
  JPEG only); other formats cannot decode at reduced scale, so their floor is a full decode.
- ``pyvips``: libvips ``thumbnail_buffer`` per output (shrink-on-load), same formats and
  qualities as the processor.

A *plan* is the list of variants to make (name, format, width, height). naive and pyvips
follow the processor's own outputs when it has run, so all make the same files; before the
processors exist the plan comes from the manifest settings (:func:`default_plan`).
"""

from __future__ import annotations

import importlib
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image, ImageOps

from imgpipe.settings import parse

_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF", "gif": "GIF"}
_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif", "gif": "gif"}


@dataclass(frozen=True)
class Target:
    name: str
    format: str
    width: int
    height: int


@dataclass(frozen=True)
class Made:
    """One output of an operation: its description and its bytes (bytes stay in the child)."""

    name: str
    format: str
    width: int
    height: int
    data: bytes

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        d["bytes"] = len(d.pop("data"))
        return d


def has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info


def default_plan(processor: str, settings: Mapping[str, Any], size: tuple[int, int], alpha: bool) -> list[Target]:
    """The variants a processor should make, from its manifest settings (used until the
    processor itself runs; afterwards its real outputs are the plan)."""
    w, h = size
    if processor == "thumbnail":
        n = int(settings.get("size", 300))
        return [Target(f"{n}x{n}", fmt, n, n) for fmt in settings.get("formats", ["webp"])]
    if processor == "resize":
        widths = sorted((x for x in settings.get("widths", []) if x < w), reverse=True) or [w]
        fmt = "webp" if alpha else "jpeg"
        return [Target(f"{x}w", fmt, x, max(1, round(h * x / w))) for x in widths]
    if processor == "convert":
        scale = min(1.0, int(settings.get("max_long_edge", 2560)) / max(w, h))
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
        return [Target("converted", f, tw, th) for f in settings.get("formats", ["webp"]) if f != "jpeg"]
    return []


def _save(img: Image.Image, fmt: str, **params: Any) -> bytes:
    if fmt == "jpeg" and img.mode != "RGB":
        # JPEG has no alpha: flatten onto white, as the quality reference does
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, mask=img.getchannel("A") if "A" in img.getbands() else None)
        img = flat
    buf = io.BytesIO()
    img.save(buf, _PIL_FORMAT[fmt], **params)
    return buf.getvalue()


def naive(data: bytes, processor: str, plan: Sequence[Target]) -> list[Made]:
    made = []
    for t in plan:
        img = Image.open(io.BytesIO(data))
        out = ImageOps.fit(img, (t.width, t.height)) if processor == "thumbnail" else img.resize((t.width, t.height))
        made.append(Made(t.name, t.format, t.width, t.height, _save(out, t.format)))
    return made


def floor_size(source: tuple[int, int], plan: Sequence[Target]) -> tuple[int, int]:
    """The smallest decode size from which every target can be made without upscaling:
    each target needs the source scaled to *cover* it."""
    sw, sh = source
    scale = max(max(t.width / sw, t.height / sh) for t in plan)
    return min(sw, math.ceil(sw * scale)), min(sh, math.ceil(sh * scale))


def floor(data: bytes, plan: Sequence[Target]) -> list[Made]:
    img = Image.open(io.BytesIO(data))
    if img.format == "JPEG":
        img.draft(img.mode, floor_size(img.size, plan))
    img.load()
    return []


def _vips_params(fmt: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    if fmt == "jpeg":
        # progressive + optimised Huffman tables, as the resize issue asks of imgpipe
        return {"Q": int(settings.get("jpeg_quality", 82)), "interlace": True, "optimize_coding": True}
    if fmt == "webp":
        return {"Q": int(settings.get("webp_quality", 80))}
    if fmt == "avif":
        return {"Q": int(settings.get("avif_quality", 60)), "compression": "av1"}
    return {}


def pyvips_thumbnail(data: bytes, processor: str, settings: Mapping[str, Any], plan: Sequence[Target]) -> list[Made]:
    import pyvips

    made = []
    crop = "attention" if settings.get("crop", "content") == "content" else "centre"
    for t in plan:
        options: dict[str, Any] = {"height": t.height, "size": "down"}
        if processor == "thumbnail":
            options["crop"] = crop
        img = pyvips.Image.thumbnail_buffer(data, t.width, **options)
        if t.format == "jpeg" and img.hasalpha():
            img = img.flatten(background=[255, 255, 255])
        out = img.write_to_buffer(f".{_EXT[t.format]}", **_vips_params(t.format, settings))
        made.append(Made(t.name, t.format, img.width, img.height, out))
    return made


def load_processor(name: str, *, whole_handler: bool = False) -> Callable[[bytes, Mapping[str, Any]], list[Any]]:
    """The processor's pure ``process``. ``whole_handler`` also imports its handler module,
    i.e. the whole layer (Powertools, boto3), as a Lambda cold start would."""
    if whole_handler:
        importlib.import_module(f"services.{name}.handler")
    settings_type = importlib.import_module(f"services.{name}.settings").Settings
    logic = importlib.import_module(f"services.{name}.logic")
    if hasattr(logic, "process"):
        process = logic.process
    else:
        # moderate's process asks a classifier: its local stand-in, which looks at no pixel, so
        # what is measured is moderate's own image work (the decode and the reduced copy)
        from services.moderate.engines import StandIn

        if name != "moderate":
            raise AttributeError(f"services.{name}.logic has no process(data, settings)")
        process = logic.Moderator(StandIn("")).process

    def run(data: bytes, settings: Mapping[str, Any]) -> list[Any]:
        # the manifest's plain table, parsed as the handler parses it (microseconds, not measured apart)
        return process(data, parse(settings_type, settings, service=name))

    return run


def run_processor(process: Callable[..., list[Any]], data: bytes, settings: Mapping[str, Any]) -> list[Made]:
    return [Made(o.name, o.format, o.width, o.height, o.data) for o in process(data, settings)]
