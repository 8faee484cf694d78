"""Pipeline events' signatures (imgpipe/signing.py): what notify's trust rests on."""

from __future__ import annotations

import json

from imgpipe.signing import SIGNATURE_FIELD, signed, verify

KEY = b"k" * 36
DETAIL = {"version": 2, "bucket": "up", "key": "a.jpg", "processor": "describe", "description": {"f": 23.0}}


def _event(detail: dict, source: str = "imgpipe.describe", detail_type: str = "Variants Created") -> dict:
    return {"source": source, "detail-type": detail_type, "detail": detail}


def test_a_signed_detail_verifies_after_eventbridge_re_serialises_it() -> None:
    event = _event(signed(KEY, "imgpipe.describe", "Variants Created", DETAIL))
    assert event["detail"][SIGNATURE_FIELD].startswith("v1=")
    assert verify(KEY, json.loads(json.dumps(event)))
    # an integral float written without its ".0", keys in another order: the same content
    reordered = dict(reversed(list(event["detail"].items()))) | {"description": {"f": 23}}
    assert verify(KEY, _event(reordered))


def test_any_change_or_another_key_or_envelope_fails() -> None:
    detail = signed(KEY, "imgpipe.describe", "Variants Created", DETAIL)
    assert not verify(b"another stack's key", _event(detail))
    assert not verify(KEY, _event(detail, source="imgpipe.resize"))
    assert not verify(KEY, _event(detail, detail_type="Image Rejected"))
    assert not verify(KEY, _event(detail | {"key": "b.jpg"}))
    assert not verify(KEY, _event(detail | {"description": {"f": 23.5}}))
    assert not verify(KEY, _event({k: v for k, v in detail.items() if k != SIGNATURE_FIELD}))
    assert not verify(KEY, _event(detail | {SIGNATURE_FIELD: 7}))
    assert not verify(KEY, {"source": "imgpipe.describe", "detail-type": "Variants Created"})
