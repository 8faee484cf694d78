"""The handler end to end on moto: a function URL's event, through the service and its adapters
(S3 HEAD and GET, the catalog, Secrets Manager, large renderings stored and linked)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from imgpipe.adapters import client
from imgpipe.catalog import COMPLETED, DynamoCatalog, RoundRef, UploadFacts, create_table
from imgpipe.config import ENV_ORIGIN_TOKEN, ORIGIN_HEADER, Config, use_config
from imgpipe.events import Upload, VariantInfo, VariantsCreated
from imgpipe.manifest import Need, load_manifest
from imgpipe.registry import DEFAULT_ROOT, discover, outputs_spec
from imgpipe.transforms import Transform, preset_path, url_path

from .. import handler as transform_handler
from .. import wiring as transform_wiring

UPLOADS, VARIANTS, TABLE = "up-bucket", "var-bucket", "catalog"
KEY = "users/sub-1/AAAAAAAAAAAAAAAAAAAAAA/cat.jpg"
SECRET = b"s" * 48
NOW = datetime(2026, 12, 5, tzinfo=UTC)


class Ctx:
    function_name = "transform"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:transform"
    aws_request_id = "req"


def photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 100, 50)).save(buf, "JPEG")
    return buf.getvalue()


def _stack(services: str | None, settings: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """A finished upload, and the transform function configured as a deployment of ``services``
    (None: the default services) with ``settings`` configures it."""
    with mock_aws():
        client.cache_clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=UPLOADS)
        s3.create_bucket(Bucket=VARIANTS)
        etag = s3.put_object(Bucket=UPLOADS, Key=KEY, Body=photo())["ETag"].strip('"')
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(ddb, TABLE)
        upload = Upload(UPLOADS, KEY, etag)
        catalog = DynamoCatalog(TABLE)
        catalog.record_upload(upload, UploadFacts(size=1, content_type="image/jpeg"), expected=["resize"], now=NOW)
        info = VariantInfo("resize", VARIANTS, f"resize/{KEY}/640w.jpg", "jpeg", 640, 480, 99)
        catalog.record_variants(VariantsCreated(upload, "resize", (info,), "h"), expected=["resize"], now=NOW)
        # notify ends the round when it claims its email
        assert catalog.claim_email(RoundRef.of(upload), COMPLETED, token="t", now=NOW, stale_before=NOW)
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="transform-keys", SecretString=base64.b64encode(SECRET).decode()
        )["ARN"]
        manifest = load_manifest(DEFAULT_ROOT / "transform")
        config = Config(
            processor="transform",
            uploads_bucket=UPLOADS,
            variants_bucket=VARIANTS,
            # a preset beside the signed URLs (one deployment's named transform)
            settings={**manifest.settings, "presets": {"card": {"width": 200, "height": 200, "fit": "cover"}}},
            resources={
                Need.READ_CATALOG: TABLE,
                Need.TRANSFORM_SECRET: arn,
                Need.OUTPUTS: outputs_spec(discover(DEFAULT_ROOT, services=services), settings),
            },
        )
        with use_config(config):
            yield {"s3": s3, "etag": etag, "catalog": catalog, "upload": upload}
        client.cache_clear()
        transform_wiring.from_config.cache_clear()


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    yield from _stack(None)


def test_with_a_mark_on_every_transform_is_refused_saying_why() -> None:
    # watermark's set is the srcset: a transform would render the clean upload for anyone
    for ctx in _stack("+watermark"):
        r = get(url_path(SECRET, KEY, ctx["etag"], Transform(400, 300, "cover", "auto")))
        assert r["statusCode"] == 403
        assert "watermarked only" in base64.b64decode(r["body"]).decode()
        assert get(preset_path("card", KEY))["statusCode"] == 403  # a preset renders the clean upload too
    # the same services with resize's clean set the srcset (the mark an extra picture) render
    for ctx in _stack("+watermark", {"watermark": {"srcset": False}}):
        assert get(url_path(SECRET, KEY, ctx["etag"], Transform(400, 300, "cover", "auto")))["statusCode"] == 200


def get(path: str, accept: str = "image/webp,*/*", **headers: str) -> dict[str, Any]:
    event = {
        "version": "2.0",
        "rawPath": path,
        "headers": {"accept": accept, "host": "x.execute-api.us-east-1.amazonaws.com", **headers},
        "requestContext": {"http": {"method": "GET", "path": path}},
        "isBase64Encoded": False,
    }
    return transform_handler.handler(event, Ctx())  # type: ignore[arg-type]


def test_a_signed_url_is_rendered_on_moto(aws: dict[str, Any]) -> None:
    r = get(url_path(SECRET, KEY, aws["etag"], Transform(400, 300, "cover", "auto")))
    assert r["statusCode"] == 200 and r["isBase64Encoded"]
    assert r["headers"]["Content-Type"] == "image/webp" and r["headers"]["Vary"] == "Accept"
    assert Image.open(io.BytesIO(base64.b64decode(r["body"]))).size == (400, 300)


def test_a_url_of_another_secret_or_a_deleted_upload_is_403(aws: dict[str, Any]) -> None:
    path = url_path(SECRET, KEY, aws["etag"], Transform(400))
    assert get(url_path(b"x" * 48, KEY, aws["etag"], Transform(400)))["statusCode"] == 403
    aws["s3"].delete_object(Bucket=UPLOADS, Key=KEY)
    assert get(path)["statusCode"] == 403


def test_a_deleted_round_is_404(aws: dict[str, Any]) -> None:
    aws["catalog"].mark_deleted(UPLOADS, KEY, now=NOW)
    assert get(url_path(SECRET, KEY, aws["etag"], Transform(400)))["statusCode"] == 404


def test_a_large_rendering_is_stored_and_linked(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    service = transform_wiring.from_config(transform_handler.current_config())
    monkeypatch.setattr(service, "settings", type(service.settings)(max_inline_bytes=10))
    r = get(url_path(SECRET, KEY, aws["etag"], Transform(300, None, "inside", "png")))
    assert r["statusCode"] == 307
    stored = aws["s3"].list_objects_v2(Bucket=VARIANTS, Prefix="transform/")["Contents"]
    assert [o["Key"] for o in stored] == [f"transform/{KEY}/{aws['etag']}/w300_inside.png"]
    assert r["headers"]["Location"].startswith(f"https://{VARIANTS}.s3.amazonaws.com/transform/")


def test_a_preset_is_rendered_unsigned_on_moto(aws: dict[str, Any]) -> None:
    r = get(preset_path("card", KEY), accept="image/avif,image/webp,*/*")
    assert r["statusCode"] == 200
    assert r["headers"]["Content-Type"] == "image/avif" and r["headers"]["Vary"] == "Accept"
    assert r["headers"]["Cache-Control"] == "public, max-age=86400"
    assert get(preset_path("banner", KEY))["statusCode"] == 404
    aws["catalog"].mark_deleted(UPLOADS, KEY, now=NOW)
    assert get(preset_path("card", KEY))["statusCode"] == 404


def test_only_requests_through_the_distribution_are_answered(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HTTP API's own host answers nothing: a render around the edge's cache would cost a
    render per request. The distribution adds the origin header (infra/components/frontdoor.py)."""
    monkeypatch.setenv(ENV_ORIGIN_TOKEN, "f3a1c2d4-0000-4a4a-9b9b-123456789abc")
    path = url_path(SECRET, KEY, aws["etag"], Transform(400))
    assert get(path)["statusCode"] == 403
    assert get(path, **{ORIGIN_HEADER: "guess"})["statusCode"] == 403
    assert get(path, **{ORIGIN_HEADER: "f3a1c2d4-0000-4a4a-9b9b-123456789abc"})["statusCode"] == 200
