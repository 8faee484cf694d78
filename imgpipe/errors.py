"""The two kinds of failure (docs/architecture.md, section 5).

A :class:`Rejection` is a permanent verdict on the *input*: it is never retried, it is
reported as an "Image Rejected" event and the handler returns normally. Anything else
that escapes a handler is treated as transient: Lambda retries it and then parks the
invocation in the processor's failure DLQ.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Reason codes carried by "Image Rejected" events. Stable: subscribers filter on them."""

    UNSUPPORTED_FORMAT = "unsupported_format"
    CORRUPT_IMAGE = "corrupt_image"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_LARGE = "too_large"
    TOO_MANY_FRAMES = "too_many_frames"
    EMPTY_OBJECT = "empty_object"
    OBJECT_MISSING = "object_missing"
    # The object was overwritten (new etag) before this event was processed; the newer
    # upload has its own event and its own round, so this one ends here.
    SUPERSEDED = "superseded"
    # The upload's key is so long that a variant key would pass S3's 1,024-byte limit.
    KEY_TOO_LONG = "key_too_long"
    # The variants' metadata (which carries the percent-encoded key) would pass S3's 2 KB.
    METADATA_TOO_LARGE = "metadata_too_large"
    # Encrypted with a customer-provided key (SSE-C): nobody but the uploader can read it.
    CUSTOMER_ENCRYPTED = "customer_encrypted"
    # In an archive storage class (Glacier, Deep Archive, an archive tier): not readable until restored.
    ARCHIVED = "archived"


class Rejection(Exception):
    """The input is bad, permanently. Raise it from pure image code; the runtime reports it."""

    def __init__(self, reason: Reason | str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = Reason(reason)
        self.message = message


class TransientError(Exception):
    """A system failure worth retrying (throttling, partial PutEvents failure, 5xx)."""
