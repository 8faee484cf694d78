"""Chaos on the local stack: 200 uploads while 30% of everything fails transiently.

Two layers of faults, both on every processor (resize, thumbnail, convert and notify):

- **invocations**: 30% of handler invocations fail, half of them before doing anything and half
  *after* doing all their work (a Lambda that times out after its side effects), so retries
  repeat writes, events and email attempts;
- **AWS calls** (:mod:`imgpipe_tools.testing.faults`, inside the handlers' boto3 clients): 30% of S3 reads and
  writes (503 SlowDown, 500, timeouts, a body that stalls half way), 30% of PutEvents calls (partial
  failure: some entries not delivered), 30% of SNS publishes (throttled or 500).

Then the outage ends, every processor's DLQs are redriven once (``dlq.redrive``, what
``imgpipe dlq redrive`` runs), and the promises are checked: every upload ``completed`` in the
catalog, every expected variant stored exactly once (nothing missing, nothing extra), exactly one
email per upload, and every DLQ empty. The counts are printed (``pytest -s``).

DynamoDB calls get no injected fault: notify's email is claim, publish, confirm, and a confirm
write that fails for good after SNS accepted the email leaves a claim that only goes stale after
``email_claim_timeout_s``; the round then either waits (not completed after one redrive) or sends
a second email. That window is a known, documented limit (docs/reliability.md, "Known limits");
under sustained faults botocore's retry quota drains and the window is hit every run.
"""

from __future__ import annotations

import importlib
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff

from imgpipe.catalog import COMPLETED, DynamoCatalog
from imgpipe.errors import TransientError
from imgpipe.keys import DONE_RECORD
from imgpipe.registry import discover
from imgpipe_tools.local import LocalStack
from imgpipe_tools.testing import faults
from tests import imagegen
from tests.e2e.conftest import StartStack

UPLOADS = int(os.environ.get("IMGPIPE_CHAOS_UPLOADS", "200"))
RATE = 0.3
# HEAD requests (three or four per invocation) are left out: with them, botocore's retry quota,
# shared by every handler thread of the local stack, runs dry within seconds and nearly every
# upload goes through the DLQ, which only makes the test slower, not stronger.
SPEC = "s3.get_object:0.3,s3.put_object:0.3,events.put_events:0.3,sns.publish:0.3"
PROCESSORS = [m.name for m in discover()]


class InvocationChaos:
    """Wraps handlers so that ``rate`` of invocations raise a transient error."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.enabled = True
        self.counts: Counter[tuple[str, str]] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _draw(self, name: str) -> str | None:
        with self._lock:
            if not self.enabled or self._rng.random() >= self.rate:
                return None
            when = self._rng.choice(("before", "after"))
            self.counts[(name, when)] += 1
            return when

    def wrap(self, name: str, real: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        def handler(event: dict[str, Any], context: Any) -> Any:
            when = self._draw(name)
            if when == "before":
                raise TransientError(f"chaos: {name} failed before doing anything")
            result = real(event, context)
            if when == "after":
                raise TransientError(f"chaos: {name} failed after doing its work")
            return result

        return handler


@pytest.fixture
def chaos(monkeypatch: pytest.MonkeyPatch) -> Iterator[InvocationChaos]:
    c = InvocationChaos(RATE, seed=2026)
    # botocore backs off up to seconds after a throttling error (1 s scale, doubling): right for
    # AWS, but hundreds of injected SlowDowns would make this test take many minutes. Shrink the
    # delays only; which errors are retried, how often, and the retry quota stay botocore's own.
    monkeypatch.setattr(
        ExponentialBackoff,
        "_DEFAULT_BACKOFF_CONFIG",
        {"throttling_base_scale": 0.02, "non_throttling_base_scale": 0.01},
    )
    for name in PROCESSORS:
        # The local stack loads each handler when it starts, so patch the modules first.
        module = importlib.import_module(f"services.{name}.handler")
        monkeypatch.setattr(module, "handler", c.wrap(name, module.handler))
    yield c


def _image(i: int) -> tuple[str, bytes]:
    """Small, distinct images (the test is about the plumbing, not the pixels)."""
    size = (48 + i % 17, 36 + i % 11)
    im = imagegen.gradient(size).rotate(i * 7)
    if i % 10 < 6:
        return f"chaos/{i:03d} photo.jpg", imagegen.jpeg(im, quality=80)
    if i % 10 < 9:
        im.putalpha(200)
        return f"chaos/ü/{i:03d}+alpha.png", imagegen.png(im)
    return f"chaos/{i:03d}.webp", imagegen.encode(im, "WEBP", quality=70)


def _stored_variants(stack: LocalStack) -> Counter[str]:
    s3 = stack.client("s3")
    keys: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.variants_bucket):
        keys.update(o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith(DONE_RECORD))
    return keys


@pytest.mark.slow
@pytest.mark.timeout(2000)
def test_chaos_200_uploads_30_percent_faults_one_redrive(start_local_stack: StartStack, chaos: InvocationChaos) -> None:
    started = time.monotonic()
    files = dict(_image(i) for i in range(UPLOADS))
    assert len(files) == UPLOADS
    with start_local_stack(workers=2, retry_delay_s=0.02) as stack:
        with faults.inject(SPEC, seed=7, only=PROCESSORS) as plan:
            uploads = [stack.put(key, data) for key, data in files.items()]

            def settled() -> bool:
                parked = {m.source_key for p in PROCESSORS for m in stack.dlq_messages(p)}
                return all(r.status != "timeout" or r.key in parked for r in stack.wait(uploads, timeout=0))

            # The outage lasts until every upload either finished or has a record in a DLQ.
            assert stack.wait_until(settled, timeout=1200, poll_s=2), "uploads neither finished nor parked"
            outage_s = time.monotonic() - started
            time.sleep(2)  # let in-flight retries land
            chaos.enabled = False
        during = Counter(r.status for r in stack.wait(uploads, timeout=0))
        parked = stack.dlq_depths()

        # The outage is over: one redrive per processor.
        redriven = {name: stack.redrive(name) for name in PROCESSORS}
        reports = stack.wait(uploads, timeout=600)
        by_processor = {n: {w: chaos.counts[(n, w)] for w in ("before", "after")} for n in PROCESSORS}
        redrive_s = time.monotonic() - started - outage_s
        print(
            f"\nchaos: {UPLOADS} uploads; outage {outage_s:.0f}s, after the redrive {redrive_s:.0f}s more\n"
            f"  invocations failed on purpose: {sum(chaos.counts.values())} {by_processor}\n"
            f"  AWS call faults injected: {plan.total} {plan.summary()}\n"
            f"  when the outage ended: {dict(during)}; DLQ records {parked}\n"
            f"  redriven: {redriven}\n"
            f"  after one redrive: {dict(Counter(r.status for r in reports))}, {len(stack.emails)} emails"
        )

        # Every upload completed, as the tracker (events + emails) and the catalog both say.
        assert Counter(r.status for r in reports) == {COMPLETED: UPLOADS}, [
            (r.key, r.status, r.failures) for r in reports if r.status != COMPLETED
        ]
        catalog = DynamoCatalog(stack.deployment.catalog_table, dynamodb=stack.client("dynamodb"))
        items = {key: catalog.latest(stack.uploads_bucket, key) for key in files}
        assert {k: i["status"] if i else None for k, i in items.items()} == dict.fromkeys(files, COMPLETED)

        # Every expected variant exists exactly once: the stored set is the catalog's set.
        expected_variants: Counter[str] = Counter()
        for item in items.values():
            assert item is not None
            for name, state in item["processors"].items():
                assert len(state["variants"]) == state["variant_count"] >= 1, (item["key"], name)
                expected_variants.update(v["key"] for v in state["variants"])
        assert set(expected_variants.values()) == {1}
        assert _stored_variants(stack) == expected_variants

        # Exactly one email per upload.
        emails = stack.emails
        per_upload = Counter(next(k for k in files if e.mentions(k)) for e in emails)
        assert len(emails) == UPLOADS
        assert per_upload == dict.fromkeys(files, 1)
        assert stack.dlq_depths() == dict.fromkeys(PROCESSORS, 0)

    print(
        f"  checked: {UPLOADS} completed in the catalog, {sum(expected_variants.values())} variants each stored "
        f"once, {len(emails)} emails (one per upload), DLQs empty"
    )
