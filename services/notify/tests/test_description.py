"""What a processor reports about an upload (services/describe's facts) in the catalog's view and
in the email; the uploader's text in it (an earlier key, the camera's strings) is shown inert."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from imgpipe.catalog import COMPLETED, Round, VariantRecord

from ..logic import render_email

NOW = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)
FACTS = {
    "width": 600,
    "height": 400,
    "palette": [{"color": "#a63a19", "fraction": 0.28}, {"color": "#e4bc98", "fraction": 0.1}],
    "exif": {"make": "FUJIFILM", "model": "X-T5 https://evil.example/x", "taken_at": "2026-11-21T09:12:44+01:00"},
    "duplicate_of": "photos/www.evil.example/first.jpg",
    "duplicate_distance": 2,
}


def _round() -> Round:
    variant = VariantRecord(
        "describe", "variants", "describe/photos/cat.jpg/description.json", "json", 600, 400, 667, 1
    )
    item = {
        "bucket": "uploads",
        "key": "photos/cat.jpg",
        "etag": "e1",
        "expected": ["describe"],
        f"v#describe#{variant.key}": {**variant.__dict__, "description": json.dumps(FACTS)},
    }
    return Round.from_item(item)


def test_the_catalog_view_shows_the_facts_under_their_processor() -> None:
    view = _round().as_dict()
    assert view["processors"]["describe"]["state"] == "done"
    assert view["processors"]["describe"]["description"] == FACTS
    assert "description" not in view["processors"]["describe"]["variants"][0]


def test_the_email_shows_the_facts_inert() -> None:
    body = render_email(_round(), COMPLETED, link=lambda b, k: f"https://x/{k}", link_expiry_s=60, now=NOW).body
    assert "near-duplicate of photos/www[.]evil[.]example/first.jpg (2 bits apart)" in body
    assert "colours #a63a19 #e4bc98" in body
    assert "FUJIFILM X-T5 https[:]//evil[.]example/x; 2026-11-21T09:12:44+01:00" in body
    assert "https://evil" not in body


def test_a_round_without_facts_renders_as_before() -> None:
    r = Round.from_item({"bucket": "uploads", "key": "k.jpg", "etag": "e", "expected": []})
    assert r.descriptions == {} and "description" not in json.dumps(r.as_dict())


def test_the_email_links_no_facts_document() -> None:
    # facts are told as lines; their document is data the CDN never serves: no link to a 404
    body = render_email(_round(), COMPLETED, link=lambda b, k: f"https://x/{k}", link_expiry_s=60, now=NOW).body
    assert "description.json" not in body and "https://x/" not in body
    assert "describe: facts about the upload" in body
