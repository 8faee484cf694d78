"""Forged pipeline events on the local stack's bus change nothing: put with boto3 ``put_events``
by "someone else in the account", they reach notify only if the rule lets them, and notify then
refuses them. No catalog write, no email, nothing in a DLQ."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from imgpipe.catalog import DynamoCatalog
from tests.e2e.conftest import SAMPLES, StartStack

PHOTO = (SAMPLES / "coffee.jpg").read_bytes()


class NotifyResults:
    """Wraps notify's handling of events (one alone, or a batch's of one round together) to keep
    what each event's handling returned."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def wrap(self, real: Any) -> Any:
        def handle_event(notifier: Any, event: dict[str, Any]) -> Any:
            result = real(notifier, event)
            with self._lock:
                self.results.append(result)
            return result

        return handle_event

    def wrap_together(self, real: Any) -> Any:
        def handle_together(notifier: Any, events: list[dict[str, Any]]) -> Any:
            results = real(notifier, events)
            with self._lock:
                self.results.extend(results)
            return results

        return handle_together


@pytest.fixture
def notify_results(monkeypatch: pytest.MonkeyPatch) -> NotifyResults:
    import services.notify.handler as module

    recorder = NotifyResults()
    # the handler looks it up at each call, for each event of a batch
    monkeypatch.setattr(module, "handle_event", recorder.wrap(module.handle_event))
    monkeypatch.setattr(module, "handle_together", recorder.wrap_together(module.handle_together))
    return recorder


def _entry(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": "default"}


def test_forged_events_on_the_bus_write_nothing_and_send_nothing(
    start_local_stack: StartStack, notify_results: NotifyResults
) -> None:
    with start_local_stack() as stack:
        key, etag = stack.put("photos/coffee.jpg", PHOTO)
        [report] = stack.wait([(key, etag)], timeout=60)
        assert report.status == "completed" and len(stack.emails) == 1
        real = next(v for v in report.variants if v.processor == "resize")
        # notify's events for the real round: its upload event and one per producer
        real_events = 1 + len({v.processor for v in report.variants})
        assert stack.wait_until(lambda: len(notify_results.results) >= real_events, timeout=30)
        before = len(notify_results.results)

        uploads, variants = stack.uploads_bucket, stack.variants_bucket
        upload = {"bucket": uploads, "key": key, "etag": etag}

        def variant(processor: str, vkey: str, bucket: str = variants, **up: str) -> dict[str, Any]:
            v = {
                "processor": processor,
                "bucket": bucket,
                "key": vkey,
                "format": "webp",
                "width": 1,
                "height": 1,
                "bytes": 1,
            }
            detail = {**upload, **up, "processor": processor, "variants": [v], "variant_count": 1}
            return {"version": 2, **detail, "settings_hash": "x"}

        rejected = {
            "version": 2,
            **upload,
            "processor": "convert",
            "reason": "corrupt_image",
            "message": "https://evil.example/reset",
        }
        # Those the rule lets through (a producer's exact source, this stack's uploads bucket):
        # notify itself must refuse them. None is signed with the stack's event key.
        in_pattern = [
            _entry("imgpipe.resize", "Variants Created", variant("resize", "resize/secrets/payroll.pdf/1.webp")),
            _entry("imgpipe.resize", "Variants Created", variant("resize", f"thumbnail/{key}/300x300.webp")),
            _entry("imgpipe.resize", "Variants Created", variant("resize", real.key, etag="0" * 32)),
            _entry("imgpipe.resize", "Variants Created", variant("resize", real.key, bucket="imgpipe-b-variants")),
            # the real upload and etag, a real variant: what a HEAD of the variant could not refuse
            _entry("imgpipe.resize", "Variants Created", variant("resize", real.key)),
            _entry("imgpipe.convert", "Image Rejected", rejected),
        ]
        # Those the rule does not even deliver (foreign sources, another bucket); notify would
        # refuse them too (services/notify/tests/test_forged.py).
        out_of_pattern = [
            _entry("attacker.resize", "Variants Created", variant("resize", real.key)),
            _entry("imgpipe.notify", "Image Rejected", rejected),
            _entry("imgpipe.evil", "Image Rejected", {**rejected, "processor": "evil"}),
            _entry("imgpipe.convert", "Image Rejected", {**rejected, "bucket": "attacker-bucket"}),
            # a second imgpipe stack in the same account: its own uploads bucket
            _entry("imgpipe.convert", "Image Rejected", {**rejected, "bucket": "imgpipe-b-uploads"}),
        ]
        events = stack.client("events")
        for entry in in_pattern + out_of_pattern:
            assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

        assert stack.wait_until(lambda: len(notify_results.results) >= before + len(in_pattern), timeout=60)
        time.sleep(3)  # anything the rules would still deliver
        refused = notify_results.results[before:]
        assert {r["step"] for r in refused} == {"forged"}, refused
        # refused by the signature, before anything else is read: nothing asked of S3
        assert [r["reason"] for r in refused] == ["bad_signature"] * len(in_pattern)

        catalog = DynamoCatalog(stack.deployment.catalog_table, dynamodb=stack.client("dynamodb"))
        [item] = catalog.history(uploads, key)  # the real round only
        assert item["etag"] == etag and item["status"] == "completed"
        assert all(len(p["variants"]) == p["variant_count"] for p in item["processors"].values())
        assert not any("payroll" in v["key"] for p in item["processors"].values() for v in p["variants"])
        assert catalog.history("imgpipe-b-uploads", key) == [] and catalog.history("attacker-bucket", key) == []
        assert len(stack.emails) == 1
        assert stack.dlq_depths() == {m.name: 0 for m in stack.manifests}
