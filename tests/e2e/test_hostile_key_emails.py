"""Uploads named to be clicked, or to break a line, end with one inert email on the local stack."""

from __future__ import annotations

import re

from imgpipe_tools.local import LocalStack
from tests.e2e.conftest import SAMPLES

PHOTO = (SAMPLES / "coffee.jpg").read_bytes()
KEYS = [
    "https://evil.example/reset",
    "javascript:alert(1).jpg",
    "www.evil.example/cat.jpg",
    # a CR (moto's HTTP server cannot route an LF in a path; the unit tests cover CR/LF)
    "photos/cat.jpg\rBcc: victim@example.com",
    "photos/\u202egpj.exe",
    "photos/" + "a" * 900 + ".jpg",
]
_LINKABLE = re.compile(r"(?i)(https?://(?!imgpipe-local-variants)|javascript:|\bwww\.|victim@)")


def test_each_hostile_key_gets_one_email_with_nothing_clickable_but_notify_s_own_links(local_stack: LocalStack) -> None:
    uploads = [local_stack.put(key, PHOTO) for key in KEYS]
    reports = local_stack.wait(uploads, timeout=120)
    assert [r.status for r in reports] == ["completed"] * len(KEYS), [(r.key, r.status, r.waiting_for) for r in reports]
    emails = local_stack.emails
    assert len(emails) == len(KEYS)
    for email in emails:
        body = "\n".join(line for line in email.body.splitlines() if not line.strip().startswith("http://"))
        for text in (email.subject, body):
            assert _LINKABLE.search(text) is None, text
            assert "\r" not in text and "\u202e" not in text
        assert len(email.subject) < 100
    assert local_stack.dlq_depths() == {m.name: 0 for m in local_stack.manifests}
