"""The whole pipeline on the embedded local stack: real handlers, moto over HTTP, boto3 clients."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from imgpipe.settings import SettingsError
from imgpipe_tools.cli import main
from imgpipe_tools.dlq import FAILURE
from imgpipe_tools.local import LocalStack
from tests.e2e.conftest import PRODUCERS, SAMPLES, FailingProcess, StartStack

PHOTO = (SAMPLES / "coffee.jpg").read_bytes()
NOT_AN_IMAGE = (SAMPLES / "not-a-photo.jpg").read_bytes()
TIMEOUT = 60


def _assert_dlqs_empty(stack: LocalStack) -> None:
    assert stack.dlq_depths() == {m.name: 0 for m in stack.manifests}


def test_a_photo_gets_every_variant_and_one_email(local_stack: LocalStack) -> None:
    upload = local_stack.put("photos/coffee.jpg", PHOTO)
    [report] = local_stack.wait([upload], timeout=TIMEOUT)

    assert report.status == "completed", report
    assert sorted({v.processor for v in report.variants}) == PRODUCERS
    s3 = local_stack.client("s3")
    for v in report.variants:
        assert v.key.startswith(f"{v.processor}/photos/coffee.jpg/")
        head = s3.head_object(Bucket=local_stack.variants_bucket, Key=v.key)
        assert head["ContentLength"] == v.bytes
        # describe's facts are a JSON document; every other variant is a picture
        if v.format == "json":
            assert head["ContentType"] == "application/json"
        else:
            assert head["ContentType"].startswith("image/")
        assert head["Metadata"]["source-etag"] == upload[1]
    assert report.emails == 1
    [email] = local_stack.emails
    assert "photos/coffee.jpg" in email.subject
    assert email.path is not None and email.path.read_text(encoding="utf-8").startswith("From:")
    _assert_dlqs_empty(local_stack)


def test_a_rejected_file_gets_a_rejection_email_and_nothing_in_a_dlq(local_stack: LocalStack) -> None:
    upload = local_stack.put("docs/report.jpg", NOT_AN_IMAGE)
    [report] = local_stack.wait([upload], timeout=TIMEOUT)

    assert report.status == "rejected", report
    assert sorted(p for p, _, _ in report.rejections) == PRODUCERS
    assert {reason for _, reason, _ in report.rejections} == {"unsupported_format"}
    assert report.variants == ()
    [email] = local_stack.emails
    assert "rejected" in email.subject
    assert "unsupported_format" in email.body
    _assert_dlqs_empty(local_stack)


def test_a_transient_failure_is_retried_and_the_upload_completes(
    local_stack: LocalStack, fail_processor: Callable[[str, int | None], FailingProcess]
) -> None:
    failing = fail_processor("thumbnail", 1)
    upload = local_stack.put("retry/coffee.jpg", PHOTO)
    [report] = local_stack.wait([upload], timeout=TIMEOUT)

    assert report.status == "completed", report
    assert failing.calls == 2  # failed once, succeeded on Lambda's first retry
    assert any(v.processor == "thumbnail" for v in report.variants)
    assert report.emails == 1
    _assert_dlqs_empty(local_stack)


def test_a_processor_that_keeps_failing_lands_in_its_dlq_and_redrive_completes_it(
    local_stack: LocalStack, fail_processor: Callable[[str, int | None], FailingProcess]
) -> None:
    failing = fail_processor("thumbnail", None)
    retries = next(m.retry_attempts for m in local_stack.manifests if m.name == "thumbnail")
    upload = local_stack.put("broken/coffee.jpg", PHOTO)
    [report] = local_stack.wait([upload], timeout=TIMEOUT)

    assert report.status == "failed", report
    assert failing.calls == retries + 1
    assert [p for p, _ in report.failures] == ["thumbnail"]
    [parked] = local_stack.dlq_messages("thumbnail")
    assert parked.queue == FAILURE
    assert parked.source_key == "broken/coffee.jpg"
    assert parked.error.startswith("TransientError: injected failure")
    # The other processors finished; notify waits for thumbnail, so no email yet.
    assert {v.processor for v in report.variants} == set(PRODUCERS) - {"thumbnail"}
    assert report.emails == 0
    assert local_stack.dlq_depths(["resize", "convert", "notify"]) == {"resize": 0, "convert": 0, "notify": 0}

    failing.failing = False  # the fault clears
    assert local_stack.redrive("thumbnail") == {"failure": 1, "target": 0}
    [report] = local_stack.wait([upload], timeout=TIMEOUT)

    assert report.status == "completed", report
    assert report.emails == 1
    _assert_dlqs_empty(local_stack)


def test_keys_with_spaces_plus_percent_and_unicode(local_stack: LocalStack) -> None:
    keys = ["holiday 2024/beach day.jpg", "a+b/c+d.jpg", "100%20real.jpg", "фото/café ☕.jpg"]
    uploads = [local_stack.put(key, PHOTO) for key in keys]
    reports = local_stack.wait(uploads, timeout=TIMEOUT)

    s3 = local_stack.client("s3")
    for key, report in zip(keys, reports, strict=True):
        assert report.key == key
        assert report.status == "completed", report
        assert report.emails == 1
        for v in report.variants:
            assert v.key.startswith(f"{v.processor}/{key}/")
            s3.head_object(Bucket=local_stack.variants_bucket, Key=v.key)
    _assert_dlqs_empty(local_stack)


def test_the_failure_record_has_lambdas_on_failure_shape(
    local_stack: LocalStack, fail_processor: Callable[[str, int | None], FailingProcess]
) -> None:
    fail_processor("resize", None)
    upload = local_stack.put("shape/coffee.jpg", PHOTO)
    local_stack.wait([upload], timeout=TIMEOUT)

    url = local_stack.deployment.processor("resize").failure_dlq_url
    [message] = local_stack.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail"]["object"]["key"] == "shape/coffee.jpg"
    assert record["responsePayload"]["errorType"] == "TransientError"
    assert "injected failure" in record["responsePayload"]["errorMessage"]


def test_an_external_emulator_is_used_when_aws_endpoint_url_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A moto server in another process stands in for LocalStack: the runtime must use it, not start its own.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                break
            time.sleep(0.2)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        with LocalStack.start(outbox=tmp_path / "outbox", prefix="imgpipe-ext") as stack:
            assert stack.endpoint_url == endpoint
            assert stack.uploads_bucket == "imgpipe-ext-uploads"
            [report] = stack.wait([stack.put("external/coffee.jpg", PHOTO)], timeout=TIMEOUT)
        assert report.status == "completed", report
        assert report.emails == 1
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_browser_upload_with_a_presigned_post_is_processed(local_stack: LocalStack) -> None:
    key = "browser/coffee.jpg"
    post = local_stack.client("s3").generate_presigned_post(local_stack.uploads_bucket, key)
    boundary = "imgpipe-boundary"
    fields = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in post["fields"].items()
    ]
    file_part = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="coffee.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + PHOTO
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        post["url"],
        data=b"".join(fields) + file_part,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204

    etag = local_stack.client("s3").head_object(Bucket=local_stack.uploads_bucket, Key=key)["ETag"].strip('"')
    [report] = local_stack.wait([(key, etag)], timeout=TIMEOUT)
    assert report.status == "completed", report
    assert report.emails == 1


BAD_SETTING = "settings of thumbnail: 'crop' must be one of 'content', 'center'; got 'centre'"


def test_a_bad_setting_stops_the_local_stack_before_anything_starts(
    start_local_stack: StartStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with (
        pytest.raises(SettingsError, match=re.escape(BAD_SETTING)),
        start_local_stack(settings={"thumbnail": {"crop": "centre"}}),
    ):
        pytest.fail("the stack started")
    assert "AWS_ENDPOINT_URL" not in os.environ  # no emulator was started


def test_local_up_with_a_bad_setting_prints_it_and_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "up", "--settings", json.dumps({"thumbnail": {"crop": "centre"}})]) == 2
    assert capsys.readouterr().err == f"imgpipe: {BAD_SETTING}\n"


def test_a_settings_override_reaches_the_handler(start_local_stack: StartStack) -> None:
    with start_local_stack(settings={"thumbnail": {"size": [120, 80]}}) as stack:
        [report] = stack.wait([stack.put("photos/coffee.jpg", PHOTO)], timeout=TIMEOUT)
    assert report.status == "completed", report
    [thumbnail] = [v for v in report.variants if v.processor == "thumbnail"]
    assert thumbnail.key.endswith("/120x80.webp") and (thumbnail.width, thumbnail.height) == (120, 80)


CONVERT_VARIANTS = [
    {"name": "full", "format": "jpeg", "quality": 85},
    {"name": "low", "format": "jpeg", "quality": 60, "max_long_edge": 300},
    "webp",
]


def test_a_convert_variant_list_reaches_the_handler(start_local_stack: StartStack) -> None:
    with start_local_stack(settings={"convert": {"formats": CONVERT_VARIANTS}}) as stack:
        [report] = stack.wait([stack.put("photos/coffee.jpg", PHOTO)], timeout=TIMEOUT)
    assert report.status == "completed", report
    made = {v.key.rpartition("/")[2]: v for v in report.variants if v.processor == "convert"}
    assert sorted(made) == ["full.jpg", "full.webp", "low.jpg"]
    assert max(made["low.jpg"].width, made["low.jpg"].height) == 300
    assert made["low.jpg"].bytes < made["full.jpg"].bytes


def test_local_up_refuses_a_bad_variant_list(capsys: pytest.CaptureFixture[str]) -> None:
    bad = {"convert": {"formats": ["webp", {"name": "low", "format": "png", "quality": 60}]}}
    assert main(["local", "up", "--settings", json.dumps(bad)]) == 2
    assert capsys.readouterr().err == (
        "imgpipe: settings of convert: 'formats' entry 2 (name 'low'): 'quality' is not taken by png: "
        "it is lossless (see png_compress_level)\n"
    )
