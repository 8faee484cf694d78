"""docs/events.md and docs/notify.md show what the code does: their examples are the fixtures."""

from __future__ import annotations

import json

from imgpipe.events import parse_object_created, parse_pipeline_event, to_entry
from imgpipe.signing import verify
from tests.notify_support import EXAMPLE_EVENT_KEY, FIXTURES, ROOT, documented_filter_policies, json_blocks, unsigned


def test_every_fixture_is_shown_verbatim_in_events_md_and_parses() -> None:
    blocks = json_blocks((ROOT / "docs" / "events.md").read_text(encoding="utf-8"))
    fixtures = sorted(FIXTURES.glob("*.json"))
    assert len(fixtures) == 4
    shown = [json.loads(b) for b in blocks]
    for path in fixtures:
        event = json.loads(path.read_text(encoding="utf-8"))
        assert event in shown, f"{path.name} is not in docs/events.md"
        if event["source"] == "aws.s3":
            created = parse_object_created(event)
            assert created.upload.etag == "3858f62230ac3c915f300c664312c63f" and created.size == 2345678
        else:
            assert to_entry(parse_pipeline_event(event)) == (event["detail-type"], unsigned(event["detail"]))
            assert verify(EXAMPLE_EVENT_KEY, event), f"{path.name}'s signature is not the example key's"
    # and every JSON example in events.md is a fixture some test parses (purge's are in its folder's tests)
    all_fixtures = [json.loads(p.read_text(encoding="utf-8")) for p in FIXTURES.parent.rglob("*.json")]
    assert all(block in all_fixtures for block in shown)


def test_notify_md_filter_policies_use_the_attributes_notify_sets() -> None:
    policies = documented_filter_policies()
    assert policies and all(set(p) <= {"status", "prefix", "key", "processor", "reason"} for p in policies)
