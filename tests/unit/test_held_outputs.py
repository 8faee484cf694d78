"""Held uploads are unservable (imgpipe/outputs.py, docs/moderation.md): with a service that may
hold uploads deployed, producers write every public output held (tagged) in the same PUT; notify
releases a round that ends not held before its email; a held round stays held until a reviewer
approves it. Without such a service nothing is tagged and nothing is released. On fakes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from imgpipe.catalog import APPROVED
from imgpipe.config import Config
from imgpipe.events import Upload, VariantInfo, VariantsCreated, to_entry
from imgpipe.keys import settings_hash
from imgpipe.limits import Limits
from imgpipe.outputs import VISIBILITY_TAG, held_tags, held_until_released, is_held
from imgpipe.registry import DEFAULT_ROOT, StackNames, discover, expected_producers_spec, function_config
from imgpipe.runtime import Output, UploadProcessor
from imgpipe.settings import as_data, setting
from imgpipe_tools.review import review
from imgpipe_tools.testing.fakes import FakePublisher, FakeStorage
from imgpipe_tools.testing.memory_catalog import MemoryCatalog
from services.notify.logic import Email
from services.notify.notifier import Notifier
from tests.events import object_created

NOW = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
UP, VAR = "uploads", "variants"
STACK = StackNames(uploads_bucket=UP, variants_bucket=VAR)


@dataclass(frozen=True)
class _Settings(Limits):
    q: int = setting(1, min=1)


def _processor(storage: FakeStorage, *, role: str = "responsive", gated: bool = False) -> UploadProcessor:
    """A producer of one 640w JPEG, writing into ``storage``."""
    return UploadProcessor(
        processor="demo",
        process=lambda data, s: [Output("640w", "jpeg", b"x", 640, 480)],
        storage=storage,
        publisher=FakePublisher(),
        variants_bucket=VAR,
        settings={"q": 1},
        settings_type=_Settings,
        output_role=role,
        outputs_gated=gated,
    )


def _write(gated: bool, role: str) -> FakeStorage:
    storage = FakeStorage()
    etag = storage.add(UP, "photos/cat.jpg", b"image")
    _processor(storage, role=role, gated=gated).handle(object_created(UP, "photos/cat.jpg", etag))
    return storage


def test_only_a_deployment_with_a_holding_service_gates_its_outputs() -> None:
    assert held_until_released(discover(DEFAULT_ROOT, services="+moderate"))
    assert not held_until_released(discover(DEFAULT_ROOT, services=None))
    gated = StackNames(UP, VAR, outputs_gated=True)
    [resize] = [m for m in discover(DEFAULT_ROOT) if m.name == "resize"]
    assert Config.from_env(function_config(resize, gated).as_env()).outputs_gated
    assert "IMGPIPE_OUTPUTS_GATED" not in function_config(resize, STACK).as_env()


def test_a_gated_producer_writes_its_public_outputs_held_in_the_same_put() -> None:
    storage = _write(gated=True, role="responsive")
    visibility = {VISIBILITY_TAG: "responsive:demo"}
    assert storage.tags[(VAR, "demo/photos/cat.jpg/640w.jpg")] == {**visibility, **held_tags()}
    # no moderation: its visibility only (what the CDN serves by); facts are never served: no tag
    assert _write(False, "responsive").tags[(VAR, "demo/photos/cat.jpg/640w.jpg")] == visibility
    assert not any(_write(True, "facts").tags.values())


def test_outputs_written_before_their_visibility_tag_are_redone_not_skipped() -> None:
    """An output written untagged (before visibility was decided per object) is never served, so
    the skip evidence must not call it current: a re-run (the backfill) rewrites it tagged."""
    storage = FakeStorage()
    etag = storage.add(UP, "photos/cat.jpg", b"image")
    key = "demo/photos/cat.jpg/640w.jpg"
    # as written before: the same bytes, this upload's etag, the settings' hash alone, no tag
    old_hash = settings_hash(as_data(_Settings()))
    metadata = {"source-etag": etag, "settings-hash": old_hash}
    storage.put(VAR, key, b"x", content_type="image/jpeg", metadata=metadata)
    storage.puts.clear()
    processor = _processor(storage)
    result = processor.handle(object_created(UP, "photos/cat.jpg", etag))
    assert result.status == "processed", result
    assert storage.puts == [(VAR, key)]
    assert storage.tags[(VAR, key)] == {VISIBILITY_TAG: "responsive:demo"}
    # and once tagged, a re-run skips it as current
    assert processor.handle(object_created(UP, "photos/cat.jpg", etag)).status == "skipped"


class _Sender:
    def __init__(self, storage: FakeStorage) -> None:
        self.storage = storage
        self.held_when_sent: list[bool] = []

    def send(self, email: Email) -> str:
        # what a reader clicking the email's links would find
        self.held_when_sent.append(any(is_held(t) for t in self.storage.tags.values()))
        return "m-1"


def _events(key: str, facts: dict[str, Any] | None) -> list[dict[str, Any]]:
    upload = Upload(UP, key, "e1")
    created = {"bucket": {"name": UP}, "object": {"key": key, "etag": "e1", "size": 10}}
    out = [{"source": "aws.s3", "detail-type": "Object Created", "time": "2026-12-05T00:59:00Z", "detail": created}]
    for proc, name, fmt, role, f in (
        ("resize", "640w.jpg", "jpeg", "responsive", None),
        ("moderate", "moderation.json", "json", "facts", facts),
    ):
        info = VariantInfo(proc, VAR, f"{proc}/{key}/{name}", fmt, 640, 480, 100, role=role)
        hold = bool(f and f.get("held"))
        detail_type, detail = to_entry(VariantsCreated(upload, info.processor, (info,), "0123456789abcdef", f, hold))
        out.append({"source": f"imgpipe.{proc}", "detail-type": detail_type, "detail": detail})
    return out


def _notify(storage: FakeStorage, key: str, held: bool) -> tuple[MemoryCatalog, _Sender]:
    catalog, sender = MemoryCatalog(), _Sender(storage)
    spec = expected_producers_spec(discover(DEFAULT_ROOT, services="moderate,resize"))
    notifier = Notifier(
        catalog=catalog,
        sender=sender,
        link=lambda b, k: f"https://cdn/{k}",
        expected_spec=spec,
        uploads_bucket=UP,
        variants_bucket=VAR,
        settings={"link_expiry_s": 3600},
        releaser=storage,
        clock=lambda: NOW,
    )
    storage.put(VAR, f"resize/{key}/640w.jpg", b"x", content_type="image/jpeg", metadata={}, tags=held_tags())
    for event in _events(key, {"held": held, "held_by": ["Violence"] if held else []}):
        notifier.handle(event)
    return catalog, sender


def test_notify_releases_a_round_that_ends_not_held_before_its_email() -> None:
    storage = FakeStorage()
    _, sender = _notify(storage, "photos/ok.jpg", held=False)
    assert sender.held_when_sent == [False]
    assert storage.releases == [(VAR, ["resize/photos/ok.jpg/640w.jpg"])]  # not the facts document


def test_a_held_round_stays_unservable_until_a_reviewer_approves_it() -> None:
    storage = FakeStorage()
    catalog, sender = _notify(storage, "photos/HOLD-ME.jpg", held=True)
    assert sender.held_when_sent == [True] and storage.releases == []
    assert is_held(storage.tags[(VAR, "resize/photos/HOLD-ME.jpg/640w.jpg")])
    review(
        catalog,
        storage,
        bucket=UP,
        variants_bucket=VAR,
        key="photos/HOLD-ME.jpg",
        decision=APPROVED,
        now=NOW,
        releaser=storage,
    )
    assert not is_held(storage.tags[(VAR, "resize/photos/HOLD-ME.jpg/640w.jpg")])


class _Recording(MemoryCatalog):
    """The catalog, noting each write that makes a round read finished or approved to readers
    (the API shows ``status`` and ``review`` as soon as they are written)."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__()
        self.calls = calls

    def claim_email(self, *args: Any, **kwargs: Any) -> bool:
        self.calls.append("status written")
        return super().claim_email(*args, **kwargs)

    def end_silently(self, *args: Any, **kwargs: Any) -> bool:
        self.calls.append("status written")
        return super().end_silently(*args, **kwargs)

    def record_review(self, *args: Any, **kwargs: Any) -> bool:
        self.calls.append("review written")
        return super().record_review(*args, **kwargs)


class _RecordingStorage(FakeStorage):
    def __init__(self, calls: list[str]) -> None:
        super().__init__()
        self.calls = calls

    def release(self, bucket: str, keys: Any) -> None:
        self.calls.append("released")
        super().release(bucket, keys)


def _ordered(key: str, held: bool, *, notify: bool = True) -> tuple[list[str], _Recording, _RecordingStorage]:
    calls: list[str] = []
    catalog, storage = _Recording(calls), _RecordingStorage(calls)

    class _Announcer:
        def put(self, completion: Any) -> None:
            calls.append(f"announced {completion.detail_type}")

    spec = expected_producers_spec(discover(DEFAULT_ROOT, services="moderate,resize"))
    notifier = Notifier(
        catalog=catalog,
        sender=_Sender(storage),
        link=lambda b, k: f"https://cdn/{k}",
        expected_spec=spec,
        uploads_bucket=UP,
        variants_bucket=VAR,
        settings={"link_expiry_s": 3600},
        releaser=storage,
        announcer=_Announcer(),
        clock=lambda: NOW,
    )
    storage.put(VAR, f"resize/{key}/640w.jpg", b"x", content_type="image/jpeg", metadata={}, tags=held_tags())
    events = _events(key, {"held": held, "held_by": ["Violence"] if held else []})
    if not notify:
        # a backfill without --notify: the round ends without an email, by end_silently
        events[0]["detail"]["imgpipe"] = {"backfill": "run-1", "notify": False}
    for event in events:
        notifier.handle(event)
    return calls, catalog, storage


@pytest.mark.parametrize("notify", [True, False])
def test_outputs_are_servable_before_the_round_reads_finished(notify: bool) -> None:
    # the API answers ``completed`` from the round's status: a link it hands out must work then
    calls, _, _ = _ordered("photos/ok.jpg", held=False, notify=notify)
    # and before the completion event, whose URLs a receiver may fetch at once
    assert calls.index("released") < calls.index("status written")
    assert calls.index("released") < calls.index("announced Upload Completed")
    assert calls.count("released") == 1


def test_approval_releases_before_the_round_reads_approved() -> None:
    calls, catalog, storage = _ordered("photos/HOLD-ME.jpg", held=True)
    assert "released" not in calls
    calls.clear()
    review(
        catalog,
        storage,
        bucket=UP,
        variants_bucket=VAR,
        key="photos/HOLD-ME.jpg",
        decision=APPROVED,
        now=NOW,
        releaser=storage,
    )
    assert calls == ["released", "review written"]
