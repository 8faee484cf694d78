"""Presigned URLs (the API's uploads, notify's links) name the bucket's regional host on AWS, and
the emulator's endpoint locally."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imgpipe.adapters import client


@pytest.fixture
def fresh_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    client.cache_clear()
    yield monkeypatch
    client.cache_clear()


def test_on_aws_uploads_and_links_go_to_the_regional_host(fresh_client: pytest.MonkeyPatch) -> None:
    s3 = client("s3")
    # the global host (bucket.s3.amazonaws.com) answers a new bucket outside us-east-1 with a redirect
    assert s3.generate_presigned_post("uploads", "k")["url"] == "https://uploads.s3.eu-west-1.amazonaws.com/"
    part = s3.generate_presigned_url(
        "upload_part", Params={"Bucket": "uploads", "Key": "k", "UploadId": "u", "PartNumber": 1}
    )
    assert part.startswith("https://uploads.s3.eu-west-1.amazonaws.com/k?")


def test_an_emulator_endpoint_keeps_path_style(fresh_client: pytest.MonkeyPatch) -> None:
    fresh_client.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    assert client("s3").generate_presigned_post("uploads", "k")["url"] == "http://localhost:4566/uploads"
