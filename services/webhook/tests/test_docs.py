"""docs/webhooks.md shows the request this service makes of the documented completion event."""

from __future__ import annotations

import json
from pathlib import Path

from services.webhook.logic import delivery_for, parse_keys

ROOT = Path(__file__).resolve().parents[3]
#: the example key and timestamp the page signs with
SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj"
TIMESTAMP = 1795000000


def test_the_documented_request_is_what_the_service_sends() -> None:
    event = json.loads((ROOT / "tests/fixtures/events/completions/upload_completed.json").read_text(encoding="utf-8"))
    delivery = delivery_for(event, event["detail"]["bucket"])
    page = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    assert SECRET in page and f"at {TIMESTAMP}" in page
    for name, value in delivery.headers(parse_keys(SECRET), TIMESTAMP).items():
        assert f"\n{name}: {value}\n" in page, name
    body = delivery.body.decode()
    shown = next(line for line in page.splitlines() if line.startswith('{"data":'))
    head, _, tail = shown.partition("...")
    assert body.startswith(head) and body.endswith(tail)
