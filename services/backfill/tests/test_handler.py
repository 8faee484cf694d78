"""backfill's item Lambda: the summary step on moto's S3, and a batch delivered through a
recording Lambda client (moto runs no functions here)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.backfill import (
    ENV_ROUTES,
    ENV_UPLOADS_BUCKET,
    ENV_VARIANTS_BUCKET,
    DeliveryFailed,
    Route,
    routes_json,
    summary_key,
)
from imgpipe.manifest import UploadsTrigger

from .. import handler as item
from ..adapters import LambdaTransport

UPLOADS, VARIANTS = "bf-uploads", "bf-variants"


class Recorder:
    """A Lambda client that records each invocation; ``fail`` names functions that error."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail = fail

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        self.calls.append((FunctionName, InvocationType, json.loads(Payload)))
        if FunctionName in self.fail:
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorMessage": "boom"}')}
        return {"StatusCode": 202}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (UPLOADS, VARIANTS):
            s3.create_bucket(Bucket=bucket)
        routes = [Route("notify", (UploadsTrigger(),), True), Route("thumbnail", (UploadsTrigger(),), False)]
        targets = {"notify": "fn-notify", "thumbnail": "fn-thumbnail"}
        monkeypatch.setenv(ENV_ROUTES, routes_json(routes, targets))
        monkeypatch.setenv(ENV_UPLOADS_BUCKET, UPLOADS)
        monkeypatch.setenv(ENV_VARIANTS_BUCKET, VARIANTS)
        yield s3


def _batch(*keys: str) -> dict[str, Any]:
    return {"Items": [{"Key": k} for k in keys], "BatchInput": {"selection": {"run": "r1"}}}


def _recording(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> None:
    real = boto3.client
    monkeypatch.setattr(item.boto3, "client", lambda name, **kw: recorder if name == "lambda" else real(name, **kw))


def test_a_batch_tells_notify_first_and_waits_then_the_producers(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.put_object(Bucket=UPLOADS, Key="a.jpg", Body=b"x")
    recorder = Recorder()
    _recording(monkeypatch, recorder)
    result = item.handler(_batch("a.jpg", "gone.jpg"), None)
    assert result["counts"] == {"dispatched": 1, "missing": 1}
    assert [(f, how) for f, how, _ in recorder.calls] == [("fn-notify", "RequestResponse"), ("fn-thumbnail", "Event")]
    assert recorder.calls[1][2]["detail"]["object"]["key"] == "a.jpg"


def test_a_batch_with_an_undelivered_object_fails_for_the_map_to_retry(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.put_object(Bucket=UPLOADS, Key="a.jpg", Body=b"x")
    _recording(monkeypatch, Recorder(fail=frozenset({"fn-thumbnail"})))
    with pytest.raises(DeliveryFailed, match=r"1 object\(s\) not delivered \(a.jpg\): thumbnail: function error"):
        item.handler(_batch("a.jpg"), None)


def test_the_summary_step_merges_the_result_files_and_writes_the_summary(aws: Any) -> None:
    results = [
        {"Status": "SUCCEEDED", "Output": json.dumps({"counts": {"dispatched": 2}, "failed": []})},
        {"Status": "FAILED", "Input": json.dumps({"Items": [{"Key": "b.jpg"}]}), "Error": "DeliveryFailed"},
    ]
    aws.put_object(Bucket=VARIANTS, Key="_backfill/results/x/SUCCEEDED_0.json", Body=json.dumps(results[:1]))
    aws.put_object(Bucket=VARIANTS, Key="_backfill/results/x/FAILED_0.json", Body=json.dumps(results[1:]))
    files = {"SUCCEEDED": [{"Key": "_backfill/results/x/SUCCEEDED_0.json"}]}
    files["FAILED"] = [{"Key": "_backfill/results/x/FAILED_0.json"}]
    aws.put_object(Bucket=VARIANTS, Key="_backfill/results/x/manifest.json", Body=json.dumps({"ResultFiles": files}))
    event = {
        "action": "summarize",
        "run": "r1",
        "selection": {"run": "r1"},
        "result_writer": {"Bucket": VARIANTS, "Key": "_backfill/results/x/manifest.json"},
    }
    out = item.handler(event, None)
    assert out["summary"] == f"s3://{VARIANTS}/{summary_key('r1')}"
    written = json.loads(aws.get_object(Bucket=VARIANTS, Key=summary_key("r1"))["Body"].read())
    assert written["counts"]["dispatched"] == 2 and written["counts"]["failed"] == 1
    assert written["failed"][0]["key"] == "b.jpg" and written["status"] == "SUCCEEDED"


def test_the_transport_reports_each_failure_in_words() -> None:
    transport = LambdaTransport({"thumbnail": "fn-thumbnail"}, Recorder(fail=frozenset({"fn-thumbnail"})))
    [error] = transport.deliver("thumbnail", [{"id": "1"}], wait=False)
    assert error is not None and error.startswith("function error:")
