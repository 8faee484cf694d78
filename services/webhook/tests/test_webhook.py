"""webhook: signatures a Standard Webhooks receiver accepts (checked with the `standardwebhooks`
package, not with this code), the request of a completion event, and failures that raise."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from imgpipe.events import COMPLETION_SOURCE, UPLOAD_COMPLETED, VARIANTS_CREATED
from imgpipe.settings import SettingsError, parse
from services.webhook.adapters import http_post
from services.webhook.deliverer import Deliverer, DeliveryFailed
from services.webhook.logic import Delivery, NotDeliverable, SecretError, delivery_for, parse_keys, sign, url_problem
from services.webhook.settings import Settings

UPLOADS = "imgpipe-uploads"
KEY = bytes(range(36))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NEW_KEY = bytes(range(100, 136))
NEW_SECRET = "whsec_" + base64.b64encode(NEW_KEY).decode()
NOW = 1_795_000_000  # Unix seconds


def completion(event_id: str = "evt_0123456789abcdef0123456789abcdef", bucket: str = UPLOADS) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",  # EventBridge's own: differs on every put
        "detail-type": UPLOAD_COMPLETED,
        "source": COMPLETION_SOURCE,
        "time": "2026-11-22T18:43:55Z",
        "detail": {"id": event_id, "status": "completed", "bucket": bucket, "key": "photos/caf\u00e9.jpg"},
    }


def verify(secret: str, delivery: Delivery, headers: dict[str, str]) -> Any:
    """What a receiver does; the timestamp check is the library's (5 minutes), so sign 'now'."""
    return Webhook(secret).verify(delivery.body, headers)


def test_a_delivery_verifies_with_the_standardwebhooks_library() -> None:
    import time

    delivery = delivery_for(completion(), UPLOADS)
    headers = delivery.headers((KEY,), int(time.time()))
    payload = verify(SECRET, delivery, headers)
    assert payload["type"] == "upload.completed" and payload["data"]["key"] == "photos/caf\u00e9.jpg"
    assert headers["webhook-id"] == "evt_0123456789abcdef0123456789abcdef"
    assert headers["webhook-signature"].startswith("v1,")


def test_a_changed_body_id_or_key_fails_verification() -> None:
    import time

    delivery = delivery_for(completion(), UPLOADS)
    headers = delivery.headers((KEY,), int(time.time()))
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(delivery.body.replace(b"completed", b"rejected"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(delivery.body, {**headers, "webhook-id": "evt_other"})
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW_SECRET).verify(delivery.body, headers)


def test_during_a_rotation_both_keys_sign_and_either_verifies() -> None:
    import time

    delivery = delivery_for(completion(), UPLOADS)
    keys = parse_keys(f"{SECRET} {NEW_SECRET}")
    headers = delivery.headers(keys, int(time.time()))
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(SECRET, delivery, headers)
    verify(NEW_SECRET, delivery, headers)


def test_the_signature_is_the_spec_s_hmac_of_id_timestamp_and_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = base64.b64encode(hmac.new(KEY, b"msg_1.1700000000." + body, hashlib.sha256).digest()).decode()
    assert sign((KEY,), "msg_1", 1_700_000_000, body) == f"v1,{expected}"


def test_the_same_event_gives_the_same_id_and_body_on_every_delivery() -> None:
    first, second = delivery_for(completion(), UPLOADS), delivery_for(completion(), UPLOADS)
    assert first == second
    # EventBridge's envelope id differs between two puts of one round's event; the webhook-id does not
    other_put = {**completion(), "id": "0f1e2d3c-0000-4000-8000-000000000000"}
    assert delivery_for(other_put, UPLOADS).msg_id == first.msg_id


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ({**completion(), "source": "imgpipe.resize"}, "not a completion event"),
        ({**completion(), "detail-type": VARIANTS_CREATED}, "not a completion event"),
        (completion(bucket="someone-elses-uploads"), "not this stack's"),
        (completion(event_id=""), "no id"),
    ],
)
def test_what_is_not_this_stack_s_completion_event_is_refused(event: dict[str, Any], why: str) -> None:
    with pytest.raises(NotDeliverable, match=why):
        delivery_for(event, UPLOADS)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [("", "empty"), ("whsec_not*base64", "not base64"), ("whsec_" + base64.b64encode(b"short").decode(), "16")],
)
def test_a_bad_secret_is_named(secret: str, problem: str) -> None:
    with pytest.raises(SecretError, match=problem):
        parse_keys(secret)


def test_a_secret_without_its_prefix_or_padding_is_read() -> None:
    assert parse_keys(base64.b64encode(KEY).decode().rstrip("=")) == (KEY,)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.example.com/imgpipe", True),
        ("http://localhost:8080/hook", True),
        ("http://127.0.0.1:9000/", True),
        ("http://[::1]:9000/", True),
        ("http://hooks.example.com/imgpipe", False),
        ("ftp://hooks.example.com/", False),
        ("https:///no-host", False),
        ("https://user:pw@hooks.example.com/", False),
    ],
)
def test_only_https_urls_or_plain_http_to_localhost(url: str, ok: bool) -> None:
    assert (url_problem(url) is None) is ok
    if not ok:
        with pytest.raises(SettingsError, match="'url'"):
            parse(Settings, {"url": url}, service="webhook")


# --- the deliverer ------------------------------------------------------------------------------
class Receiver:
    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.calls: list[tuple[str, dict[str, str], bytes]] = []

    def __call__(self, url: str, headers: Any, body: bytes, timeout_s: float) -> int:
        self.calls.append((url, dict(headers), body))
        return self.status


def deliverer(receiver: Receiver, url: str = "https://hooks.example.com/in") -> Deliverer:
    return Deliverer(url=url, keys=lambda: (KEY,), post=receiver, uploads_bucket=UPLOADS, clock=lambda: NOW)


def test_a_2xx_answer_is_a_delivery() -> None:
    receiver = Receiver(204)
    result = deliverer(receiver).handle(completion())
    assert result["step"] == "delivered" and result["id"] == completion()["detail"]["id"]
    [(url, headers, body)] = receiver.calls
    assert headers["webhook-timestamp"] == str(NOW) and url == "https://hooks.example.com/in"
    assert json.loads(body)["data"]["id"] == result["id"]


@pytest.mark.parametrize("status", [301, 400, 404, 500, 503])
def test_any_other_answer_raises_for_lambda_s_retries_and_the_dlq(status: int) -> None:
    with pytest.raises(DeliveryFailed, match=str(status)):
        deliverer(Receiver(status)).handle(completion())


def test_without_a_url_the_event_fails_into_the_dlq_with_the_fix_in_the_message() -> None:
    receiver = Receiver()
    with pytest.raises(DeliveryFailed, match="no url is configured"):
        deliverer(receiver, url="").handle(completion())
    assert receiver.calls == []


def test_a_foreign_event_is_refused_without_a_request_or_a_retry() -> None:
    receiver = Receiver()
    assert deliverer(receiver).handle(completion(bucket="elsewhere"))["step"] == "refused"
    assert receiver.calls == []


# --- the POST, against a real HTTP server -------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    answer = 200

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(self.answer)
        if self.answer == 302:
            self.send_header("location", "/elsewhere")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def server() -> Iterator[http.server.ThreadingHTTPServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("answer", [200, 204, 302, 500])
def test_http_post_returns_the_status_and_follows_no_redirect(
    server: http.server.ThreadingHTTPServer, answer: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Handler, "answer", answer)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    assert http_post(url, {"content-type": "application/json"}, b"{}", 5) == answer


def test_no_answer_is_a_delivery_failure() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    with pytest.raises(DeliveryFailed, match="no answer"):
        http_post(f"http://127.0.0.1:{port}/", {}, b"{}", 2)
