"""Listing a caller's uploads, pure: the page size a request may ask for, and one upload's line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from imgpipe.catalog import Round
from imgpipe.outputs import OutputsView

from .errors import bad_request
from .keys import upload_id_of
from .status import offered

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


@dataclass(frozen=True)
class UploadSummary:
    id: str
    filename: str
    status: str
    created_at: str | None
    size: int | None
    variants: int


@dataclass(frozen=True)
class UploadPage:
    uploads: list[UploadSummary]
    next_cursor: str | None = None


def summary_view(found: Round, outputs: OutputsView | None = None) -> UploadSummary:
    """One upload's line; ``variants`` counts what its page offers the caller (:func:`.status.offered`)."""
    return UploadSummary(
        id=upload_id_of(found.key),
        filename=found.key.rsplit("/", 1)[-1],
        status=found.shown_status,
        created_at=found.uploaded_at or found.first_seen_at,
        size=found.size,
        variants=len(offered(found, outputs)),
    )
