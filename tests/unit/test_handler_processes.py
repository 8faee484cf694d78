"""HandlerProcesses: a handler runs in a worker process with the environment the stack gave it;
its error comes back by name (HandlerFailed), a worker that dies fails only its invocation
(WorkerDied) and the pool is replaced; the invoker's failure record names the remote error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imgpipe.config import Config
from imgpipe.manifest import Manifest
from imgpipe.registry import discover
from imgpipe_tools.local.invoker import Invoker, error_type, failure_record
from imgpipe_tools.local.processes import HandlerFailed, HandlerProcesses, WorkerDied

MANIFEST = """\
name = "probe"
description = "a handler for the worker-process tests"
memory_mb = 256
timeout_s = 30
retry_attempts = 1

[[triggers]]
source = "uploads"
"""

HANDLER = """\
import json
import os
import subprocess
import sys
from pathlib import Path


def handler(event, context):
    if "Records" in event:  # a batch (the invoker's invoke_batch): report each "fail" failed
        bodies = {r["messageId"]: json.loads(r["body"]) for r in event["Records"]}
        if any("raise" in b for b in bodies.values()):
            raise RuntimeError("the whole batch failed")
        return {"batchItemFailures": [{"itemIdentifier": m} for m, b in bodies.items() if "fail" in b]}
    if "fail" in event:
        raise ValueError("bad")
    if "die" in event:
        os._exit(3)
    return {
        "echo": event,
        "pid": os.getpid(),
        "x_test": os.environ.get("X_TEST"),
        "parent_only": os.environ.get("IMGPIPE_TEST_PARENT_ONLY"),
        "function_name": context.function_name,
    }
"""


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    root = tmp_path_factory.mktemp("services")
    (root / "probe").mkdir()
    (root / "probe" / "manifest.toml").write_text(MANIFEST)
    (root / "probe" / "handler.py").write_text(HANDLER)
    [found] = discover(root, services="all")
    return found


@pytest.fixture(scope="module")
def processes() -> Iterator[HandlerProcesses]:
    # the stack's process has a variable the stack does not hand on: the worker must not see it
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IMGPIPE_TEST_PARENT_ONLY", "leaked")
        env = {k: v for k, v in os.environ.items() if k != "IMGPIPE_TEST_PARENT_ONLY"}
        pool = HandlerProcesses(1, {**env, "X_TEST": "given"})
    try:
        yield pool
    finally:
        pool.close()


CONFIG = Config(processor="probe")


def test_the_result_comes_back_from_a_worker_process(manifest: Manifest, processes: HandlerProcesses) -> None:
    result = processes.call(manifest, CONFIG, {"key": "photos/cat.jpg"})
    assert result["echo"] == {"key": "photos/cat.jpg"}
    assert result["pid"] != os.getpid()
    assert result["function_name"] == "imgpipe-probe"


def test_the_worker_has_the_environment_given_to_the_pool(manifest: Manifest, processes: HandlerProcesses) -> None:
    assert "X_TEST" not in os.environ
    result = processes.call(manifest, CONFIG, {})
    assert result["x_test"] == "given"
    assert result["parent_only"] is None


def test_a_handler_error_comes_back_by_name(manifest: Manifest, processes: HandlerProcesses) -> None:
    with pytest.raises(HandlerFailed) as caught:
        processes.call(manifest, CONFIG, {"fail": True})
    err = caught.value
    assert err.type_name == "ValueError"
    assert str(err) == "bad"
    assert err.stack and all(isinstance(line, str) for line in err.stack)
    assert err.stack[-1].strip() == "ValueError: bad"
    assert any("handler.py" in line for line in err.stack)
    # the worker survives a handler's error: the same process answers next
    before = processes.call(manifest, CONFIG, {})["pid"]
    with pytest.raises(HandlerFailed):
        processes.call(manifest, CONFIG, {"fail": True})
    assert processes.call(manifest, CONFIG, {})["pid"] == before


def test_a_dead_worker_fails_its_call_and_the_pool_is_replaced(manifest: Manifest, processes: HandlerProcesses) -> None:
    before = processes.call(manifest, CONFIG, {})["pid"]
    with pytest.raises(WorkerDied, match="probe"):
        processes.call(manifest, CONFIG, {"die": True})
    after = processes.call(manifest, CONFIG, {"key": "next"})
    assert after["echo"] == {"key": "next"}
    assert after["pid"] != before
    assert after["x_test"] == "given"  # the new pool's workers get the same environment


def test_processes_must_be_one_or_more() -> None:
    with pytest.raises(ValueError, match="processes must be 1 or more"):
        HandlerProcesses(0, {})


def test_error_type_and_failure_record_use_the_remote_type_name(
    manifest: Manifest, processes: HandlerProcesses
) -> None:
    with pytest.raises(HandlerFailed) as caught:
        processes.call(manifest, CONFIG, {"fail": True})
    exc = caught.value
    assert error_type(exc) == "ValueError"
    assert error_type(KeyError("k")) == "KeyError"
    record = failure_record(manifest, {"fail": True}, 2, exc, "req-1")
    assert record["responsePayload"] == {"errorMessage": "bad", "errorType": "ValueError", "stackTrace": exc.stack}
    assert record["requestPayload"] == {"fail": True}
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["requestId"] == "req-1"


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, *, QueueUrl: str, MessageBody: str) -> None:
        self.sent.append({"QueueUrl": QueueUrl, "Body": json.loads(MessageBody)})


def _recording_invoker(manifest: Manifest, processes: HandlerProcesses) -> tuple[FakeSqs, list[Any], Invoker]:
    """An invoker whose DLQ messages and outcomes are kept, retrying at once."""
    sqs, outcomes = FakeSqs(), []
    invoker = Invoker(
        manifest,
        CONFIG,
        sqs=sqs,
        failure_dlq_url="dlq",
        retry_delay_s=0.0,
        processes=processes,
        on_outcome=outcomes.append,
    )
    return sqs, outcomes, invoker


def test_the_invoker_with_processes_records_the_handlers_error(manifest: Manifest, processes: HandlerProcesses) -> None:
    sqs, outcomes, invoker = _recording_invoker(manifest, processes)
    ok = invoker.invoke({"key": "a"})
    assert ok.ok and ok.attempts == 1 and ok.result["echo"] == {"key": "a"} and ok.result["pid"] != os.getpid()

    failed = invoker.invoke({"fail": True})
    assert not failed.ok
    assert failed.attempts == manifest.retry_attempts + 1 == 2
    assert (failed.error_type, failed.error_message) == ("ValueError", "bad")
    [sent] = sqs.sent
    assert sent["QueueUrl"] == "dlq"
    assert sent["Body"]["responsePayload"]["errorType"] == "ValueError"
    assert sent["Body"]["responsePayload"]["errorMessage"] == "bad"
    assert sent["Body"]["requestPayload"] == {"fail": True}
    assert outcomes == [ok, failed]


def test_a_batch_delivers_its_failed_events_again_then_moves_them_as_they_are(
    manifest: Manifest, processes: HandlerProcesses
) -> None:
    """As an SQS event source with a redrive policy: the events the handler reports failed are
    received again, ``retry_attempts + 1`` times in all, then moved to the failure DLQ with the
    event as the body; the others end at once."""
    sqs, outcomes, invoker = _recording_invoker(manifest, processes)
    ended = invoker.invoke_batch([{"key": "a"}, {"key": "b", "fail": True}, {"key": "c"}])
    assert [(o.event["key"], o.ok, o.attempts) for o in ended] == [("a", True, 1), ("c", True, 1), ("b", False, 2)]
    assert ended[2].error_type == "BatchItemFailure"
    assert sqs.sent == [{"QueueUrl": "dlq", "Body": {"key": "b", "fail": True}}]
    assert outcomes == ended

    sqs.sent.clear()
    whole = invoker.invoke_batch([{"key": "d", "raise": True}, {"key": "e"}])
    assert [(o.ok, o.attempts, o.error_type) for o in whole] == [(False, 2, "RuntimeError")] * 2
    assert [m["Body"]["key"] for m in sqs.sent] == ["d", "e"]


def test_the_invoker_retries_after_a_worker_died(manifest: Manifest, processes: HandlerProcesses) -> None:
    sqs = FakeSqs()
    invoker = Invoker(manifest, CONFIG, sqs=sqs, failure_dlq_url="dlq", retry_delay_s=0.0, processes=processes)
    died = invoker.invoke({"die": True})
    assert not died.ok and died.attempts == 2 and died.error_type == "WorkerDied"
    assert sqs.sent[0]["Body"]["responsePayload"]["errorType"] == "WorkerDied"
    assert invoker.invoke({"key": "b"}).ok


def _child(code: str) -> subprocess.CompletedProcess[str]:
    prelude = "import os, time\nfrom imgpipe_tools.local.processes import exit_with_parent\n"
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=30)


def test_a_worker_ends_when_the_stack_that_started_it_is_gone() -> None:
    # a parent pid that is not this child's parent: what a worker sees once its stack was killed
    gone = _child("exit_with_parent(os.getppid() + 1, poll_s=0.05)\ntime.sleep(20)\nprint('still here')")
    assert gone.returncode == 1 and "still here" not in gone.stdout
    alive = _child("exit_with_parent(os.getppid(), poll_s=0.05)\ntime.sleep(0.5)\nprint('still here')")
    assert alive.returncode == 0 and "still here" in alive.stdout


def test_a_waiting_finisher_goes_before_waiting_producers_then_first_come_first_served() -> None:
    import dataclasses
    import threading
    import time

    from imgpipe_tools.local.processes import FinishersFirst

    base = Manifest(
        name="p",
        folder=Path("."),
        description="",
        triggers=(),
        memory_mb=128,
        timeout_s=1,
        retry_attempts=0,
        max_event_age_s=60,
        reserved_concurrency=0,
        produces_variants=True,
    )
    producer = base
    finisher = dataclasses.replace(base, name="f", produces_variants=False)
    gate = FinishersFirst(1)
    gate.enter(producer)  # the one slot is taken
    order: list[str] = []

    def call(name: str, manifest: Manifest) -> threading.Thread:
        def run() -> None:
            gate.enter(manifest)
            order.append(name)
            gate.leave()

        waiting = len(gate._waiting)
        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 10
        while len(gate._waiting) == waiting and time.monotonic() < deadline:  # queued, in this order
            time.sleep(0.01)
        return t

    threads = [call("producer 1", producer), call("producer 2", producer), call("finisher", finisher)]
    assert order == []  # all wait for the slot
    gate.leave()
    for t in threads:
        t.join(timeout=10)
    assert order == ["finisher", "producer 1", "producer 2"]
