"""What Lambda gives a handler, as the local stack gives it: the context object, the handler
imported from its folder, and one call with the function's configuration.

Used by the invoker (in the stack's threads), the worker processes and the front door alike.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from imgpipe.config import Config, use_config
from imgpipe.manifest import Manifest
from imgpipe.registry import service_module

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


def sqs_batch(manifest: Manifest, messages: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """What Lambda's SQS event source hands a handler: one record per ``(message id, event)``,
    the event as the message body (an EventBridge rule's SQS target sends the event as is)."""
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:imgpipe-{manifest.name}-input"
    now = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": message_id,
                "body": json.dumps(event),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message_id, event in messages
        ]
    }


def load_handler(manifest: Manifest) -> Handler:
    """The handler function, imported as part of its folder's package (relative imports work;
    see :func:`imgpipe.registry.service_module`)."""
    return service_module(manifest, "handler").handler


def _clear_metrics() -> None:
    """Metrics are disabled locally, but Powertools still accumulates them in a set shared by
    every instance (and prints it once it holds 100 values): drop them after each invocation."""
    from aws_lambda_powertools import Metrics

    Metrics().clear_metrics()


def call_handler(handler: Handler, manifest: Manifest, config: Config, event: dict[str, Any]) -> Any:
    """One call of a handler as Lambda makes it (in this thread, or in a worker process)."""
    with use_config(config):
        try:
            return handler(event, LambdaContext(manifest))
        finally:
            _clear_metrics()
