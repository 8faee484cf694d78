"""Backfill: put "Object Created"-shaped events on the bus for objects already in the uploads bucket.

One code path decides what happens to each listed object, on AWS and on the local stack:

- :func:`plan_item` (pure) says, for one listed object and a :class:`Selection`, which
  services get its event, or why none does (an outcome such as ``not_modified``);
- :func:`run_batch` plans a batch of objects and hands the events to a :class:`Transport`
  (:class:`EventBusTransport`: PutEvents on the stack's bus, on AWS and locally alike). Each
  event names the services it is for (``detail.imgpipe.targets``) and reaches them through their
  own rules (imgpipe.manifest.rule_pattern), so every service's retries, DLQs and alarms apply as
  for a real upload, and the backfill holds no list of functions: adding a service changes
  nothing here;
- the "backfill item" Lambda (``services/backfill/handler.py``) runs :func:`run_batch` for each
  batch the Step Functions Distributed Map hands it, and, once the map is over, writes the run's
  summary to the variants bucket; this module holds no handler.

The routes (which services a key reaches) come with the run (the CLI builds them from the
manifests of the stack's services), not from the item Lambda's configuration.

The processors are idempotent (same source etag and settings: skip), so a backfill of objects
already processed costs a HEAD and a small read per service and writes nothing; a changed
setting makes exactly the services it belongs to redo their variants.

The events carry ``detail.imgpipe`` (docs/events.md): ``{"backfill": "<run id>", "notify": false,
"targets": [...]}``. A service that listens to pipeline events (notify) is told first when
``notify`` is false, and the producers only once its catalog records the upload, so it has
recorded "no email" before any producer reports; it still fills the catalog.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from imgpipe.events import (
    BACKFILL_MARKER,
    BACKFILL_SOURCE,
    BACKFILL_TARGETS,
    OBJECT_CREATED,
    BackfillMark,
    normalize_etag,
)
from imgpipe.manifest import Manifest, UploadsTrigger
from imgpipe.signing import signed

#: where a run's results and summary go in the variants bucket (no service is named "_...")
RESULTS_PREFIX = "_backfill"
ENV_UPLOADS_BUCKET = "IMGPIPE_UPLOADS_BUCKET"
ENV_VARIANTS_BUCKET = "IMGPIPE_VARIANTS_BUCKET"
ENV_EVENT_BUS = "IMGPIPE_EVENT_BUS"
#: the catalog table, where the item Lambda sees that notify recorded an upload
ENV_CATALOG_TABLE = "IMGPIPE_CATALOG_TABLE"
#: the deployment's key prefixes (JSON list), which narrow the routes as they narrow the rules
ENV_KEY_PREFIXES = "IMGPIPE_KEY_PREFIXES"
#: the stack's event key (its ARN), when it has one: the backfill signs its events with it, as the
#: producers sign theirs, so notify believes an "Object Created" that does not come from S3
ENV_EVENT_KEY_ARN = "IMGPIPE_EVENT_KEY_ARN"
#: PutEvents takes at most this many entries per call
PUT_EVENTS_MAX = 10
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


def narrowed_routes(routes: Sequence[Route], prefixes: Sequence[str]) -> list[Route]:
    """The routes as a deployment's ``key_prefixes`` narrow them (as they narrow the rules)."""
    if not prefixes:
        return list(routes)
    out = []
    for r in routes:
        triggers = tuple(n for t in r.triggers if (n := t.narrowed(prefixes)) is not None)
        if triggers:
            out.append(Route(r.name, triggers, r.announce_first))
    return out


def routes_as_list(routes: Sequence[Route]) -> list[dict[str, Any]]:
    """The routes as plain data: what a run carries to the item Lambda (the execution's input)."""
    return [
        {
            "name": r.name,
            "first": r.announce_first,
            "triggers": [{"prefixes": list(t.prefixes), "suffixes": list(t.suffixes)} for t in r.triggers],
        }
        for r in routes
    ]


def routes_from_list(raw: Sequence[Mapping[str, Any]]) -> list[Route]:
    return [
        Route(
            str(entry["name"]),
            tuple(UploadsTrigger(tuple(t["prefixes"]), tuple(t["suffixes"])) for t in entry["triggers"]),
            bool(entry["first"]),
        )
        for entry in raw
    ]


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
    """An "Object Created" event in S3's shape (tests/fixtures/events) from the backfill's source,
    with the backfill marker (:func:`addressed` adds whom it is for). Its time is the object's last
    modification, so the catalog records when the photo was uploaded, not when the backfill ran.
    The bus gives it its id and account, as it does every event."""
    # With --services, the round notify opens waits only for those: the others were not asked.
    mark = BackfillMark(selection.run, selection.notify, selection.services)
    return {
        "version": "0",
        "detail-type": OBJECT_CREATED,
        "source": BACKFILL_SOURCE,
        "time": obj.last_modified or "",
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
    def deliver(self, events: Sequence[dict[str, Any]], *, wait: bool) -> list[str | None]:
        """Send each event (:func:`addressed` to its targets); one entry per event: None, or what
        went wrong. With ``wait``, return only once the targets have recorded each (they must
        know before the producers report)."""
        ...


def addressed(event: Mapping[str, Any], targets: Sequence[str]) -> dict[str, Any]:
    """The event for ``targets`` only: their rules match the names in ``detail.imgpipe.targets``."""
    detail = dict(event["detail"])
    detail[BACKFILL_MARKER] = {**detail[BACKFILL_MARKER], BACKFILL_TARGETS: sorted(targets)}
    return {**event, "detail": detail}


def put_entry(event: Mapping[str, Any], bus: str, key: bytes | None = None) -> dict[str, Any]:
    """A PutEvents entry for an event :func:`object_created_event` built, signed with the stack's
    event key when there is one (imgpipe/signing.py)."""
    detail = event["detail"]
    if key is not None:
        detail = signed(key, event["source"], event["detail-type"], detail)
    entry: dict[str, Any] = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(detail, separators=(",", ":")),
        "Resources": list(event["resources"]),
        "EventBusName": bus,
    }
    if event.get("time"):
        # the object's last modification: the catalog records when the photo was uploaded
        entry["Time"] = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    return entry


#: (event) -> whether the services told first have recorded its upload
AcknowledgedFn = Callable[[Mapping[str, Any]], bool]


@dataclass
class EventBusTransport:
    """PutEvents on the stack's bus (AWS and the local stack alike): each service's own rule
    takes the events addressed to it. ``wait`` polls ``acknowledged`` until each event's upload
    is recorded (what a synchronous call would have waited for), at most ``wait_timeout_s``.
    ``key`` gives the stack's event key to sign them with (None: a stack without one)."""

    client: Any
    bus: str
    acknowledged: AcknowledgedFn
    key: Callable[[], bytes] | None = None
    wait_timeout_s: float = 60
    poll_s: float = 0.2
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def _put(self, events: Sequence[dict[str, Any]]) -> list[str | None]:
        errors: list[str | None] = [None] * len(events)
        for start in range(0, len(events), PUT_EVENTS_MAX):
            chunk = events[start : start + PUT_EVENTS_MAX]
            try:
                key = self.key() if self.key else None
                r = self.client.put_events(Entries=[put_entry(e, self.bus, key) for e in chunk])
            except Exception as exc:  # boto3 retried throttles and 5xx already
                for i in range(start, start + len(chunk)):
                    errors[i] = f"PutEvents: {type(exc).__name__}: {exc}"[:300]
                continue
            for i, entry in enumerate(r.get("Entries", [])):
                if entry.get("ErrorCode"):
                    errors[start + i] = f"PutEvents: {entry['ErrorCode']}: {entry.get('ErrorMessage', '')}"[:300]
        return errors

    def deliver(self, events: Sequence[dict[str, Any]], *, wait: bool) -> list[str | None]:
        errors = self._put(events)
        if wait:
            pending = [i for i, e in enumerate(errors) if e is None]
            deadline = self.clock() + self.wait_timeout_s
            while pending and self.clock() < deadline:
                # One check per poll, in about the order the rule delivers them.
                if self.acknowledged(events[pending[0]]):
                    pending.pop(0)
                else:
                    self.sleep(self.poll_s)
            for i in pending:
                errors[i] = f"did not record the upload within {self.wait_timeout_s:.0f}s"
        return errors


def catalog_acknowledged(dynamodb: Any, table: str) -> AcknowledgedFn:
    """notify has handled an upload event once its catalog round records the upload
    (``uploaded_at``; only that attribute is read, so a round being written is never parsed)."""
    from imgpipe.catalog import RoundRef
    from imgpipe.events import parse_object_created

    def acknowledged(event: Mapping[str, Any]) -> bool:
        ref = RoundRef.of(parse_object_created(dict(event)).upload)
        item = dynamodb.get_item(
            TableName=table,
            Key={k: {"S": v} for k, v in ref.item_key.items()},
            ConsistentRead=True,
            ProjectionExpression="uploaded_at",
        ).get("Item")
        return bool(item and "uploaded_at" in item)

    return acknowledged


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
        group = [(p, names(p)) for p in phase if p.event and names(p)]
        outcomes = transport.deliver([addressed(p.event, n) for p, n in group if p.event], wait=wait)
        for (p, n), error in zip(group, outcomes, strict=True):
            if error:
                errors.setdefault(p.key, []).append(f"{', '.join(n)}: {error}")

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
