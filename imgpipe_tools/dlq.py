"""Reading and replaying a processor's two DLQs, on AWS and on the local stack alike.

- The failure DLQ holds Lambda's on-failure records (the event in ``requestPayload``, the
  error in ``responsePayload``): the handler ran and kept failing. A service that takes its
  events in batches from a queue ([batch]) finds there the events themselves: the queue's
  redrive policy moves a message its handler reported failed on every receive, as it is.
- The target DLQ holds events EventBridge could not deliver at all (the event is the body).

Redrive re-invokes the processor asynchronously with the original event (AWS: Lambda
``Invoke`` with ``InvocationType=Event``; local: the processor's invoke queue, which is what
its rules deliver to) and deletes each message only after that succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from imgpipe_tools.resources import StackResources

FAILURE, TARGET = "failure", "target"


@dataclass(frozen=True)
class DlqMessage:
    processor: str
    queue: str  # FAILURE | TARGET
    message_id: str
    event: dict[str, Any]
    error: str  # "ErrorType: message" for failure records; the delivery error code otherwise

    @property
    def source_key(self) -> str:
        detail = self.event.get("detail") or {}
        obj = detail.get("object") or {}
        return str(obj.get("key") or detail.get("key") or "?")


def _parse(processor: str, queue: str, message: dict[str, Any]) -> DlqMessage:
    body = json.loads(message["Body"])
    if queue == FAILURE and "requestPayload" in body:
        response = body.get("responsePayload") or {}
        error = f"{response.get('errorType', '?')}: {response.get('errorMessage', '')}"
        event = body["requestPayload"]
    elif queue == FAILURE:
        error = "failed on every receive from the service's queue (the function's log says why)"
        event = body
    else:
        attrs = message.get("MessageAttributes") or {}
        error = str((attrs.get("ERROR_CODE") or {}).get("StringValue", "not delivered"))
        event = body
    return DlqMessage(processor, queue, message["MessageId"], event, error)


def _queues(deployment: StackResources, processor: str) -> list[tuple[str, str]]:
    target = deployment.processor(processor)
    return [(q, url) for q, url in ((FAILURE, target.failure_dlq_url), (TARGET, target.target_dlq_url)) if url]


def _receive_all(sqs: Any, url: str, hide_s: int) -> Iterator[dict[str, Any]]:
    """Every message currently in the queue, each hidden for ``hide_s`` once received."""
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=hide_s,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return
        yield from batch


def list_messages(deployment: StackResources, processor: str) -> list[DlqMessage]:
    """The messages in both DLQs, left in place (made visible again right away)."""
    sqs = deployment.client("sqs")
    found: list[DlqMessage] = []
    for queue, url in _queues(deployment, processor):
        received = list(_receive_all(sqs, url, hide_s=60))
        found += [_parse(processor, queue, m) for m in received]
        for i in range(0, len(received), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(received[i : i + 10])
            ]
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    return found


def depth(deployment: StackResources, processor: str) -> dict[str, int]:
    sqs = deployment.client("sqs")
    out = {}
    for queue, url in _queues(deployment, processor):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        out[queue] = int(attrs.get("ApproximateNumberOfMessages", 0))
    return out


def reinvoke(deployment: StackResources, processor: str, event: dict[str, Any]) -> None:
    target = deployment.processor(processor)
    if target.invoke_queue_url:
        deployment.client("sqs").send_message(QueueUrl=target.invoke_queue_url, MessageBody=json.dumps(event))
    elif target.function_name:
        deployment.client("lambda").invoke(
            FunctionName=target.function_name, InvocationType="Event", Payload=json.dumps(event).encode()
        )
    else:
        raise ValueError(f"{deployment.origin} names no function or invoke queue for {processor}")


def redrive(
    deployment: StackResources, processor: str, before_replay: Callable[[DlqMessage], None] | None = None
) -> dict[str, int]:
    """Replay every message of both DLQs; returns how many per queue. ``before_replay`` sees
    each message just before it is replayed (the local tracker reopens the upload)."""
    sqs = deployment.client("sqs")
    counts = {FAILURE: 0, TARGET: 0}
    for queue, url in _queues(deployment, processor):
        for message in _receive_all(sqs, url, hide_s=300):
            parsed = _parse(processor, queue, message)
            if before_replay:
                before_replay(parsed)
            reinvoke(deployment, processor, parsed.event)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            counts[queue] += 1
    return counts
