"""The two kinds of failure (DESIGN.md section 2).

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


class Rejection(Exception):
    """The input is bad, permanently. Raise it from pure image code; the runtime reports it."""

    def __init__(self, reason: Reason | str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = Reason(reason)
        self.message = message


class TransientError(Exception):
    """A system failure worth retrying (throttling, partial PutEvents failure, 5xx)."""
