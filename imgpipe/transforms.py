"""On-demand transforms: what a transform URL says, how it is signed, and which uploads may be
rendered. Pure: the API signs with it, the transform service verifies and renders with it.

A transform URL is ``/t/<signature>/<spec>/<upload key>``. The spec is canonical (one spelling
per transform: ``w640_h480_cover_q80.webp``; sides, fit and quality in that order, absent parts
left out), so a signature covers exactly one rendering and a cache keyed by the path holds one
copy of it. The signature is an HMAC-SHA256 over the spec, the upload's key and its ETag: a URL
stops working when the upload is replaced, and no part of it can be changed (a size, a key) without
the secret. Every check here runs before a pixel is decoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from imgpipe.catalog import COMPLETED, PARTIAL, Round
from imgpipe.settings import setting
from imgpipe.signing_keys import parse_base64_keys

#: how long a warm function keeps the signing keys before reading them again: a rotation's first
#: step is everywhere after this long (docs/transforms.md)
KEY_CACHE_S = 300
#: the path prefix the CDN sends to the transform service
PATH_PREFIX = "/t/"
#: a deployment's named transforms, unsigned: ``/t/p/<preset>/<upload key>`` (a signature is
#: 32 characters, so no signed path starts with it)
PRESET_PREFIX = f"{PATH_PREFIX}p/"
PRESET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
#: where the transform service keeps renderings too large to return, in the variants bucket
#: (``transform/<upload key>/<etag>/<spec>``): its own prefix, and purge's to clear with the upload
STORED_PREFIX = "transform/"
FITS = ("cover", "contain", "inside")
#: formats a transform may ask for; ``auto`` is negotiated from the request's Accept header
FORMATS = ("jpeg", "webp", "avif", "png", "auto")
#: what ``auto`` may become, best first (the CDN's Accept normalisation keeps only these)
NEGOTIATED = ("avif", "webp", "jpeg")
#: formats whose quality is a setting of the encoder (PNG is lossless)
LOSSY = ("jpeg", "webp", "avif")
#: a domain separator: a signature made for anything else never verifies as a transform's
_SIGNED_PURPOSE = "imgpipe-transform-v1"
#: 24 bytes of the HMAC, base64url: 192 bits, beyond guessing, short enough for a path
SIGNATURE_CHARS = 32
_SIGNATURE = re.compile(rf"^[A-Za-z0-9_-]{{{SIGNATURE_CHARS}}}$")
#: a loose match; :func:`parse_spec` then insists on the canonical spelling
_SPEC = re.compile(
    r"^(?:w(?P<w>[1-9][0-9]{0,4})_)?(?:h(?P<h>[1-9][0-9]{0,4})_)?(?P<fit>[a-z]+)"
    r"(?:_q(?P<q>[1-9][0-9]{0,2}))?\.(?P<fmt>[a-z]+)$"
)


class InvalidTransform(ValueError):
    """A transform a request may not ask for; ``field`` names the value at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class TransformBounds:
    """What transforms a deployment allows: a settings group of the transform service, which the
    API reads too (it refuses what the service would)."""

    #: no side of a transform may exceed this many pixels
    max_dimension: int = setting(4096, min=16, max=16384)
    #: if not empty, the only widths a transform may ask for (bounds how many renderings the cache holds)
    widths: tuple[int, ...] = setting((), min=1, max=16384)


def bounds_json(bounds: TransformBounds) -> str:
    """The bounds as the API is told them (the ``transform_bounds`` need's value)."""
    return json.dumps({"max_dimension": bounds.max_dimension, "widths": sorted(bounds.widths)}, separators=(",", ":"))


def bounds_from_json(text: str) -> TransformBounds:
    raw = json.loads(text)
    return TransformBounds(max_dimension=int(raw["max_dimension"]), widths=tuple(int(w) for w in raw["widths"]))


@dataclass(frozen=True)
class Transform:
    width: int | None = None
    height: int | None = None
    fit: str = "inside"
    format: str = "auto"
    quality: int | None = None

    @property
    def box(self) -> tuple[int | None, int | None]:
        return self.width, self.height

    @property
    def spec(self) -> str:
        """The canonical path segment: ``w640_h480_cover_q80.webp``."""
        parts = [f"w{self.width}"] if self.width else []
        parts += [f"h{self.height}"] if self.height else []
        parts.append(self.fit)
        parts += [f"q{self.quality}"] if self.quality is not None else []
        return "_".join(parts) + f".{self.format}"

    def check(self, bounds: TransformBounds) -> Transform:
        """This transform if ``bounds`` allow it; else :class:`InvalidTransform`."""
        if self.fit not in FITS:
            raise InvalidTransform("fit", f"must be one of {', '.join(FITS)}; got {self.fit!r}")
        if self.format not in FORMATS:
            raise InvalidTransform("format", f"must be one of {', '.join(FORMATS)}; got {self.format!r}")
        if self.width is None and self.height is None:
            raise InvalidTransform("width", "give a width, a height or both")
        if self.fit in ("cover", "contain") and (self.width is None or self.height is None):
            raise InvalidTransform("height" if self.width else "width", f"fit={self.fit} needs both width and height")
        for name, side in (("width", self.width), ("height", self.height)):
            if side is not None and not 1 <= side <= bounds.max_dimension:
                raise InvalidTransform(name, f"must be 1 to {bounds.max_dimension} pixels; got {side}")
        if bounds.widths and self.width is not None and self.width not in bounds.widths:
            allowed = ", ".join(str(w) for w in sorted(bounds.widths))
            raise InvalidTransform("width", f"must be one of this deployment's widths ({allowed}); got {self.width}")
        if self.quality is not None:
            if self.format == "png":
                raise InvalidTransform("quality", "PNG is lossless: leave quality out")
            if not 1 <= self.quality <= 100:
                raise InvalidTransform("quality", f"must be 1 to 100; got {self.quality}")
        return self


def _int_field(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTransform(name, f"must be a whole number; got {value!r}")
    return value


def transform_from_request(body: Any, bounds: TransformBounds) -> Transform:
    """``{"width", "height", "fit", "format", "quality"}`` as a checked :class:`Transform`."""
    if not isinstance(body, dict):
        raise InvalidTransform("body", "must be a JSON object with width, height, fit, format and quality")
    unknown = sorted(set(body) - {"width", "height", "fit", "format", "quality"})
    if unknown:
        raise InvalidTransform(unknown[0], "is not a transform field (width, height, fit, format, quality)")
    for name in ("fit", "format"):
        if name in body and not isinstance(body[name], str):
            raise InvalidTransform(name, f"must be a string; got {body[name]!r}")
    return Transform(
        width=_int_field(body, "width"),
        height=_int_field(body, "height"),
        fit=body.get("fit", "inside"),
        format=body.get("format", "auto"),
        quality=_int_field(body, "quality"),
    ).check(bounds)


def parse_spec(spec: str) -> Transform | None:
    """The transform a path segment names, or None unless it is the canonical spelling of one."""
    match = _SPEC.match(spec)
    if match is None:
        return None
    transform = Transform(
        width=int(match["w"]) if match["w"] else None,
        height=int(match["h"]) if match["h"] else None,
        fit=match["fit"],
        format=match["fmt"],
        quality=int(match["q"]) if match["q"] else None,
    )
    return transform if transform.spec == spec else None


def signature(secret: bytes, key: str, etag: str, spec: str) -> str:
    message = "\n".join((_SIGNED_PURPOSE, key, etag, spec)).encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_CHARS]


def verify(secrets: Sequence[bytes], key: str, etag: str, spec: str, given: str) -> bool:
    """Whether ``given`` was made by one of ``secrets`` (during a rotation, both the new and the
    previous key are valid) for exactly this key, ETag and spec."""
    if not _SIGNATURE.match(given):
        return False
    return any(hmac.compare_digest(signature(s, key, etag, spec), given) for s in secrets)


def url_path(secret: bytes, key: str, etag: str, transform: Transform) -> str:
    spec = transform.spec
    return f"{PATH_PREFIX}{signature(secret, key, etag, spec)}/{spec}/{quote(key, safe='/')}"


@dataclass(frozen=True)
class TransformPath:
    signature: str
    spec: str
    key: str


def split_path(path: str) -> TransformPath | None:
    """A request path's three parts, or None when it is not a transform URL's shape."""
    if not path.startswith(PATH_PREFIX):
        return None
    parts = path[len(PATH_PREFIX) :].split("/", 2)
    if len(parts) != 3 or not all(parts):
        return None
    key = _upload_key(parts[2])
    return None if key is None else TransformPath(parts[0], parts[1], key)


@dataclass(frozen=True)
class PresetPath:
    preset: str
    key: str


def _upload_key(quoted: str) -> str | None:
    key = unquote(quoted)
    if key.startswith("/") or any(segment in ("", ".", "..") for segment in key.split("/")):
        return None
    return key


def split_preset_path(path: str) -> PresetPath | None:
    """A preset request's name and upload key, or None when the path is not of that shape."""
    if not path.startswith(PRESET_PREFIX):
        return None
    preset, _, quoted = path[len(PRESET_PREFIX) :].partition("/")
    key = _upload_key(quoted) if preset and quoted else None
    return None if key is None else PresetPath(preset, key)


def preset_path(preset: str, key: str) -> str:
    return f"{PRESET_PREFIX}{preset}/{quote(key, safe='/')}"


_ACCEPT_TYPES = {"image/avif": "avif", "image/webp": "webp"}


def negotiate(accept: str | None) -> str:
    """The format ``auto`` becomes for a client sending ``accept``: AVIF, else WebP, else JPEG.
    The CDN's function reduces Accept to one of these before the cache lookup, with this rule."""
    offered: set[str] = set()
    for item in (accept or "").lower().split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue  # q=0: explicitly not acceptable
        if media in _ACCEPT_TYPES:
            offered.add(_ACCEPT_TYPES[media])
    return next((f for f in NEGOTIATED if f in offered), "jpeg")


def servable(found: Round | None) -> bool:
    """Whether an upload's round may be rendered: it finished with some variants and nothing holds
    it. A round still processing, held for review, rejected, deleted or superseded is not."""
    return found is not None and found.shown_status in (COMPLETED, PARTIAL)


def parse_keys(secret: str) -> tuple[bytes, ...]:
    """The signing keys in the secret's value: base64 keys separated by whitespace, the first
    signing and every one verifying (during a rotation: the new key first, the old one second)."""
    return parse_base64_keys(secret, what="transform signing secret", min_bytes=32)
