"""purge's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.settings import setting

#: S3's DeleteObjects takes at most this many keys per call
MAX_DELETE_BATCH = 1000


@dataclass(frozen=True)
class Settings:
    #: keys per DeleteObjects call
    delete_batch_size: int = setting(1000, min=1, max=MAX_DELETE_BATCH)
