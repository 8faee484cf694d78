"""The local stack's Dispatcher on moto's SQS: messages leave the queue as soon as they arrive,
``concurrency`` handlers run at once (one slow message holds no other), and a message whose
``handle`` raised goes back on the queue to be delivered again. With a batch, ``handle`` gets what
arrived within the window of the first message, at most ``size`` at once."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.manifest import Batch
from imgpipe_tools.local.invoker import Dispatcher

#: generous: how long a test waits for something that must happen
WAIT_S = 20.0


@pytest.fixture
def sqs() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName="invoke-probe")["QueueUrl"]
        yield client, url


@contextlib.contextmanager
def running(
    sqs: tuple[Any, str], handle: Callable[[Any], Any], *, concurrency: int, batch: Batch | None = None
) -> Iterator[Dispatcher]:
    client, url = sqs
    stop = threading.Event()
    dispatcher = Dispatcher("probe", client, url, handle, stop, concurrency=concurrency, wait_s=1, batch=batch)
    dispatcher.start()
    try:
        yield dispatcher
    finally:
        stop.set()
        dispatcher.join(timeout=WAIT_S)
        # stopped before moto's mock ends: a thread left polling would reach for real AWS
        assert not any(t.is_alive() for t in dispatcher._threads)


def send(sqs: tuple[Any, str], body: dict[str, Any]) -> None:
    client, url = sqs
    client.send_message(QueueUrl=url, MessageBody=json.dumps(body))


def queue_counts(sqs: tuple[Any, str]) -> tuple[int, int]:
    client, url = sqs
    attrs = client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


class Blocking:
    """A handle that blocks on the message ``{"slow": ...}`` until released, and records every
    body it handled (in the order the calls ended)."""

    def __init__(self) -> None:
        self.slow_started = threading.Event()
        self.release = threading.Event()
        self.fast_done = threading.Event()
        self.handled: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> None:
        if "slow" in body:
            self.slow_started.set()
            assert self.release.wait(WAIT_S), "never released"
        with self._lock:
            self.handled.append(body)
        if "fast" in body:
            self.fast_done.set()


def test_messages_leave_the_queue_before_they_are_handled(sqs: tuple[Any, str]) -> None:
    handle = Blocking()
    with running(sqs, handle, concurrency=1) as dispatcher:
        send(sqs, {"slow": 1})
        assert handle.slow_started.wait(WAIT_S)
        # the handler is still running: the message is neither waiting nor in flight on the queue
        assert queue_counts(sqs) == (0, 0)
        assert dispatcher.pending == 1
        handle.release.set()
    assert handle.handled == [{"slow": 1}]
    assert dispatcher.pending == 0
    assert queue_counts(sqs) == (0, 0)


def test_a_slow_message_does_not_hold_the_next_one_with_concurrency_two(sqs: tuple[Any, str]) -> None:
    handle = Blocking()
    with running(sqs, handle, concurrency=2):
        send(sqs, {"slow": 1})
        assert handle.slow_started.wait(WAIT_S)
        send(sqs, {"fast": 2})
        # handled while the slow one is still blocked (it is released only below)
        assert handle.fast_done.wait(WAIT_S)
        assert handle.handled == [{"fast": 2}]
        handle.release.set()
    assert handle.handled == [{"fast": 2}, {"slow": 1}]


def test_with_concurrency_one_a_slow_message_holds_the_next_one(sqs: tuple[Any, str]) -> None:
    handle = Blocking()
    with running(sqs, handle, concurrency=1) as dispatcher:
        send(sqs, {"slow": 1})
        assert handle.slow_started.wait(WAIT_S)
        send(sqs, {"fast": 2})
        # the fast message was taken off the queue, but waits for the only handler thread
        for _ in range(100):
            if queue_counts(sqs) == (0, 0) and dispatcher.pending == 2:
                break
            time.sleep(0.1)  # polling, not a measure of speed
        assert dispatcher.pending == 2
        assert not handle.fast_done.wait(2.0)
        assert handle.handled == []
        handle.release.set()
        assert handle.fast_done.wait(WAIT_S)
    assert handle.handled == [{"slow": 1}, {"fast": 2}]


def test_a_message_whose_handle_raised_is_delivered_again(sqs: tuple[Any, str]) -> None:
    calls: list[dict[str, Any]] = []
    second = threading.Event()

    def handle(body: dict[str, Any]) -> None:
        calls.append(body)
        if len(calls) == 1:
            raise RuntimeError("the runtime failed (e.g. the DLQ did not take a record)")
        second.set()

    with running(sqs, handle, concurrency=1) as dispatcher:
        send(sqs, {"key": "photos/cat.jpg", "n": 1})
        assert second.wait(WAIT_S), "the message did not come back after handle raised"
    assert calls == [{"key": "photos/cat.jpg", "n": 1}] * 2
    assert dispatcher.pending == 0
    assert queue_counts(sqs) == (0, 0)


@pytest.mark.parametrize("concurrency", [0, -1])
def test_concurrency_below_one_is_refused(sqs: tuple[Any, str], concurrency: int) -> None:
    client, url = sqs
    with pytest.raises(ValueError, match="concurrency must be 1 or more"):
        Dispatcher("probe", client, url, lambda _body: None, threading.Event(), concurrency=concurrency)


def test_a_message_that_is_not_json_is_dropped_and_the_queue_still_served(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    handled: list[dict[str, Any]] = []
    with running(sqs, handled.append, concurrency=1) as dispatcher:
        client.send_message(QueueUrl=url, MessageBody="not json")
        send(sqs, {"n": 1})
        deadline = time.monotonic() + WAIT_S
        while (not handled or dispatcher.pending) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handled == [{"n": 1}]
        assert dispatcher._threads[0].is_alive()  # the receiver
        assert dispatcher.pending == 0  # the dropped message is not counted as waiting


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling, not a measure of speed
    assert condition()


def test_a_batch_gathers_what_arrives_within_its_window(sqs: tuple[Any, str]) -> None:
    batches: list[list[dict[str, Any]]] = []
    with running(sqs, batches.append, concurrency=2, batch=Batch(size=10, window_s=3)) as dispatcher:
        send(sqs, {"n": 1})
        time.sleep(0.5)  # inside the window the first message opened
        send(sqs, {"n": 2})
        send(sqs, {"n": 3})
        _wait_for(lambda: sum(map(len, batches)) == 3 and dispatcher.pending == 0)
    assert batches == [[{"n": 1}, {"n": 2}, {"n": 3}]]


def test_a_message_after_the_window_opens_the_next_batch(sqs: tuple[Any, str]) -> None:
    batches: list[list[dict[str, Any]]] = []
    with running(sqs, batches.append, concurrency=1, batch=Batch(size=10, window_s=1)) as dispatcher:
        send(sqs, {"n": 1})
        _wait_for(lambda: len(batches) == 1)
        send(sqs, {"n": 2})
        _wait_for(lambda: len(batches) == 2 and dispatcher.pending == 0)
    assert batches == [[{"n": 1}], [{"n": 2}]]


def test_a_batch_holds_at_most_its_size(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    batches: list[list[dict[str, Any]]] = []
    client.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": json.dumps({"n": n})} for n in range(7)]
    )
    with running(sqs, batches.append, concurrency=1, batch=Batch(size=3, window_s=2)) as dispatcher:
        _wait_for(lambda: sum(map(len, batches)) == 7 and dispatcher.pending == 0)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert sorted(m["n"] for b in batches for m in b) == list(range(7))


def test_a_batch_whose_handle_raised_goes_back_whole(sqs: tuple[Any, str]) -> None:
    calls: list[list[dict[str, Any]]] = []

    def handle(bodies: list[dict[str, Any]]) -> None:
        calls.append(bodies)
        if len(calls) == 1:
            raise RuntimeError("the runtime failed")

    client, url = sqs
    client.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "a", "MessageBody": '{"n": 1}'}, {"Id": "b", "MessageBody": '{"n": 2}'}]
    )
    with running(sqs, handle, concurrency=1, batch=Batch(size=10, window_s=1)) as dispatcher:
        _wait_for(lambda: len(calls) >= 2 and dispatcher.pending == 0)
    assert sorted(m["n"] for m in calls[0]) == [1, 2]
    assert sorted(m["n"] for b in calls[1:] for m in b) == [1, 2]
