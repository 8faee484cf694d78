"""webhook's steps for one event: refuse what is not a completion event of this stack, sign,
POST, and raise unless the receiver answered 2xx (Lambda's retries, then the failure DLQ,
whose ``imgpipe dlq redrive webhook`` delivers again with the same ``webhook-id``).

I/O goes through two ports: the signing keys (Secrets Manager in :mod:`.adapters`) and the
POST. Unit tests pass fakes; :func:`.wiring.from_config` passes the real ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from imgpipe.errors import TransientError
from imgpipe.ports import MetricsSink, NoMetrics

from .logic import NotDeliverable, delivery_for


class DeliveryFailed(TransientError):
    """The receiver did not take the event (no answer, or not 2xx): retried, then the DLQ."""


class Poster(Protocol):
    def __call__(self, url: str, headers: Mapping[str, str], body: bytes, timeout_s: float) -> int:
        """POST; return the HTTP status. Raise :class:`DeliveryFailed` when there is none."""


@dataclass
class Deliverer:
    url: str
    keys: Callable[[], tuple[bytes, ...]]
    post: Poster
    uploads_bucket: str
    timeout_s: float = 10.0
    clock: Callable[[], float] = time.time
    metrics: MetricsSink = field(default_factory=NoMetrics)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("webhook"))

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            delivery = delivery_for(event, self.uploads_bucket)
        except NotDeliverable as exc:
            # Put by hand, not by this stack's notify: it would fail the same way on every retry.
            self.metrics.add_metric("EventsRefused", "Count", 1)
            self.log.warning("event refused", extra={"why": str(exc)[:500]})
            return {"step": "refused", "why": str(exc)}
        if not self.url:
            raise DeliveryFailed(
                "no url is configured (setting 'url' of webhook): the event waits in the DLQ; "
                "set it, deploy, then `imgpipe dlq redrive webhook`"
            )
        timestamp = int(self.clock())
        started = time.monotonic()
        status = self.post(self.url, delivery.headers(self.keys(), timestamp), delivery.body, self.timeout_s)
        self.metrics.add_metric("DeliverySeconds", "Seconds", time.monotonic() - started)
        if not 200 <= status < 300:
            self.metrics.add_metric("DeliveriesFailed", "Count", 1)
            raise DeliveryFailed(f"the receiver answered {status} to {delivery.type} {delivery.msg_id}")
        self.metrics.add_metric("DeliveriesSucceeded", "Count", 1)
        return {"step": "delivered", "id": delivery.msg_id, "type": delivery.type, "status": status}
