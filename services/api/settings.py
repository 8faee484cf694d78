"""api's settings: defaults are the values manifest.toml states (a test holds them equal)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import DEFAULT_MAX_BYTES
from imgpipe.settings import setting

#: S3's limit on one PUT (and so on one presigned POST): 5 GiB
MAX_SINGLE_UPLOAD_BYTES = 5 * 1024**3


@dataclass(frozen=True)
class Settings:
    max_bytes: int = setting(DEFAULT_MAX_BYTES, min=1, max=MAX_SINGLE_UPLOAD_BYTES)
    # a short window: the URL is a bearer credential for one key
    upload_expiry_s: int = setting(300, min=30, max=3600)
    part_expiry_s: int = setting(900, min=30, max=3600)
    uploads_per_day: int = setting(200, min=1, max=100_000)
    page_size: int = setting(20, min=1, max=100)
