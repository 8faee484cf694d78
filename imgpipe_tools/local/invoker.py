"""Invokes a processor's real handler the way Lambda's asynchronous invocation does.

A worker thread takes an event from the processor's invoke queue (where its EventBridge rules
deliver), calls the handler in-process with a Lambda-like context and the processor's own
configuration (:func:`imgpipe.config.use_config`: per thread, never ``os.environ``), retries a
raised error ``retry_attempts`` times, and then sends Lambda's on-failure destination record
(the event and the error) to the processor's failure DLQ.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imgpipe.config import Config, use_config
from imgpipe.manifest import Manifest
from imgpipe.registry import service_module

log = logging.getLogger("imgpipe_tools.local")

ACCOUNT = "123456789012"
REGION = "us-east-1"

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, manifest: Manifest) -> None:
        self.function_name = f"imgpipe-{manifest.name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self.memory_limit_in_mb = manifest.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{threading.current_thread().name}"
        self._deadline = time.monotonic() + manifest.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(manifest: Manifest) -> Handler:
    """The handler function, imported as part of its folder's package (relative imports work;
    see :func:`imgpipe.registry.service_module`)."""
    return service_module(manifest, "handler").handler


def _clear_metrics() -> None:
    """Metrics are disabled locally, but Powertools still accumulates them in a set shared by
    every instance (and prints it once it holds 100 values): drop them after each invocation."""
    from aws_lambda_powertools import Metrics

    Metrics().clear_metrics()


@dataclass(frozen=True)
class Outcome:
    """The end of one event's async invocation (after retries)."""

    processor: str
    event: dict[str, Any]
    ok: bool
    attempts: int
    result: Any = None
    error_type: str = ""
    error_message: str = ""


def failure_record(
    manifest: Manifest, event: dict[str, Any], attempts: int, exc: BaseException, request_id: str
) -> dict[str, Any]:
    """Lambda's on-failure destination record, as it lands in the failure DLQ."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:imgpipe-{manifest.name}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_exception(exc)[-6:],
        },
    }


class Invoker:
    """Runs one processor's handler with Lambda's async retry and on-failure semantics."""

    def __init__(
        self,
        manifest: Manifest,
        config: Config,
        *,
        sqs: Any,
        failure_dlq_url: str,
        retry_delay_s: float = 0.2,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.manifest = manifest
        self.config = config
        self.sqs = sqs
        self.failure_dlq_url = failure_dlq_url
        self.retry_delay_s = retry_delay_s
        self.on_outcome = on_outcome or (lambda _o: None)
        self.handler = load_handler(manifest)

    def _call(self, event: dict[str, Any]) -> Any:
        context = LambdaContext(self.manifest)
        with use_config(self.config):
            try:
                return self.handler(event, context)
            finally:
                _clear_metrics()

    def invoke(self, event: dict[str, Any]) -> Outcome:
        """One asynchronous invocation: the first try and ``retry_attempts`` retries."""
        name, attempts = self.manifest.name, self.manifest.retry_attempts + 1
        attempt = 1
        while True:
            try:
                outcome = Outcome(name, event, True, attempt, self._call(event))
                break
            except Exception as exc:
                log.warning("%s: attempt %d/%d failed: %s: %s", name, attempt, attempts, type(exc).__name__, exc)
                if attempt == attempts:
                    record = failure_record(self.manifest, event, attempts, exc, str(uuid.uuid4()))
                    self.sqs.send_message(QueueUrl=self.failure_dlq_url, MessageBody=json.dumps(record))
                    outcome = Outcome(name, event, False, attempts, None, type(exc).__name__, str(exc))
                    break
                # Lambda waits about 1 then 2 minutes; the same doubling, much shorter.
                time.sleep(self.retry_delay_s * 2 ** (attempt - 1))
                attempt += 1
        self.on_outcome(outcome)
        return outcome


class QueueWorker(threading.Thread):
    """Long-polls one queue and hands each message body (JSON) to ``handle``; deletes the
    message once ``handle`` returns (the invoker has dealt with failures itself)."""

    def __init__(
        self,
        name: str,
        sqs: Any,
        queue_url: str,
        handle: Callable[[dict[str, Any]], Any],
        stop: threading.Event,
        wait_s: int = 1,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.sqs = sqs
        self.queue_url = queue_url
        self.handle = handle
        self.stop_event = stop
        self.wait_s = wait_s
        #: messages being handled right now (the runtime waits for 0 before it stops)
        self.busy = False

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=self.wait_s
                ).get("Messages", [])
            except Exception as exc:
                if self.stop_event.is_set():
                    return
                log.warning("%s: receive failed: %s", self.name, exc)
                time.sleep(0.5)
                continue
            for message in messages:
                self.busy = True
                try:
                    self.handle(json.loads(message["Body"]))
                except Exception:
                    # Not a handler's failure (the invoker parks those in the DLQ itself) but the
                    # runtime's: e.g. the DLQ did not take the failure record, or the outbox could
                    # not write an email. Keep the message: it comes back after its visibility
                    # timeout. Deleting it would lose the event with nothing in any DLQ.
                    log.exception("%s: could not handle a message; it will be delivered again", self.name)
                    continue
                finally:
                    self.busy = False
                try:
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                except Exception as exc:
                    # The message comes back and is handled again (handlers are idempotent); a
                    # worker thread that died here would leave its queue unserved for good.
                    log.warning("%s: could not delete a handled message: %s", self.name, exc)
