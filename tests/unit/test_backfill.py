"""The backfill's item logic (imgpipe/backfill.py): what each listed object gets, on AWS and locally."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from imgpipe import backfill as bf
from imgpipe.events import BackfillMark, backfill_mark, parse_object_created
from imgpipe.manifest import UploadsTrigger
from imgpipe.registry import discover
from services.notify.marks import email_wanted, expected_for

MANIFESTS = discover()
ROUTES = bf.routes_from_manifests(MANIFESTS)
# derived from discovery, so a copied service folder needs no edit here
PRODUCERS = sorted(m.name for m in MANIFESTS if m.produces_variants)
UPLOAD_SERVICES = sorted(m.name for m in MANIFESTS if m.upload_triggers())
BUCKET = "uploads"


def _sel(**kwargs: Any) -> bf.Selection:
    return bf.Selection(run="r1", **kwargs)


def _obj(key: str = "photos/cat.jpg", **kwargs: Any) -> bf.Listed:
    kwargs.setdefault("etag", "abc")
    kwargs.setdefault("size", 10)
    kwargs.setdefault("last_modified", "2024-05-01T10:00:00Z")
    return bf.Listed(key, **kwargs)


def test_routes_come_from_the_manifests_and_notify_is_told_first() -> None:
    by_name = {r.name: r for r in ROUTES}
    assert sorted(by_name) == UPLOAD_SERVICES == sorted([*PRODUCERS, "notify"])
    assert by_name["notify"].announce_first and not by_name["resize"].announce_first


def test_default_run_tells_notify_first_then_every_producer_with_an_object_created_event() -> None:
    plan = bf.plan_item(_obj(), _sel(), ROUTES, BUCKET)
    assert plan.outcome == bf.DISPATCHED
    assert plan.first == ("notify",)
    assert plan.then == tuple(PRODUCERS)
    assert plan.event is not None
    created = parse_object_created(plan.event)  # the runtime's own parser accepts it
    assert (created.upload.bucket, created.upload.key, created.upload.etag) == (BUCKET, "photos/cat.jpg", "abc")
    assert created.time == "2024-05-01T10:00:00Z"  # the upload time, not the backfill's
    assert backfill_mark(plan.event) == BackfillMark("r1", notify=False)
    assert plan.event["detail"]["imgpipe"] == {"backfill": "r1", "notify": False}  # docs/events.md
    assert not email_wanted(backfill_mark(plan.event))


def test_notify_opt_in_tells_everyone_at_once_and_wants_the_email() -> None:
    plan = bf.plan_item(_obj(), _sel(notify=True), ROUTES, BUCKET)
    assert plan.first == ()
    assert set(plan.then) == set(UPLOAD_SERVICES)
    assert plan.event is not None and email_wanted(backfill_mark(plan.event))


def test_a_real_upload_event_always_wants_its_email() -> None:
    assert email_wanted(backfill_mark({"detail-type": "Object Created", "detail": {"bucket": {"name": "b"}}}))


def test_services_narrow_the_producers_but_notify_is_still_told() -> None:
    plan = bf.plan_item(_obj(), _sel(services=("resize",)), ROUTES, BUCKET)
    assert (plan.first, plan.then) == (("notify",), ("resize",))
    assert plan.event is not None
    # the round notify opens for it waits for resize alone: nobody else was asked
    assert expected_for(backfill_mark(plan.event), PRODUCERS) == ["resize"]


def test_services_with_notify_still_tell_notify_first() -> None:
    # notify must open the narrowed round before resize's report could open a full one
    plan = bf.plan_item(_obj(), _sel(services=("resize",), notify=True), ROUTES, BUCKET)
    assert (plan.first, plan.then) == (("notify",), ("resize",))


def test_a_run_of_every_service_and_a_real_upload_wait_for_every_producer() -> None:
    plan = bf.plan_item(_obj(), _sel(), ROUTES, BUCKET)
    assert plan.event is not None
    assert expected_for(backfill_mark(plan.event), PRODUCERS) == PRODUCERS
    real = {"detail-type": "Object Created", "detail": {"bucket": {"name": "b"}}}
    assert expected_for(backfill_mark(real), PRODUCERS) == PRODUCERS


@pytest.mark.parametrize(
    ("obj", "selection", "outcome"),
    [
        (_obj(last_modified="2024-04-30T23:59:59Z"), _sel(modified_since="2024-05-01T00:00:00Z"), bf.NOT_MODIFIED),
        (_obj("photos/", size=0), _sel(), bf.FOLDER),
        (_obj(), _sel(services=("notify",)), bf.NO_SERVICE),
    ],
)
def test_objects_that_get_nothing_say_why(obj: bf.Listed, selection: bf.Selection, outcome: str) -> None:
    plan = bf.plan_item(obj, selection, ROUTES, BUCKET)
    assert (plan.outcome, plan.event) == (outcome, None)


def test_key_filters_of_the_triggers_apply() -> None:
    routes = [
        bf.Route("jpegs", (UploadsTrigger(suffixes=(".jpg",)),)),
        bf.Route("raw", (UploadsTrigger(prefixes=("raw/",)),)),
    ]
    assert bf.plan_item(_obj("a/b.JPG"), _sel(), routes, BUCKET).then == ("jpegs",)
    assert bf.plan_item(_obj("raw/x.jpg"), _sel(), routes, BUCKET).then == ("jpegs", "raw")
    assert bf.plan_item(_obj("a/b.png"), _sel(), routes, BUCKET).outcome == bf.NO_SERVICE


@pytest.mark.parametrize(
    "item",
    [
        {"Key": "k.jpg", "Etag": '"e1"', "Size": 5, "LastModified": "2024-05-01T10:00:00.000Z"},  # ListObjectsV2
        {"Bucket": "b", "Key": "k.jpg", "ETag": "e1", "Size": "5", "LastModifiedDate": "2024-05-01T10:00:00.000Z"},
    ],
)
def test_listing_and_inventory_items_read_the_same(item: dict[str, Any]) -> None:
    assert bf.listed_from_item(item) == bf.Listed("k.jpg", "e1", 5, "2024-05-01T10:00:00Z")


class FakeTransport:
    """Records each call: the events' (key, targets), and whether it waited."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.calls: list[tuple[list[tuple[str, tuple[str, ...]]], bool]] = []
        self.failing = failing or set()

    def deliver(self, events: Sequence[dict[str, Any]], *, wait: bool) -> list[str | None]:
        sent = [(e["detail"]["object"]["key"], tuple(e["detail"]["imgpipe"]["targets"])) for e in events]
        self.calls.append((sent, wait))
        # an upload in ``failing`` is never recorded by the services told first
        return ["boom" if wait and k in self.failing else None for k, _ in sent]


def test_a_batch_waits_for_notify_before_any_producer_and_counts_outcomes() -> None:
    items = [
        {"Key": "a.jpg", "Etag": "1"},
        {"Key": "b.jpg", "Etag": "2"},
        {"Key": "gone.jpg"},
        {"Key": "f/", "Etag": "3", "Size": 0},
    ]
    transport = FakeTransport()
    heads = {"a.jpg": None}

    def head(key: str) -> bf.Listed | None:
        heads[key] = None
        return None  # gone.jpg has no etag in the item and is not in the bucket

    result = bf.run_batch(items, _sel(), ROUTES, BUCKET, transport, head=head)
    first, then = transport.calls
    assert first == ([("a.jpg", ("notify",)), ("b.jpg", ("notify",))], True)
    # one event per object for all its producers: each producer's rule finds its name in the targets
    assert then == ([("a.jpg", tuple(PRODUCERS)), ("b.jpg", tuple(PRODUCERS))], False)
    assert result.counts == {bf.DISPATCHED: 2, bf.MISSING: 1, bf.FOLDER: 1}
    assert "gone.jpg" in heads


def test_an_object_notify_did_not_acknowledge_goes_to_no_producer_and_is_failed() -> None:
    transport = FakeTransport({"a.jpg"})
    result = bf.run_batch(
        [{"Key": "a.jpg", "Etag": "1"}, {"Key": "b.jpg", "Etag": "2"}], _sel(), ROUTES, BUCKET, transport
    )
    assert [k for k, _ in transport.calls[1][0]] == ["b.jpg"]
    assert result.counts == {bf.DISPATCHED: 1, bf.FAILED: 1}
    assert result.failed == [{"key": "a.jpg", "error": "notify: boom"}]


def test_an_event_addressed_to_some_services_keeps_its_mark() -> None:
    plan = bf.plan_item(_obj(), _sel(services=("resize",)), ROUTES, BUCKET)
    assert plan.event is not None
    sent = bf.addressed(plan.event, ["resize"])
    assert sent["detail"]["imgpipe"] == {
        "backfill": "r1",
        "notify": False,
        "services": ["resize"],
        "targets": ["resize"],
    }
    assert "targets" not in plan.event["detail"]["imgpipe"]  # the plan's event is not changed
    assert backfill_mark(sent) == backfill_mark(plan.event)
    entry = bf.put_entry(sent, "default")
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "imgpipe.backfill",
        "Object Created",
        "default",
    )
    assert json.loads(entry["Detail"]) == sent["detail"]
    assert entry["Time"].isoformat() == "2024-05-01T10:00:00+00:00"  # the upload time, not the backfill's


def test_the_transport_waits_until_each_upload_is_recorded_and_gives_up_after_its_timeout() -> None:
    class Bus:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {"Entries": [{"EventId": "x"} for _ in Entries]}

    now = [0.0]
    checks: list[str] = []

    def recorded_after_two_polls(event: Any) -> bool:
        checks.append(event["detail"]["object"]["key"])
        return event["detail"]["object"]["key"] == "a.jpg" and len(checks) > 2

    def sleep(s: float) -> None:
        now[0] += s

    transport = bf.EventBusTransport(
        Bus(), "default", recorded_after_two_polls, wait_timeout_s=5, poll_s=1, sleep=sleep, clock=lambda: now[0]
    )
    events = [
        bf.addressed(bf.plan_item(_obj(k), _sel(), ROUTES, BUCKET).event or {}, ["notify"]) for k in ("a.jpg", "b.jpg")
    ]
    assert transport.deliver(events, wait=True) == [None, "did not record the upload within 5s"]
    assert checks[:3] == ["a.jpg"] * 3 and now[0] == 5
    assert transport.deliver(events, wait=False) == [None, None]  # the producers are not waited for


def test_a_batch_is_paced_to_its_share_of_the_rate() -> None:
    slept: list[float] = []
    bf.run_batch(
        [{"Key": f"{i}.jpg", "Etag": "1"} for i in range(10)],
        _sel(per_batch_rate=5.0),
        ROUTES,
        BUCKET,
        FakeTransport(),
        sleep=slept.append,
        clock=lambda: 100.0,
    )
    assert slept == [2.0]


def test_summary_merges_result_writer_files_with_failed_batches_listing_their_keys() -> None:
    summary = bf.Summary(run="r1", selection={})
    ok = {"Status": "SUCCEEDED", "Output": json.dumps({"counts": {"dispatched": 3, "not_modified": 1}, "failed": []})}
    bad = {
        "Status": "FAILED",
        "Error": "DeliveryFailed",
        "Cause": "1 object(s) not delivered",
        "Input": json.dumps({"BatchInput": {}, "Items": [{"Key": "x.jpg", "Etag": "1"}, {"Key": "y.jpg"}]}),
    }
    bf.merge_result_file(summary, [ok, bad])
    d = summary.as_dict()
    assert d["total"] == 6
    assert d["counts"]["dispatched"] == 3 and d["counts"]["failed"] == 2
    assert [f["key"] for f in d["failed"]] == ["x.jpg", "y.jpg"]
    assert d["failed"][0]["error"].startswith("DeliveryFailed: ")


def test_routes_round_trip_through_the_execution_input_and_narrow_as_the_rules_do() -> None:
    assert bf.routes_from_list(json.loads(json.dumps(bf.routes_as_list(ROUTES)))) == ROUTES
    narrowed = bf.narrowed_routes(ROUTES, ["photos/"])
    assert narrowed == bf.routes_from_manifests(MANIFESTS, ["photos/"])
    assert bf.narrowed_routes(ROUTES, []) == ROUTES


def test_selection_round_trips() -> None:
    s = bf.Selection("r", ("resize",), "2024-01-01T00:00:00Z", True, 2.5)
    assert bf.Selection.from_dict(json.loads(json.dumps(s.as_dict()))) == s


def test_the_cost_estimate_scales_with_the_objects_and_orchestration_stays_small() -> None:
    from bench import cost
    from bench.backfill_cost import LATEST, estimate, table

    model = cost.from_latest(LATEST)
    small, large = estimate(1_000_000, 50, model), estimate(100_000_000, 50, model)
    assert large["processing_usd"] == pytest.approx(100 * small["processing_usd"])
    assert small["orchestration_usd"] < 0.05 * small["processing_usd"]
    # a repeat run writes no variant (it still decodes, to find them written: docs/backfill.md)
    assert small["repeat_processing_usd"] < small["processing_usd"]
    assert small["hours"] == pytest.approx(1_000_000 / 50 / 3600, abs=0.1)
    # each object's PUTs and reads are the per-upload model's, not a count of the doc's own
    requests = model["requests_per_upload"]
    assert small["s3_put"] == 1_000_000 * sum(r.get("s3.PutObject", 0) for r in requests.values())
    assert "| 100,000,000 | 50 |" in table([large])


def test_the_backfill_docs_show_the_cost_model_of_the_last_bench_run() -> None:
    """docs/backfill.md's table is what ``python -m bench.backfill_cost`` prints: a new bench run or a
    new request count that changes it must change the doc too."""
    from bench import cost
    from bench.backfill_cost import LATEST, rows, table

    doc = (Path(__file__).resolve().parents[2] / "docs" / "backfill.md").read_text()
    assert table(rows(cost.from_latest(LATEST))) in doc, "run `python -m bench.backfill_cost` and paste its table"


def test_the_local_tracker_finishes_a_silent_backfill_upload_without_an_email() -> None:
    from imgpipe.events import Upload, VariantInfo, VariantsCreated, to_entry
    from imgpipe_tools.local.invoker import Outcome
    from imgpipe_tools.local.tracker import COMPLETED, TIMEOUT, Tracker

    manifests = [m for m in discover() if m.name in ("notify", "resize")]

    def run(notify: bool) -> str:
        tracker = Tracker(manifests)
        plan = bf.plan_item(_obj("a.jpg", etag="e1"), _sel(notify=notify), bf.routes_from_manifests(manifests), "b")
        assert plan.event is not None
        tracker.on_outcome(Outcome("resize", plan.event, True, 1, {"status": "processed"}))
        info = VariantInfo("resize", "v", "resize/a.jpg/320w.jpg", "jpeg", 320, 200, 99)
        detail_type, detail = to_entry(VariantsCreated(Upload("b", "a.jpg", "e1"), info.processor, (info,), "h"))
        tracker.on_event({"detail-type": detail_type, "source": "imgpipe.resize", "detail": detail})
        return tracker.report("a.jpg", "e1").status

    assert run(notify=False) == COMPLETED  # finished, with no email to wait for
    assert run(notify=True) == TIMEOUT  # still waiting for its email


def test_the_local_tracker_finishes_a_backfill_of_some_services_when_they_have_reported() -> None:
    from imgpipe.events import Upload, VariantInfo, VariantsCreated, to_entry
    from imgpipe_tools.local.invoker import Outcome
    from imgpipe_tools.local.tracker import COMPLETED, Tracker

    manifests = [m for m in discover() if m.name in ("notify", "resize", "thumbnail")]
    tracker = Tracker(manifests)
    plan = bf.plan_item(_obj("a.jpg", etag="e1"), _sel(services=("resize",)), bf.routes_from_manifests(manifests), "b")
    assert plan.event is not None
    info = VariantInfo("resize", "v", "resize/a.jpg/320w.jpg", "jpeg", 320, 200, 99)
    detail_type, detail = to_entry(VariantsCreated(Upload("b", "a.jpg", "e1"), info.processor, (info,), "h"))
    tracker.on_event({"detail-type": detail_type, "source": "imgpipe.resize", "detail": detail})
    tracker.on_outcome(Outcome("resize", plan.event, True, 1, {"status": "processed"}))
    assert tracker.report("a.jpg", "e1").status == COMPLETED  # thumbnail was not asked


def test_events_md_shows_the_event_a_backfill_sends() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text(encoding="utf-8")
    [block] = re.findall(r"^```jsonc\n(.*?)^```$", text, flags=re.S | re.M)
    shown = json.loads(block)
    obj = bf.Listed("2024/cat.jpg", "b1946ac92492d2347c6235b4d2611184", 81234, "2024-05-01T10:00:00Z")
    made = bf.object_created_event("imgpipe-uploads", obj, bf.Selection(run=shown["detail"]["imgpipe"]["backfill"]))
    made = bf.addressed(made, shown["detail"]["imgpipe"]["targets"])
    assert {k: made[k] for k in shown} == shown
