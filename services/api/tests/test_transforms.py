"""``POST /api/uploads/{id}/transforms`` on moto: the owner gets a signed URL the transform
service accepts; anyone else 404; bad values 400 naming the field; an upload that may not be
rendered 409; a stack without the transform service 404."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.adapters import client
from imgpipe.catalog import COMPLETED, DynamoCatalog, RoundRef, UploadFacts, create_table
from imgpipe.config import Config, use_config
from imgpipe.events import Upload, VariantInfo, VariantsCreated
from imgpipe.manifest import Need
from imgpipe.registry import DEFAULT_ROOT, discover, outputs_spec
from imgpipe.transforms import TransformBounds, bounds_json, parse_spec, split_path, verify

from .. import handler as api_handler
from .. import wiring as api_wiring
from .test_handler import ALICE, BOB, TABLE, UPLOADS, VARIANTS, Ctx, event

KEY_ID = "AAAAAAAAAAAAAAAAAAAAAA"
KEY = f"users/{ALICE}/{KEY_ID}/cat.jpg"
SECRET = b"t" * 48
NOW = datetime(2026, 12, 5, tzinfo=UTC)


def _finish_round(upload: Upload) -> None:
    catalog = DynamoCatalog(TABLE)
    catalog.record_upload(upload, UploadFacts(size=1, content_type="image/jpeg"), expected=["resize"], now=NOW)
    info = VariantInfo("resize", VARIANTS, f"resize/{upload.key}/640w.jpg", "jpeg", 640, 480, 99)
    catalog.record_variants(VariantsCreated(upload, "resize", (info,), "h"), expected=["resize"], now=NOW)
    assert catalog.claim_email(RoundRef.of(upload), COMPLETED, token="t", now=NOW, stale_before=NOW)


def _stack(with_transforms: bool, outputs: str | None = None) -> Iterator[dict[str, Any]]:
    with mock_aws():
        client.cache_clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=UPLOADS)
        s3.create_bucket(Bucket=VARIANTS)
        etag = s3.put_object(Bucket=UPLOADS, Key=KEY, Body=b"jpeg")["ETag"].strip('"')
        create_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        resources = {Need.USER_CATALOG: TABLE, Need.DELIVERY_URL: "https://cdn.example"}
        if outputs is not None:
            resources[Need.OUTPUTS] = outputs
        if with_transforms:
            arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
                Name="keys", SecretString=base64.b64encode(SECRET).decode()
            )["ARN"]
            resources[Need.TRANSFORM_SECRET] = arn
            resources[Need.TRANSFORM_BOUNDS] = bounds_json(TransformBounds(max_dimension=2000))
        [manifest] = discover(DEFAULT_ROOT, http=True)
        config = Config("api", UPLOADS, VARIANTS, settings=dict(manifest.settings), resources=resources)
        with use_config(config):
            yield {"s3": s3, "upload": Upload(UPLOADS, KEY, etag)}
        client.cache_clear()
        api_wiring.from_config.cache_clear()


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    yield from _stack(with_transforms=True)


def sign(body: Any, sub: str = ALICE, upload_id: str = KEY_ID) -> tuple[int, dict[str, Any]]:
    r = api_handler.handler(event("POST", f"/api/uploads/{upload_id}/transforms", sub, body), Ctx())  # type: ignore[arg-type]
    return r["statusCode"], json.loads(r["body"])


def test_the_owner_gets_a_url_the_transform_service_accepts(aws: dict[str, Any]) -> None:
    _finish_round(aws["upload"])
    status, body = sign({"width": 640, "height": 480, "fit": "cover", "format": "webp", "quality": 70})
    assert status == 200
    assert body["url"].startswith("https://cdn.example/t/")
    parts = split_path(body["url"].removeprefix("https://cdn.example"))
    assert parts is not None and parts.key == KEY and parts.spec == "w640_h480_cover_q70.webp"
    assert parse_spec(parts.spec) is not None
    assert verify((SECRET,), KEY, aws["upload"].etag, parts.spec, parts.signature)


def test_anyone_else_gets_404_even_for_bad_values(aws: dict[str, Any]) -> None:
    _finish_round(aws["upload"])
    assert sign({"width": 640}, sub=BOB)[0] == 404
    assert sign({"width": 99999}, sub=BOB)[0] == 404
    assert sign({"width": 640}, upload_id="nope")[0] == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"width": 2001}, "width"),
        ({"width": 300, "fit": "cover"}, "height"),
        ({"width": 300, "format": "tiff"}, "format"),
        ({"width": 300, "quality": 0}, "quality"),
        ({"size": 300}, "size"),
    ],
)
def test_bad_values_are_400_naming_the_field(aws: dict[str, Any], body: dict[str, Any], field: str) -> None:
    _finish_round(aws["upload"])
    status, answer = sign(body)
    assert status == 400 and answer["error"]["field"] == field


def test_an_upload_not_finished_is_409(aws: dict[str, Any]) -> None:
    assert sign({"width": 640})[0] == 409


def test_with_a_mark_on_no_transform_url_is_signed_and_the_answer_says_why() -> None:
    # watermark's set is the srcset: a transform renders the clean upload, so none is handed out
    for ctx in _stack(with_transforms=True, outputs=outputs_spec(discover(DEFAULT_ROOT, services="+watermark"))):
        _finish_round(ctx["upload"])
        status, body = sign({"width": 640})
        assert status == 404 and body["error"]["code"] == "transforms_not_enabled"
        assert "watermarked only" in body["error"]["message"]
        assert sign({"width": 640}, sub=BOB)[0] == 404  # a stranger learns no more


def test_without_the_transform_service_the_route_is_404() -> None:
    for _ in _stack(with_transforms=False):
        status, body = sign({"width": 640})
        assert status == 404 and body["error"]["code"] == "transforms_not_enabled"
