"""Event parsing (both etag spellings) and key layout/resolution."""

from __future__ import annotations

import pytest

from imgpipe.events import (
    EventError,
    ImageRejected,
    Upload,
    VariantInfo,
    VariantsCreated,
    parse_object_created,
    parse_pipeline_event,
    to_entry,
)
from imgpipe.keys import find_object, settings_hash, variant_key
from tests.events import load


def test_real_aws_event_keeps_key_as_given() -> None:
    created = parse_object_created(load("object_created_aws.json"))
    assert created.upload == Upload(
        "imgpipe-uploads", "photos/my cat+dog %41 ünï.jpg", "b1946ac92492d2347c6235b4d2611184"
    )
    assert created.size == 5


def test_moto_event_etag_spelling_and_quotes() -> None:
    created = parse_object_created(load("object_created_moto.json"))
    assert created.upload.etag == "b1946ac92492d2347c6235b4d2611184"


def test_other_detail_types_are_refused() -> None:
    event = load("object_created_moto.json") | {"detail-type": "Object Tags Added"}
    with pytest.raises(EventError, match="Object Created"):
        parse_object_created(event)


@pytest.mark.parametrize(
    "event",
    [
        VariantsCreated(
            Upload("b", "k k+%.jpg", "e", "v1"),
            "resize",
            (
                VariantInfo("resize", "vb", "resize/k k+%.jpg/640w.jpg", "jpeg", 640, 480, 1234, role="responsive"),
                VariantInfo("resize", "vb", "resize/k k+%.jpg/1280w.jpg", "jpeg", 1280, 960, 5678, role="responsive"),
            ),
            "h",
        ),
        ImageRejected(Upload("b", "k", "e"), "convert", "corrupt_image", "truncated"),
    ],
)
def test_pipeline_events_round_trip(event: VariantsCreated | ImageRejected) -> None:
    detail_type, detail = to_entry(event)
    assert parse_pipeline_event({"detail-type": detail_type, "detail": detail}) == event


def test_malformed_pipeline_event_is_an_event_error() -> None:
    with pytest.raises(EventError, match="lacks"):
        parse_pipeline_event({"detail-type": "Image Rejected", "detail": {"version": 2, "bucket": "b"}})
    with pytest.raises(EventError, match="mistypes"):
        parse_pipeline_event({"detail-type": "Variants Created", "detail": {"version": 2, "variants": []}})


def test_a_pipeline_event_of_another_contract_version_is_refused() -> None:
    """Version 1 (one "Variant Created" per variant, no version field) is not read as version 2."""
    detail_type, detail = to_entry(ImageRejected(Upload("b", "k", "e"), "convert", "corrupt_image", "truncated"))
    assert detail["version"] == 2
    for version in (None, 1, "2", 3):
        old = {k: v for k, v in detail.items() if k != "version"} | ({"version": version} if version else {})
        with pytest.raises(EventError, match="contract version"):
            parse_pipeline_event({"detail-type": detail_type, "detail": old})


def test_variant_keys_are_deterministic() -> None:
    assert variant_key("thumbnail", "photos/cat.jpg", "300x300", "webp") == "thumbnail/photos/cat.jpg/300x300.webp"


def test_settings_hash_is_order_independent_and_sensitive() -> None:
    assert settings_hash({"a": 1, "b": [1, 2]}) == settings_hash({"b": [1, 2], "a": 1})
    assert settings_hash({"a": 1}) != settings_hash({"a": 2})


@pytest.mark.parametrize(
    ("given", "stored", "expected"),
    [
        ("a b.jpg", {"a b.jpg"}, "a b.jpg"),  # EventBridge/moto: raw key
        ("a+b.jpg", {"a b.jpg"}, "a b.jpg"),  # classic notification: '+' encodes a space
        ("a+b.jpg", {"a+b.jpg"}, "a+b.jpg"),  # a real '+': never decoded away
        ("100%25.jpg", {"100%.jpg"}, "100%.jpg"),
        ("100%25.jpg", {"100%25.jpg"}, "100%25.jpg"),  # a literal '%25' in the key
        ("%C3%BC.jpg", {"ü.jpg"}, "ü.jpg"),
        ("gone.jpg", set(), None),
    ],
)
def test_find_object_resolves_the_key(given: str, stored: set[str], expected: str | None) -> None:
    assert find_object(given, lambda k: k if k in stored else None) == expected
