"""Forged events through notify's real handler on moto: no catalog write, no email, a counted
rejection (the Powertools metric in the handler's EMF output), and no exception (no retry)."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from imgpipe.events import Upload
from tests.notify_support import UPLOADS, VARIANTS, rejected_event, upload_event, variant_events

from .test_handler import REGION, TABLE, Stack, assert_ready_email, round_events, stack

__all__ = ["stack"]  # the fixture


def _metrics(out: str) -> dict[str, float]:
    """The metric values in the EMF lines Powertools printed."""
    values: dict[str, float] = {}
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob = json.loads(line)
            for definition in blob["_aws"]["CloudWatchMetrics"]:
                for metric in definition["Metrics"]:
                    value = blob[metric["Name"]]
                    values[metric["Name"]] = values.get(metric["Name"], 0) + sum(
                        value if isinstance(value, list) else [value]
                    )
    return values


def _table_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name=REGION).scan(TableName=TABLE)["Items"]


def _forgeries(real: Upload) -> dict[str, dict[str, Any]]:
    wrong_etag = Upload(UPLOADS, real.key, "0" * 32)
    second_stack = Upload("imgpipe-b-uploads", real.key, real.etag)
    outside = copy.deepcopy(variant_events(real, "resize")[0])
    outside["detail"]["variants"][0]["key"] = "resize/secrets/payroll.pdf/320w.webp"
    other_prefix = copy.deepcopy(variant_events(real, "resize")[0])
    other_prefix["detail"]["variants"][0]["key"] = f"thumbnail/{real.key}/300x300.webp"
    foreign = copy.deepcopy(rejected_event(real, "convert", "corrupt_image"))
    foreign["source"] = "someone.else"
    return {
        "foreign_source": foreign,
        "foreign_bucket": variant_events(Upload("attacker-bucket", real.key, real.etag), "resize")[0],
        "second_stack_variant": variant_events(second_stack, "thumbnail")[0],
        "second_stack_upload": upload_event(second_stack),
        "outside_prefix": outside,
        "other_processors_prefix": other_prefix,
        "wrong_etag": variant_events(wrong_etag, "resize")[0],
    }


def test_forged_events_are_refused_by_the_real_handler(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    real = stack.upload("photos/cat.jpg", b"cat")
    # the real variants exist (with the real etag); the forged ones point at them or beside them
    stack.put_variants(real)
    stack.s3.put_object(Bucket=VARIANTS, Key="resize/secrets/payroll.pdf/320w.webp", Body=b"secret")
    capsys.readouterr()
    forged = _forgeries(real)
    results = {name: stack.deliver_only(event) for name, event in forged.items()}
    assert {name: r["step"] for name, r in results.items()} == dict.fromkeys(forged, "forged")
    assert results["wrong_etag"]["reason"] == "etag_mismatch"
    assert results["second_stack_upload"]["reason"] == "foreign_bucket"
    assert _table_items() == []
    assert stack.sent() == []
    metrics = _metrics(capsys.readouterr().out)
    assert metrics.get("ForgedEventsRejected") == len(forged), metrics
    assert metrics.get("Forged_outside_prefix") == 2 and metrics.get("Forged_foreign_bucket") == 3

    # the real round, with the forged events replayed in the middle of it, sends one clean email
    events = [e for group in round_events(real).values() for e in group]
    for e in events[:4] + list(forged.values()) + events[4:]:
        stack.deliver_only(e)
    (email,) = stack.sent()
    assert_ready_email([email], real)
    assert "payroll" not in email.body and "imgpipe-b-" not in email.body and "0" * 32 not in email.body
    assert len(_table_items()) == 1
