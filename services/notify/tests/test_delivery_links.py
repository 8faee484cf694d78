"""The email's links: the front door's CDN URLs when the stack has one (the declared, optional
need ``delivery_url``), presigned S3 links otherwise (docs/notify.md, docs/api.md "Caching")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imgpipe.catalog import COMPLETED, Round, VariantRecord
from imgpipe.config import Config
from imgpipe.events import Upload, VariantInfo, VariantsCreated, to_entry
from imgpipe.keys import cdn_url
from imgpipe.manifest import load_manifest
from imgpipe.needs import Resource
from imgpipe.ports import NoMetrics
from imgpipe.registry import StackNames, function_config
from imgpipe_tools.testing.memory_catalog import MemoryCatalog

from ..logic import Email, render_email
from ..notifier import Notifier
from ..wiring import from_config

FOLDER = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)
CDN = "https://d111.cloudfront.net"


def _round() -> Round:
    variant = VariantRecord("resize", "variants", "resize/users/u1/a b/cat.jpg/640w.webp", "webp", 640, 480, 12345, 1)
    return Round(bucket="uploads", key="users/u1/a b/cat.jpg", etag="e1+x", expected=("resize",), variants=(variant,))


def test_a_cdn_url_carries_the_uploads_etag_and_quotes_the_key() -> None:
    assert cdn_url(CDN + "/", "resize/users/u1/a b/cat.jpg/640w.webp", "e1+x") == (
        f"{CDN}/v/resize/users/u1/a%20b/cat.jpg/640w.webp?v=e1%2Bx"
    )


def test_cdn_links_do_not_expire_and_presigned_ones_say_when_they_do() -> None:
    r = _round()
    variant_key = r.variants[0].key
    cdn = render_email(r, COMPLETED, link=lambda b, k: cdn_url(CDN, k, r.etag), link_expiry_s=None, now=NOW)
    assert f"    {cdn_url(CDN, variant_key, 'e1+x')}\n" in cdn.body
    assert "expire" not in cdn.body and "served by the CDN" in cdn.body
    signed = render_email(r, COMPLETED, link=lambda b, k: f"https://s3/{k}?sig", link_expiry_s=3600, now=NOW)
    assert "Download links expire after 1 hour" in signed.body and "CDN" not in signed.body


class _Sender:
    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> str:
        self.sent.append(email)
        return "m-1"


def _notifier(delivery_url: str) -> tuple[Notifier, _Sender]:
    sender = _Sender()
    notifier = Notifier(
        catalog=MemoryCatalog(),
        sender=sender,
        link=lambda b, k: f"https://{b}.s3.example/{k}?X-Amz-Signature=abc",
        expected_spec='[{"name":"resize","triggers":[{"prefixes":[],"suffixes":[]}]}]',
        uploads_bucket="uploads",
        variants_bucket="variants",
        settings={"link_expiry_s": 3600},
        delivery_url=delivery_url,
        clock=lambda: NOW,
    )
    return notifier, sender


def _events(key: str, etag: str) -> list[dict[str, Any]]:
    upload = Upload("uploads", key, etag)
    created = {"bucket": {"name": "uploads"}, "object": {"key": key, "etag": etag, "size": 10}}
    info = VariantInfo("resize", "variants", f"resize/{key}/640w.webp", "webp", 640, 480, 12345)
    detail_type, detail = to_entry(VariantsCreated(upload, info.processor, (info,), "0123456789abcdef"))
    return [
        {"source": "aws.s3", "detail-type": "Object Created", "time": "2026-11-22T18:59:00Z", "detail": created},
        {"source": "imgpipe.resize", "detail-type": detail_type, "detail": detail},
    ]


def test_the_notifier_links_to_the_cdn_when_it_knows_one_and_presigns_otherwise() -> None:
    key, etag = "users/u1/abc/cat.jpg", "0123abcd"
    for delivery_url, expected in (
        (CDN, cdn_url(CDN, f"resize/{key}/640w.webp", etag)),
        ("", f"https://variants.s3.example/resize/{key}/640w.webp?X-Amz-Signature=abc"),
    ):
        notifier, sender = _notifier(delivery_url)
        for event in _events(key, etag):
            notifier.handle(event)
        [email] = sender.sent
        assert f"    {expected}\n" in email.body, email.body


def _config(resources: dict[Resource, str]) -> Config:
    names = StackNames(uploads_bucket="uploads", variants_bucket="variants", resources=resources)
    return function_config(load_manifest(FOLDER), names)


def test_the_delivery_url_is_an_optional_need_that_reaches_the_notifier() -> None:
    # every resource a stack may name but the CDN (whatever else notify needs, this test is not about it)
    base = {resource: "x" for resource in Resource if resource is not Resource.DELIVERY_URL}
    with_cdn = _config({**base, Resource.DELIVERY_URL: CDN})
    assert with_cdn.as_env()["IMGPIPE_DELIVERY_URL"] == CDN
    assert from_config(with_cdn, metrics=NoMetrics()).delivery_url == CDN
    # a stack without the front door (the local stack, the moto harness) provides none
    without = _config(base)
    assert "IMGPIPE_DELIVERY_URL" not in without.as_env()
    assert from_config(without, metrics=NoMetrics()).delivery_url == ""
