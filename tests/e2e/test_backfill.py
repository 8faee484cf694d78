"""``imgpipe backfill --local`` on the local stack: objects that were in the bucket before the
pipeline ran are processed without emails, skipped when current, redone when a setting
changes, and emailed about with ``--notify``."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imgpipe.backfill import summary_key
from imgpipe_tools.backfill import Options
from imgpipe_tools.cli import main
from imgpipe_tools.local import LocalStack
from imgpipe_tools.local.invoker import Outcome
from imgpipe_tools.resources import ENV_STATE_FILE, write_state
from tests.e2e.conftest import PRODUCERS, StartStack
from tests.imagegen import photo

# The scenario is 200 objects (IMGPIPE_BACKFILL_OBJECTS=200, about 20 minutes on a busy 2-core
# machine); make test runs 20 to stay within its time budget: every object goes through five services,
# three times, in one Python process (the local stack's GIL), and a run over current objects decodes them
# again (the skip evidence is checked after processing: docs/reliability.md).
N = int(os.environ.get("IMGPIPE_BACKFILL_OBJECTS", "20"))


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    photo((96, 64), seed=seed).save(buf, "JPEG", quality=80)
    return buf.getvalue()


class Outcomes:
    """Every handler invocation's end, by processor (the stack reports them to its tracker)."""

    def __init__(self, stack: LocalStack) -> None:
        self.items: list[Outcome] = []
        self._cond = threading.Condition()
        tracker = stack.tracker
        assert tracker is not None
        original = tracker.on_outcome

        def record(outcome: Outcome) -> None:
            original(outcome)
            with self._cond:
                self.items.append(outcome)
                self._cond.notify_all()

        tracker.on_outcome = record  # type: ignore[method-assign]

    def take(self, per_producer: int, timeout: float = 600) -> dict[str, Counter[str]]:
        """Wait for ``per_producer`` outcomes of each producer; then their statuses, by producer."""

        def enough() -> bool:
            counts = Counter(o.processor for o in self.items)
            return all(counts[p] >= per_producer for p in PRODUCERS)

        with self._cond:
            assert self._cond.wait_for(enough, timeout), Counter(o.processor for o in self.items)
            taken, self.items = self.items, []
        return {p: Counter(o.result["status"] for o in taken if o.processor == p and o.ok) for p in PRODUCERS}


def _variants(stack: LocalStack) -> dict[str, tuple[str, Any]]:
    s3 = stack.client("s3")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.variants_bucket):
        for o in page.get("Contents", []):
            if not o["Key"].startswith("_backfill/"):
                found[o["Key"]] = (o["ETag"], o["LastModified"])
    return found


def _put_silently(stack: LocalStack, objects: dict[str, bytes]) -> list[tuple[str, str]]:
    """Put objects while the bucket sends no events: as if the pipeline had not been deployed."""
    s3 = stack.client("s3")
    s3.put_bucket_notification_configuration(Bucket=stack.uploads_bucket, NotificationConfiguration={})
    try:
        uploads = []
        for key, data in objects.items():
            etag = s3.put_object(Bucket=stack.uploads_bucket, Key=key, Body=data)["ETag"].strip('"')
            uploads.append((key, etag))
    finally:
        s3.put_bucket_notification_configuration(
            Bucket=stack.uploads_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    return uploads


def _set_setting(stack: LocalStack, processor: str, name: str, value: Any) -> None:
    """Change a processor's setting in the running stack (what a redeploy with -c settings does)."""
    invoker = stack.invokers[processor]
    invoker.config = dataclasses.replace(invoker.config, settings={**invoker.config.settings, name: value})


@pytest.fixture
def stack(start_local_stack: StartStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    with start_local_stack(workers=2) as s:
        state = tmp_path / "local.json"
        write_state(s.deployment, state)
        monkeypatch.setenv(ENV_STATE_FILE, str(state))
        yield s


def _backfill(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["backfill", "--local", "--json", "--rate", "2000", "--max-concurrency", "4", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


# Three runs over N objects through one Python process (moto and every handler share its GIL): with
# 200, the first two took about 9 minutes on a shared 2-core machine (load average near 10).
@pytest.mark.timeout(1800)
def test_backfill_processes_old_objects_silently_skips_current_ones_and_redoes_a_changed_setting(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = Outcomes(stack)
    uploads = _put_silently(stack, {f"old/{i:03d}.jpg": _jpeg(i) for i in range(N)})
    assert stack.tracker is not None
    assert not stack.wait_until(lambda: bool(stack.tracker.reports()), timeout=1)  # no event went out
    assert _variants(stack) == {}

    # 1. everything is made, nobody is emailed, the catalog is filled
    summary = _backfill(capsys)
    assert summary["counts"]["dispatched"] == N and summary["failed_count"] == 0
    reports = stack.wait(uploads, timeout=600)
    assert Counter(r.status for r in reports) == {"completed": N}
    assert all(r.emails == 0 for r in reports)
    assert outcomes.take(N) == {p: Counter(processed=N) for p in PRODUCERS}
    assert stack.emails == []
    from imgpipe.catalog import DynamoCatalog

    catalog = DynamoCatalog(stack.deployment.catalog_table, dynamodb=stack.client("dynamodb"))
    # the tracker saw every report; notify records the last ones on its own queue, maybe a moment later
    assert stack.wait_until(
        lambda: (catalog.latest(stack.uploads_bucket, "old/007.jpg") or {}).get("status") == "completed", timeout=120
    )
    item = catalog.latest(stack.uploads_bucket, "old/007.jpg")
    assert item is not None and item["email"]["sent_at"] is None
    s3 = stack.client("s3")
    written = json.loads(s3.get_object(Bucket=stack.variants_bucket, Key=summary_key(summary["run"]))["Body"].read())
    assert written["counts"]["dispatched"] == N
    before = _variants(stack)

    # 2. same settings: every processor skips, nothing is written
    _backfill(capsys)
    assert outcomes.take(N) == {p: Counter(skipped=N) for p in PRODUCERS}
    assert _variants(stack) == before

    # 3. a new resize width: resize alone remakes its variants
    _set_setting(stack, "resize", "widths", [64, 320])
    _backfill(capsys)
    statuses = outcomes.take(N)
    assert statuses["resize"] == Counter(processed=N)
    assert all(statuses[p] == Counter(skipped=N) for p in PRODUCERS if p != "resize")
    after = _variants(stack)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed and all(k.startswith("resize/") for k in changed)
    assert "resize/old/007.jpg/64w.jpg" in after
    assert {k for k in before if not k.startswith("resize/")} <= set(after)
    assert stack.emails == []


def test_backfill_with_notify_sends_one_email_per_upload(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    uploads = _put_silently(stack, {f"later/{i}.jpg": _jpeg(i) for i in range(5)})
    _put_silently(stack, {"elsewhere/x.jpg": _jpeg(99)})
    summary = _backfill(capsys, "--prefix", "later/", "--notify")
    assert summary["total"] == 5
    reports = stack.wait(uploads, timeout=120)
    assert [(r.status, r.emails) for r in reports] == [("completed", 1)] * 5
    assert sorted(e.subject.split()[1] for e in stack.emails) == [k for k, _ in uploads]


def test_backfill_of_one_service_finishes_rounds_no_earlier_run_opened(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    uploads = _put_silently(stack, {f"one/{i}.jpg": _jpeg(i) for i in range(3)})
    summary = _backfill(capsys, "--prefix", "one/", "--services", "resize")
    assert summary["counts"]["dispatched"] == 3
    reports = stack.wait(uploads, timeout=120)
    assert [r.status for r in reports] == ["completed"] * 3
    assert {k.split("/")[0] for k in _variants(stack)} == {"resize"}
    from imgpipe.catalog import DynamoCatalog

    catalog = DynamoCatalog(stack.deployment.catalog_table, dynamodb=stack.client("dynamodb"))
    assert stack.wait_until(
        lambda: (catalog.latest(stack.uploads_bucket, "one/0.jpg") or {}).get("status") == "completed", timeout=120
    )
    item = catalog.latest(stack.uploads_bucket, "one/0.jpg")
    assert item is not None and item["expected"] == ["resize"]


def test_bad_input_starts_nothing(stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _put_silently(stack, {"old/cat.jpg": _jpeg(1)})
    empty = tmp_path / "keys.txt"
    empty.write_text("# nothing\n")
    # what a run of the whole bucket leaves while it goes: its lock, held by a live process
    (tmp_path / f"backfill-{Options().fingerprint()}.lock").write_text(str(os.getpid()))
    cases = {
        ("--services", "resize,sepia"): "no service named sepia",
        ("--prefix", "nothing-here/"): "empty selection",
        ("--keys", str(empty)): "empty selection",
        ("--modified-since", "last tuesday"): "not a date",
        ("--detach",): "need a deployed stack",
        (): "already running",
    }
    for args, message in cases.items():
        assert main(["backfill", "--local", *args]) == 2, args
        assert message in capsys.readouterr().err, args
    time.sleep(1)
    everything = stack.client("s3").list_objects_v2(Bucket=stack.variants_bucket).get("KeyCount", 0)
    assert everything == 0  # no variant, no summary: nothing was delivered
