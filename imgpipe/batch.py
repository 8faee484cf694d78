"""A batch of queued events (Lambda's SQS event source) handled one upload round at a time.

A service whose manifest has ``[batch]`` gets its rules' events through a queue, several per
invocation. Its handler gives the records to :func:`handle_batch` with the function that handles
one event. The events are grouped by the upload they are about and each group is handled in
order, the upload's own event first: when one of them fails, the rest of its group is not tried
and all of them are reported failed together (``batchItemFailures``), so they come back in the
same order; the other groups go on. Nothing here knows AWS beyond the record's shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imgpipe.events import OBJECT_CREATED, EventError, parse_object_created, parse_pipeline_event

log = logging.getLogger(__name__)


def is_batch(event: Mapping[str, Any]) -> bool:
    """Whether ``event`` is an SQS event source's batch (else: one event, invoked directly, as
    ``imgpipe dlq redrive`` and a test do)."""
    records = event.get("Records")
    return isinstance(records, list) and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)


@dataclass(frozen=True)
class _Item:
    message_id: str
    event: dict[str, Any]


def _round_of(event: dict[str, Any]) -> tuple[str, ...] | None:
    """The upload round an event is about (bucket, key, etag); None when it names none (handled
    alone: the handler decides what a malformed event is)."""
    try:
        if event.get("detail-type") == OBJECT_CREATED:
            u = parse_object_created(event).upload
        else:
            u = parse_pipeline_event(event).upload
    except (EventError, KeyError, TypeError, ValueError):
        return None
    return (u.bucket, u.key, u.etag)


def group_by_round(items: Sequence[_Item]) -> list[list[_Item]]:
    """Groups in the order their first event arrived; in each, the upload event first, then the
    others as they arrived."""
    groups: dict[Any, list[_Item]] = {}
    for item in items:
        groups.setdefault(_round_of(item.event) or ("message", item.message_id), []).append(item)
    return [sorted(g, key=lambda i: i.event.get("detail-type") != OBJECT_CREATED) for g in groups.values()]


def _steps(group: list[_Item], together: bool) -> list[list[_Item]]:
    """How a round's events are handled: each alone, or (``together``) the upload's own event
    alone and the rest in one step."""
    if not together or len(group) < 2:
        return [[item] for item in group]
    first = 1 if group[0].event.get("detail-type") == OBJECT_CREATED else 0
    return [[item] for item in group[:first]] + ([group[first:]] if group[first:] else [])


def handle_batch(
    records: Sequence[Mapping[str, Any]],
    handle: Callable[[dict[str, Any]], Any],
    *,
    handle_together: Callable[[list[dict[str, Any]]], Any] | None = None,
) -> dict[str, Any]:
    """Handles each record's event with ``handle``; returns Lambda's partial batch response.
    With ``handle_together``, the events of one round after its upload's own are given to it at
    once (notify records them in one write); when it fails, they are all returned to the queue.

    A record whose body is not a JSON object can never succeed: it is logged and dropped (not
    reported, so it is not received again and again). When every event of the batch failed, the
    first error is raised instead: the invocation counts as failed (the function's Errors alarm),
    and Lambda returns the whole batch to the queue, which is the same for the events."""
    items: list[_Item] = []
    for r in records:
        try:
            body = json.loads(r["body"])
        except (KeyError, TypeError, ValueError):
            body = None
        if not isinstance(body, dict):
            log.error("dropped a queued message that is not an event: %.200r", r.get("body"))
            continue
        items.append(_Item(str(r["messageId"]), body))
    failed: list[str] = []
    first_error: Exception | None = None
    for group in group_by_round(items):
        steps = _steps(group, handle_together is not None)
        for n, step in enumerate(steps):
            try:
                if len(step) == 1:
                    handle(step[0].event)
                else:
                    assert handle_together is not None
                    handle_together([i.event for i in step])
            except Exception as exc:
                left = [i.message_id for s in steps[n:] for i in s]
                log.exception(
                    "an event failed; it and the %d after it of its upload are returned to the queue", len(left) - 1
                )
                first_error = first_error or exc
                failed += left
                break
    if items and len(failed) == len(items) and first_error is not None:
        raise first_error
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
