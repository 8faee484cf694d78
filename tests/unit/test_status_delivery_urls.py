"""``imgpipe status`` gives each variant's CDN URL when the stack has a front door (its ``SiteUrl``
output), the same URL the API and the email give; without one it prints the catalog as it is."""

from __future__ import annotations

import json
from typing import Any

import pytest

import imgpipe.catalog
from imgpipe.catalog import Round, VariantRecord
from imgpipe.keys import cdn_url
from imgpipe_tools import cli
from imgpipe_tools.outputs import SITE_URL, UPLOADS_BUCKET, VARIANTS_BUCKET, from_outputs

CDN = "https://d111.cloudfront.net"
KEY = "users/u1/abc/cat.jpg"


def _round(etag: str) -> Round:
    variant = VariantRecord("resize", "variants", f"resize/{KEY}/640w.webp", "webp", 640, 480, 12345, 1)
    return Round(bucket="up", key=KEY, etag=etag, expected=("resize",), variants=(variant,))


class _Catalog:
    def __init__(self, table: str, dynamodb: Any = None) -> None:
        self.rounds = [_round("new"), _round("old")]

    def latest(self, bucket: str, key: str) -> dict[str, Any]:
        return self.rounds[0].as_dict()

    def history(self, bucket: str, key: str) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.rounds]


def _status(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], site: str | None, *args: str) -> Any:
    outputs = {UPLOADS_BUCKET: "up", VARIANTS_BUCKET: "variants", "CatalogTableName": "catalog"}
    if site:
        outputs[SITE_URL] = site
    monkeypatch.setattr(cli, "_deployment", lambda _args: from_outputs(outputs, "stack Imgpipe"))
    monkeypatch.setattr(imgpipe.catalog, "DynamoCatalog", _Catalog)
    assert cli.main(["status", KEY, *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_status_names_each_variants_cdn_url_with_its_uploads_etag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [variant] = _status(monkeypatch, capsys, CDN)["processors"]["resize"]["variants"]
    assert variant["url"] == cdn_url(CDN, f"resize/{KEY}/640w.webp", "new") == f"{CDN}/v/resize/{KEY}/640w.webp?v=new"
    history = _status(monkeypatch, capsys, CDN, "--all")
    assert [r["processors"]["resize"]["variants"][0]["url"].rsplit("=", 1)[1] for r in history] == ["new", "old"]


def test_without_a_front_door_status_prints_the_catalog_as_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = _status(monkeypatch, capsys, None)
    assert found == json.loads(json.dumps(_round("new").as_dict(), default=str))
