"""The CLI finds a real stack by its CloudFormation outputs, and says clearly when it cannot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe_tools import dlq, outputs
from imgpipe_tools.cli import main
from imgpipe_tools.outputs import from_stack
from imgpipe_tools.resources import ServiceResources, StackNotFound, StackResources


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _deploy_fake_stack(name: str = "Imgpipe") -> None:
    """A stack with the outputs infra/ declares (values made by moto, not by CDK)."""
    template = {
        "Resources": {
            "Uploads": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "real-uploads"}},
            "ResizeFailures": {"Type": "AWS::SQS::Queue"},
        },
        "Outputs": {
            "UploadsBucketName": {"Value": {"Ref": "Uploads"}},
            "VariantsBucketName": {"Value": "real-variants"},
            "CatalogTableName": {"Value": "real-catalog"},
            "FunctionNameResize": {"Value": "Imgpipe-Resize"},
            "FailureDlqUrlResize": {"Value": {"Ref": "ResizeFailures"}},
        },
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_a_stack_is_read_from_its_outputs(aws: None) -> None:
    _deploy_fake_stack()
    d = from_stack("Imgpipe")
    assert (d.uploads_bucket, d.variants_bucket, d.catalog_table) == ("real-uploads", "real-variants", "real-catalog")
    assert d.processor("resize").function_name == "Imgpipe-Resize"
    assert d.processor("resize").failure_dlq_url.startswith("https://")
    assert d.origin == "stack Imgpipe"


def test_a_missing_stack_is_a_clear_error(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(StackNotFound, match="stack 'Nope' not found"):
        from_stack("Nope")
    assert main(["dlq", "list", "--stack", "Nope"]) == 2
    assert "not found in this account/region" in capsys.readouterr().err


def test_a_missing_bucket_is_a_clear_error(aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _deploy_fake_stack()
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    assert main(["upload", str(photo), "--bucket", "no-such-bucket"]) == 2
    assert "bucket no-such-bucket does not exist" in capsys.readouterr().err


def test_missing_credentials_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["status", "a.jpg"]) == 2
    assert "no AWS credentials" in capsys.readouterr().err


class _RecordingLambda:
    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.invocations.append(kwargs)
        return {"StatusCode": 202}


@dataclass(frozen=True)
class _AwsDeployment(StackResources):
    """A real stack's deployment whose Lambda client records instead of invoking."""

    recorder: _RecordingLambda = field(default_factory=_RecordingLambda)

    def client(self, service: str) -> Any:
        return self.recorder if service == "lambda" else boto3.client(service)


def test_redrive_on_aws_reinvokes_the_function_with_each_parked_event(aws: None) -> None:
    sqs = boto3.client("sqs")
    failures = sqs.create_queue(QueueName="resize-failures")["QueueUrl"]
    target = sqs.create_queue(QueueName="resize-target-dlq")["QueueUrl"]
    failed_event = {"detail-type": "Object Created", "detail": {"object": {"key": "a.jpg"}}}
    undelivered = {"detail-type": "Object Created", "detail": {"object": {"key": "b.jpg"}}}
    record = {
        "requestPayload": failed_event,
        "responsePayload": {"errorType": "TimeoutError", "errorMessage": "S3 read timed out"},
    }
    sqs.send_message(QueueUrl=failures, MessageBody=json.dumps(record))
    sqs.send_message(
        QueueUrl=target,
        MessageBody=json.dumps(undelivered),
        MessageAttributes={"ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"}},
    )
    d = _AwsDeployment(
        "up", "var", processors={"resize": ServiceResources("resize", failures, target, function_name="fn")}, origin="x"
    )

    listed = dlq.list_messages(d, "resize")
    assert [(m.queue, m.source_key, m.error) for m in listed] == [
        ("failure", "a.jpg", "TimeoutError: S3 read timed out"),
        ("target", "b.jpg", "SDK_CLIENT_ERROR"),
    ]
    assert dlq.depth(d, "resize") == {"failure": 1, "target": 1}  # listing leaves them in place

    assert dlq.redrive(d, "resize") == {"failure": 1, "target": 1}
    assert [json.loads(i["Payload"]) for i in d.recorder.invocations] == [failed_event, undelivered]
    assert {(i["FunctionName"], i["InvocationType"]) for i in d.recorder.invocations} == {("fn", "Event")}
    assert dlq.depth(d, "resize") == {"failure": 0, "target": 0}


def test_redrive_of_a_name_with_an_underscore_reaches_its_own_queue_and_function(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``thumb_2x`` and ``thumb2x`` are both legal names; their outputs must not merge."""
    names = ("thumb_2x", "thumb2x")
    resources: dict[str, Any] = {}
    stack_outputs: dict[str, Any] = {
        outputs.UPLOADS_BUCKET: {"Value": "real-uploads"},
        outputs.VARIANTS_BUCKET: {"Value": "real-variants"},
    }
    for n, name in enumerate(names):
        resources[f"Failures{n}"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-failures"}}
        stack_outputs[outputs.service_output_key(outputs.FAILURE_DLQ_URL, name)] = {"Value": {"Ref": f"Failures{n}"}}
        stack_outputs[outputs.service_output_key(outputs.FUNCTION_NAME, name)] = {"Value": f"Imgpipe-{name}"}
    template = {"Resources": resources, "Outputs": stack_outputs}
    boto3.client("cloudformation").create_stack(StackName="Imgpipe", TemplateBody=json.dumps(template))
    sqs = boto3.client("sqs")
    for name in names:
        url = sqs.get_queue_url(QueueName=f"{name}-failures")["QueueUrl"]
        record = {"requestPayload": {"detail": {"object": {"key": f"{name}.jpg"}}}, "responsePayload": {}}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
    lambda_ = _RecordingLambda()
    real_client = StackResources.client
    monkeypatch.setattr(StackResources, "client", lambda d, s: lambda_ if s == "lambda" else real_client(d, s))

    assert main(["dlq", "redrive", "thumb_2x", "--stack", "Imgpipe"]) == 0

    assert "thumb_2x: redrove 1 from the failure DLQ" in capsys.readouterr().out
    assert [(i["FunctionName"], json.loads(i["Payload"])) for i in lambda_.invocations] == [
        ("Imgpipe-thumb_2x", {"detail": {"object": {"key": "thumb_2x.jpg"}}})
    ]
    d = from_stack("Imgpipe")
    assert dlq.depth(d, "thumb_2x") == {"failure": 0}
    assert dlq.depth(d, "thumb2x") == {"failure": 1}  # the other service's queue is untouched
