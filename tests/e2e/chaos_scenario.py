"""The chaos scenario, shared by ``tests/e2e/test_chaos.py`` (one run, with assertions) and
``bench/chaos_loop.py`` (many runs, counts only).

One run: start a local stack, upload ``uploads`` small images while two layers of faults hit
every processor (resize, thumbnail, convert and notify):

- **invocations**: ``rate`` of handler invocations fail, half before doing anything and half
  *after* doing all their work (a Lambda that times out after its side effects), so retries repeat
  writes, events and email attempts;
- **AWS calls** (:mod:`imgpipe_tools.testing.faults`, inside the handlers' boto3 clients): S3 reads
  and writes, PutEvents (partial failures), SNS publishes, and DynamoDB ``UpdateItem`` / ``Query``
  / ``GetItem`` (throttling, 500).

The outage lasts until every upload finished or has a record in a DLQ. Then, once notify's
unconfirmed email claims can have gone stale (``email_claim_timeout_s`` after the outage, see
docs/notify.md "The one email"), every processor's DLQs are redriven once, and the outcome of
every upload is collected.
"""

from __future__ import annotations

import contextlib
import importlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.retries.standard import ExponentialBackoff

from imgpipe.catalog import DynamoCatalog
from imgpipe.errors import TransientError
from imgpipe.registry import discover
from imgpipe_tools.local import LocalStack
from imgpipe_tools.local.tracker import COMPLETED, PARTIAL, REJECTED, TIMEOUT, UploadReport
from imgpipe_tools.testing import faults
from tests import imagegen

RATE = 0.3
# HEAD requests (three or four per invocation) are left out: with them, botocore's retry quota,
# shared by every handler thread of the local stack, runs dry within seconds and nearly every
# upload goes through the DLQ, which only makes the test slower, not stronger.
SPEC = (
    "s3.get_object:0.3,s3.put_object:0.3,events.put_events:0.3,sns.publish:0.3,"
    "dynamodb.update_item:0.3,dynamodb.query:0.3,dynamodb.get_item:0.3"
)
PROCESSORS = [m.name for m in discover(services=None)]  # a default deployment's
#: notify's claim timeout in the chaos stack: an unconfirmed claim (its confirm write failed
#: for good) is taken over this long after it was made. Shorter than the deployed 45 s so that a
#: run does not idle; still far above a notify invocation's duration here, so a live holder is
#: never robbed.
CLAIM_TIMEOUT_S = 10


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


@contextlib.contextmanager
def chaos_handlers(seed: int, rate: float = RATE) -> Iterator[InvocationChaos]:
    """Every processor's handler wrapped by an :class:`InvocationChaos`, and botocore's backoff
    delays shrunk, for the duration of the block (patch before the stack starts: it loads the
    handlers when it starts)."""
    chaos = InvocationChaos(rate, seed)
    # botocore backs off up to seconds after a throttling error (1 s scale, doubling): right for
    # AWS, but hundreds of injected SlowDowns would make a run take many minutes. Shrink the
    # delays only; which errors are retried, how often, and the retry quota stay botocore's own.
    backoff = ExponentialBackoff._DEFAULT_BACKOFF_CONFIG  # type: ignore[attr-defined]
    ExponentialBackoff._DEFAULT_BACKOFF_CONFIG = {  # type: ignore[attr-defined]
        "throttling_base_scale": 0.02,
        "non_throttling_base_scale": 0.01,
    }
    originals = {}
    for name in PROCESSORS:
        module = importlib.import_module(f"services.{name}.handler")
        originals[name] = module.handler
        module.handler = chaos.wrap(name, module.handler)
    try:
        yield chaos
    finally:
        for name, real in originals.items():
            importlib.import_module(f"services.{name}.handler").handler = real
        ExponentialBackoff._DEFAULT_BACKOFF_CONFIG = backoff  # type: ignore[attr-defined]


def image(i: int) -> tuple[str, bytes]:
    """Small, distinct images (the scenario is about the plumbing, not the pixels)."""
    size = (48 + i % 17, 36 + i % 11)
    im = imagegen.gradient(size).rotate(i * 7)
    if i % 10 < 6:
        return f"chaos/{i:03d} photo.jpg", imagegen.jpeg(im, quality=80)
    if i % 10 < 9:
        im.putalpha(200)
        return f"chaos/ü/{i:03d}+alpha.png", imagegen.png(im)
    return f"chaos/{i:03d}.webp", imagegen.encode(im, "WEBP", quality=70)


def stored_variants(stack: LocalStack) -> Counter[str]:
    s3 = stack.client("s3")
    keys: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.variants_bucket):
        keys.update(o["Key"] for o in page.get("Contents", []))
    return keys


@dataclass
class ChaosRun:
    uploads: int
    files: dict[str, bytes]
    reports: list[UploadReport]
    #: catalog item (``Catalog.latest``) per upload key
    items: dict[str, dict[str, Any] | None]
    stored: Counter[str]
    emails_per_upload: Counter[str]
    emails: int
    dlq_at_end: dict[str, int]
    #: upload keys with a record in some DLQ after the redrive
    parked_keys: set[str]
    invocation_faults: dict[str, dict[str, int]]
    call_faults: dict[str, int]
    during_outage: dict[str, int]
    parked_after_outage: dict[str, int]
    redriven: dict[str, dict[str, int]]
    outage_s: float
    redrive_s: float
    details: list[str] = field(default_factory=list)

    def outcome(self, report: UploadReport) -> str:
        """completed / rejected / dlq / lost: what became of one upload after the redrive."""
        if report.status in (COMPLETED, PARTIAL):
            return "completed"
        if report.status == REJECTED:
            return "rejected"
        if report.key in self.parked_keys:
            return "dlq"
        return "lost"  # neither finished, rejected nor in a DLQ: the case to hunt

    def counts(self) -> dict[str, int]:
        c = Counter(self.outcome(r) for r in self.reports)
        return {
            "completed": c["completed"],
            "rejected": c["rejected"],
            "dlq": c["dlq"],
            "lost": c["lost"],
            "duplicate_emails": self.duplicate_emails,
        }

    @property
    def duplicate_emails(self) -> int:
        """Emails beyond the first, summed over the uploads (docs/notify.md "The one email")."""
        return sum(n - 1 for n in self.emails_per_upload.values() if n > 1)

    def summary(self) -> str:
        return (
            f"chaos: {self.uploads} uploads; outage {self.outage_s:.0f}s, "
            f"after the redrive {self.redrive_s:.0f}s more\n"
            f"  invocations failed on purpose: {sum(sum(v.values()) for v in self.invocation_faults.values())} "
            f"{self.invocation_faults}\n"
            f"  AWS call faults injected: {sum(self.call_faults.values())} {self.call_faults}\n"
            f"  when the outage ended: {self.during_outage}; DLQ records {self.parked_after_outage}\n"
            f"  redriven: {self.redriven}\n"
            f"  after one redrive: {dict(Counter(r.status for r in self.reports))}, {self.emails} emails, "
            f"{self.duplicate_emails} duplicate emails, DLQs {self.dlq_at_end}\n"
            f"  outcome: {self.counts()}"
        )


def run(
    uploads: int,
    *,
    outbox: Path,
    seed: int = 7,
    chaos_seed: int = 2026,
    spec: str = SPEC,
    rate: float = RATE,
    outage_timeout_s: float = 1200,
    settle_timeout_s: float = 600,
) -> ChaosRun:
    """One chaos run on a fresh local stack; returns what became of every upload."""
    started = time.monotonic()
    files = dict(image(i) for i in range(uploads))
    settings = {"notify": {"email_claim_timeout_s": CLAIM_TIMEOUT_S}}
    with (
        chaos_handlers(chaos_seed, rate) as chaos,
        LocalStack.start(outbox=outbox, workers=2, retry_delay_s=0.02, settings=settings) as stack,
    ):
        with faults.inject(spec, seed=seed, only=PROCESSORS) as plan:
            ids = [stack.put(key, data) for key, data in files.items()]

            def settled() -> bool:
                parked = {m.source_key for p in PROCESSORS for m in stack.dlq_messages(p)}
                return all(r.status != TIMEOUT or r.key in parked for r in stack.wait(ids, timeout=0))

            # The outage lasts until every upload either finished or has a record in a DLQ.
            stack.wait_until(settled, timeout=outage_timeout_s, poll_s=2)
            outage_s = time.monotonic() - started
            time.sleep(2)  # let in-flight retries land
            chaos.enabled = False
        during = dict(Counter(r.status for r in stack.wait(ids, timeout=0)))
        parked = stack.dlq_depths()
        # The operator redrives once the outage is over; by then any claim left unconfirmed
        # during the outage is stale and may be taken over (otherwise its round's replays wait).
        time.sleep(max(0.0, CLAIM_TIMEOUT_S + 1 - (time.monotonic() - started - outage_s)))
        redriven = {name: stack.redrive(name) for name in PROCESSORS}
        reports = stack.wait(ids, timeout=settle_timeout_s)
        redrive_s = time.monotonic() - started - outage_s
        emails = stack.emails
        per_upload = Counter(next((k for k in files if e.mentions(k)), "?") for e in emails)
        catalog = DynamoCatalog(stack.deployment.catalog_table, dynamodb=stack.client("dynamodb"))
        return ChaosRun(
            uploads=uploads,
            files=files,
            reports=reports,
            items={key: catalog.latest(stack.uploads_bucket, key) for key in files},
            stored=stored_variants(stack),
            emails_per_upload=per_upload,
            emails=len(emails),
            dlq_at_end=stack.dlq_depths(),
            parked_keys={m.source_key for p in PROCESSORS for m in stack.dlq_messages(p)},
            invocation_faults={n: {w: chaos.counts[(n, w)] for w in ("before", "after")} for n in PROCESSORS},
            call_faults=plan.summary(),
            during_outage=during,
            parked_after_outage=parked,
            redriven=redriven,
            outage_s=outage_s,
            redrive_s=redrive_s,
        )
