"""imgpipe/batch.py: a queued batch of events handled one upload round at a time, the upload's own
event first, a failed event returned to the queue with the rest of its round, other rounds going
on; the manifest's [batch] table that asks for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imgpipe.batch import handle_batch, is_batch
from imgpipe.events import Upload
from imgpipe.manifest import Batch, ManifestError, parse_manifest
from tests.notify_support import rejected_event, upload_event, variant_events

A = Upload("uploads", "photos/a.jpg", "a" * 32)
B = Upload("uploads", "photos/b.jpg", "b" * 32)


def records(*events: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"messageId": f"m{i}", "body": json.dumps(e), "eventSource": "aws:sqs"} for i, e in enumerate(events)]


def ident(event: dict[str, Any]) -> str:
    """``<key> <what>`` of an event, for reading the order in a failure."""
    detail = event["detail"]
    if event["detail-type"] == "Object Created":
        return f"{detail['object']['key']} upload"
    return f"{detail['key']} {detail['processor']}"


class Recorder:
    def __init__(self, fail_on: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.fail_on = fail_on
        self.seen: list[str] = []

    def __call__(self, event: dict[str, Any]) -> None:
        name = ident(event)
        self.seen.append(name)
        if name in self.fail_on:
            raise RuntimeError(f"cannot record {name}")


def test_each_round_is_handled_together_and_the_upload_event_first() -> None:
    batch = records(
        *variant_events(A, "resize"),
        *variant_events(B, "thumbnail"),
        upload_event(A),
        rejected_event(B, "convert", "unsupported_format"),
        upload_event(B),
        *variant_events(A, "convert"),
    )
    handle = Recorder()
    assert handle_batch(batch, handle) == {"batchItemFailures": []}
    assert handle.seen == [
        "photos/a.jpg upload",
        "photos/a.jpg resize",
        "photos/a.jpg convert",
        "photos/b.jpg upload",
        "photos/b.jpg thumbnail",
        "photos/b.jpg convert",
    ]


def test_a_failed_event_returns_with_the_rest_of_its_round_and_the_other_rounds_go_on() -> None:
    batch = records(
        upload_event(A),  # m0
        *variant_events(A, "resize"),  # m1: fails
        upload_event(B),  # m2
        *variant_events(A, "convert"),  # m3: not tried, returned with m1
        *variant_events(B, "convert"),  # m4
    )
    handle = Recorder(fail_on={"photos/a.jpg resize"})
    result = handle_batch(batch, handle)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}
    assert handle.seen == ["photos/a.jpg upload", "photos/a.jpg resize", "photos/b.jpg upload", "photos/b.jpg convert"]


def test_a_batch_that_failed_whole_fails_the_invocation() -> None:
    """So that the function's Errors alarm sees it (Lambda returns the whole batch either way)."""
    handle = Recorder(fail_on={"photos/a.jpg upload", "photos/b.jpg upload"})
    with pytest.raises(RuntimeError, match=r"cannot record photos/a\.jpg upload"):
        handle_batch(records(upload_event(A), upload_event(B)), handle)


def test_a_message_that_is_no_event_is_dropped_not_returned_forever() -> None:
    batch = [{"messageId": "junk", "body": "not json", "eventSource": "aws:sqs"}, *records(upload_event(A))]
    handle = Recorder()
    assert handle_batch(batch, handle) == {"batchItemFailures": []}
    assert handle.seen == ["photos/a.jpg upload"]


def test_an_event_that_names_no_upload_is_handled_alone() -> None:
    """The handler decides what a malformed event is (notify: a forged event, counted)."""
    odd = {"detail-type": "Variants Created", "source": "imgpipe.resize", "detail": {"nothing": 1}}
    seen: list[dict[str, Any]] = []
    assert handle_batch(records(odd, upload_event(A)), seen.append) == {"batchItemFailures": []}
    assert seen[0] == odd and len(seen) == 2


def test_only_an_sqs_batch_is_a_batch() -> None:
    assert is_batch({"Records": records(upload_event(A))})
    assert not is_batch(upload_event(A))  # invoked directly: one event
    assert not is_batch({"Records": [{"eventSource": "aws:s3"}]})


def _manifest(**batch: Any) -> dict[str, Any]:
    return {"memory_mb": 256, "timeout_s": 30, "triggers": [{"source": "pipeline"}], "batch": batch}


def test_the_manifest_asks_for_batches() -> None:
    m = parse_manifest(Path("services/probe"), _manifest(size=10, window_s=2))
    assert m.batch == Batch(10, 2)
    plain = _manifest()
    del plain["batch"]
    assert parse_manifest(Path("services/probe"), plain).batch is None


@pytest.mark.parametrize(
    ("batch", "field", "problem"),
    [
        ({"size": 0, "window_s": 2}, "batch.size", "between 1 and 10000"),
        ({"size": 10, "window_s": 301}, "batch.window_s", "between 0 and 300"),
        ({"size": 50, "window_s": 0}, "batch.window_s", "at least 1"),
        ({"size": 10}, "batch.window_s", "required"),
        ({"size": 10, "window_s": 2, "windows": 3}, "batch.windows", "not a known field"),
    ],
)
def test_a_bad_batch_is_refused_with_its_field(batch: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(ManifestError, match=problem) as caught:
        parse_manifest(Path("services/probe"), _manifest(**batch))
    assert caught.value.field == field


def test_an_http_service_takes_no_batches() -> None:
    raw = {"memory_mb": 256, "timeout_s": 30, "triggers": [{"source": "http", "routes": ["GET /x"]}]}
    with pytest.raises(ManifestError, match="triggered by events") as caught:
        parse_manifest(Path("services/probe"), {**raw, "batch": {"size": 10, "window_s": 1}})
    assert caught.value.field == "batch"


def test_with_a_together_handler_each_rounds_upload_goes_alone_and_the_rest_at_once() -> None:
    batch = records(
        *variant_events(A, "resize"),  # m0
        upload_event(A),  # m1
        *variant_events(B, "thumbnail"),  # m2: alone in its round, handled alone
        *variant_events(A, "convert"),  # m3
    )
    alone = Recorder()
    together: list[list[str]] = []
    assert handle_batch(batch, alone, handle_together=lambda es: together.append([ident(e) for e in es])) == {
        "batchItemFailures": []
    }
    assert alone.seen == ["photos/a.jpg upload", "photos/b.jpg thumbnail"]
    assert together == [["photos/a.jpg resize", "photos/a.jpg convert"]]


def test_a_failed_together_step_returns_all_of_its_events_not_the_upload_handled_before() -> None:
    batch = records(upload_event(A), *variant_events(A, "resize"), *variant_events(A, "convert"), upload_event(B))

    def fail(_events: list[dict[str, Any]]) -> None:
        raise RuntimeError("the shared write failed")

    alone = Recorder()
    result = handle_batch(batch, alone, handle_together=fail)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert alone.seen == ["photos/a.jpg upload", "photos/b.jpg upload"]
