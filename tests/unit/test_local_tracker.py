"""The local runtime's verdict on an upload, from pipeline events, DLQ outcomes and emails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imgpipe.events import ImageRejected, Upload, VariantInfo, VariantsCreated, to_entry
from imgpipe.manifest import Manifest, parse_manifest
from imgpipe_tools.local.invoker import Outcome
from imgpipe_tools.local.outbox import Email
from imgpipe_tools.local.tracker import Tracker, UploadReport
from tests.events import object_created

BUCKET = "uploads"


def _manifest(name: str, *, produces: bool = True, **trigger: Any) -> Manifest:
    triggers = [{"source": "uploads", **trigger}]
    if not produces:
        triggers.append({"source": "pipeline"})
    raw = {"memory_mb": 256, "timeout_s": 10, "produces_variants": produces, "triggers": triggers}
    if produces:
        raw["outputs"] = {"role": "responsive"}
    return parse_manifest(Path("services") / name, raw)


MANIFESTS = [_manifest("resize"), _manifest("thumbnail"), _manifest("notify", produces=False)]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _event(pipeline_event: VariantsCreated | ImageRejected) -> dict[str, Any]:
    detail_type, detail = to_entry(pipeline_event)
    return {"detail-type": detail_type, "source": "imgpipe.x", "detail": detail}


def _variant(key: str, processor: str, name: str, count: int, etag: str = "e1") -> dict[str, Any]:
    info = VariantInfo(processor, "variants", f"{processor}/{key}/{name}.webp", "webp", 10, 10, 99)
    return _event(VariantsCreated(Upload(BUCKET, key, etag), info.processor, (info,), "h"))


def _rejected(key: str, processor: str, reason: str = "unsupported_format", etag: str = "e1") -> dict[str, Any]:
    return _event(ImageRejected(Upload(BUCKET, key, etag), processor, reason, "bad"))


def _email(key: str) -> Email:
    return Email(f"imgpipe: {key} is ready", "...", {"key": key})


def _status(t: Tracker, key: str = "a.jpg") -> str:
    return t.report(key, "e1").status


def test_completed_once_every_producer_made_all_its_variants_and_the_email_arrived() -> None:
    clock, seen = Clock(), []
    t = Tracker(MANIFESTS, on_terminal=seen.append, clock=clock)
    t.on_event(object_created(BUCKET, "a.jpg", "e1"))
    t.on_event(_variant("a.jpg", "resize", "320w", 2))
    t.on_event(_variant("a.jpg", "resize", "320w", 2))  # a duplicate does not count twice
    t.on_event(_variant("a.jpg", "thumbnail", "300x300", 1))
    assert _status(t) == "timeout"  # resize has 1 of its 2 variants
    t.on_event(_variant("a.jpg", "resize", "640w", 2))
    assert _status(t) == "timeout"  # every variant is there, the email is not
    clock.now = 102.5
    t.on_email(_email("a.jpg"))

    report = t.report("a.jpg", "e1")
    assert (report.status, len(report.variants), report.emails) == ("completed", 3, 1)
    assert report.seconds == 2.5
    assert [r.status for r in seen] == ["completed"]


def test_rejected_by_all_is_rejected_and_by_some_is_partial() -> None:
    t = Tracker(MANIFESTS)
    t.on_event(_rejected("a.jpg", "resize"))
    t.on_event(_rejected("a.jpg", "thumbnail"))
    t.on_email(_email("a.jpg"))
    assert _status(t) == "rejected"
    assert t.report("a.jpg", "e1").as_json()["rejections"][0] == {
        "processor": "resize",
        "reason": "unsupported_format",
        "message": "bad",
    }

    t.on_event(_variant("b.jpg", "resize", "320w", 1))
    t.on_event(_rejected("b.jpg", "thumbnail", "too_many_pixels"))
    t.on_email(_email("b.jpg"))
    assert _status(t, "b.jpg") == "partial"


def test_a_dlq_failure_is_terminal_without_email_and_a_redrive_reopens_it() -> None:
    t = Tracker(MANIFESTS)
    created = object_created(BUCKET, "a.jpg", "e1")
    t.on_event(_variant("a.jpg", "resize", "320w", 1))
    t.on_outcome(Outcome("thumbnail", created, ok=False, attempts=3, error_type="TransientError", error_message="x"))
    report = t.report("a.jpg", "e1")
    assert (report.status, report.failures) == ("failed", (("thumbnail", "TransientError: x"),))

    t.reopen("thumbnail", created)
    assert _status(t) == "timeout"
    t.on_outcome(Outcome("thumbnail", created, ok=True, attempts=1))
    t.on_event(_variant("a.jpg", "thumbnail", "300x300", 1))
    t.on_email(_email("a.jpg"))
    assert _status(t) == "completed"


def test_notify_failing_is_a_failure_too() -> None:
    t = Tracker(MANIFESTS)
    t.on_event(_variant("a.jpg", "resize", "320w", 1))
    t.on_event(_variant("a.jpg", "thumbnail", "300x300", 1))
    failed = Outcome("notify", _variant("a.jpg", "thumbnail", "300x300", 1), ok=False, attempts=3)
    t.on_outcome(failed)
    assert _status(t) == "failed"


def test_silent_endings_need_no_email() -> None:
    narrowed = [_manifest("resize", prefixes=["photos/"]), _manifest("notify", produces=False)]
    t = Tracker(narrowed)
    t.on_event(object_created(BUCKET, "docs/a.txt", "e1"))
    assert _status(t, "docs/a.txt") == "completed"  # no producer reaches the key: nothing to wait for

    t.on_event(_rejected("photos/b.jpg", "resize", "superseded"))
    assert _status(t, "photos/b.jpg") == "rejected"  # the newer upload gets the email


def test_uploads_are_told_apart_by_etag_and_by_exact_key() -> None:
    t = Tracker(MANIFESTS)
    for key in ("a.jpg", "x/a.jpg"):
        t.on_event(_variant(key, "resize", "320w", 1))
        t.on_event(_variant(key, "thumbnail", "300x300", 1))
    t.on_email(_email("x/a.jpg"))
    assert (_status(t, "a.jpg"), _status(t, "x/a.jpg")) == ("timeout", "completed")
    assert t.report("a.jpg", "e2").status == "timeout"  # another upload of the same key


def test_wait_returns_timeout_for_pending_uploads() -> None:
    t = Tracker(MANIFESTS)
    [report] = t.wait([("a.jpg", "e1")], timeout=0)
    assert isinstance(report, UploadReport)
    assert (report.status, report.terminal) == ("timeout", False)


def test_email_matching_without_a_key_attribute_needs_the_whole_key() -> None:
    email = Email("imgpipe: x/cat.jpg is ready", "x/cat.jpg is ready: 2 variants.\n")
    assert email.mentions("x/cat.jpg")
    assert not email.mentions("cat.jpg")
    assert not email.mentions("x/cat.jp")


def test_a_pending_upload_says_what_it_waits_for() -> None:
    t = Tracker(MANIFESTS)
    t.on_event(_variant("a.jpg", "resize", "320w", 1))
    assert t.report("a.jpg", "e1").waiting_for == ("thumbnail",)
    t.on_event(_variant("a.jpg", "thumbnail", "300x300", 1))
    assert t.report("a.jpg", "e1").waiting_for == ("email",)
    t.on_email(_email("a.jpg"))
    assert t.report("a.jpg", "e1").waiting_for == ()
