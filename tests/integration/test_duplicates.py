"""At-least-once delivery: every event 2-3 times, in a shuffled order, across all processors.

EventBridge and Lambda's async invocation both deliver at least once, and nothing orders the
deliveries of different rules. So each upload's "Object Created" reaches every processor that
listens to uploads (the image processors and notify) 2-3 times each, and every pipeline event a
processor emits (re-emitted by each duplicate run too) reaches notify 2-3 times, all interleaved
at random (seeded). The processors are the discovered ones, whatever folders exist. A final
replay of everything (what a DLQ redrive of old records does) comes after the rounds completed.

The promises: variants are written once or overwritten with identical bytes, the catalog
converges to the right status, and exactly one email is sent per upload.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from imgpipe.catalog import COMPLETED, PARTIAL, REJECTED, DynamoCatalog
from imgpipe.events import VARIANTS_CREATED
from imgpipe.registry import discover, variant_producers
from tests import imagegen
from tests.hostile_corpus import HTML
from tests.moto_pipeline import TABLE, UPLOADS, VARIANTS, MotoPipeline, moto_pipeline

# key -> (bytes, the catalog status the round must end in)
UPLOADS_UNDER_TEST: dict[str, tuple[bytes, str]] = {
    "photos/cat.jpg": (imagegen.jpeg(imagegen.gradient((400, 300))), COMPLETED),
    "photos/with space + plus.png": (imagegen.png(imagegen.gradient((120, 90), "RGBA")), COMPLETED),
    "photos/ünïcode/héllo.gif": (imagegen.animated_gif(5, (60, 40)), COMPLETED),
    "oriented.jpg": (imagegen.oriented_jpeg(6, (80, 60)), COMPLETED),
    "docs/not-an-image.jpg": (HTML, REJECTED),
}
MANIFESTS = discover()
PRODUCERS = tuple(m.name for m in variant_producers(MANIFESTS))
#: who the pipeline's own events reach (notify)
PIPELINE_LISTENERS = tuple(m.name for m in MANIFESTS if m.listens_to_pipeline)


def _upload_listeners(key: str) -> list[str]:
    """The processors an upload's "Object Created" reaches: those whose uploads rules take ``key``."""
    return [m.name for m in MANIFESTS if any(t.matches_key(key) for t in m.upload_triggers())]


def _producers_for(key: str) -> list[str]:
    return [name for name in _upload_listeners(key) if name in PRODUCERS]


def _copies(rng: random.Random) -> int:
    return rng.choice((2, 3))


class Shuffler:
    """Delivers events to handlers in a random order, each 2-3 times, until nothing is left."""

    def __init__(self, pipeline: MotoPipeline, seed: int) -> None:
        self.p = pipeline
        self.rng = random.Random(seed)
        self.pending: list[tuple[str, dict[str, Any]]] = []
        self.delivered: Counter[str] = Counter()
        self.pipeline_events: list[dict[str, Any]] = []
        self.variant_etags: dict[str, set[str]] = {}

    def deliver(self, target: str, event: dict[str, Any]) -> None:
        self.pending += [(target, event)] * _copies(self.rng)

    def run(self) -> None:
        while self.pending:
            target, event = self.pending.pop(self.rng.randrange(len(self.pending)))
            self.p.invoke(target, event)  # raising here would be a retry/DLQ: the test fails
            self.delivered[target] += 1
            for emitted in self.p.drain_events():
                self.pipeline_events.append(emitted)
                for listener in PIPELINE_LISTENERS:
                    self.deliver(listener, emitted)
            if target in PRODUCERS:
                self._snapshot_variants()

    def _snapshot_variants(self) -> None:
        # ETag of every variant after every processor run: a changed ETag is a changed file.
        for page in self.p.s3.get_paginator("list_objects_v2").paginate(Bucket=VARIANTS):
            for obj in page.get("Contents", []):
                self.variant_etags.setdefault(obj["Key"], set()).add(obj["ETag"])


@pytest.fixture
def pipeline() -> Iterator[MotoPipeline]:
    with moto_pipeline(with_notify=True) as p:
        yield p


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [1, 2])
def test_duplicated_and_shuffled_deliveries_converge_with_one_email_each(pipeline: MotoPipeline, seed: int) -> None:
    p = pipeline
    shuffler = Shuffler(p, seed)
    created = {}
    for key, (data, _) in UPLOADS_UNDER_TEST.items():
        created[key] = p.created_event(key, p.upload(key, data), len(data))
        for target in _upload_listeners(key):
            shuffler.deliver(target, created[key])
    shuffler.run()
    # Late replays of everything, after the rounds have ended (a DLQ redrive of stale records).
    for key, event in created.items():
        for target in _producers_for(key):
            shuffler.deliver(target, event)
    for event in shuffler.pipeline_events:
        for target in PIPELINE_LISTENERS:
            shuffler.deliver(target, event)
    shuffler.run()

    # Variants: written once, or overwritten with identical bytes.
    changed = {k: v for k, v in shuffler.variant_etags.items() if len(v) > 1}
    assert not changed, f"variants rewritten with different bytes: {changed}"

    # Every announced variant exists, and nothing else does (besides the done records).
    announced = {
        v["key"]
        for e in shuffler.pipeline_events
        if e["detail-type"] == VARIANTS_CREATED
        for v in e["detail"]["variants"]
    }
    stored = set(p.variant_keys())
    assert announced == stored

    # The catalog converged: the right status, every expected processor reported once.
    catalog = DynamoCatalog(TABLE)
    emails = p.emails()
    message_ids = Counter(e["MessageId"] for e in emails)
    for key, (_, status) in UPLOADS_UNDER_TEST.items():
        item = catalog.latest(UPLOADS, key)
        assert item is not None, key
        assert item["status"] == status, (key, item["status"], item["processors"])
        assert set(item["expected"]) == set(_producers_for(key))
        for name in _producers_for(key):
            state = item["processors"][name]
            if status == COMPLETED:
                assert len(state["variants"]) == state["variant_count"] >= 1, (key, name, state)
            else:
                assert state["reason"], (key, name, state)
        assert item["email"]["message_id"] in message_ids, f"{key}: the recorded email was not published"

    # Exactly one email per upload, whatever the duplication.
    assert len(emails) == len(UPLOADS_UNDER_TEST), [e["Subject"] for e in emails]
    assert set(message_ids.values()) == {1}
    statuses = Counter(e["MessageAttributes"]["status"]["Value"] for e in emails)
    assert statuses == Counter(s for _, s in UPLOADS_UNDER_TEST.values())
    assert PARTIAL not in statuses
    print(
        f"seed {seed}: {sum(shuffler.delivered.values())} deliveries {dict(shuffler.delivered)}, "
        f"{len(shuffler.pipeline_events)} pipeline events, {len(stored)} variants, {len(emails)} emails"
    )
