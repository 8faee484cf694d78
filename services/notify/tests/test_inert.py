"""Emails never carry uploader-chosen text as a link: hostile keys are shown inert."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from imgpipe.catalog import COMPLETED, REJECTED, RejectionRecord, Round, VariantRecord

from ..logic import KEY_MAX, inert, render_email

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
LINK = "https://variants.s3.example/{key}?X-Amz-Signature=abc"
# What mail clients turn into links: a scheme and "//", a known scheme with ":", "www.", an
# address, or a dotted name ending in a top-level-domain-like word.
_LINKABLE = re.compile(
    r"(?i)([a-z][a-z0-9+.-]*://|\b(javascript|data|vbscript|mailto|file|https?|ftp):|\bwww\.|[\w.+-]@[\w-]+\.|"
    r"\b[a-z0-9-]+\.(com|example|evil|zip|mov|net|org)\b)"
)
HOSTILE = [
    "https://evil.example/reset",
    "HTTPS://EVIL.EXAMPLE/RESET",
    "photos/https://evil.example/reset.jpg",
    "javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "www.evil.example",
    "photos/WWW.evil.example/a.jpg",
    "reset@evil.example",
    "evil.example/reset",
    "login.evil.zip",
    "https://evil.example:8080/x",
    "h\u200bttps://evil.example/reset",  # a zero-width space must not survive to hide the scheme
    "photos/cat.jpg\r\nBcc: victim@example.com\r\n\r\nhttps://evil.example",
    "photos/\u202egpj.exe",  # RIGHT-TO-LEFT OVERRIDE: shows as "exe.jpg"
    "photos/\u2066x\u2069\u200f.jpg",
]


def _round(key: str, **kw: object) -> Round:
    variants = (VariantRecord("resize", "variants", f"resize/{key}/320w.webp", "webp", 320, 240, 1000, 1),)
    base: dict[str, object] = {
        "bucket": "uploads",
        "key": key,
        "etag": "e1",
        "expected": ("resize",),
        "variants": variants,
    }
    return Round(**{**base, **kw})  # type: ignore[arg-type]


def _email_text(key: str) -> tuple[str, str, list[str]]:
    """Subject, body without notify's own links, and those links."""
    email = render_email(_round(key), COMPLETED, link=lambda b, k: LINK.format(key=quote(k)), link_expiry_s=60, now=NOW)
    lines = email.body.splitlines()
    links = [line.strip() for line in lines if line.strip().startswith("https://variants.s3.example/")]
    rest = "\n".join(line for line in lines if not line.strip().startswith("https://variants.s3.example/"))
    return email.subject, rest, links


@pytest.mark.parametrize("key", HOSTILE)
def test_a_hostile_key_is_never_linkable_in_subject_or_body(key: str) -> None:
    subject, body, links = _email_text(key)
    for text in (subject, body):
        found = _LINKABLE.search(text.replace("s3://", ""))
        assert found is None, f"{found.group(0)!r} in {text!r}" if found else ""
        assert not any(unicodedata.category(c) in ("Cf", "Zl", "Zp") for c in text)
    # the subject is one line; the body has no line the key brought
    assert "\n" not in subject and "\r" not in subject and "\r" not in body
    assert not any(line.startswith(("Bcc", "https://evil")) for line in body.splitlines())
    # notify's own presigned link stays a link
    assert len(links) == 1 and links[0].startswith("https://")


def test_the_chosen_rendering_is_visible_and_readable() -> None:
    assert inert("https://evil.example/reset") == "https[:]//evil[.]example/reset"
    assert inert("javascript:alert(1)") == "javascript[:]alert(1)"
    assert inert("www.evil.example") == "www[.]evil[.]example"
    assert inert("a\r\nb") == "a??b"
    assert inert("photos/\u202egpj.exe") == "photos/gpj[.]exe"
    # ordinary keys are shown as they are
    for key in ("photos/cat.jpg", "chaos/ü/001+alpha.png", "2026/11/22T18:43:48Z cat.heic", "photos/100%.jpg"):
        assert inert(key) == key


def test_a_1000_character_key_is_capped_with_an_ellipsis_in_the_middle() -> None:
    key = "photos/" + "a" * 600 + "https://evil.example/" + "b" * 372 + ".jpg"
    shown = inert(key)
    assert len(shown) == KEY_MAX and "\u2026" in shown
    assert shown.startswith("photos/aaa") and shown.endswith("bbb.jpg")
    subject, body, _ = _email_text(key)
    assert len(subject) < 100
    assert max(len(line) for line in body.splitlines() if not line.strip().startswith("https://")) < KEY_MAX + 40


def test_rejection_messages_and_the_declared_content_type_are_inert_too() -> None:
    key = "https://evil.example/reset"
    r = _round(
        key,
        variants=(),
        rejections=(
            RejectionRecord("resize", "corrupt_image", f"s3://uploads/{key} is not an image\r\nvisit www.evil.example"),
        ),
        content_type="text/html; see https://evil.example",
    )
    email = render_email(r, REJECTED, link=lambda b, k: "unused", link_expiry_s=60, now=NOW)
    assert _LINKABLE.search(email.body.replace("s3://", "")) is None
    assert "s3://uploads/https[:]//evil[.]example/reset is not an image??visit www[.]evil[.]example" in email.body
