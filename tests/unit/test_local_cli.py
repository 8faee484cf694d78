"""The CLI's pure parts: which files become which keys, where a stack's names come from, the
outbox's .eml files, and Lambda's on-failure record."""

from __future__ import annotations

import email
from pathlib import Path

import pytest

from imgpipe.registry import discover
from imgpipe_tools.cli import CliError, build_parser, collect_files
from imgpipe_tools.local.invoker import failure_record
from imgpipe_tools.local.outbox import Outbox
from imgpipe_tools.outputs import from_outputs
from imgpipe_tools.resources import ServiceResources, StackNotFound, StackResources, read_state, write_state


def test_files_keep_their_path_below_the_folder_and_notes_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "photos" / "2024 trip").mkdir(parents=True)
    for name in ("2024 trip/a+b.jpg", "c.png", "README.md", "LICENSE", ".DS_Store"):
        (tmp_path / "photos" / name).write_bytes(b"x")
    (tmp_path / "single.jpg").write_bytes(b"x")

    found = collect_files([str(tmp_path / "photos"), str(tmp_path / "single.jpg")])
    assert [key for _, key in found] == ["2024 trip/a+b.jpg", "c.png", "single.jpg"]
    with pytest.raises(CliError, match="no such file"):
        collect_files([str(tmp_path / "missing")])


def test_a_real_stacks_outputs_name_every_processors_queues() -> None:
    outputs = {
        "UploadsBucketName": "up",
        "VariantsBucketName": "var",
        "CatalogTableName": "cat",
        "NotificationTopicArn": "arn:topic",
        "FunctionNameResize": "fn-resize",
        "FailureDlqUrlResize": "https://sqs/resize-failures",
        "TargetDlqUrlResize": "https://sqs/resize-target",
        "FailureDlqUrlMyUproc": "https://sqs/my-proc-failures",
        "OpsTopicArn": "arn:ops",
    }
    d = from_outputs(outputs, "stack Imgpipe")
    assert (d.uploads_bucket, d.variants_bucket, d.catalog_table, d.topic_arn) == ("up", "var", "cat", "arn:topic")
    assert d.processor("resize") == ServiceResources(
        "resize", "https://sqs/resize-failures", "https://sqs/resize-target", "", "fn-resize"
    )
    assert d.processor("my_proc").failure_dlq_url == "https://sqs/my-proc-failures"
    assert not d.is_local
    with pytest.raises(StackNotFound, match="no processor 'rotate'"):
        d.processor("rotate")
    with pytest.raises(StackNotFound, match="UploadsBucketName"):
        from_outputs({"VariantsBucketName": "var"}, "stack Other")


def test_the_local_state_file_round_trips(tmp_path: Path) -> None:
    d = StackResources(
        "up", "var", endpoint_url="http://127.0.0.1:1", processors={"resize": ServiceResources("resize")}
    )
    path = write_state(d, tmp_path / ".imgpipe" / "local.json")
    assert read_state(path) == d
    with pytest.raises(StackNotFound, match="imgpipe local up"):
        read_state(tmp_path / "nothing.json")


def test_an_email_becomes_an_eml_file_with_its_attributes(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    envelope = {
        "Subject": "imgpipe: café.jpg is ready",
        "Message": "café.jpg is ready: 1 variant.\n",
        "MessageId": "m-1",
        "MessageAttributes": {"status": {"Type": "String", "Value": "completed"}, "key": {"Value": "café.jpg"}},
    }
    first, second = outbox.add(envelope), outbox.add(envelope)
    assert first.path is not None and second.path is not None and first.path != second.path
    parsed = email.message_from_string(first.path.read_text(encoding="utf-8"), policy=email.policy.default)
    assert parsed["Subject"] == "imgpipe: café.jpg is ready"
    assert parsed["X-Imgpipe-status"] == "completed"
    assert parsed.get_content() == "café.jpg is ready: 1 variant.\n"
    assert first.mentions("café.jpg") and not first.mentions("other.jpg")


def test_the_failure_record_is_lambdas_on_failure_destination_shape() -> None:
    manifest = next(m for m in discover() if m.name == "resize")
    event = {"detail-type": "Object Created", "detail": {"object": {"key": "a.jpg"}}}
    try:
        raise TimeoutError("S3 read timed out")
    except TimeoutError as exc:
        record = failure_record(manifest, event, 3, exc, "req-1")
    assert record["requestPayload"] == event
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:imgpipe-resize:$LATEST")
    assert record["responsePayload"]["errorType"] == "TimeoutError"
    assert record["responsePayload"]["errorMessage"] == "S3 read timed out"


def test_the_parser_knows_every_command() -> None:
    parser = build_parser()
    assert parser.parse_args(["local", "run", "samples/", "--json"]).json
    assert parser.parse_args(["upload", "a.jpg", "--prefix", "p"]).prefix == "p"
    assert parser.parse_args(["dlq", "redrive", "resize", "--local"]).local
    assert parser.parse_args(["status", "k"]).stack == "Imgpipe"
