"""An upload's id and where it lives, pure: ``users/<owner>/<id>/<name>``."""

from __future__ import annotations

import re
import secrets

USERS_PREFIX = "users/"
#: 16 random bytes, base64url (22 characters): unguessable, and safe in a key and a path; a
#: multipart upload's id ends with ``-<declared size>`` (see :func:`multipart_upload_id`)
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{22}(-[1-9][0-9]{0,11})?$")
_RANDOM_CHARS = 22


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


def user_prefix(owner: str) -> str:
    return f"{USERS_PREFIX}{owner}/"


def upload_prefix(owner: str, upload_id: str) -> str:
    return f"{user_prefix(owner)}{upload_id}/"


def upload_key(owner: str, upload_id: str, name: str) -> str:
    return f"{upload_prefix(owner, upload_id)}{name}"


def upload_id_of(key: str) -> str:
    """``users/<owner>/<id>/<name>`` -> ``<id>``."""
    return key.split("/")[2]
