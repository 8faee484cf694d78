"""What the caller is shown of one upload, pure: its status from the catalog's round, the
variants it may fetch, the responsive snippets, and the answer to a deletion."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imgpipe.catalog import DONE, FAILED, PENDING, Round, VariantRecord
from imgpipe.catalog.model import HELD
from imgpipe.errors import Reason
from imgpipe.keys import cdn_url
from imgpipe.outputs import OutputsView, Role

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
class Deleted:
    id: str
    deleted: bool = True


_STATES = {DONE: "done", FAILED: "rejected", PENDING: "pending"}


#: ``<cdn>/v/<variant key>?v=<upload etag>``, as notify's email and ``imgpipe status`` build it
variant_url = cdn_url


def _variant_name(variant_key: str) -> str:
    return variant_key.rsplit("/", 1)[-1]


#: what a held upload's owner is told (nothing a classifier's output or threshold could be read from)
HELD_REASON = "This upload is waiting for a person to review it; it is published if they approve it."


def offered(found: Round, outputs: OutputsView | None) -> list[VariantRecord]:
    """The variants the caller may be given a link to: public images (facts come as
    ``description``; sidecars are nobody's) that the CDN serves, of a round not held for review
    (docs/moderation.md). The status route lists them and the list route counts them: one rule."""
    if found.held:
        return []
    outputs = outputs or OutputsView({}, None)
    return [v for p in found.processors() for v in p.variants if outputs.offered(v)]


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
        for v in offered(found, outputs)
    ]
    outputs = outputs or OutputsView({}, None)
    # one declared responsive set, never a mix of two (a watermarked and a clean one)
    srcset, picture = responsive_snippets([v for v in variants if v.role == Role.RESPONSIVE])
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
