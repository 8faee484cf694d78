"""The processor runtime around a pure process(), with in-memory fakes (no AWS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from imgpipe.errors import Reason, Rejection
from imgpipe.events import ImageRejected, VariantsCreated
from imgpipe.limits import Limits
from imgpipe.runtime import Output, UploadProcessor
from imgpipe.settings import SettingsError, setting
from imgpipe_tools.testing.fakes import FakePublisher, FakeStorage
from tests.events import object_created

UP, VAR = "uploads", "variants"


@dataclass(frozen=True)
class DemoSettings(Limits):
    q: int = setting(1, min=1)


class Recorder:
    """A stand-in process(): two variants, or a rejection for data starting with b'bad'."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data: bytes, settings: DemoSettings) -> list[Output]:
        assert isinstance(settings, DemoSettings)
        self.calls += 1
        if data.startswith(b"bad"):
            raise Rejection(Reason.CORRUPT_IMAGE, "not an image")
        return [Output("big", "jpeg", b"B" * 10, 200, 100), Output("small", "webp", b"s", 20, 10)]


@pytest.fixture
def parts() -> tuple[FakeStorage, FakePublisher, Recorder]:
    return FakeStorage(), FakePublisher(), Recorder()


def _processor(parts: tuple[FakeStorage, FakePublisher, Recorder], **settings: Any) -> UploadProcessor:
    storage, publisher, process = parts
    return UploadProcessor(
        processor="demo",
        process=process,
        storage=storage,
        publisher=publisher,
        variants_bucket=VAR,
        settings={"q": 1, **settings},
        settings_type=DemoSettings,
    )


def test_variants_written_with_metadata_and_announced(parts) -> None:
    storage, publisher, _ = parts
    etag = storage.add(UP, "photos/ü cat.jpg", b"image")
    result = _processor(parts).handle(object_created(UP, "photos/ü cat.jpg", etag, shape="moto"))
    assert result.status == "processed"
    # the variants and nothing else: no record of the run of its own (docs/decisions.md "Skip evidence")
    assert storage.keys(VAR) == ["demo/photos/ü cat.jpg/big.jpg", "demo/photos/ü cat.jpg/small.webp"]
    big = storage.objects[(VAR, "demo/photos/ü cat.jpg/big.jpg")]
    assert big.content_type == "image/jpeg"
    assert big.metadata["source-key"] == "photos/%C3%BC%20cat.jpg"
    assert big.metadata["source-etag"] == etag
    assert "immutable" in (big.cache_control or "")
    # written in the order process() made them: the last one is the evidence of a finished run
    assert [k for _, k in storage.puts] == ["demo/photos/ü cat.jpg/big.jpg", "demo/photos/ü cat.jpg/small.webp"]
    sent = [e for _, e in publisher.sent]
    # one event for the upload, listing both in the order written
    [announced] = sent
    assert isinstance(announced, VariantsCreated) and announced.variant_count == 2
    assert [v.key for v in announced.variants] == ["demo/photos/ü cat.jpg/big.jpg", "demo/photos/ü cat.jpg/small.webp"]
    assert {s for s, _ in publisher.sent} == {"imgpipe.demo"}


def test_replay_skips_work_but_announces_again(parts) -> None:
    storage, publisher, process = parts
    etag = storage.add(UP, "a.jpg", b"image")
    event = object_created(UP, "a.jpg", etag)
    _processor(parts).handle(event)
    puts = len(storage.puts)
    result = _processor(parts).handle(event)
    assert result.status == "skipped"
    # the work is redone in memory to know which variants to look for (no record names them),
    # but nothing is written again
    assert process.calls == 2
    assert len(storage.puts) == puts
    assert len(publisher.sent) == 2  # announced twice: notify de-duplicates
    assert publisher.sent[0] == publisher.sent[1]


def test_a_run_that_died_before_its_last_variant_is_redone(parts) -> None:
    storage, _, _ = parts
    etag = storage.add(UP, "a.jpg", b"image")
    event = object_created(UP, "a.jpg", etag)
    _processor(parts).handle(event)
    del storage.objects[(VAR, "demo/a.jpg/small.webp")]  # the last variant never got written
    assert _processor(parts).handle(event).status == "processed"
    assert storage.keys(VAR) == ["demo/a.jpg/big.jpg", "demo/a.jpg/small.webp"]


@pytest.mark.parametrize("changed", ["source-etag", "settings-hash"])
def test_a_last_variant_made_from_other_bytes_or_settings_is_not_evidence(parts, changed: str) -> None:
    storage, _, _ = parts
    etag = storage.add(UP, "a.jpg", b"image")
    event = object_created(UP, "a.jpg", etag)
    _processor(parts).handle(event)
    last = storage.objects[(VAR, "demo/a.jpg/small.webp")]
    last.metadata[changed] = "something else"
    puts = len(storage.puts)
    assert _processor(parts).handle(event).status == "processed"
    assert len(storage.puts) == puts + 2


def test_changed_settings_redo_the_work(parts) -> None:
    storage, _, process = parts
    etag = storage.add(UP, "a.jpg", b"image")
    _processor(parts).handle(object_created(UP, "a.jpg", etag))
    _processor(parts, q=2).handle(object_created(UP, "a.jpg", etag))
    assert process.calls == 2


def test_url_encoded_key_is_resolved(parts) -> None:
    storage, _, _ = parts
    etag = storage.add(UP, "my photo.jpg", b"image")
    result = _processor(parts).handle(object_created(UP, "my+photo.jpg", etag))
    assert result.key == "my photo.jpg"
    assert "demo/my photo.jpg/big.jpg" in storage.keys(VAR)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"bad bytes", Reason.CORRUPT_IMAGE), (b"", Reason.EMPTY_OBJECT), (b"x" * 101, Reason.TOO_LARGE)],
)
def test_bad_input_is_rejected_not_raised(parts, content: bytes, reason: Reason) -> None:
    storage, publisher, _ = parts
    etag = storage.add(UP, "x.jpg", content)
    result = _processor(parts, max_bytes=100).handle(object_created(UP, "x.jpg", etag))
    assert result.status == "rejected"
    [(_, event)] = publisher.sent
    assert isinstance(event, ImageRejected)
    assert (event.reason, event.processor) == (reason.value, "demo")
    assert storage.keys(VAR) == []


def test_missing_object_is_rejected(parts) -> None:
    _, publisher, process = parts
    result = _processor(parts).handle(object_created(UP, "gone.jpg", "abc"))
    assert result.reason == "object_missing"
    assert process.calls == 0
    assert publisher.sent[0][1].reason == "object_missing"


def test_overwritten_object_is_superseded(parts) -> None:
    storage, _, process = parts
    storage.add(UP, "a.jpg", b"new bytes")
    result = _processor(parts).handle(object_created(UP, "a.jpg", "etag-of-old-bytes"))
    assert result.reason == Reason.SUPERSEDED
    assert process.calls == 0


def test_system_failures_raise_for_lambda_to_retry(parts) -> None:
    storage, publisher, _ = parts
    etag = storage.add(UP, "a.jpg", b"image")

    def broken_publish(source: str, events: list) -> None:
        raise ConnectionError("bus unreachable")

    publisher.publish = broken_publish  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        _processor(parts).handle(object_created(UP, "a.jpg", etag))


def test_a_bad_setting_fails_before_any_work(parts) -> None:
    storage, _, process = parts
    with pytest.raises(SettingsError, match="settings of demo: 'q' must be at least 1; got 0"):
        _processor(parts, q=0)
    assert process.calls == 0 and storage.puts == []


def test_an_upload_is_read_with_one_get_and_no_head(parts) -> None:
    storage, _, _ = parts
    etag = storage.add(UP, "a.jpg", b"image")
    heads: list[tuple[str, str]] = []
    head = storage.head
    storage.head = lambda b, k: heads.append((b, k)) or head(b, k)  # type: ignore[method-assign]
    assert _processor(parts).handle(object_created(UP, "a.jpg", etag)).status == "processed"
    assert storage.opens == storage.gets == [(UP, "a.jpg")]
    # the one HEAD left is of the last variant: the skip evidence
    assert [b for b, _ in heads] == [VAR]


def test_an_upload_over_the_byte_cap_is_rejected_from_its_gets_headers_and_never_read(parts) -> None:
    storage, _, _ = parts
    etag = storage.add(UP, "x.jpg", b"x" * 101)
    result = _processor(parts, max_bytes=100).handle(object_created(UP, "x.jpg", etag))
    assert result.reason == Reason.TOO_LARGE
    assert storage.opens == [(UP, "x.jpg")] and storage.gets == []
