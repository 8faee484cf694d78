"""Chaos on the local stack: 100 uploads (IMGPIPE_CHAOS_UPLOADS=200 for the full run) while 30% of everything
fails transiently.

The scenario is in :mod:`tests.e2e.chaos_scenario` (``bench/chaos_loop.py`` runs it many times):
30% of every processor's invocations fail (half before doing anything, half after all their
work), and 30% of S3 reads and writes, PutEvents, SNS publishes and DynamoDB ``UpdateItem`` /
``Query`` / ``GetItem`` calls fail inside the handlers' boto3 clients. Then the outage ends, every
processor's DLQs are redriven once, and the promises are checked: every upload ``completed`` in
the catalog, every expected variant stored exactly once (nothing missing, nothing extra), at least
one email per upload, and every DLQ empty.

A second email is possible in one documented window (docs/notify.md "The one email"): SNS
accepted the email and the write that confirms it failed for good. DynamoDB faults open that
window, so the duplicates are counted and printed (``pytest -s``) and bounded; every round must
still end with a confirmed email in the catalog (no claim left hanging).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from imgpipe.catalog import COMPLETED
from tests.e2e import chaos_scenario

# 100 keeps make test within its time budget; bench/chaos_loop.py repeats the scenario at any size.
UPLOADS = int(os.environ.get("IMGPIPE_CHAOS_UPLOADS", "100"))
#: duplicates are a rare crash window, not the norm: a run with more than this share of
#: uploads emailed twice means the window widened (a regression), not bad luck
DUPLICATE_SHARE_MAX = 0.05


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_chaos_uploads_with_30_percent_faults_and_one_redrive(tmp_path: Path) -> None:
    run = chaos_scenario.run(UPLOADS, outbox=tmp_path / "outbox")
    files, reports = run.files, run.reports
    print("\n" + run.summary())

    # Every upload completed, as the tracker (events + emails) and the catalog both say.
    assert Counter(r.status for r in reports) == {COMPLETED: UPLOADS}, [
        (r.key, r.status, r.failures, r.waiting_for) for r in reports if r.status != COMPLETED
    ]
    assert run.counts()["lost"] == 0
    items = run.items
    assert {k: i["status"] if i else None for k, i in items.items()} == dict.fromkeys(files, COMPLETED)

    # Every expected variant exists exactly once: the stored set is the catalog's set.
    expected_variants: Counter[str] = Counter()
    for item in items.values():
        assert item is not None
        for name, state in item["processors"].items():
            assert len(state["variants"]) == state["variant_count"] >= 1, (item["key"], name)
            expected_variants.update(v["key"] for v in state["variants"])
    assert set(expected_variants.values()) == {1}
    assert run.stored == expected_variants

    # At least one email per upload; a second one only through the documented window.
    assert set(run.emails_per_upload) == set(files), "an email about no upload, or an upload without one"
    assert all(run.emails_per_upload[k] >= 1 for k in files)
    assert run.emails == UPLOADS + run.duplicate_emails
    assert run.duplicate_emails <= DUPLICATE_SHARE_MAX * UPLOADS, run.duplicate_emails
    for key, n in run.emails_per_upload.items():
        item = items[key]
        assert item is not None and item["email"]["message_id"], (key, n, item)
    assert run.dlq_at_end == dict.fromkeys(chaos_scenario.PROCESSORS, 0)

    print(
        f"  checked: {UPLOADS} completed in the catalog, {sum(expected_variants.values())} variants each stored "
        f"once, {run.emails} emails ({run.duplicate_emails} duplicates), DLQs empty"
    )
