"""The upload API end to end on the local stack, spoken to as a browser would: plain HTTP with
real tokens from moto's Cognito, presigned PUTs and signed part PUTs straight to S3, the status
route until the pipeline is done, and the variants through /v/.

Two users upload through both paths and see only their own uploads; every bad input answers its
status code and leaves nothing behind.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import moto.cognitoidp
import pytest
import requests
from PIL import Image

from imgpipe.catalog.schema import OWNER_INDEX
from imgpipe_tools.local import LocalStack
from tests.e2e.conftest import PRODUCERS, StartStack
from tests.imagegen import photo

QUOTA = 4
PASSWORD = "Correct-horse-42!"


@pytest.fixture
def stack(start_local_stack: StartStack) -> Iterator[LocalStack]:
    with start_local_stack(settings={"api": {"uploads_per_day": QUOTA}}) as s:
        assert s.frontdoor is not None
        yield s


class User:
    def __init__(self, stack: LocalStack, email: str) -> None:
        door = stack.frontdoor
        assert door is not None
        self.sub = door.create_user(email, PASSWORD)
        self.token = door.sign_in(email, PASSWORD)["IdToken"]
        self.base = door.url

    def call(self, method: str, path: str, body: Any = None, token: str | None = "own", **kw: Any) -> requests.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {self.token if token == 'own' else token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            kw["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kw)


def jpeg(size: tuple[int, int], seed: int) -> bytes:
    out = io.BytesIO()
    photo(size, seed).save(out, "JPEG", quality=90)
    return out.getvalue()


def noise_png(size: tuple[int, int]) -> bytes:
    import os

    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "PNG", compress_level=0)
    return out.getvalue()


def ticket_for(user: User, name: str, data: bytes, content_type: str) -> dict[str, Any]:
    r = user.call("POST", "/api/uploads", {"filename": name, "type": content_type, "size": len(data)})
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["key"].startswith(f"users/{user.sub}/{ticket['id']}/")
    assert ticket["method"] == "PUT"
    return ticket


def put_upload(user: User, name: str, data: bytes, content_type: str) -> str:
    ticket = ticket_for(user, name, data, content_type)
    sent = requests.put(ticket["url"], data=data, headers=ticket["headers"], timeout=30)
    assert sent.status_code == 200, sent.text
    return ticket["id"]


def multipart_upload(user: User, name: str, data: bytes, content_type: str) -> tuple[str, int]:
    r = user.call("POST", "/api/uploads/multipart", {"filename": name, "type": content_type, "size": len(data)})
    assert r.status_code == 201, r.text
    ticket = r.json()
    part_size, count = ticket["part_size"], ticket["part_count"]
    path = f"/api/uploads/{ticket['id']}"
    signed = user.call("POST", f"{path}/parts", {"part_numbers": list(range(1, count + 1))}).json()["parts"]
    etags = []
    for part in signed:
        n = part["part_number"]
        chunk = data[(n - 1) * part_size : n * part_size]
        assert len(chunk) == part["content_length"]
        put = requests.put(part["url"], data=chunk, timeout=60)
        assert put.status_code == 200, put.text
        etags.append({"part_number": n, "etag": put.headers["ETag"]})
    listed = user.call("GET", f"{path}/parts").json()["parts"]
    assert [p["part_number"] for p in listed] == list(range(1, count + 1))
    done = user.call("POST", f"{path}/complete", {"parts": etags})
    assert done.status_code == 200, done.text
    return ticket["id"], count


def wait_done(user: User, upload_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = user.call("GET", f"/api/uploads/{upload_id}").json()
        if view["status"] not in ("uploading", "processing"):
            return view
        time.sleep(0.3)
    raise AssertionError(f"{upload_id} not finished: {view}")


def test_two_users_upload_both_ways_and_see_only_their_own(stack: LocalStack) -> None:
    alice, bob = User(stack, "alice@example.com"), User(stack, "bob@example.com")
    uploads: dict[str, list[str]] = {}
    for n, user in enumerate((alice, bob)):
        small = put_upload(user, f"Small Photo {n}.jpg", jpeg((640, 480), seed=n), "image/jpeg")
        # over 5 MiB of noise: two parts
        big, parts = multipart_upload(user, f"big-{n}.png", noise_png((1400, 1300)), "image/png")
        assert parts == 2
        uploads[user.sub] = [small, big]

    for user in (alice, bob):
        for upload_id in uploads[user.sub]:
            view = wait_done(user, upload_id)
            assert view["status"] == "completed", view
            assert sorted(p["name"] for p in view["processors"]) == PRODUCERS
            assert all(p["state"] == "done" for p in view["processors"])
            assert view["variants"] and view["srcset"] and view["picture"].startswith("<picture>")
            for variant in view["variants"]:
                got = requests.get(variant["url"], timeout=30)
                assert got.status_code == 200 and got.headers["Cache-Control"].endswith("immutable")
                assert len(got.content) == variant["bytes"]
                assert Image.open(io.BytesIO(got.content)).size == (variant["width"], variant["height"])

        listed = user.call("GET", "/api/uploads").json()["uploads"]
        assert [u["id"] for u in listed] == uploads[user.sub][::-1]  # newest first

    # Isolation: the other user's ids answer 404 on every route, and nothing of theirs changes.
    other = uploads[alice.sub][0]
    for method, path, body in (
        ("GET", f"/api/uploads/{other}", None),
        ("DELETE", f"/api/uploads/{other}", None),
        ("GET", f"/api/uploads/{other}/parts", None),
        ("POST", f"/api/uploads/{other}/parts", {"part_numbers": [1]}),
    ):
        r = bob.call(method, path, body)
        assert r.status_code == 404, (method, path, r.text)
    assert wait_done(alice, other)["status"] == "completed"

    # Deleting is the owner's: the upload goes, its variants follow through the pipeline.
    assert alice.call("DELETE", f"/api/uploads/{other}").status_code == 200
    assert alice.call("GET", f"/api/uploads/{other}").status_code == 404


def _moto_private_key() -> Any:
    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    jwk = json.loads(gzip.decompress(path.read_bytes()))  # one JWK: the key moto signs every token with
    return jwt.PyJWK.from_dict(jwk).key, jwk["kid"]


def test_bad_input_answers_its_code_and_leaves_nothing_behind(stack: LocalStack) -> None:
    door = stack.frontdoor
    assert door is not None
    dave = User(stack, "dave@example.com")
    good = {"filename": "a.jpg", "type": "image/jpeg", "size": 1000}

    key, kid = _moto_private_key()
    claims = jwt.decode(dave.token, options={"verify_signature": False})
    expired = jwt.encode({**claims, "iat": 1, "exp": 2}, key, algorithm="RS256", headers={"kid": kid})
    forged = jwt.encode({**claims, "sub": "someone-else"}, "not the pool's key, just a secret", algorithm="HS256")
    # the control: the same claims signed with the pool's key and not expired are accepted
    resigned = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    assert dave.call("GET", "/api/uploads", token=resigned).status_code == 200
    other_pool = jwt.encode(
        {**claims, "iss": "https://cognito-idp.us-east-1.amazonaws.com/x"}, key, "RS256", {"kid": kid}
    )
    for token in (None, "garbage", expired, forged, other_pool):
        for path in ("/api/uploads", "/api/uploads/multipart"):
            assert dave.call("POST", path, good, token=token).status_code == 401
        assert dave.call("GET", "/api/uploads", token=token).status_code == 401
    assert dave.call("GET", "/api/openapi.json", token=None).status_code == 200  # the one public route

    for path in ("/api/uploads", "/api/uploads/multipart"):
        cases = [
            ("{not json", 400, "body"),
            ({"type": "image/jpeg", "size": 10}, 400, "filename"),
            ({"filename": "a.jpg", "size": 10}, 400, "type"),
            ({"filename": "a.jpg", "type": "image/jpeg"}, 400, "size"),
            ({**good, "type": "image/svg+xml"}, 415, "type"),
            ({**good, "size": 50 * 1024 * 1024 + 1}, 413, "size"),
        ]
        for body, status, field in cases:
            r = dave.call("POST", path, body)
            assert r.status_code == status, (path, body, r.text)
            assert r.json()["error"]["field"] == field
    for upload_id in ("x" * 22, "nope"):
        assert dave.call("GET", f"/api/uploads/{upload_id}").status_code == 404
        assert dave.call("DELETE", f"/api/uploads/{upload_id}").status_code == 404

    # the quota: QUOTA new uploads a day, then 429 with a retry hint (and the refusals did not count)
    for _ in range(QUOTA):
        assert dave.call("POST", "/api/uploads", good).status_code == 201
    refused = dave.call("POST", "/api/uploads/multipart", good)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0

    s3, ddb = stack.client("s3"), stack.client("dynamodb")
    prefix = f"users/{dave.sub}/"
    assert s3.list_objects_v2(Bucket=stack.uploads_bucket, Prefix=prefix).get("KeyCount", 0) == 0
    assert s3.list_multipart_uploads(Bucket=stack.uploads_bucket, Prefix=prefix).get("Uploads", []) == []
    rounds = ddb.query(
        TableName=stack.deployment.catalog_table,
        IndexName=OWNER_INDEX,
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": dave.sub}},
    )
    assert rounds["Items"] == []


def test_a_ticket_uploads_once_one_round_one_email(stack: LocalStack) -> None:
    """Reusing a ticket within its expiry, with other bytes, with or without its conditional
    header, stores nothing new: the pipeline runs once and sends one email."""
    erin = User(stack, "erin@example.com")
    first = jpeg((320, 240), seed=7)
    ticket = ticket_for(erin, "once.jpg", first, "image/jpeg")
    assert requests.put(ticket["url"], data=first, headers=ticket["headers"], timeout=30).status_code == 200
    view = wait_done(erin, ticket["id"])
    assert view["status"] == "completed", view

    other = jpeg((320, 240), seed=8)[: len(first)].ljust(len(first), b"\0")
    again = requests.put(ticket["url"], data=other, headers=ticket["headers"], timeout=30)
    assert again.status_code == 412, again.text  # If-None-Match: * and the key holds an object
    without = {k: v for k, v in ticket["headers"].items() if k != "If-None-Match"}
    dropped = requests.put(ticket["url"], data=other, headers=without, timeout=30)
    assert dropped.status_code == 403, dropped.text  # a signed header left out

    s3 = stack.client("s3")
    assert s3.get_object(Bucket=stack.uploads_bucket, Key=ticket["key"])["Body"].read() == first
    versions = s3.list_object_versions(Bucket=stack.uploads_bucket, Prefix=ticket["key"]).get("Versions", [])
    assert len(versions) == 1
    time.sleep(2)  # a second round, had there been one, would have started by now
    rounds = stack.client("dynamodb").query(
        TableName=stack.deployment.catalog_table,
        KeyConditionExpression="pk = :k",
        ExpressionAttributeValues={":k": {"S": f"s3://{stack.uploads_bucket}/{ticket['key']}"}},
    )["Items"]
    assert len(rounds) == 1
    assert sum(ticket["key"] in (e.body + e.subject) or "once.jpg" in e.body for e in stack.emails) == 1


def test_the_front_door_answers_only_its_own_host_and_the_demo_password_is_new_each_start(stack: LocalStack) -> None:
    door = stack.frontdoor
    assert door is not None
    port = door.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert requests.get(f"{door.url}/api/openapi.json", headers={"Host": host}, timeout=10).status_code == 200
    for host in (f"rebound.example:{port}", "rebound.example", f"127.0.0.1:{int(port) + 1}"):
        r = requests.get(f"{door.url}/api/openapi.json", headers={"Host": host}, timeout=10)
        assert r.status_code == 421, (host, r.status_code)
    # the demo user's password: printed, meets the pool's rule, and not what another start gets
    from imgpipe_tools.local.frontdoor import banner, demo_password

    assert door.demo is not None and door.demo.password in banner(door, "http://moto")
    assert door.sign_in(door.demo.email, door.demo.password)["IdToken"]
    passwords = {door.demo.password, demo_password(), demo_password()}
    assert len(passwords) == 3
    for p in passwords:
        assert len(p) >= 12 and re.search("[a-z]", p) and re.search("[A-Z]", p) and re.search("[0-9]", p)
        assert re.search(r"[^A-Za-z0-9]", p)
