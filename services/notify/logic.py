"""notify's pure part: what a round needs next, and the one email that closes it.

No I/O here. The service (``service.py``) records each event in the catalog, asks
:func:`next_step` what to do with the round it got back, and renders the email with
:func:`render_email`. See ``docs/notify.md`` for the state machine.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

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


def _ascii(text: str) -> str:
    """Accents dropped, anything else non-ASCII or a control character as '?'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in stripped)


def _subject(key: str, tail: str) -> str:
    """``imgpipe: <key> <tail>``, shortening the key in the middle to fit SNS's limit."""
    key, tail = _ascii(key), _ascii(tail)
    room = _SUBJECT_MAX - len("imgpipe: ") - len(tail) - 1
    if len(key) > room:
        keep = max(room - 3, 2)
        key = key[: keep // 2] + "..." + key[len(key) - (keep - keep // 2) :]
    return f"imgpipe: {key} {tail}"[:_SUBJECT_MAX]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _reasons(states: list[ProcessorState]) -> list[str]:
    return sorted({s.rejection.reason for s in states if s.rejection is not None})


def subject_for(r: Round, status: str) -> str:
    states = [r.processor(n) for n in r.expected]
    produced = sum(len(s.variants) for s in states if s.state == DONE)
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


def render_email(
    r: Round,
    status: str,
    *,
    link: LinkFn,
    link_expiry_s: int,
    now: datetime,
) -> Email:
    """The one email of a round: every variant with its ``s3://`` URI and a download link,
    and every rejection with its reason and message."""
    states = [r.processor(n) for n in r.expected]
    done = [s for s in states if s.state == DONE]
    failed = [s for s in states if s.state == FAILED]
    produced = sum(len(s.variants) for s in done)
    headline = {
        COMPLETED: f"{r.key} is ready: {_plural(produced, 'variant')}.",
        PARTIAL: f"{r.key} is partly ready: {_plural(produced, 'variant')}; "
        f"{_plural(len(failed), 'processor')} rejected it.",
        REJECTED: f"{r.key} was rejected by every processor; no variant was made.",
    }[status]
    lines = [headline, "", "Upload", f"  s3://{r.bucket}/{r.key}"]
    facts = [f"etag {r.etag}", _fmt_bytes(r.size)]
    if r.format:
        facts.append(f"{r.format} {r.width}x{r.height}" if r.width and r.height else r.format)
    if r.content_type:
        facts.append(r.content_type)
    if r.uploaded_at:
        facts.append(f"uploaded {r.uploaded_at}")
    lines.append("  " + "; ".join(facts))
    for s in states:
        lines.append("")
        if s.state == DONE:
            lines.append(f"{s.name}: {_plural(len(s.variants), 'variant')}")
            for v in s.variants:
                lines += [
                    f"  {v.key}",
                    f"    {v.format}, {v.width}x{v.height}, {_fmt_bytes(v.bytes)}",
                    f"    s3://{v.bucket}/{v.key}",
                    f"    {link(v.bucket, v.key)}",
                ]
        elif s.rejection is not None:
            lines += [f"{s.name}: rejected ({s.rejection.reason})", f"  {s.rejection.message}"]
    if produced:
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
