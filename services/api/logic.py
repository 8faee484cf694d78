"""The upload API's rules, pure: what a request may ask for, which key it gets, what the signed
POST policy pins, how a multipart upload is cut, and what the caller is shown. No AWS, no I/O:
``service.py`` does the calls, ``handler.py`` the HTTP.

Every refusal is an :class:`ApiError` with the status code, a stable ``code``, a sentence, and the
field at fault, so a client can show it next to the right input.
"""

from __future__ import annotations

import html
import math
import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from imgpipe.catalog import DONE, FAILED, PENDING, Round
from imgpipe.catalog.model import HELD
from imgpipe.errors import Reason
from imgpipe.keys import cdn_url
from imgpipe.outputs import OutputsView, Role

#: the image types the processors decode, and the extension a sanitized name ends with
ACCEPTED_TYPES: Mapping[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/avif": ".avif",
    "image/heic": ".heic",
    "image/tiff": ".tif",
    "image/bmp": ".bmp",
}
#: extensions a file of that type may already carry (kept as the client named it, lowercased)
_KNOWN_EXTENSIONS: Mapping[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
    "image/tiff": (".tif", ".tiff"),
    "image/heic": (".heic", ".heif"),
}

MIB = 1024 * 1024
#: S3's multipart rules: every part but the last is at least 5 MiB; at most 10,000 parts
MIN_PART_BYTES = 5 * MIB
MAX_PARTS = 10_000
MAX_FILENAME_CHARS = 255  # what the client may send
MAX_SANITIZED_CHARS = 100  # what the key keeps: S3 keys stay well under 1,024 bytes with variant prefixes
USERS_PREFIX = "users/"
#: 16 random bytes, base64url (22 characters): unguessable, and safe in a key and a path; a
#: multipart upload's id ends with ``-<declared size>`` (see :func:`multipart_upload_id`)
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{22}(-[1-9][0-9]{0,11})?$")
_RANDOM_CHARS = 22
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

#: a rejection's reason code, said to the person who uploaded the file
PLAIN_REASONS: Mapping[str, str] = {
    Reason.UNSUPPORTED_FORMAT: "This file is not an image in a format we can read.",
    Reason.CORRUPT_IMAGE: "This image is damaged or incomplete and could not be read.",
    Reason.TOO_MANY_PIXELS: "This image has more pixels than we accept.",
    Reason.TOO_LARGE: "This file is larger than we accept.",
    Reason.TOO_MANY_FRAMES: "This animation has more frames than we accept.",
    Reason.EMPTY_OBJECT: "This file is empty.",
    Reason.OBJECT_MISSING: "This file was removed before it could be processed.",
    Reason.SUPERSEDED: "This file was replaced by a newer upload before it was processed.",
    Reason.KEY_TOO_LONG: "The file name is too long.",
    Reason.METADATA_TOO_LARGE: "The file name is too long.",
    Reason.CUSTOMER_ENCRYPTED: "This file is encrypted with a key we do not have.",
    Reason.ARCHIVED: "This file is archived and cannot be read until it is restored.",
}


class ApiError(Exception):
    """A request the API refuses: answered with ``status`` and ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}


def bad_request(field_name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", message, field=field_name)


def not_found() -> ApiError:
    # The same answer for "not yours" and "does not exist": existence must not leak.
    return ApiError(404, "not_found", "There is no upload with this id.")


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Sign in: the request has no valid token.")


# --- requests ---------------------------------------------------------------------------------
def constraint(**schema: Any) -> dict[str, Any]:
    """A field's metadata: its JSON Schema constraints beyond its type, for the OpenAPI document
    (what the parsers below refuse with 400 is what the document says is invalid)."""
    return {"schema": schema}


@dataclass(frozen=True)
class NewUpload:
    """``POST /api/uploads`` and ``POST /api/uploads/multipart``: the file the client will send."""

    filename: str = field(metadata=constraint(minLength=1, maxLength=255))
    #: exactly one of ACCEPTED_TYPES, as browsers and MIME libraries write them (lowercase)
    type: str = field(metadata=constraint(enum=list(ACCEPTED_TYPES)))
    size: int = field(metadata=constraint(minimum=1))


@dataclass(frozen=True)
class SignParts:
    """``POST /api/uploads/{id}/parts``: the part numbers to sign (1-based)."""

    part_numbers: list[int] = field(
        metadata=constraint(minItems=1, maxItems=10_000, items={"type": "integer", "minimum": 1})
    )


@dataclass(frozen=True)
class CompletedPart:
    part_number: int = field(metadata=constraint(minimum=1))
    etag: str = field(metadata=constraint())


@dataclass(frozen=True)
class CompleteUpload:
    """``POST /api/uploads/{id}/complete``: every part, as S3 answered each upload."""

    parts: list[CompletedPart] = field(metadata=constraint(minItems=1, maxItems=10_000))


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("body", "The request body must be a JSON object.")
    return body


def _int(value: Any) -> bool:
    # JSON has one number type: 12.0 is the integer 12 (as JSON Schema says), 12.5 is not; a
    # bool is not a number however Python counts it
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def parse_new_upload(body: Any, max_bytes: int) -> NewUpload:
    """Checked in the order a client can act on: the fields' shapes (400), the type (415), the size (413)."""
    raw = _object(body)
    filename = raw.get("filename")
    # a name of blanks only is a name: the key gets "upload" and the type's extension
    if not isinstance(filename, str) or not filename:
        raise bad_request("filename", "'filename' is required: the file's name, as a string.")
    if len(filename) > MAX_FILENAME_CHARS:
        raise bad_request("filename", f"'filename' may have at most {MAX_FILENAME_CHARS} characters.")
    content_type = raw.get("type")
    if not isinstance(content_type, str) or not content_type:
        raise bad_request("type", "'type' is required: the file's media type, such as image/jpeg.")
    size = raw.get("size")
    if not _int(size) or size < 1:
        raise bad_request("size", "'size' is required: the file's size in bytes, a positive integer.")
    size = int(size)
    if content_type not in ACCEPTED_TYPES:
        raise ApiError(
            415,
            "unsupported_type",
            f"'{content_type}' is not an image type we process; send one of {', '.join(ACCEPTED_TYPES)}.",
            field="type",
        )
    if size > max_bytes:
        raise ApiError(
            413,
            "too_large",
            f"The file is {size} bytes; the largest upload accepted is {max_bytes} bytes.",
            field="size",
        )
    return NewUpload(filename, content_type, size)


def parse_sign_parts(body: Any, part_count: int) -> SignParts:
    raw = _object(body)
    numbers = raw.get("part_numbers")
    if not isinstance(numbers, list) or not numbers or not all(_int(n) for n in numbers):
        raise bad_request("part_numbers", "'part_numbers' is required: a non-empty list of part numbers.")
    if len(numbers) > part_count or any(not 1 <= n <= part_count for n in numbers):
        raise bad_request("part_numbers", f"This upload has parts 1 to {part_count}.")
    return SignParts(sorted({int(n) for n in numbers}))


def parse_complete(body: Any, part_count: int) -> CompleteUpload:
    raw = _object(body)
    parts = raw.get("parts")
    message = f"'parts' is required: parts 1 to {part_count}, each {{'part_number', 'etag'}}."
    if not isinstance(parts, list) or len(parts) != part_count:
        raise bad_request("parts", message)
    parsed = []
    for part in parts:
        if not isinstance(part, dict) or not _int(part.get("part_number")) or not isinstance(part.get("etag"), str):
            raise bad_request("parts", message)
        parsed.append(CompletedPart(int(part["part_number"]), part["etag"]))
    if sorted(p.part_number for p in parsed) != list(range(1, part_count + 1)):
        raise bad_request("parts", message)
    return CompleteUpload(sorted(parsed, key=lambda p: p.part_number))


_LIMIT = re.compile(r"[0-9]{1,6}")
#: the largest ``limit`` a client may send (a page holds at most the deployment's page size)
MAX_LIMIT = 100_000


def parse_limit(raw: str | None, page_size: int) -> int:
    """``limit``: 1 to MAX_LIMIT; a page holds at most ``page_size`` uploads whatever it says."""
    if raw is None:
        return page_size
    # ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_request(
            "limit", f"'limit' must be an integer from 1 to {MAX_LIMIT}; a page holds at most {page_size}."
        )
    return min(int(raw), page_size)


# --- keys ---------------------------------------------------------------------------------------
def new_upload_id() -> str:
    return secrets.token_urlsafe(16)


def multipart_upload_id(size: int) -> str:
    """A multipart upload's id carries the size the client declared, because every later call
    (sign, list, complete) needs it to cut the parts and S3 keeps no metadata of an upload in
    progress that could be read back. It cannot be forged: the id is part of the key the server
    chose, so an id with another size names no upload (404)."""
    return f"{new_upload_id()}-{size}"


def declared_size(upload_id: str) -> int | None:
    """The size a multipart upload's id carries; None for a presigned POST's id."""
    suffix = upload_id[_RANDOM_CHARS:]
    return int(suffix[1:]) if suffix else None


def is_upload_id(value: str) -> bool:
    return bool(_UPLOAD_ID.match(value))


def sanitize_filename(filename: str, content_type: str) -> str:
    """A name safe in a key, a URL and a ``Content-Disposition``: the last path segment, ASCII
    letters, digits, ``.``, ``_`` and ``-`` only, at most 100 characters, ending in an extension
    of its type (so a download opens with the right program)."""
    base = re.split(r"[\\/]", filename)[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem, dot, ext = ascii_name.rpartition(".")
    ext = f".{ext.lower()}" if dot else ""
    if ext not in _KNOWN_EXTENSIONS.get(content_type, (ACCEPTED_TYPES[content_type],)):
        # "photo.png" declared image/jpeg becomes "photo.png.jpg": its words, and its declared type
        stem, ext = ascii_name, ACCEPTED_TYPES[content_type]
    stem = _UNSAFE.sub("-", stem).strip(".-_")[: MAX_SANITIZED_CHARS - len(ext)].strip(".-_")
    return f"{stem or 'upload'}{ext}"


def user_prefix(owner: str) -> str:
    return f"{USERS_PREFIX}{owner}/"


def upload_prefix(owner: str, upload_id: str) -> str:
    return f"{user_prefix(owner)}{upload_id}/"


def upload_key(owner: str, upload_id: str, name: str) -> str:
    return f"{upload_prefix(owner, upload_id)}{name}"


def upload_id_of(key: str) -> str:
    """``users/<owner>/<id>/<name>`` -> ``<id>``."""
    return key.split("/")[2]


# --- the presigned PUT: a ticket that uploads once --------------------------------------------
#: the conditional write: S3 refuses a PUT to a key that already holds an object (412)
WRITE_ONCE = "*"


@dataclass(frozen=True)
class PutSpec:
    """What the presigned PUT signs besides the key: the headers the client must send with
    exactly these values, and the exact length of the body. S3 refuses a request whose signed
    headers differ, so these are the upload's whole contract: exactly this key, this
    Content-Type, exactly the declared number of bytes, and only if the key is still empty
    (``If-None-Match: *``), which makes the ticket single-use: a second PUT with the same URL is
    refused and stores nothing, so it starts no pipeline round, email, webhook or moderation call."""

    content_type: str
    content_length: int

    @property
    def headers(self) -> dict[str, str]:
        # Content-Length is signed too, but a browser sets it itself (it may not be set by a page)
        return {"Content-Type": self.content_type, "If-None-Match": WRITE_ONCE}


# --- multipart ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PartPlan:
    """How a file of ``size`` bytes is cut: every part ``part_size`` bytes but the last. Each part's
    signed URL pins its exact Content-Length, so the parts add up to the declared size (at most
    ``max_bytes``): no part count or part size the client picks can go beyond it."""

    size: int
    part_size: int

    @classmethod
    def for_size(cls, size: int) -> PartPlan:
        # the smallest part S3 allows, unless the file needs bigger ones to fit in 10,000 parts
        return cls(size, max(MIN_PART_BYTES, math.ceil(size / MAX_PARTS)))

    @property
    def part_count(self) -> int:
        return math.ceil(self.size / self.part_size)

    def length(self, part_number: int) -> int:
        if not 1 <= part_number <= self.part_count:
            raise ValueError(f"part {part_number} is not in 1..{self.part_count}")
        return min(self.part_size, self.size - (part_number - 1) * self.part_size)


# --- quota -------------------------------------------------------------------------------------
def quota_day(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d")


def seconds_to_next_day(now: datetime) -> int:
    now = now.astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return max(1, math.ceil((midnight - now).total_seconds()))


def quota_exceeded(limit: int, now: datetime) -> ApiError:
    retry = seconds_to_next_day(now)
    return ApiError(
        429,
        "quota_exceeded",
        f"You have made {limit} uploads today, the daily limit; try again in {retry} seconds (after 00:00 UTC).",
        headers={"Retry-After": str(retry)},
    )


# --- responses ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadTicket:
    """A presigned PUT: send the file's bytes to ``url`` with exactly ``headers``. It works once."""

    id: str
    key: str
    method: str
    url: str
    headers: dict[str, str]
    expires: str


@dataclass(frozen=True)
class MultipartTicket:
    id: str
    key: str
    upload_id: str
    part_size: int
    part_count: int


@dataclass(frozen=True)
class SignedPart:
    part_number: int
    url: str
    content_length: int


@dataclass(frozen=True)
class SignedParts:
    parts: list[SignedPart]
    expires: str


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    size: int
    etag: str


@dataclass(frozen=True)
class PartList:
    parts: list[UploadedPart]


@dataclass(frozen=True)
class VariantView:
    processor: str
    name: str
    format: str
    url: str
    width: int
    height: int
    bytes: int
    #: what it is (imgpipe/outputs.py): responsive | preview | full | derived; a client picks by it
    role: str = ""


@dataclass(frozen=True)
class ProcessorView:
    name: str
    state: str  # pending | done | rejected
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class UploadSummary:
    id: str
    filename: str
    status: str
    created_at: str | None
    size: int | None
    variants: int


@dataclass(frozen=True)
class UploadStatus:
    id: str
    key: str
    filename: str
    #: uploading | processing | completed | partial | rejected | deleted | held (for review)
    status: str
    created_at: str | None
    size: int | None
    content_type: str | None
    width: int | None
    height: int | None
    processors: list[ProcessorView]
    variants: list[VariantView]
    srcset: str | None
    picture: str | None
    #: what describe found (placeholders, palette, perceptual hash, EXIF summary, duplicate_of),
    #: by processor; only facts whose manifest shows them to the owner (never moderation's)
    description: dict[str, Any] = field(default_factory=dict)
    #: why the upload is not published, in plain words, while ``status`` is ``held``; never the
    #: labels, scores or thresholds behind it (those are the reviewer's: imgpipe review)
    held_reason: str | None = None


@dataclass(frozen=True)
class UploadPage:
    uploads: list[UploadSummary]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Deleted:
    id: str
    deleted: bool = True


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    field: str | None = None


@dataclass(frozen=True)
class ErrorBody:
    """A refusal of the function."""

    error: ErrorDetail


@dataclass(frozen=True)
class GatewayError:
    """A refusal of API Gateway itself (no valid token, throttled), before the function runs."""

    message: str


_STATES = {DONE: "done", FAILED: "rejected", PENDING: "pending"}


#: ``<cdn>/v/<variant key>?v=<upload etag>``, as notify's email and ``imgpipe status`` build it
variant_url = cdn_url


def _variant_name(variant_key: str) -> str:
    return variant_key.rsplit("/", 1)[-1]


#: what a held upload's owner is told (nothing a classifier's output or threshold could be read from)
HELD_REASON = "This upload is waiting for a person to review it; it is published if they approve it."


def status_view(
    upload_id: str,
    key: str,
    found: Round | None,
    *,
    delivery_url: str,
    outputs: OutputsView | None = None,
    uploading: bool = False,
    size: int | None = None,
    created_at: str | None = None,
) -> UploadStatus:
    """The status route's answer: from the catalog's round when the pipeline has reported; an
    upload S3 holds that nobody reported yet is ``processing``; one still sending parts ``uploading``."""
    filename = key.rsplit("/", 1)[-1]
    if found is None:
        return UploadStatus(
            id=upload_id,
            key=key,
            filename=filename,
            status="uploading" if uploading else "processing",
            created_at=created_at,
            size=size,
            content_type=None,
            width=None,
            height=None,
            processors=[],
            variants=[],
            srcset=None,
            picture=None,
        )
    processors = []
    for p in found.processors():
        reason = p.rejection.reason if p.rejection else None
        message = PLAIN_REASONS.get(reason, "This file could not be processed.") if reason else None
        processors.append(ProcessorView(p.name, _STATES[p.state], reason, message))
    outputs = outputs or OutputsView({}, None)
    variants = [
        VariantView(
            processor=v.processor,
            name=_variant_name(v.key),
            format=v.format,
            url=variant_url(delivery_url, v.key, found.etag),
            width=v.width,
            height=v.height,
            bytes=v.bytes,
            role=v.kind.value,
        )
        for p in found.processors()
        for v in p.variants
        if v.public  # facts come as ``description``; sidecars are nobody's
        and not found.held  # held for review: not offered until approved (docs/moderation.md)
    ]
    # one declared responsive set, never a mix of two (a watermarked and a clean one)
    srcset, picture = responsive_snippets(
        [v for v in variants if v.role == Role.RESPONSIVE and v.processor == outputs.srcset]
    )
    held = found.shown_status == HELD
    return UploadStatus(
        id=upload_id,
        key=key,
        filename=filename,
        status=found.shown_status,
        created_at=found.uploaded_at or found.first_seen_at or created_at,
        size=found.size if found.size is not None else size,
        content_type=found.content_type,
        width=found.width,
        height=found.height,
        processors=processors,
        variants=variants,
        srcset=srcset,
        picture=picture,
        description={
            name: dict(facts) for name, facts in found.descriptions.items() if outputs.facts_shown_to_owner(name)
        },
        held_reason=HELD_REASON if held else None,
    )


def summary_view(found: Round) -> UploadSummary:
    return UploadSummary(
        id=upload_id_of(found.key),
        filename=found.key.rsplit("/", 1)[-1],
        status=found.shown_status,
        created_at=found.uploaded_at or found.first_seen_at,
        size=found.size,
        variants=0 if found.held else sum(1 for v in found.variants if v.public),
    )


_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif", "gif": "image/gif"}
#: <source> order: the browser takes the first type it supports, so the smallest formats first
_SOURCE_ORDER = ("avif", "webp")
_FALLBACK_ORDER = ("jpeg", "png", "gif", "webp", "avif")


def responsive_snippets(variants: Sequence[VariantView]) -> tuple[str | None, str | None]:
    """A ``srcset`` and a ``<picture>`` from one responsive set (the caller picks it: the one
    declared the srcset), from those that share the largest one's aspect ratio."""
    variants = [v for v in variants if v.format in _MIME]
    if not variants:
        return None, None
    largest = max(variants, key=lambda v: v.width * v.height)
    ratio = largest.width / largest.height
    same_shape = [v for v in variants if abs(v.width / v.height - ratio) <= 0.02 * ratio]

    def srcset_of(fmt: str) -> str:
        chosen = sorted((v for v in same_shape if v.format == fmt), key=lambda v: v.width)
        return ", ".join(f"{v.url} {v.width}w" for v in chosen)

    formats = {v.format for v in same_shape}
    fallback = next(f for f in (*_FALLBACK_ORDER, *sorted(formats)) if f in formats)
    srcset = srcset_of(fallback)
    img_src = max((v for v in same_shape if v.format == fallback), key=lambda v: v.width)
    lines = ["<picture>"]
    for fmt in _SOURCE_ORDER:
        if fmt in formats and fmt != fallback:
            mime = _MIME.get(fmt, f"image/{fmt}")
            lines.append(f'  <source type="{mime}" srcset="{html.escape(srcset_of(fmt))}" sizes="100vw">')
    lines.append(
        f'  <img src="{html.escape(img_src.url)}" srcset="{html.escape(srcset)}" sizes="100vw" '
        f'width="{img_src.width}" height="{img_src.height}" alt="" loading="lazy" decoding="async">'
    )
    lines.append("</picture>")
    return srcset, "\n".join(lines)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Caller:
    """Who is asking: the ``sub`` claim the JWT authorizer verified."""

    sub: str
    claims: Mapping[str, Any] = field(default_factory=dict)


_SUB = re.compile(r"^[A-Za-z0-9-]{1,128}$")


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    """The caller from the authorizer's claims. The gateway already refused a bad token; this
    refuses a request that reached the function without one (a misconfigured route) instead of
    serving it as nobody. A ``sub`` becomes a key segment, so it must be key-safe."""
    sub = (claims or {}).get("sub")
    if not isinstance(sub, str) or not _SUB.match(sub):
        raise unauthorized()
    return Caller(sub, dict(claims or {}))
