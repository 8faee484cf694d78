"""notify's pure part: what a round needs next, and the one email that closes it.

No I/O here. The notifier (``notifier.py``) records each event in the catalog, asks
:func:`next_step` what to do with the round it got back, and renders the email with
:func:`render_email`. See ``docs/notify.md`` for the state machine.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from imgpipe.catalog import (
    COMPLETED,
    DONE,
    FAILED,
    IGNORED,
    PARTIAL,
    PROCESSING,
    REJECTED,
    SILENT_STATUSES,
    SUPERSEDED,
    ProcessorState,
    Round,
)
from imgpipe.errors import Reason

# Steps
WAIT = "wait"  # some expected processor has not reported yet
EMAIL = "email"  # everyone reported: claim the email and send it
END = "end"  # end the round without an email (superseded, or nothing to announce)
NOTHING = "nothing"  # the round is over already

#: SNS rejects an empty message attribute value, so a key at the bucket root gets this prefix.
ROOT_PREFIX = "/"
# SNS: a subject is ASCII, has no line breaks, and is under 100 characters.
_SUBJECT_MAX = 99


@dataclass(frozen=True)
class Step:
    kind: str
    status: str = PROCESSING
    why: str = ""


def overall_status(states: list[ProcessorState]) -> str:
    """processing / completed / rejected / partial, from the expected processors' states."""
    if not states or any(s.state not in (DONE, FAILED) for s in states):
        return PROCESSING
    rejected = sum(s.state == FAILED for s in states)
    if rejected == 0:
        return COMPLETED
    return REJECTED if rejected == len(states) else PARTIAL


def next_step(r: Round) -> Step:
    """The round state machine (docs/notify.md). Depends only on what the catalog holds, so
    every event of a round, in any order and delivered any number of times, reaches the
    same decision once the last report is in."""
    if r.status in SILENT_STATUSES:
        return Step(NOTHING, r.status, "the round ended without an email")
    if r.email_message_id:
        return Step(NOTHING, r.status, "the email was sent")
    if any(rej.reason == Reason.SUPERSEDED for rej in r.rejections):
        # The object was overwritten before processing: its own event starts a new round,
        # which sends the one email about what is in the bucket now.
        return Step(END, SUPERSEDED, "the object was overwritten before it was processed")
    if not r.expected:
        return Step(END, IGNORED, "no variant producer handles this key")
    states = [r.processor(name) for name in r.expected]
    status = overall_status(states)
    if status == PROCESSING:
        return Step(
            WAIT, PROCESSING, "waiting for " + ", ".join(s.name for s in states if s.state not in (DONE, FAILED))
        )
    if r.notify is False:
        # A backfill without --notify: recorded like any round, ended without the email.
        return Step(END, status, "a backfill without --notify: no email")
    return Step(EMAIL, status, "every expected processor reported")


def key_prefix(key: str) -> str:
    """The key's first path segment, for SNS filtering: ``photos/cat.jpg`` -> ``photos``."""
    head, sep, _ = key.partition("/")
    return head if sep and head else ROOT_PREFIX


@dataclass(frozen=True)
class Email:
    subject: str
    body: str
    #: SNS message attributes: a str is sent as String, a list as String.Array.
    attributes: dict[str, str | list[str]] = field(default_factory=dict)


# --- uploader-chosen text, made inert -------------------------------------------------------
# An upload key (and what carries it: variant keys, rejection messages, the declared content
# type) is chosen by whoever uploads. Mail clients turn URL-like text into links, so an upload
# named "https://evil.example/reset" would otherwise become a clickable link in an email that
# imgpipe sent. Such text is shown defanged, the way security advisories quote indicators:
# visibly changed ("https[:]//evil[.]example/reset"), never with invisible characters.

#: a key is shown at most this long (characters), shortened in the middle
KEY_MAX = 200
#: a rejection message (it quotes the key) at most this long
MESSAGE_MAX = 500
#: file extensions a key may end with that no mail client takes for a domain (.zip and .mov are
#: real top-level domains, so they are not here and get defanged)
_IMAGE_EXTENSIONS = {"jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "bmp", "avif", "heic", "heif", "jxl"}
_FILE_EXTENSIONS = frozenset(_IMAGE_EXTENSIONS | {"svg", "json", "txt", "raw", "dng", "cr2", "nef", "arw", "orf"})
# "scheme:" as a URL starts (http:, javascript:, mailto:, data:...): letters first and no
# digits (times like "T18:43" stay), and no space after the colon (prose such as "limit: 300"
# stays). "s3://" is left as it is: no mail client opens it, and imgpipe's messages quote S3 URIs.
_SCHEME = re.compile(r"(?<![A-Za-z0-9+.\-])(?!s3:)([A-Za-z][A-Za-z+.\-]*):(?=[^\s\]])")
_AUTHORITY = re.compile(r"(?<!\bs3)://")
_WWW = re.compile(r"(?i)\b(www)\.")
_AT = re.compile(r"(?<!\[)@(?!\])")
# a host name: dotted labels that end a path segment and whose last label is a word, such as
# "evil.example/reset" or "login.evil.zip" (a file name such as "cat.jpg" is one too, and stays)
_HOST = re.compile(r"(?<![A-Za-z0-9.-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,63})(?=[/?#:\s\[\]]|$)")


def _strip_invisible(text: str) -> str:
    """Control characters and line breaks (CR/LF header or line injection) become '?'; format
    characters (bidi overrides such as U+202E, zero-width spaces) are removed: they only change
    how the rest reads."""
    out = []
    for c in text:
        category = unicodedata.category(c)
        if category in ("Cc", "Zl", "Zp"):
            out.append("?")
        elif category != "Cf":
            out.append(c)
    return "".join(out)


def _defang(text: str) -> str:
    text = _AUTHORITY.sub("[:]//", text)
    text = _SCHEME.sub(r"\1[:]", text)
    text = _WWW.sub(r"\1[.]", text)
    text = _AT.sub("[@]", text)
    return _HOST.sub(
        lambda m: m.group(0) if m.group(1).lower() in _FILE_EXTENSIONS else m.group(0).replace(".", "[.]"), text
    )


def _shorten(text: str, limit: int, ellipsis: str = "\u2026") -> str:
    """At most ``limit`` characters, the middle replaced by an ellipsis (a key's start and its
    file name are what identify it)."""
    if len(text) <= limit:
        return text
    keep = limit - len(ellipsis)
    return text[: (keep + 1) // 2] + ellipsis + text[len(text) - keep // 2 :]


def inert(text: str, limit: int = KEY_MAX) -> str:
    """Uploader-chosen text as an email shows it: invisible and control characters gone,
    nothing a mail client would make a link, at most ``limit`` characters (docs/notify.md)."""
    return _shorten(_defang(_strip_invisible(text)), limit)


def _ascii(text: str) -> str:
    """Accents dropped, anything else non-ASCII or a control character as '?'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in stripped)


def _subject(key: str, tail: str) -> str:
    """``imgpipe: <key> <tail>``, the key inert (see :func:`inert`), shortened in the middle to
    fit SNS's limit."""
    key, tail = _ascii(inert(key)), _ascii(tail)
    room = _SUBJECT_MAX - len("imgpipe: ") - len(tail) - 1
    if len(key) > room:
        keep = max(room - 3, 2)
        key = key[: keep // 2] + "..." + key[len(key) - (keep - keep // 2) :]
    return f"imgpipe: {key} {tail}"[:_SUBJECT_MAX]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _reasons(states: list[ProcessorState]) -> list[str]:
    return sorted({s.rejection.reason for s in states if s.rejection is not None})


def _images(s: ProcessorState) -> int:
    """The outputs that are pictures people may be linked to (not facts, not sidecars)."""
    return sum(1 for v in s.variants if v.public)


def subject_for(r: Round, status: str) -> str:
    states = [r.processor(n) for n in r.expected]
    produced = sum(_images(s) for s in states if s.state == DONE)
    if status == COMPLETED:
        return _subject(r.key, f"is ready ({_plural(produced, 'variant')})")
    reasons = ", ".join(_reasons([s for s in states if s.state == FAILED]))
    if status == REJECTED:
        return _subject(r.key, f"was rejected ({reasons})")
    return _subject(r.key, f"is partly ready ({_plural(produced, 'variant')}; rejected: {reasons})")


def _fmt_bytes(n: int | None) -> str:
    return "unknown size" if n is None else f"{n:,} bytes"


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return _plural(seconds // 86400, "day")
    if seconds % 3600 == 0:
        return _plural(seconds // 3600, "hour")
    return _plural(seconds, "second")


#: (bucket, key) -> presigned HTTPS GET URL
LinkFn = Callable[[str, str], str]


def _description_lines(facts: Mapping[str, Any] | None) -> list[str]:
    """What a processor reported about the upload (services/describe), in a few lines. The
    camera's text and the earlier key are the uploader's: inert like the key."""
    if not facts:
        return []
    lines = []
    if facts.get("duplicate_of"):
        lines.append(
            f"  near-duplicate of {inert(str(facts['duplicate_of']))} ({facts.get('duplicate_distance')} bits apart)"
        )
    palette = " ".join(inert(str(c.get("color")), 7) for c in facts.get("palette") or [] if isinstance(c, Mapping))
    if palette:
        lines.append(f"  colours {palette}")
    exif = facts.get("exif") if isinstance(facts.get("exif"), Mapping) else {}
    camera = " ".join(inert(str(exif[k]), 64) for k in ("make", "model", "lens") if exif.get(k))
    if camera or exif.get("taken_at"):
        lines.append("  " + "; ".join(p for p in (camera, inert(str(exif.get("taken_at") or ""), 32)) if p))
    return lines


def _held_email(r: Round, status: str) -> Email:
    """A held upload's email (docs/moderation.md): that it is held and why, no variant and no link
    until a person approves it. Label names come from the classifier: inert all the same."""
    key = inert(r.key)
    lines = [f"{key} is held for review: its variants are not offered until it is approved.", ""]
    lines += ["Upload", f"  s3://{r.bucket}/{key}", f"  etag {r.etag}; {_fmt_bytes(r.size)}"]
    for name in r.held_by:
        facts = r.descriptions.get(name, {})
        flagged = ", ".join(inert(str(x), 100) for x in facts.get("held_by") or []) or inert(
            str(facts.get("unchecked") or "no reason given"), MESSAGE_MAX
        )
        lines += ["", f"{name}: held ({flagged})"]
    lines += ["", "A reviewer releases it (imgpipe review approve) or rejects it (imgpipe review reject)."]
    attributes: dict[str, str | list[str]] = {"status": status, "prefix": key_prefix(r.key), "key": r.key}
    attributes["held"] = "true"
    return Email(_subject(r.key, "is held for review"), "\n".join(lines) + "\n", attributes)


def render_email(
    r: Round,
    status: str,
    *,
    link: LinkFn,
    link_expiry_s: int | None,
    now: datetime,
) -> Email:
    """The one email of a round: every variant with its ``s3://`` URI and a download link,
    and every rejection with its reason and message; for an upload held for review, only that."""
    if r.held:
        return _held_email(r, status)
    states = [r.processor(n) for n in r.expected]
    done = [s for s in states if s.state == DONE]
    failed = [s for s in states if s.state == FAILED]
    produced = sum(_images(s) for s in done)
    key = inert(r.key)
    headline = {
        COMPLETED: f"{key} is ready: {_plural(produced, 'variant')}.",
        PARTIAL: f"{key} is partly ready: {_plural(produced, 'variant')}; "
        f"{_plural(len(failed), 'processor')} rejected it.",
        REJECTED: f"{key} was rejected by every processor; no variant was made.",
    }[status]
    lines = [headline, "", "Upload", f"  s3://{r.bucket}/{key}"]
    facts = [f"etag {r.etag}", _fmt_bytes(r.size)]
    if r.format:
        facts.append(f"{r.format} {r.width}x{r.height}" if r.width and r.height else r.format)
    if r.content_type:
        facts.append(inert(r.content_type, 100))  # the uploader declared it
    if r.uploaded_at:
        facts.append(f"uploaded {r.uploaded_at}")
    lines.append("  " + "; ".join(facts))
    for s in states:
        lines.append("")
        if s.state == DONE:
            images = _images(s)
            lines.append(f"{s.name}: {_plural(images, 'variant')}" if images else f"{s.name}: facts about the upload")
            # Pictures only: facts are told below as lines, and their document (like a sidecar)
            # is never served, so a link to it would only ever answer 404.
            for v in (v for v in s.variants if v.public):
                # The variant key carries the upload key: inert too. The link is imgpipe's own.
                vkey = inert(v.key)
                lines += [
                    f"  {vkey}",
                    f"    {v.format}, {v.width}x{v.height}, {_fmt_bytes(v.bytes)}",
                    f"    s3://{v.bucket}/{vkey}",
                    f"    {link(v.bucket, v.key)}",
                ]
            lines += _description_lines(r.descriptions.get(s.name))
        elif s.rejection is not None:
            # A rejection message quotes the key (and so what the uploader chose)
            lines += [
                f"{s.name}: rejected ({inert(s.rejection.reason, 64)})",
                f"  {inert(s.rejection.message, MESSAGE_MAX)}",
            ]
    if produced and link_expiry_s is None:
        # the front door's CDN URLs (docs/api.md): no signature, nothing to expire
        lines += ["", "The links are served by the CDN and work for as long as the upload is kept."]
    elif produced:
        expires = datetime.fromtimestamp(now.timestamp() + link_expiry_s, tz=now.tzinfo)
        lines += [
            "",
            f"Download links expire after {_duration(link_expiry_s)} (at {expires:%Y-%m-%d %H:%M} UTC) at the latest.",
        ]
    # "key" lets a subscriber (or the local outbox) match an email to its upload exactly.
    attributes: dict[str, str | list[str]] = {"status": status, "prefix": key_prefix(r.key), "key": r.key}
    if failed:
        attributes["processor"] = sorted(s.name for s in failed)
        attributes["reason"] = _reasons(failed)
    return Email(subject_for(r, status), "\n".join(lines) + "\n", attributes)
