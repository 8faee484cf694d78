"""Completion events and the webhook service on the local stack, with a receiver that verifies
every signature with the `standardwebhooks` package (as a customer's receiver would).

One verified delivery per upload; a repeat of a round's event carries the same webhook-id; a
receiver that fails leaves the event in the webhook's DLQ, and a redrive delivers it once the
receiver is fixed.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from imgpipe.events import COMPLETION_SOURCE, UPLOAD_COMPLETED
from imgpipe_tools.local import LocalStack
from tests.e2e.conftest import SAMPLES, StartStack

pytestmark = pytest.mark.slow


@dataclass
class Delivery:
    webhook_id: str
    payload: dict[str, Any]


@dataclass
class Receiver:
    """Answers ``status``; keeps each verified delivery, counts the ones that failed verification."""

    status: int = 204
    secret: str = ""
    verified: list[Delivery] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)  # webhook-id of every request, answered or not
    unverified: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.attempts.append(headers.get("webhook-id", ""))
            if self.status >= 300:
                return self.status
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                self.unverified += 1
                return 400
            self.verified.append(Delivery(headers["webhook-id"], payload))
            return self.status


@contextlib.contextmanager
def serve(receiver: Receiver) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            status = receiver.take(body, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/imgpipe"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _secret(stack: LocalStack) -> str:
    assert stack.webhook_secret_arn
    value = stack.client("secretsmanager").get_secret_value(SecretId=stack.webhook_secret_arn)["SecretString"]
    return f"whsec_{value}"


@contextlib.contextmanager
def _stack_with_webhook(start: StartStack, receiver: Receiver) -> Iterator[LocalStack]:
    with serve(receiver) as url, start(services="+webhook", settings={"webhook": {"url": url}}) as stack:
        receiver.secret = _secret(stack)
        yield stack


def test_each_upload_gets_one_verified_delivery_and_a_repeat_carries_the_same_id(
    start_local_stack: StartStack,
) -> None:
    receiver = Receiver()
    with _stack_with_webhook(start_local_stack, receiver) as stack:
        photo = stack.put("photos/portrait.jpg", (SAMPLES / "coffee.jpg").read_bytes())
        text = stack.put("docs/notes.txt", b"not an image at all")
        reports = stack.wait([photo, text], timeout=120)
        assert [r.status for r in reports] == ["completed", "rejected"]
        assert stack.wait_until(lambda: len(receiver.verified) >= 2, timeout=30)
        # nothing more arrives: one delivery per upload
        assert not stack.wait_until(lambda: len(receiver.verified) > 2, timeout=2)
        by_key = {d.payload["data"]["key"]: d for d in receiver.verified}
        completed, rejected = by_key["photos/portrait.jpg"], by_key["docs/notes.txt"]
        assert completed.payload["type"] == "upload.completed" and rejected.payload["type"] == "upload.rejected"
        assert completed.webhook_id == completed.payload["data"]["id"] != rejected.webhook_id
        variant_keys = {v.key for v in reports[0].variants}
        assert {v["key"] for v in completed.payload["data"]["variants"]} == variant_keys
        assert rejected.payload["data"]["reasons"] == ["unsupported_format"]
        assert receiver.unverified == 0 and stack.dlq_depths(["webhook"]) == {"webhook": 0}

        # The same round's event put again (what a retry after a failure between the put and the
        # email does): a second delivery, with the same webhook-id, for the receiver to drop.
        stack.client("events").put_events(
            Entries=[
                {
                    "Source": COMPLETION_SOURCE,
                    "DetailType": UPLOAD_COMPLETED,
                    "Detail": json.dumps(completed.payload["data"]),
                    "EventBusName": "default",
                }
            ]
        )
        assert stack.wait_until(lambda: len(receiver.verified) == 3, timeout=30)
        assert receiver.verified[-1].webhook_id == completed.webhook_id
        assert len({d.webhook_id for d in receiver.verified}) == 2


def test_a_failing_receiver_ends_in_the_dlq_and_a_redrive_delivers_once_it_is_fixed(
    start_local_stack: StartStack,
) -> None:
    receiver = Receiver(status=500)
    with _stack_with_webhook(start_local_stack, receiver) as stack:
        photo = stack.put("photos/portrait.jpg", (SAMPLES / "coffee.jpg").read_bytes())
        [report] = stack.wait([photo], timeout=120)
        assert report.status == "completed"  # the upload itself is fine: only its webhook failed
        assert stack.wait_until(lambda: stack.dlq_depths(["webhook"]) == {"webhook": 1}, timeout=30)
        webhook = next(m for m in stack.manifests if m.name == "webhook")
        assert len(receiver.attempts) == webhook.retry_attempts + 1 and len(set(receiver.attempts)) == 1
        [parked] = stack.dlq_messages("webhook")
        assert "500" in parked.error and parked.source_key == "photos/portrait.jpg"
        assert receiver.verified == []

        receiver.status = 200
        assert stack.redrive("webhook") == {"failure": 1, "target": 0}
        assert stack.wait_until(lambda: len(receiver.verified) == 1, timeout=30)
        assert not stack.wait_until(lambda: len(receiver.verified) > 1, timeout=2)
        [delivered] = receiver.verified
        assert delivered.webhook_id == receiver.attempts[0]  # the same id as the failed attempts
        assert delivered.payload["data"]["key"] == "photos/portrait.jpg"
        assert stack.dlq_depths(["webhook"]) == {"webhook": 0}
