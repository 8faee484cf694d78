"""Backfill: deliver "Object Created"-shaped events for objects already in the uploads bucket.

One code path decides what happens to each listed object, on AWS and on the local stack:

- :func:`plan_item` (pure) says, for one listed object and a :class:`Selection`, which
  services get which event, or why none does (an outcome such as ``not_modified``);
- :func:`run_batch` plans a batch of objects and hands the events to a :class:`Transport`
  (AWS: Lambda ``Invoke`` with ``InvocationType=Event``; local: the services' invoke queues),
  so every service's own retries, DLQs and alarms apply as for a real upload;
- the "backfill item" Lambda (``services/backfill/handler.py``) runs :func:`run_batch` for each
  batch the Step Functions Distributed Map hands it, and, once the map is over, writes the run's
  summary to the variants bucket; this module holds no handler.

The processors are idempotent (same source etag and settings: skip), so a backfill of objects
already processed costs a HEAD and a small read per service and writes nothing; a changed
setting makes exactly the services it belongs to redo their variants.

The events carry ``detail.imgpipe`` (docs/events.md): ``{"backfill": "<run id>", "notify": false}``.
A service that listens to pipeline events (notify) is told first when ``notify`` is false, and
the producers only after it acknowledged, so it has recorded "no email" before any producer
reports; it still fills the catalog.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from imgpipe.events import BACKFILL_MARKER, OBJECT_CREATED, BackfillMark, normalize_etag
from imgpipe.manifest import Manifest, UploadsTrigger

#: where a run's results and summary go in the variants bucket (no service is named "_...")
RESULTS_PREFIX = "_backfill"
#: the Lambda environment variable holding the routes (JSON, see :func:`routes_json`)
ENV_ROUTES = "BACKFILL_ROUTES"
ENV_UPLOADS_BUCKET = "IMGPIPE_UPLOADS_BUCKET"
ENV_VARIANTS_BUCKET = "IMGPIPE_VARIANTS_BUCKET"
#: how many failed keys ``summary.json`` lists; every one is in ``failed-keys.txt``
SUMMARY_FAILED_MAX = 1000

# Outcomes of one listed object.
DISPATCHED = "dispatched"  # the targeted services were given its event
NOT_MODIFIED = "not_modified"  # last modified before --modified-since
NO_SERVICE = "no_service"  # no selected service's trigger matches the key
FOLDER = "folder"  # a zero-byte "folder/" marker the S3 console creates
MISSING = "missing"  # a listed key (--keys) that is not in the bucket
FAILED = "failed"  # a service could not be given its event (after retries)
OUTCOMES = (DISPATCHED, NOT_MODIFIED, NO_SERVICE, FOLDER, MISSING, FAILED)


class DeliveryFailed(Exception):
    """Some objects of a batch could not be delivered; Step Functions retries the batch (the
    services are idempotent, so the objects delivered already are safe to deliver again)."""


@dataclass(frozen=True)
class Selection:
    """What a run targets, beyond which objects are listed (prefix, inventory or keys)."""

    run: str
    #: service names; empty: every service whose trigger matches the key
    services: tuple[str, ...] = ()
    #: ISO 8601 UTC: only objects last modified at or after it
    modified_since: str | None = None
    #: send the usual email per upload (off by default: a backfill must not mail everyone)
    notify: bool = False
    #: pacing: at most this many objects per second for each concurrent batch (0: no pacing)
    per_batch_rate: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "services": list(self.services)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Selection:
        return cls(
            run=str(raw["run"]),
            services=tuple(raw.get("services") or ()),
            modified_since=raw.get("modified_since") or None,
            notify=bool(raw.get("notify", False)),
            per_batch_rate=float(raw.get("per_batch_rate") or 0.0),
        )


@dataclass(frozen=True)
class Route:
    """A service a backfill can target: the key filters of its ``uploads`` triggers, and
    whether it listens to pipeline events (then it must hear of the upload before any producer
    reports, so it is told first)."""

    name: str
    triggers: tuple[UploadsTrigger, ...]
    announce_first: bool = False

    def matches(self, key: str) -> bool:
        return any(t.matches_key(key) for t in self.triggers)


def routes_from_manifests(manifests: Sequence[Manifest], prefixes: Sequence[str] = ()) -> list[Route]:
    """Every service with an uploads trigger (narrowed by the deployment's key prefixes, as its
    rule is)."""
    routes = []
    for m in manifests:
        triggers = m.narrowed_uploads(prefixes)
        if triggers:
            routes.append(Route(m.name, triggers, m.listens_to_pipeline))
    return routes


def routes_json(routes: Sequence[Route], targets: Mapping[str, str]) -> str:
    """The routes with each service's target (a function name), for the Lambda's environment."""
    return json.dumps(
        [
            {
                "name": r.name,
                "target": targets[r.name],
                "first": r.announce_first,
                "triggers": [{"prefixes": list(t.prefixes), "suffixes": list(t.suffixes)} for t in r.triggers],
            }
            for r in routes
        ],
        separators=(",", ":"),
        sort_keys=True,
    )


def parse_routes(text: str) -> tuple[list[Route], dict[str, str]]:
    routes, targets = [], {}
    for entry in json.loads(text):
        triggers = tuple(UploadsTrigger(tuple(t["prefixes"]), tuple(t["suffixes"])) for t in entry["triggers"])
        routes.append(Route(entry["name"], triggers, bool(entry["first"])))
        targets[entry["name"]] = entry["target"]
    return routes, targets


def unknown_services(requested: Iterable[str], routes: Sequence[Route]) -> list[str]:
    known = {r.name for r in routes}
    return sorted(set(requested) - known)


# -- one object -------------------------------------------------------------------------
@dataclass(frozen=True)
class Listed:
    """One object as a listing names it. ``etag`` is "" when the source does not say (a keys
    file): the batch HEADs the object then."""

    key: str
    etag: str = ""
    size: int | None = None
    last_modified: str | None = None  # ISO 8601 UTC


def _iso(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value)
    try:
        return _iso(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text


def listed_from_item(item: Mapping[str, Any]) -> Listed:
    """An item of any reader: S3 ListObjectsV2 (``Key``, ``Etag``, ``Size``, ``LastModified``),
    an S3 Inventory CSV (``Key``, ``ETag``, ``Size``, ``LastModifiedDate``), a keys file (``Key``)."""
    etag = item.get("Etag") or item.get("ETag") or item.get("etag") or ""
    size = item.get("Size", item.get("size"))
    modified = item.get("LastModified") or item.get("LastModifiedDate") or item.get("last_modified")
    return Listed(
        key=str(item.get("Key", item.get("key", ""))),
        etag=normalize_etag(str(etag)),
        size=int(size) if size not in (None, "") else None,
        last_modified=_iso(modified),
    )


@dataclass(frozen=True)
class Plan:
    key: str
    outcome: str
    event: dict[str, Any] | None = None
    #: told first, and waited for (they listen to the producers' events)
    first: tuple[str, ...] = ()
    #: told asynchronously after ``first``
    then: tuple[str, ...] = ()


def object_created_event(bucket: str, obj: Listed, selection: Selection) -> dict[str, Any]:
    """An S3 "Object Created" event as EventBridge delivers it (tests/fixtures/events), plus
    the backfill marker. Its time is the object's last modification, so the catalog records
    when the photo was uploaded, not when the backfill ran."""
    # With --services, the round notify opens waits only for those: the others were not asked.
    mark = BackfillMark(selection.run, selection.notify, selection.services)
    return {
        "version": "0",
        # Stable per run and object: a retried batch sends the same event again.
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"imgpipe-backfill:{selection.run}:{obj.key}:{obj.etag}")),
        "detail-type": OBJECT_CREATED,
        "source": "aws.s3",
        "account": "",
        "time": obj.last_modified or "",
        "region": os.environ.get("AWS_REGION", ""),
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": obj.key, "size": obj.size, "etag": obj.etag},
            "reason": "Backfill",
            BACKFILL_MARKER: mark.as_detail(),
        },
    }


def plan_item(obj: Listed, selection: Selection, routes: Sequence[Route], bucket: str) -> Plan:
    """What one listed object gets: the services (first / then) and its event, or an outcome
    saying why nothing is sent."""
    if obj.key.endswith("/") and not obj.size:
        return Plan(obj.key, FOLDER)
    if selection.modified_since and obj.last_modified and obj.last_modified < selection.modified_since:
        return Plan(obj.key, NOT_MODIFIED)
    wanted = set(selection.services)
    producers = [r for r in routes if not r.announce_first and (not wanted or r.name in wanted)]
    producers = [r for r in producers if r.matches(obj.key)]
    if not producers:
        # Nothing would make a variant: telling notify alone would only open a round.
        return Plan(obj.key, NO_SERVICE)
    # The services that listen to the producers' reports (notify) are always told, whatever
    # --services says: the producers' reports reach them anyway, and only the event tells
    # them not to email.
    listeners = [r for r in routes if r.announce_first and r.matches(obj.key)]
    targets = listeners + producers
    event = object_created_event(bucket, obj, selection)
    if selection.notify and not selection.services:
        # The usual email: no ordering needed, everyone is told at once, as by S3. (With
        # --services notify is told first, so the round it opens waits only for the targeted.)
        return Plan(obj.key, DISPATCHED, event, (), tuple(r.name for r in targets))
    first = tuple(r.name for r in targets if r.announce_first)
    then = tuple(r.name for r in targets if not r.announce_first)
    return Plan(obj.key, DISPATCHED, event, first, then)


# -- a batch ----------------------------------------------------------------------------
class Transport(Protocol):
    def deliver(self, service: str, events: Sequence[dict[str, Any]], *, wait: bool) -> list[str | None]:
        """Give ``service`` each event; one entry per event: None, or what went wrong. With
        ``wait``, return only once the service has handled them (it must know before the
        producers report)."""
        ...


#: (key) -> the object as HEAD sees it, or None when it does not exist
HeadFn = Callable[[str], Listed | None]


@dataclass
class BatchResult:
    counts: dict[str, int] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)

    def add(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "failed": list(self.failed)}


def run_batch(
    items: Sequence[Mapping[str, Any]],
    selection: Selection,
    routes: Sequence[Route],
    bucket: str,
    transport: Transport,
    head: HeadFn | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> BatchResult:
    """Plan every item and deliver the events: first the services that must know first
    (waited for), then the rest. Paced to ``selection.per_batch_rate`` objects per second."""
    started = clock()
    result = BatchResult()
    plans: list[Plan] = []
    for item in items:
        obj = listed_from_item(item)
        if not obj.etag and head is not None:
            found = head(obj.key)
            if found is None:
                result.add(MISSING)
                continue
            obj = Listed(obj.key, found.etag, found.size, found.last_modified)
        plan = plan_item(obj, selection, routes, bucket)
        if plan.event is None:
            result.add(plan.outcome)
        else:
            plans.append(plan)

    errors: dict[str, list[str]] = {}

    def deliver(phase: list[Plan], names: Callable[[Plan], tuple[str, ...]], wait: bool) -> None:
        by_service: dict[str, list[Plan]] = {}
        for p in phase:
            for name in names(p):
                by_service.setdefault(name, []).append(p)
        for service, group in sorted(by_service.items()):
            outcomes = transport.deliver(service, [p.event for p in group if p.event], wait=wait)
            for p, error in zip(group, outcomes, strict=True):
                if error:
                    errors.setdefault(p.key, []).append(f"{service}: {error}")

    deliver(plans, lambda p: p.first, wait=True)
    # A service that was not told first must not see producers' reports it cannot place.
    deliver([p for p in plans if p.key not in errors], lambda p: p.then, wait=False)
    for p in plans:
        if p.key in errors:
            result.add(FAILED)
            result.failed.append({"key": p.key, "error": "; ".join(errors[p.key])})
        else:
            result.add(DISPATCHED)

    if selection.per_batch_rate > 0:
        # Keep the processors' combined rate near the run's --rate, whatever the batch size.
        remaining = len(items) / selection.per_batch_rate - (clock() - started)
        if remaining > 0:
            sleep(remaining)
    return result


# -- the summary ------------------------------------------------------------------------
@dataclass
class Summary:
    run: str
    selection: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)
    status: str = "SUCCEEDED"
    error: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def merge(self, batch: Mapping[str, Any]) -> None:
        for outcome, n in (batch.get("counts") or {}).items():
            self.counts[outcome] = self.counts.get(outcome, 0) + int(n)
        self.failed += list(batch.get("failed") or [])

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "status": self.status,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "selection": self.selection,
            "total": self.total,
            "counts": {k: self.counts.get(k, 0) for k in OUTCOMES},
            "failed_count": len(self.failed),
            "failed": self.failed[:SUMMARY_FAILED_MAX],
        }


def summary_key(run: str) -> str:
    return f"{RESULTS_PREFIX}/{run}/summary.json"


def failed_keys_key(run: str) -> str:
    return f"{RESULTS_PREFIX}/{run}/failed-keys.txt"


def merge_result_file(summary: Summary, records: Iterable[Mapping[str, Any]]) -> None:
    """One Distributed Map ResultWriter file: child executions with their batch (``Input``),
    their output (a :class:`BatchResult`), or their ``Error``/``Cause`` when they failed."""
    for record in records:
        if record.get("Status") == "SUCCEEDED" and record.get("Output"):
            summary.merge(json.loads(record["Output"]))
            continue
        try:
            items = json.loads(record.get("Input") or "{}").get("Items") or []
        except ValueError:
            items = []
        error = f"{record.get('Error') or record.get('Status', 'FAILED')}: {str(record.get('Cause') or '')[:300]}"
        summary.merge(
            {
                "counts": {FAILED: len(items)},
                "failed": [{"key": listed_from_item(i).key, "error": error} for i in items],
            }
        )


def write_summary(s3: Any, variants_bucket: str, summary: Summary) -> str:
    key = summary_key(summary.run)
    body = json.dumps(summary.as_dict(), indent=2, ensure_ascii=False).encode()
    s3.put_object(Bucket=variants_bucket, Key=key, Body=body, ContentType="application/json")
    if summary.failed:
        lines = "".join(f"{f['key']}\n" for f in summary.failed).encode()
        s3.put_object(Bucket=variants_bucket, Key=failed_keys_key(summary.run), Body=lines, ContentType="text/plain")
    return key


# -- reading the uploads bucket -------------------------------------------------------
def s3_head(s3: Any, bucket: str) -> HeadFn:
    def head(key: str) -> Listed | None:
        try:
            r = s3.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return Listed(key, normalize_etag(r.get("ETag")), r.get("ContentLength"), _iso(r.get("LastModified")))

    return head
