"""The handler end to end on moto: API Gateway HTTP API (v2) events with the JWT authorizer's
claims, through the resolver, the service and the adapters, to S3 and DynamoDB. Every refusal is
checked for its status code and for leaving nothing behind."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from imgpipe.adapters import client
from imgpipe.catalog import DynamoCatalog, UploadFacts, create_table
from imgpipe.config import Config, current_config, use_config
from imgpipe.events import Upload
from imgpipe.manifest import Need, load_manifest
from imgpipe.registry import DEFAULT_ROOT, discover, outputs_spec, parse_settings

from .. import handler as api_handler
from .. import wiring as api_wiring
from ..routes import ROUTES

UPLOADS, VARIANTS, TABLE = "up-bucket", "var-bucket", "catalog"
ALICE, BOB = "aaaaaaaa-1111-4222-8333-944455556666", "bbbbbbbb-1111-4222-8333-944455556666"
FOLDER = Path(__file__).resolve().parents[1]


class Ctx:
    function_name = "api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api"
    aws_request_id = "req"


def event(method: str, path: str, sub: str | None = ALICE, body: Any = None, query: dict | None = None) -> dict:
    e: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"},
            "requestId": "r",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Dec/2026:10:00:00 +0000",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }
    if query:
        e["queryStringParameters"] = query
    if sub is not None:
        e["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": sub}, "scopes": None}}
    if body is not None:
        e["body"] = body if isinstance(body, str) else json.dumps(body)
    return e


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        client.cache_clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=UPLOADS)
        s3.create_bucket(Bucket=VARIANTS)
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(ddb, TABLE)
        [manifest] = [m for m in discover(DEFAULT_ROOT, http=True) if m.name == "api"]
        settings = dict(manifest.settings, uploads_per_day=3)
        config = Config(
            processor="api",
            uploads_bucket=UPLOADS,
            variants_bucket=VARIANTS,
            settings=settings,
            resources={
                Need.USER_CATALOG: TABLE,
                Need.DELIVERY_URL: "https://cdn.example",
                Need.OUTPUTS: outputs_spec(discover(DEFAULT_ROOT)),
            },
        )
        with use_config(config):
            yield {"s3": s3, "ddb": ddb}
        client.cache_clear()
        api_wiring.from_config.cache_clear()


def call(method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    r = api_handler.handler(event(method, path, **kwargs), Ctx())  # type: ignore[arg-type]
    return r["statusCode"], json.loads(r["body"]), r.get("headers", {})


def objects(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=UPLOADS).get("Contents", [])]


def table_items(ddb: Any) -> list[dict[str, Any]]:
    """The catalog's items but the per-minute request counters (every call counts, refused or not)."""
    return [i for i in ddb.scan(TableName=TABLE)["Items"] if not i["pk"]["S"].startswith("rate#")]


def notify_saw(key: str, etag: str) -> None:
    """What notify writes when the upload's Object Created arrives."""
    DynamoCatalog(TABLE).record_upload(
        Upload(UPLOADS, key, etag),
        UploadFacts(size=4, content_type="image/png"),
        expected=["resize"],
        now=datetime.now(UTC),
    )


GOOD = {"filename": "My Cat.png", "type": "image/png", "size": 4}


# --- the contract ------------------------------------------------------------------------------
def test_the_manifest_routes_are_the_handlers_and_only_the_document_is_public() -> None:
    trigger = load_manifest(FOLDER).http
    assert trigger is not None
    assert list(trigger.routes) == [r.manifest_route for r in ROUTES]
    assert list(trigger.public_routes) == [r.manifest_route for r in ROUTES if r.public] == ["GET /api/openapi.json"]


def test_the_upload_cap_is_not_above_the_processors() -> None:
    parsed = parse_settings(load_manifest(FOLDER))
    producers = [m for m in discover(DEFAULT_ROOT) if m.produces_variants]
    assert producers and all(parsed.max_bytes <= parse_settings(m).max_bytes for m in producers)


def test_the_openapi_document_is_public_and_describes_every_route(aws: dict) -> None:
    status, doc, _ = call("GET", "/api/openapi.json", sub=None)
    assert status == 200 and doc["openapi"].startswith("3.")
    for route in ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        assert str(route.status) in op["responses"]
        assert op["security"] == ([] if route.public else [{"jwt": []}])
    upload = doc["components"]["schemas"]["NewUpload"]
    assert upload["required"] == ["filename", "type", "size"]
    assert upload["properties"]["size"] == {"type": "integer", "minimum": 1}


# --- uploads -----------------------------------------------------------------------------------
def test_a_small_upload_is_listed_and_reported_to_its_owner_only(aws: dict) -> None:
    s3 = aws["s3"]
    status, ticket, headers = call("POST", "/api/uploads", body=GOOD)
    assert status == 201 and headers["Cache-Control"] == "no-store"
    assert ticket["method"] == "PUT" and ticket["key"] == f"users/{ALICE}/{ticket['id']}/My-Cat.png"
    assert ticket["headers"] == {"Content-Type": "image/png", "If-None-Match": "*"}

    # the client PUTs the file with the ticket's headers
    sent = requests.put(ticket["url"], data=b"\x89PNG", headers=ticket["headers"], timeout=10)
    assert sent.status_code == 200, sent.text
    etag = sent.headers["ETag"].strip('"')
    status, view, _ = call("GET", f"/api/uploads/{ticket['id']}")
    assert (status, view["status"], view["size"]) == (200, "processing", 4)

    notify_saw(ticket["key"], etag)
    status, view, _ = call("GET", f"/api/uploads/{ticket['id']}")
    assert (status, view["status"], view["filename"]) == (200, "processing", "My-Cat.png")
    assert [p["name"] for p in view["processors"]] == ["resize"]

    status, page, _ = call("GET", "/api/uploads")
    assert status == 200 and [u["id"] for u in page["uploads"]] == [ticket["id"]]

    # Bob sees nothing of it: not in his list, 404 on its id, and he cannot delete it
    assert call("GET", "/api/uploads", sub=BOB)[1]["uploads"] == []
    assert call("GET", f"/api/uploads/{ticket['id']}", sub=BOB)[0] == 404
    assert call("DELETE", f"/api/uploads/{ticket['id']}", sub=BOB)[0] == 404
    assert objects(s3) == [ticket["key"]]

    status, body, _ = call("DELETE", f"/api/uploads/{ticket['id']}")
    assert (status, body) == (200, {"id": ticket["id"], "deleted": True})
    assert objects(s3) == []
    assert call("GET", f"/api/uploads/{ticket['id']}")[0] == 404


def test_the_list_is_newest_first_and_paginated(aws: dict) -> None:
    s3 = aws["s3"]
    ids = []
    for _ in range(3):
        ticket = call("POST", "/api/uploads", body=GOOD)[1]
        etag = s3.put_object(Bucket=UPLOADS, Key=ticket["key"], Body=b"x")["ETag"].strip('"')
        notify_saw(ticket["key"], etag)
        ids.append(ticket["id"])
    status, first, _ = call("GET", "/api/uploads", query={"limit": "2"})
    assert status == 200 and [u["id"] for u in first["uploads"]] == ids[::-1][:2]
    second = call("GET", "/api/uploads", query={"limit": "2", "cursor": first["next_cursor"]})[1]
    assert [u["id"] for u in second["uploads"]] == ids[:1]
    # Alice's cursor in Bob's request is refused, not followed
    status, error, _ = call("GET", "/api/uploads", sub=BOB, query={"cursor": first["next_cursor"]})
    assert (status, error["error"]["field"]) == (400, "cursor")
    assert call("GET", "/api/uploads", query={"cursor": "!!"})[0] == 400


def test_a_multipart_upload_signs_exact_parts_completes_and_aborts(aws: dict) -> None:
    s3 = aws["s3"]
    size = 5 * 1024 * 1024 + 3
    status, ticket, _ = call("POST", "/api/uploads/multipart", body={**GOOD, "size": size})
    assert status == 201 and (ticket["part_size"], ticket["part_count"]) == (5 * 1024 * 1024, 2)
    path = f"/api/uploads/{ticket['id']}"

    status, signed, _ = call("POST", f"{path}/parts", body={"part_numbers": [1, 2]})
    assert status == 200 and [p["content_length"] for p in signed["parts"]] == [5 * 1024 * 1024, 3]
    assert call("POST", f"{path}/parts", body={"part_numbers": [3]})[0] == 400
    assert call("POST", f"{path}/parts", sub=BOB, body={"part_numbers": [1]})[0] == 404
    assert call("GET", path)[1]["status"] == "uploading"

    etags = []
    for n, length in ((1, 5 * 1024 * 1024), (2, 3)):
        r = s3.upload_part(
            Bucket=UPLOADS, Key=ticket["key"], UploadId=ticket["upload_id"], PartNumber=n, Body=b"x" * length
        )
        etags.append(r["ETag"])
    status, parts, _ = call("GET", f"{path}/parts")
    assert status == 200 and [(p["part_number"], p["size"]) for p in parts["parts"]] == [(1, 5 * 1024 * 1024), (2, 3)]

    complete = {"parts": [{"part_number": n, "etag": e} for n, e in enumerate(etags, 1)]}
    assert call("POST", f"{path}/complete", sub=BOB, body=complete)[0] == 404
    status, view, _ = call("POST", f"{path}/complete", body=complete)
    assert (status, view["status"]) == (200, "processing")
    assert s3.head_object(Bucket=UPLOADS, Key=ticket["key"])["ContentLength"] == size

    # another one, aborted through DELETE: nothing stays
    other = call("POST", "/api/uploads/multipart", body={**GOOD, "size": 10})[1]
    assert call("DELETE", f"/api/uploads/{other['id']}")[0] == 200
    assert s3.list_multipart_uploads(Bucket=UPLOADS).get("Uploads", []) == []
    assert call("GET", f"/api/uploads/{other['id']}")[0] == 404


def test_a_ticket_uploads_once(aws: dict) -> None:
    """A second PUT with the same ticket (other bytes, well within its expiry) stores nothing:
    no new version, so no Object Created event, no pipeline round, email or webhook."""
    s3 = aws["s3"]
    ticket = call("POST", "/api/uploads", body=GOOD)[1]
    first = requests.put(ticket["url"], data=b"\x89PNG", headers=ticket["headers"], timeout=10)
    assert first.status_code == 200
    again = requests.put(ticket["url"], data=b"\x89PNX", headers=ticket["headers"], timeout=10)
    assert again.status_code == 412
    versions = s3.list_object_versions(Bucket=UPLOADS, Prefix=ticket["key"]).get("Versions", [])
    assert len(versions) <= 1  # moto keeps no versions on an unversioned bucket; S3 would keep one
    assert s3.get_object(Bucket=UPLOADS, Key=ticket["key"])["Body"].read() == b"\x89PNG"


def test_completing_a_multipart_upload_twice_or_with_parts_never_sent_is_4xx(aws: dict) -> None:
    size = 5 * 1024 * 1024 + 3
    ticket = call("POST", "/api/uploads/multipart", body={**GOOD, "size": size})[1]
    path = f"/api/uploads/{ticket['id']}"
    never_sent = {"parts": [{"part_number": 1, "etag": '"0"'}, {"part_number": 2, "etag": '"1"'}]}
    status, error, _ = call("POST", f"{path}/complete", body=never_sent)
    assert (status, error["error"]["field"]) == (400, "parts")
    etags = [
        aws["s3"].upload_part(
            Bucket=UPLOADS, Key=ticket["key"], UploadId=ticket["upload_id"], PartNumber=n, Body=b"x" * length
        )["ETag"]
        for n, length in ((1, 5 * 1024 * 1024), (2, 3))
    ]
    complete = {"parts": [{"part_number": n, "etag": e} for n, e in enumerate(etags, 1)]}
    assert call("POST", f"{path}/complete", body=complete)[0] == 200
    assert call("POST", f"{path}/complete", body=complete)[0] == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "²"}, "limit"),
        ({"limit": "١"}, "limit"),  # an Arabic-Indic digit: isdigit() says yes, int() too, but it is not ASCII
        ({"limit": "9" * 40}, "limit"),
        ({"cursor": base64.urlsafe_b64encode(b'{"owner":"x"}').decode()}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'{"owner":{"S":"' + ALICE.encode() + b'"}}').decode()}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"[" * 100_000).decode()}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"\xff\xfe").decode()}, "cursor"),
    ],
)
def test_a_bad_query_is_400_never_a_server_error(aws: dict, query: dict, field: str) -> None:
    status, error, _ = call("GET", "/api/uploads", query=query)
    assert (status, error["error"]["field"]) == (400, field)


def test_a_deeply_nested_or_huge_body_is_400(aws: dict) -> None:
    for body in ("[" * 100_000, "{" + '"a":' * 1 + "[" * 100_000, json.dumps({"filename": "x" * 2_000_000})):
        status, error, _ = call("POST", "/api/uploads", body=body)
        assert (status, error["error"]["field"]) == (400, "body")
    assert table_items(aws["ddb"]) == []


# --- refusals leave nothing behind ------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"sub": None, "body": GOOD}, 401, None),
        ({"sub": "../x", "body": GOOD}, 401, None),
        ({"body": "{not json"}, 400, "body"),
        ({}, 400, "body"),
        ({"body": {"type": "image/png", "size": 4}}, 400, "filename"),
        ({"body": {**GOOD, "type": "image/svg+xml"}}, 415, "type"),
        ({"body": {**GOOD, "size": 52428801}}, 413, "size"),
    ],
)
@pytest.mark.parametrize("path", ["/api/uploads", "/api/uploads/multipart"])
def test_a_refused_new_upload_answers_its_code_and_leaves_nothing(
    aws: dict, kwargs: dict, status: int, field: str | None, path: str
) -> None:
    got, body, _ = call("POST", path, **kwargs)
    assert got == status and body["error"].get("field") == field
    assert objects(aws["s3"]) == [] and table_items(aws["ddb"]) == []
    assert aws["s3"].list_multipart_uploads(Bucket=UPLOADS).get("Uploads", []) == []


def test_only_requests_through_the_cdn_are_answered_when_the_stack_says_so(
    aws: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgpipe.config import ENV_ORIGIN_TOKEN, ORIGIN_HEADER

    monkeypatch.setenv(ENV_ORIGIN_TOKEN, "f3a1c2d4-0000-4a4a-9b9b-123456789abc")
    status, error, _ = call("GET", "/api/uploads")  # straight to the execute-api host: no header
    assert (status, error["error"]["code"]) == (403, "forbidden")
    assert call("GET", "/api/openapi.json", sub=None)[0] == 403
    wrong = api_handler.handler(
        {**event("GET", "/api/uploads"), "headers": {ORIGIN_HEADER: "guess"}},
        Ctx(),  # type: ignore[arg-type]
    )
    assert wrong["statusCode"] == 403
    via_cdn = api_handler.handler(
        {**event("GET", "/api/uploads"), "headers": {ORIGIN_HEADER: "f3a1c2d4-0000-4a4a-9b9b-123456789abc"}},
        Ctx(),  # type: ignore[arg-type]
    )
    assert via_cdn["statusCode"] == 200


def test_a_callers_requests_per_minute_are_limited_per_caller(aws: dict) -> None:
    from ..fairness import window

    api_wiring.from_config.cache_clear()
    config = Config.from_env({**current_config().as_env()})
    limited = Config(
        processor=config.processor,
        uploads_bucket=config.uploads_bucket,
        variants_bucket=config.variants_bucket,
        settings={**config.settings, "requests_per_minute": 3},
        resources=config.resources,
    )
    with use_config(limited):
        _, retry_after = window(datetime.now(UTC))
        answers = [call("GET", "/api/uploads")[0] for _ in range(3)]
        status, error, headers = call("GET", "/api/uploads")
        if retry_after < 3:  # the minute turned meanwhile: the fourth call opened a new one
            return
        assert answers == [200, 200, 200]
        assert (status, error["error"]["code"]) == (429, "rate_limited")
        assert 1 <= int(headers["Retry-After"]) <= 60
        # another caller has a count of their own
        assert call("GET", "/api/uploads", sub=BOB)[0] == 200
    api_wiring.from_config.cache_clear()


def test_the_daily_quota_answers_429_with_a_retry_hint(aws: dict) -> None:
    for _ in range(3):
        assert call("POST", "/api/uploads", body=GOOD)[0] == 201
    status, body, headers = call("POST", "/api/uploads/multipart", body=GOOD)
    assert (status, body["error"]["code"]) == (429, "quota_exceeded")
    assert 0 < int(headers["Retry-After"]) <= 86400
    assert aws["s3"].list_multipart_uploads(Bucket=UPLOADS).get("Uploads", []) == []
    assert call("POST", "/api/uploads", sub=BOB, body=GOOD)[0] == 201  # per user


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("upload_id", ["nope", "a" * 22, "../../" + "a" * 16])
def test_an_unknown_or_malformed_id_is_404(aws: dict, method: str, upload_id: str) -> None:
    assert call(method, f"/api/uploads/{upload_id}")[0] == 404


def test_an_unknown_route_is_404(aws: dict) -> None:
    assert call("GET", "/api/nothing")[0] == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/api/uploads"), ("GET", "/api/uploads/"), ("GET", "/api/uploads/a/b"), ("GET", "/api/openapi.jsonx")],
)
def test_a_known_path_with_another_method_or_more_segments_is_404(aws: dict, method: str, path: str) -> None:
    status, body, headers = call(method, path)
    assert (status, body["error"]["code"], headers["Content-Type"]) == (404, "not_found", "application/json")


def test_a_base64_encoded_json_body_is_read_as_json(aws: dict) -> None:
    # API Gateway encodes a body it does not take for text; the JSON inside is what the caller sent
    e = event("POST", "/api/uploads", body=base64.b64encode(json.dumps(GOOD).encode()).decode())
    e["isBase64Encoded"] = True
    r = api_handler.handler(e, Ctx())  # type: ignore[arg-type]
    assert r["statusCode"] == 201, r["body"]
    e["body"] = "not base64 at all!"
    r = api_handler.handler(e, Ctx())  # type: ignore[arg-type]
    assert (r["statusCode"], json.loads(r["body"])["error"]["code"]) == (400, "invalid_field")


def test_uploads_without_an_owner_are_not_listed(aws: dict) -> None:
    # what the console, the AWS CLI and `imgpipe upload` write: no users/<sub>/ prefix, no owner
    for key in ("photos/cat.jpg", f"users/{ALICE}", "users//x/cat.jpg"):
        notify_saw(key, "e1")
    assert all("owner" not in item for item in table_items(aws["ddb"]))
    assert call("GET", "/api/uploads")[1]["uploads"] == []


def test_every_route_behind_the_authorizer_documents_401_and_429() -> None:
    """Every such call is counted against the caller's rate (and the gateway may throttle it)."""
    for route in ROUTES:
        if not route.public:
            assert {401, 429} <= set(route.errors), route.manifest_route
