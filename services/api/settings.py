"""api's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import DEFAULT_MAX_BYTES
from imgpipe.settings import setting

#: S3's limit on one PUT (and so on one presigned PUT): 5 GiB
MAX_SINGLE_UPLOAD_BYTES = 5 * 1024**3


@dataclass(frozen=True)
class Settings:
    #: the largest upload accepted, in bytes; at most the processors' own max_bytes (a test holds it)
    max_bytes: int = setting(DEFAULT_MAX_BYTES, min=1, max=MAX_SINGLE_UPLOAD_BYTES)
    #: how long a presigned PUT stays usable: a short window, the URL is a bearer credential for one key
    upload_expiry_s: int = setting(300, min=30, max=3600)
    #: how long a signed part URL stays usable (clients sign parts just before sending them)
    part_expiry_s: int = setting(900, min=30, max=3600)
    #: new uploads (presigned PUTs and multipart uploads) per user per UTC day
    uploads_per_day: int = setting(200, min=1, max=100_000)
    #: uploads per page of GET /api/uploads (a client may ask for fewer)
    page_size: int = setting(20, min=1, max=100)
    #: calls of one signed-in caller per UTC minute, on every route (the page's status polling included);
    #: 429 with Retry-After beyond: one account cannot take the function's and the table's capacity
    requests_per_minute: int = setting(600, min=1, max=1_000_000)
