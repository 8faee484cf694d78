"""A single upload, pure: the types accepted, what ``POST /api/uploads`` may ask for, the name its
key keeps, and the presigned PUT's ticket (what it signs, so it uploads once)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, bad_request
from .fields import constraint, is_json_int, json_object

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


MAX_FILENAME_CHARS = 255  # what the client may send
MAX_SANITIZED_CHARS = 100  # what the key keeps: S3 keys stay well under 1,024 bytes with variant prefixes


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class NewUpload:
    """``POST /api/uploads`` and ``POST /api/uploads/multipart``: the file the client will send."""

    filename: str = field(metadata=constraint(minLength=1, maxLength=255))
    #: exactly one of ACCEPTED_TYPES, as browsers and MIME libraries write them (lowercase)
    type: str = field(metadata=constraint(enum=list(ACCEPTED_TYPES)))
    size: int = field(metadata=constraint(minimum=1))


def parse_new_upload(body: Any, max_bytes: int) -> NewUpload:
    """Checked in the order a client can act on: the fields' shapes (400), the type (415), the size (413)."""
    raw = json_object(body)
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
    if not is_json_int(size) or size < 1:
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


@dataclass(frozen=True)
class UploadTicket:
    """A presigned PUT: send the file's bytes to ``url`` with exactly ``headers``. It works once."""

    id: str
    key: str
    method: str
    url: str
    headers: dict[str, str]
    expires: str


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
