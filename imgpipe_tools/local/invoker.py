"""Invokes a processor's real handler the way Lambda's asynchronous invocation does.

A :class:`Dispatcher` takes the events off the processor's invoke queue (where its EventBridge
rules deliver) as they arrive and runs up to ``concurrency`` of them at once, as Lambda runs an
async invocation in any free environment: one slow upload never holds the ones behind it. Each
invocation calls the handler with a Lambda-like context and the processor's own configuration
(:func:`imgpipe.config.use_config`: per thread, never ``os.environ``), in a worker process
(:mod:`imgpipe_tools.local.processes`) or, without one, in the dispatcher's thread; it retries a
raised error ``retry_attempts`` times, and then sends Lambda's on-failure destination record
(the event and the error) to the processor's failure DLQ.

A service with ``[batch]`` in its manifest is served as Lambda's SQS event source serves it: the
dispatcher gathers up to ``size`` events for up to ``window_s`` seconds after the first, the
handler gets them as one SQS batch, the events it reports failed are delivered again (each at
most ``retry_attempts + 1`` times, the queue's redrive policy), and then moved to the failure DLQ
as they are, the event as the message body.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imgpipe.config import Config
from imgpipe.manifest import Batch, Manifest
from imgpipe_tools.local.lambda_env import ACCOUNT, REGION, call_handler, load_handler, sqs_batch
from imgpipe_tools.local.processes import HandlerFailed, HandlerProcesses

log = logging.getLogger("imgpipe_tools.local")


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
    stack = exc.stack if isinstance(exc, HandlerFailed) else traceback.format_exception(exc)[-6:]
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
            "errorType": error_type(exc),
            "stackTrace": stack,
        },
    }


def error_type(exc: BaseException) -> str:
    """The name of the error the handler raised (in this process or in a worker)."""
    return exc.type_name if isinstance(exc, HandlerFailed) else type(exc).__name__


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
        processes: HandlerProcesses | None = None,
    ) -> None:
        """``processes``: run the handler there; None: in the calling thread."""
        self.manifest = manifest
        self.config = config
        self.sqs = sqs
        self.failure_dlq_url = failure_dlq_url
        self.retry_delay_s = retry_delay_s
        self.on_outcome = on_outcome or (lambda _o: None)
        self.processes = processes
        # imported here even when the workers run it: a broken handler fails at start, not per event
        self.handler = load_handler(manifest)

    def _call(self, event: dict[str, Any]) -> Any:
        if self.processes is not None:
            return self.processes.call(self.manifest, self.config, event)
        return call_handler(self.handler, self.manifest, self.config, event)

    def invoke(self, event: dict[str, Any]) -> Outcome:
        """One asynchronous invocation: the first try and ``retry_attempts`` retries."""
        name, attempts = self.manifest.name, self.manifest.retry_attempts + 1
        attempt = 1
        while True:
            try:
                outcome = Outcome(name, event, True, attempt, self._call(event))
                break
            except Exception as exc:
                log.warning("%s: attempt %d/%d failed: %s: %s", name, attempt, attempts, error_type(exc), exc)
                if attempt == attempts:
                    record = failure_record(self.manifest, event, attempts, exc, str(uuid.uuid4()))
                    self.sqs.send_message(QueueUrl=self.failure_dlq_url, MessageBody=json.dumps(record))
                    outcome = Outcome(name, event, False, attempts, None, error_type(exc), str(exc))
                    break
                # Lambda waits about 1 then 2 minutes; the same doubling, much shorter.
                time.sleep(self.retry_delay_s * 2 ** (attempt - 1))
                attempt += 1
        self.on_outcome(outcome)
        return outcome

    def invoke_batch(self, events: Sequence[dict[str, Any]]) -> list[Outcome]:
        """One batch from the service's queue, and the redeliveries of the events it reports
        failed (``batchItemFailures``; all of them when the handler raises)."""
        name, attempts = self.manifest.name, self.manifest.retry_attempts + 1
        pending = [(str(uuid.uuid4()), e) for e in events]
        outcomes: list[Outcome] = []
        attempt = 1
        while pending:
            failed, error = self._call_batch(pending)
            finished = [Outcome(name, e, True, attempt) for m, e in pending if m not in failed]
            pending = [(m, e) for m, e in pending if m in failed]
            if pending and attempt == attempts:
                for _, event in pending:
                    # the queue's redrive policy moves the message as it is: the event is the body
                    self.sqs.send_message(QueueUrl=self.failure_dlq_url, MessageBody=json.dumps(event))
                finished += [Outcome(name, e, False, attempts, None, *error) for _, e in pending]
                pending = []
            for outcome in finished:
                self.on_outcome(outcome)
            outcomes += finished
            if pending:
                log.warning(
                    "%s: %d event(s) of a batch failed (receive %d/%d): %s",
                    name,
                    len(pending),
                    attempt,
                    attempts,
                    error[1],
                )
                # back on the queue until its visibility timeout; the same doubling as above, much shorter
                time.sleep(self.retry_delay_s * 2 ** (attempt - 1))
                attempt += 1
        return outcomes

    def _call_batch(self, messages: Sequence[tuple[str, dict[str, Any]]]) -> tuple[set[str], tuple[str, str]]:
        """The message ids the handler reports failed, and what to say of them."""
        try:
            response = self._call(sqs_batch(self.manifest, messages))
        except Exception as exc:
            return {m for m, _ in messages}, (error_type(exc), str(exc))
        failures = (response or {}).get("batchItemFailures", []) if isinstance(response, dict) else []
        failed = {str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)}
        return failed, ("BatchItemFailure", "the handler reported it failed (its log says why)")


class Dispatcher:
    """Serves one queue: a receiver thread long-polls it and takes each message off at once into
    memory (as Lambda's async invocation takes an event into its own queue), and ``concurrency``
    threads hand the message bodies (JSON) to ``handle``, oldest first.

    With ``batch``, ``handle`` gets a list of bodies instead: one thread at a time gathers them, up
    to ``batch.size`` and for at most ``batch.window_s`` seconds after the first (Lambda's SQS
    event source), then handles them while the next thread gathers.

    The queue is emptied as soon as messages arrive because moto's SQS costs time in proportion to
    the messages a queue holds on every call: a backlog of a burst made every send and receive
    slower, so throughput fell as the burst grew. ``handle`` deals with a handler's failures itself
    (the invoker parks them in the DLQ); if ``handle`` itself raises, the runtime failed (the DLQ
    did not take a record, the outbox could not write an email) and the message goes back on the
    queue, to be delivered again, rather than be lost with nothing in any DLQ.
    """

    def __init__(
        self,
        name: str,
        sqs: Any,
        queue_url: str,
        handle: Callable[[Any], Any],
        stop: threading.Event,
        *,
        concurrency: int = 1,
        wait_s: int = 1,
        batch: Batch | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"{name}: concurrency must be 1 or more, not {concurrency}")
        self.name = name
        self.sqs = sqs
        self.queue_url = queue_url
        self.handle = handle
        self.stop_event = stop
        self.wait_s = wait_s
        self.batch = batch
        self._gathering = threading.Lock()
        self._inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._threads = [threading.Thread(target=self._receive, name=f"{name}-receiver", daemon=True)]
        self._threads += [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(concurrency)
        ]
        self._lock = threading.Lock()
        #: messages taken off the queue and not yet handled (waiting or running)
        self.pending = 0

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def join(self, timeout: float) -> None:
        for t in self._threads:
            t.join(timeout=timeout)

    def _receive(self) -> None:
        while not self.stop_event.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_s
                ).get("Messages", [])
                if messages:
                    self.sqs.delete_message_batch(
                        QueueUrl=self.queue_url,
                        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                    )
            except Exception as exc:
                if self.stop_event.is_set():
                    return
                # A message received but not deleted comes back after its visibility timeout and is
                # handled twice, which the handlers allow (they are idempotent).
                log.warning("%s: receive failed: %s", self.name, exc)
                time.sleep(0.5)
                continue
            for message in messages:
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    # nothing sends a queue of ours anything but JSON: a stray message is dropped, loudly
                    log.error("%s: dropped a message that is not JSON: %.200r", self.name, message["Body"])
                    continue
                with self._lock:
                    self.pending += 1
                self._inbox.put(body)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            bodies = self._gather() if self.batch else self._one()
            if not bodies:
                continue
            try:
                self.handle(bodies if self.batch else bodies[0])
            except Exception:
                log.exception("%s: could not handle %d message(s); back on the queue", self.name, len(bodies))
                for body in bodies:
                    self._put_back(body)
            finally:
                with self._lock:
                    self.pending -= len(bodies)

    def _one(self) -> list[dict[str, Any]]:
        try:
            return [self._inbox.get(timeout=0.2)]
        except queue.Empty:
            return []

    def _gather(self) -> list[dict[str, Any]]:
        """A batch: from its first message, more until it is full or the window ends."""
        assert self.batch is not None
        with self._gathering:
            bodies = self._one()
            deadline = time.monotonic() + self.batch.window_s
            while bodies and len(bodies) < self.batch.size and not self.stop_event.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    bodies.append(self._inbox.get(timeout=min(left, 0.2)))
                except queue.Empty:
                    continue
            return bodies

    def _put_back(self, body: dict[str, Any]) -> None:
        try:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body), DelaySeconds=1)
        except Exception:
            log.exception("%s: could not put a message back on its queue; it is lost: %s", self.name, body)
