"""The transform URL contract (imgpipe/transforms.py) and the ``edge`` trigger that keeps the
transform service out of the event-driven and API consumers."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from imgpipe.catalog import COMPLETED, DELETED, PARTIAL, PROCESSING, REJECTED, SUPERSEDED, Round
from imgpipe.manifest import EdgeTrigger, ManifestError, parse_manifest
from imgpipe.registry import DEFAULT_ROOT, discover
from imgpipe.transforms import (
    InvalidTransform,
    Transform,
    TransformBounds,
    negotiate,
    parse_keys,
    parse_spec,
    servable,
    signature,
    split_path,
    transform_from_request,
    url_path,
    verify,
)

BOUNDS = TransformBounds()


@pytest.mark.parametrize(
    "transform",
    [
        Transform(640),
        Transform(None, 300),
        Transform(300, 200, "cover", "webp", 80),
        Transform(10, 10, "contain", "png"),
    ],
)
def test_a_spec_round_trips_and_has_one_spelling(transform: Transform) -> None:
    assert parse_spec(transform.spec) == transform


@pytest.mark.parametrize(
    "spec", ["w0640_inside.auto", "w640_q80_inside.webp", "h300_w640_inside.webp", "w640h300_inside.webp", "w640"]
)
def test_other_spellings_are_not_specs(spec: str) -> None:
    assert parse_spec(spec) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "width"),
        ({"width": 0}, "width"),
        ({"width": 4097}, "width"),
        ({"width": 300, "fit": "cover"}, "height"),
        ({"width": 300, "fit": "fill"}, "fit"),
        ({"width": 300, "format": "gif"}, "format"),
        ({"width": 300, "quality": 101}, "quality"),
        ({"width": 300, "format": "png", "quality": 80}, "quality"),
        ({"width": "300"}, "width"),
        ({"width": True}, "width"),
        ({"width": 300, "crop": "x"}, "crop"),
        ([], "body"),
    ],
)
def test_bad_requests_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(InvalidTransform) as caught:
        transform_from_request(body, BOUNDS)
    assert caught.value.field == field


def test_a_request_gets_safe_defaults_and_the_allow_list_applies() -> None:
    assert transform_from_request({"width": 640}, BOUNDS) == Transform(640, None, "inside", "auto", None)
    with pytest.raises(InvalidTransform, match="320, 640"):
        transform_from_request({"width": 400}, TransformBounds(widths=(640, 320)))


def test_the_signature_covers_key_etag_and_spec_and_any_rotation_key() -> None:
    new, old = b"n" * 32, b"o" * 32
    sig = signature(old, "k", "e", "w1_inside.png")
    assert verify((new, old), "k", "e", "w1_inside.png", sig)
    assert not verify((new,), "k", "e", "w1_inside.png", sig)
    for key, etag, spec in [("k2", "e", "w1_inside.png"), ("k", "e2", "w1_inside.png"), ("k", "e", "w2_inside.png")]:
        assert not verify((old,), key, etag, spec, sig)
    assert not verify((old,), "k", "e", "w1_inside.png", sig[:-1])


def test_a_path_splits_back_into_its_parts() -> None:
    path = url_path(b"s" * 32, "users/a/b/my photo.jpg", "e", Transform(300))
    parts = split_path(path)
    assert parts is not None and parts.key == "users/a/b/my photo.jpg" and parts.spec == "w300_inside.auto"
    assert " " not in path
    for bad in ["/t/sig/spec", "/x/sig/spec/key", "/t/sig/spec/users/../other", "/t/sig//key", "/t/s/p/%2Fetc"]:
        assert split_path(bad) is None


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("image/avif,image/webp,image/apng,*/*;q=0.8", "avif"),
        ("image/webp,*/*", "webp"),
        ("image/avif;q=0, image/webp", "webp"),
        ("image/png,*/*", "jpeg"),
        ("", "jpeg"),
    ],
)
def test_accept_is_reduced_to_avif_webp_or_jpeg(accept: str, fmt: str) -> None:
    assert negotiate(accept) == fmt


@pytest.mark.parametrize(
    ("status", "holds", "ok"),
    [
        (COMPLETED, (), True),
        (PARTIAL, (), True),
        (COMPLETED, ("moderate",), False),
        (PROCESSING, (), False),
        (REJECTED, (), False),
        (DELETED, (), False),
        (SUPERSEDED, (), False),
    ],
)
def test_only_finished_unheld_rounds_are_servable(status: str, holds: tuple[str, ...], ok: bool) -> None:
    assert servable(Round("b", "k", "e", status=status, holds=holds)) is ok
    assert servable(None) is False


def test_signing_keys_are_base64_words_of_at_least_32_bytes() -> None:
    a, b = b"a" * 32, b"b" * 40
    assert parse_keys(f"{base64.b64encode(a).decode()}  {base64.b64encode(b).decode()}") == (a, b)
    for bad in ["", "not base64!", base64.b64encode(b"short").decode()]:
        with pytest.raises(ValueError):
            parse_keys(bad)


BASE: dict[str, Any] = {"name": "render", "memory_mb": 256, "timeout_s": 10}


def test_an_edge_trigger_names_cdn_paths_and_no_rule() -> None:
    m = parse_manifest(Path("services/render"), {**BASE, "triggers": [{"source": "edge", "paths": ["/t/*"]}]})
    assert m.edge == EdgeTrigger(("/t/*",)) and m.http is None
    assert m.rule_triggers() == () and m.upload_triggers() == ()


@pytest.mark.parametrize(
    "triggers",
    [
        [{"source": "edge"}],
        [{"source": "edge", "paths": ["/t"]}],
        [{"source": "edge", "paths": ["/t/*"], "routes": ["GET /x"]}],
        [{"source": "edge", "paths": ["/t/*"]}, {"source": "uploads"}],
    ],
)
def test_bad_edge_triggers_are_refused(triggers: list[dict[str, Any]]) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(Path("services/render"), {**BASE, "triggers": triggers})


def test_the_transform_service_is_an_edge_service_only() -> None:
    assert [m.name for m in discover(DEFAULT_ROOT, edge=True)] == ["transform"]
    assert "transform" not in {m.name for m in [*discover(DEFAULT_ROOT), *discover(DEFAULT_ROOT, http=True)]}
