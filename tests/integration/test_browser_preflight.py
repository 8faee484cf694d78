"""The browser's CORS with the local stack, as ``imgpipe local up`` starts it (moto in a process of
its own): the preflights the web app's requests cause, sent from the page's origin to the Cognito
JSON API and to the presigned S3 URLs the API hands out, are allowed; another origin is not.

The answers come from imgpipe_tools/local/browser_cors.py, not from moto's routing of ``OPTIONS``
(moto 5.2.6 answered Cognito's preflight 500, and the page could not sign in).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from imgpipe_tools.local import LocalStack
from imgpipe_tools.local.frontdoor import LocalFrontDoor

#: what auth.js sends (content-type, x-amz-target) and what an AWS SDK adds (x-amz-user-agent)
COGNITO_HEADERS = "content-type,x-amz-target,x-amz-user-agent"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
OTHER_ORIGIN = "http://127.0.0.1:1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    outbox = tmp_path_factory.mktemp("outbox")
    with LocalStack.start(outbox=outbox, processes=1, services="api,resize") as s:
        assert s.frontdoor is not None
        yield s


@pytest.fixture(scope="module")
def door(stack: LocalStack) -> LocalFrontDoor:
    assert stack.frontdoor is not None
    return stack.frontdoor


def _preflight(url: str, origin: str, method: str, headers: str | None = None) -> requests.Response:
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return requests.options(url, headers=sent, timeout=10)


def _assert_allowed(answer: requests.Response, origin: str, method: str, headers: str | None = None) -> None:
    assert 200 <= answer.status_code < 300, (answer.status_code, answer.text[:300])
    assert answer.headers["Access-Control-Allow-Origin"] in (origin, "*")
    assert method in answer.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in answer.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert "*" in allowed or {h.strip().lower() for h in (headers or "").split(",") if h} <= allowed


def _api(door: LocalFrontDoor, path: str, body: dict) -> dict:
    token = door.sign_in(door.demo.email, door.demo.password)["IdToken"]  # type: ignore[union-attr]
    answer = requests.post(f"{door.url}/api{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_the_sign_in_preflight_and_call_are_allowed_from_the_page(door: LocalFrontDoor) -> None:
    config = requests.get(f"{door.url}/config.json", timeout=10).json()
    auth = config["authEndpoint"]
    for origin in (door.url, door.url.replace("127.0.0.1", "localhost")):
        _assert_allowed(_preflight(auth, origin, "POST", COGNITO_HEADERS), origin, "POST", COGNITO_HEADERS)
    # then the call itself: the browser reads its answer only with the origin allowed on it too
    signed_in = requests.post(
        auth,
        headers={
            "Origin": door.url,
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
        },
        json={
            "ClientId": config["userPoolClientId"],
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": door.demo.email, "PASSWORD": door.demo.password},  # type: ignore[union-attr]
        },
        timeout=10,
    )
    assert signed_in.status_code == 200 and "IdToken" in signed_in.json()["AuthenticationResult"]
    assert signed_in.headers["Access-Control-Allow-Origin"] in (door.url, "*")


def test_the_presigned_post_preflight_is_allowed_from_the_page_only(door: LocalFrontDoor) -> None:
    ticket = _api(door, "/uploads", {"filename": "cat.jpg", "type": "image/jpeg", "size": 48211})
    _assert_allowed(_preflight(ticket["url"], door.url, "POST"), door.url, "POST")
    # the bucket's CORS rule names the page's origins: S3 refuses the others
    assert _preflight(ticket["url"], OTHER_ORIGIN, "POST").status_code == 403


@pytest.mark.parametrize("headers", [None, "content-type"])
def test_a_multipart_part_put_preflight_is_allowed_and_exposes_the_etag(
    door: LocalFrontDoor, headers: str | None, tmp_path: Path
) -> None:
    started = _api(door, "/uploads/multipart", {"filename": "big.jpg", "type": "image/jpeg", "size": 12 * 2**20})
    signed = _api(door, f"/uploads/{started['id']}/parts", {"part_numbers": [1]})
    url = signed["parts"][0]["url"]
    answer = _preflight(url, door.url, "PUT", headers)
    _assert_allowed(answer, door.url, "PUT", headers)
    # Uppy reads each part's ETag to complete the upload
    assert "etag" in answer.headers.get("Access-Control-Expose-Headers", "").lower()
    assert _preflight(url, OTHER_ORIGIN, "PUT", headers).status_code == 403
