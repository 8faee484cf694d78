"""Uploads that can never be processed are rejected with a reason before their bytes are read, not retried.

S3 refuses a variant key over 1,024 bytes and user metadata over 2 KB; an object encrypted with a
customer-provided key (SSE-C) or in an archive storage class cannot be read. Without these checks
each would fail the same way on every retry and end in every processor's DLQ with no email. The
fake storage enforces S3's limits on PUT, so the boundary tests show the limits are S3's, not ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from imgpipe.errors import Reason
from imgpipe.events import ImageRejected
from imgpipe.keys import (
    MAX_KEY_BYTES,
    MAX_USER_METADATA_BYTES,
    MAX_VARIANT_FILE_BYTES,
    encode_metadata_value,
    max_source_key_bytes,
    metadata_bytes,
    settings_hash,
    variant_key,
)
from imgpipe.limits import Limits
from imgpipe.runtime import Output, UploadProcessor
from imgpipe_tools.testing.fakes import FakePublisher, FakeStorage, S3LimitExceeded
from tests.events import object_created

UP, VAR = "uploads", "variants"
PROCESSOR = "demo"


@dataclass(frozen=True)
class DemoSettings(Limits):
    pass


def _process(data: bytes, settings: DemoSettings) -> list[Output]:
    # the longest file name the runtime's key budget allows a processor to write
    return [Output("300x300", "webp", b"v", 3, 3), Output("1920w", "jpeg", b"w", 4, 4)]


def _run(storage: FakeStorage, key: str, etag: str) -> tuple[dict, FakePublisher]:
    publisher = FakePublisher()
    processor = UploadProcessor(
        processor=PROCESSOR,
        process=_process,
        storage=storage,
        publisher=publisher,
        variants_bucket=VAR,
        settings={},
        settings_type=DemoSettings,
    )
    return processor.handle(object_created(UP, key, etag)).as_dict(), publisher


def _rejection(publisher: FakePublisher) -> ImageRejected:
    [(_, event)] = publisher.sent
    assert isinstance(event, ImageRejected)
    return event


def test_the_longest_key_the_budget_allows_is_processed_and_one_byte_more_is_rejected_before_any_get() -> None:
    limit = max_source_key_bytes(PROCESSOR)
    assert limit == MAX_KEY_BYTES - len("demo//") - 32
    storage = FakeStorage()
    at_limit = "k/" + "a" * (limit - 2)
    etag = storage.add(UP, at_limit, b"image")
    result, _ = _run(storage, at_limit, etag)
    assert result["status"] == "processed"  # every PUT, done record included, passed S3's limits

    over = at_limit + "b"
    etag = storage.add(UP, over, b"image")
    gets = len(storage.gets)
    result, publisher = _run(storage, over, etag)
    assert result == {"status": "rejected", "key": over, "variants": [], "reason": "key_too_long"}
    assert len(storage.gets) == gets, "rejected before reading the object"
    assert f"{limit + 1:,} bytes" in _rejection(publisher).message


def test_the_key_budget_is_exactly_s3s_limit() -> None:
    """One byte over the budget, the longest variant name a processor may write fails S3's PUT:
    what used to be retried three times per processor and parked in every DLQ."""
    limit = max_source_key_bytes(PROCESSOR)
    name = "n" * (MAX_VARIANT_FILE_BYTES - len(".webp"))
    storage = FakeStorage()
    storage.put(VAR, variant_key(PROCESSOR, "a" * limit, name, "webp"), b"", content_type="image/webp", metadata={})
    with pytest.raises(S3LimitExceeded, match="KeyTooLongError"):
        storage.put(
            VAR, variant_key(PROCESSOR, "a" * (limit + 1), name, "webp"), b"", content_type="image/webp", metadata={}
        )


def test_a_processor_naming_a_variant_past_the_budget_is_a_bug_not_a_rejection() -> None:
    storage = FakeStorage()
    etag = storage.add(UP, "a.jpg", b"image")
    processor = UploadProcessor(
        processor=PROCESSOR,
        process=lambda _d, _s: [Output("n" * MAX_VARIANT_FILE_BYTES, "webp", b"v", 1, 1)],
        storage=storage,
        publisher=FakePublisher(),
        variants_bucket=VAR,
        settings={},
        settings_type=DemoSettings,
    )
    with pytest.raises(ValueError, match="longer than 32 bytes"):
        processor.handle(object_created(UP, "a.jpg", etag))


def _metadata_for(key: str, etag: str) -> int:
    return metadata_bytes(
        {
            "source-key": encode_metadata_value(key),
            "source-etag": etag,
            "processor": PROCESSOR,
            "settings-hash": settings_hash({}),
        }
    )


def _key_with_metadata_size(target: int, etag: str) -> str:
    """A short (in bytes) non-ASCII key whose percent-encoded metadata is exactly ``target`` bytes."""
    base = _metadata_for("", etag)
    room = target - base  # characters of the encoded key
    accents, plain = divmod(room, 6)  # 'é' is 2 bytes in the key and 6 characters ('%C3%A9') encoded
    key = "é" * accents + "a" * plain
    assert _metadata_for(key, etag) == target
    assert len(key.encode()) <= max_source_key_bytes(PROCESSOR)
    return key


@pytest.mark.parametrize(("size", "status"), [(MAX_USER_METADATA_BYTES, "processed"), (2049, "rejected")])
def test_metadata_at_s3s_limit_is_processed_and_one_byte_more_is_rejected(size: int, status: str) -> None:
    storage = FakeStorage()
    etag = "0" * 32
    key = _key_with_metadata_size(size, etag)
    storage.objects.clear()
    real_etag = storage.add(UP, key, b"image")
    # the fake's etag is the md5 of the bytes: same length as the one the key was sized with
    assert len(real_etag) == len(etag)
    result, publisher = _run(storage, key, real_etag)
    assert result["status"] == status
    if status == "rejected":
        assert result["reason"] == "metadata_too_large"
        assert storage.gets == []
        assert "2,049 bytes" in _rejection(publisher).message


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ({"storage_class": "GLACIER"}, "rejected"),
        ({"storage_class": "DEEP_ARCHIVE"}, "rejected"),
        ({"archive_status": "ARCHIVE_ACCESS", "storage_class": "INTELLIGENT_TIERING"}, "rejected"),
        ({"storage_class": "GLACIER", "restore": 'ongoing-request="true"'}, "rejected"),
        (
            {"storage_class": "GLACIER", "restore": 'ongoing-request="false", expiry-date="Fri, 1 Jan 2027"'},
            "processed",
        ),
        ({"storage_class": "GLACIER_IR"}, "processed"),
        ({"storage_class": "STANDARD_IA"}, "processed"),
    ],
)
def test_archived_objects_are_rejected_until_restored(state: dict, status: str) -> None:
    storage = FakeStorage()
    etag = storage.add(UP, "a.jpg", b"image", **state)
    result, publisher = _run(storage, "a.jpg", etag)
    assert result["status"] == status
    if status == "rejected":
        assert result["reason"] == Reason.ARCHIVED
        assert storage.gets == []
        assert "restore it" in _rejection(publisher).message


def test_a_customer_encrypted_object_is_rejected() -> None:
    storage = FakeStorage()
    etag = storage.add(UP, "secret.jpg", b"image", sse_c=True)
    result, publisher = _run(storage, "secret.jpg", etag)
    assert result["reason"] == Reason.CUSTOMER_ENCRYPTED
    assert "SSE-C" in _rejection(publisher).message
