"""Requests per upload, per service: the budget every change is held to (docs/benchmarks.md).

One normal JPEG goes through the real handlers under moto: resize, thumbnail and convert with its
"Object Created", then notify with that event and each producer's one "Variants Created" on the bus (the
full round, ending with the email), in batches as its queue hands them over: the upload's event alone,
then the producers' together (a lone upload whose producers report after the batching window the upload
opened; the fewest would be one batch). ``lambda.invocations`` counts the invocations. Every AWS call
the handlers' clients make is counted by a botocore ``before-call`` hook on the shared client factory
(``imgpipe.adapters.client``), so what is counted is what the adapters send; the test's own clients
(uploading, reading the bus) are not.

Every pipeline event is signed with the stack's event key, which each function reads once per cold
start (one GetSecretValue): the budget is a warm function's, so the fixture reads it first, and a
test of its own holds the cold start to that one read.

DynamoDB bills request units, not calls: after each catalog call the item is read back with an
uncounted client and its size computed the way DynamoDB sizes items (``bench.cost``), giving the
write and read units the call consumed. PutEvents bills per entry: entries are counted too.

The budget is exact: one more request (or one fewer) fails, with the table of what changed. The
cost model (``bench/cost.py``) prices the same counts, and the last test holds it to them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bench import cost
from imgpipe import adapters
from imgpipe.catalog.schema import PARTITION_KEY, SORT_KEY
from tests import imagegen
from tests.moto_pipeline import TABLE, MotoPipeline, moto_pipeline

#: the services of a default deployment that handle an upload; each is sent only its own events
PRODUCERS = ("convert", "resize", "thumbnail")
SERVICES = (*PRODUCERS, "notify")
KEY = "photos/holiday/cat.jpg"
#: wider than resize's largest width (1920), as a 12 MP photo is: the same variants (resize 4,
#: thumbnail 1, convert 2: 7 in all) at a fraction of a 12 MP photo's time
SIZE = (2400, 1600)

# (service, counter) -> requests for one upload. Counters: "<client>.<Operation>" (calls), plus
# "events.entries" (PutEvents entries, what EventBridge bills), "dynamodb.WRU" / "dynamodb.RRU"
# (DynamoDB's on-demand request units).
# one GET of the upload (its headers tell what a HEAD would), one HEAD of the last variant (the skip evidence)
_PRODUCER = {"lambda.invocations": 1, "s3.HeadObject": 1, "s3.GetObject": 1, "events.PutEvents": 1, "events.entries": 1}
BUDGET: dict[str, dict[str, int]] = {
    # one "Variants Created" entry per producer, however many variants it wrote
    "convert": {**_PRODUCER, "s3.PutObject": 2},
    "resize": {**_PRODUCER, "s3.PutObject": 4},
    "thumbnail": {**_PRODUCER, "s3.PutObject": 1},
    # two invocations (two batches); the upload's HEAD and first bytes (its facts); no HEAD per
    # variant (the events are signed); one write for the upload, one for the producers' events of
    # the second batch together, then the email's claim and its confirmation
    "notify": {
        "lambda.invocations": 2,
        "s3.HeadObject": 1,
        "s3.GetObject": 1,
        "dynamodb.UpdateItem": 4,
        "dynamodb.WRU": 7,
        "sns.Publish": 1,
        "events.PutEvents": 1,
        "events.entries": 1,
    },
}
#: the same event delivered again to every service after the round ended (a redrive, a duplicate
#: delivery, an identical re-upload): producers skip the work and announce their variants again,
#: notify records nothing new and sends nothing
REPLAY_BUDGET: dict[str, dict[str, int]] = {
    "convert": _PRODUCER,
    "resize": _PRODUCER,
    "thumbnail": _PRODUCER,
    # here the whole round comes in one batch: one invocation, the upload's write and the
    # producers' shared write, both refused by their condition (repeats) and billed all the same
    "notify": {
        "lambda.invocations": 1,
        "s3.HeadObject": 1,
        "s3.GetObject": 1,
        "dynamodb.UpdateItem": 2,
        "dynamodb.WRU": 4,
    },
}


class RequestCounter:
    """Counts every call of the clients made by ``imgpipe.adapters.client``, per service under test."""

    def __init__(self) -> None:
        self.service = ""
        self.counts: dict[str, Counter[str]] = {}
        self._raw = boto3.client("dynamodb")  # uncounted: reads items back to size them
        self._item_bytes: dict[tuple[str, str], int] = {}

    def hook(self, c: Any) -> None:
        c.meta.events.register("before-parameter-build", self._params)
        c.meta.events.register("before-call", self._before)
        c.meta.events.register("after-call", self._after)

    def invoked(self) -> None:
        self._count("lambda.invocations")

    def _count(self, name: str, n: int = 1) -> None:
        self.counts.setdefault(self.service, Counter())[name] += n

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["counted_params"] = params  # the call's parameters, for before-call and after-call

    def _before(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        _, service, operation = event_name.split(".")
        service = "events" if service == "eventbridge" else service  # the client's name, not its id
        params = context["counted_params"]
        self._count(f"{service}.{operation}")
        if (service, operation) == ("events", "PutEvents"):
            self._count("events.entries", len(params["Entries"]))

    def _after(self, event_name: str, context: dict[str, Any], **_: Any) -> None:
        _, service, operation = event_name.split(".")
        params = context["counted_params"]
        if service != "dynamodb" or "Key" not in params:  # Query (imgpipe status), never on an upload's path
            return
        ident = (params["Key"][PARTITION_KEY]["S"], params["Key"][SORT_KEY]["S"])
        before = self._item_bytes.get(ident, 0)
        item = self._raw.get_item(TableName=TABLE, Key=params["Key"], ConsistentRead=True).get("Item")
        after = cost.dynamodb_item_bytes(item) if item else 0
        self._item_bytes[ident] = after
        if operation == "GetItem":
            # a strongly consistent read: one unit per 4 KB
            self._count("dynamodb.RRU", max(1, math.ceil(after / 4096)))
        else:
            # a write (failed conditions included) is billed on the larger of the item's sizes
            self._count("dynamodb.WRU", max(1, math.ceil(max(before, after) / 1024)))

    def take(self) -> dict[str, dict[str, int]]:
        out = {s: dict(sorted(c.items())) for s, c in self.counts.items()}
        self.counts = {}
        return out


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MotoPipeline, RequestCounter]]:
    with moto_pipeline(with_notify=True) as p:
        # only the default services: a folder added later must not change what this upload costs
        p.manifests = {name: p.manifests[name] for name in SERVICES}
        counter = RequestCounter()
        monkeypatch.setattr(adapters, "_client_hooks", [counter.hook])
        monkeypatch.setattr(adapters, "_secrets", {})
        adapters.client.cache_clear()
        # warm functions: the event key was read at their cold start
        adapters.stack_secret(p.event_key_arn)()
        counter.take()
        yield p, counter
    adapters.client.cache_clear()


def _one_upload(
    p: MotoPipeline, counter: RequestCounter, created: dict[str, Any], *, one_batch: bool = False
) -> dict[str, dict[str, int]]:
    """Every service's handling of one upload: the producers, then notify for the whole round, in
    two batches (the upload's event, then the producers') or, with ``one_batch``, in one."""
    events: list[dict[str, Any]] = []
    results = {}
    for name in PRODUCERS:
        counter.service = name
        counter.invoked()
        results[name] = p.invoke(name, created).result
        events += p.drain_events()
    counter.service = "notify"
    for batch in [[created, *events]] if one_batch else [[created], events]:
        counter.invoked()
        results.setdefault("notify", []).append(p.invoke_batch("notify", batch).result)
    counter.service = ""
    return counter.take() | {"_results": results}  # type: ignore[operator]


def _differences(measured: dict[str, dict[str, int]], budget: dict[str, dict[str, int]]) -> list[str]:
    lines = []
    for service in sorted(set(measured) | set(budget)):
        got, want = measured.get(service, {}), budget.get(service, {})
        for name in sorted(set(got) | set(want)):
            if got.get(name, 0) != want.get(name, 0):
                lines.append(f"{service} {name}: {got.get(name, 0)} (budget {want.get(name, 0)})")
    return lines


def test_one_upload_and_its_replay_send_exactly_the_budgeted_requests(
    counted: tuple[MotoPipeline, RequestCounter],
) -> None:
    p, counter = counted
    data = imagegen.jpeg(imagegen.photo(SIZE))
    created = p.created_event(KEY, p.upload(KEY, data), len(data))

    first = _one_upload(p, counter, created)
    results = first.pop("_results")
    assert all(results[name]["status"] == "processed" for name in PRODUCERS), results
    assert results["notify"] == [{"batchItemFailures": []}] * 2
    assert len(p.emails()) == 1
    assert not _differences(first, BUDGET), "requests per upload changed:\n" + "\n".join(_differences(first, BUDGET))
    # a default deployment adds describe, one more producer: 4 + notify's 2 = the 6 of the target
    assert sum(c["lambda.invocations"] for c in first.values()) == len(PRODUCERS) + 2

    replay = _one_upload(p, counter, created, one_batch=True)
    results = replay.pop("_results")
    assert all(results[name]["status"] == "skipped" for name in PRODUCERS), results
    assert p.emails() == []  # the one email
    assert not _differences(replay, REPLAY_BUDGET), "requests per replayed upload changed:\n" + "\n".join(
        _differences(replay, REPLAY_BUDGET)
    )


def test_a_cold_start_reads_the_event_key_once_whatever_it_handles(
    counted: tuple[MotoPipeline, RequestCounter], monkeypatch: pytest.MonkeyPatch
) -> None:
    p, counter = counted
    monkeypatch.setattr(adapters, "_secrets", {})  # a cold start: nothing read yet
    data = imagegen.jpeg(imagegen.photo((64, 48)))
    reads = 0
    for n in range(3):
        key = f"photos/cold-{n}.jpg"
        created = p.created_event(key, p.upload(key, data), len(data))
        counts = _one_upload(p, counter, created)
        counts.pop("_results")
        reads += sum(c.get("secrets-manager.GetSecretValue", 0) for c in counts.values())
    # one process stands for every function here: one read for all of them, three uploads later
    assert reads == 1


def test_the_cost_model_prices_the_budgeted_requests() -> None:
    """bench/cost.py prices exactly these counts (its variants per producer come from the bench's
    12 MP photo, which makes the same 7 as this upload)."""
    assert cost.requests_per_upload({"convert": 2, "resize": 4, "thumbnail": 1}) == BUDGET
