"""Operations on the synthesized template: alarms that page, the dashboard, bounded concurrency,
a stack name by context, retained DLQs, and a destroy mode that `cdk destroy` can finish."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from imgpipe.errors import Reason
from imgpipe.registry import discover
from infra.app import build_app, cdk_json_context
from infra.constants import CTX_SERVICES_ROOT, STACK_NAME
from infra.params import ContextError
from tests.infra.synth import Synthesized, context_json, synthesize

OTHER_STACK = "imgpipe-dev"


@pytest.fixture(scope="module")
def disposable(tmp_path_factory: pytest.TempPathFactory, services_snapshot: Path) -> Synthesized:
    """A second environment in the same account: another name, destroy mode, no reservations."""
    return synthesize(
        tmp_path_factory.mktemp("cdk.out-disposable"),
        services_snapshot,
        stack_name=OTHER_STACK,
        removal="destroy",
        reserved_concurrency="off",
    )


def _alarms(s: Synthesized) -> list[dict[str, Any]]:
    return [r["Properties"] for r in s.of_type("AWS::CloudWatch::Alarm").values()]


def _dims(alarm: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def _ref(s: Synthesized, construct: Any) -> dict[str, str]:
    return {"Ref": s.logical_id(construct)}


def _pages_both_ways(alarm: dict[str, Any], ops_topic: dict[str, str]) -> bool:
    return alarm["AlarmActions"] == [ops_topic] and alarm["OKActions"] == [ops_topic]


def test_every_function_pages_on_errors_throttles_and_lost_failure_records(synthesized: Synthesized) -> None:
    ops = _ref(synthesized, synthesized.stack.node.find_child("Monitoring").ops_topic)
    alarms = _alarms(synthesized)
    for name, p in synthesized.stack.processors.items():
        fn = _ref(synthesized, p.function)
        for metric in ("Errors", "Throttles", "DestinationDeliveryFailures"):
            [alarm] = [a for a in alarms if a.get("MetricName") == metric and _dims(a) == {"FunctionName": fn}]
            assert alarm["Namespace"] == "AWS/Lambda" and alarm["Threshold"] == 1, (name, metric)
            assert _pages_both_ways(alarm, ops), (name, metric)


def _imgpipe_functions(s: Synthesized) -> dict[str, dict[str, Any]]:
    """Every Lambda of the template but CDK's own helpers (bucket auto-delete, deployments, log
    retention), which run only while CloudFormation deploys."""
    return {
        k: r
        for k, r in s.of_type("AWS::Lambda::Function").items()
        if r["Properties"].get("Handler") not in (None, "index.handler") or "backfill" in json.dumps(r)
        if not k.startswith(("CustomS3AutoDeleteObjects", "CustomCDKBucketDeployment", "LogRetention", "AWS"))
    }


def test_every_imgpipe_lambda_has_an_errors_alarm_log_retention_and_tracing(
    synthesized: Synthesized,
) -> None:
    s = synthesized
    functions = _imgpipe_functions(s)
    # the processors, notify, purge, the API, the transform service and backfill's item function: services=all
    handlers = sorted(r["Properties"]["Handler"] for r in functions.values())
    assert {"api.handler.handler", "backfill.handler.handler", "transform.handler.handler"} <= set(handlers), handlers
    assert len(functions) == len(s.stack.processors) + 3, sorted(functions)
    ops = _ref(s, s.stack.node.find_child("Monitoring").ops_topic)
    alarms = _alarms(s)
    log_groups = s.of_type("AWS::Logs::LogGroup")
    for lid, fn in functions.items():
        props = fn["Properties"]
        for metric in ("Errors", "Throttles"):
            found = [a for a in alarms if a.get("MetricName") == metric and _dims(a) == {"FunctionName": {"Ref": lid}}]
            assert len(found) == 1 and _pages_both_ways(found[0], ops), (lid, metric)
        assert props["TracingConfig"] == {"Mode": "Active"}, lid
        assert props["Architectures"] == ["arm64"], lid
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[group]["Properties"]["RetentionInDays"] > 0, lid


def test_every_rule_pages_on_failed_invocations_and_events_that_could_not_be_parked(synthesized: Synthesized) -> None:
    ops = _ref(synthesized, synthesized.stack.node.find_child("Monitoring").ops_topic)
    alarms = _alarms(synthesized)
    rules = [rule for p in synthesized.stack.processors.values() for rule in p.rules]
    assert rules
    for rule in rules:
        for metric in ("FailedInvocations", "InvocationsFailedToBeSentToDlq"):
            [alarm] = [
                a for a in alarms if a.get("MetricName") == metric and _dims(a) == {"RuleName": _ref(synthesized, rule)}
            ]
            assert alarm["Namespace"] == "AWS/Events" and _pages_both_ways(alarm, ops)


def test_every_dlq_pages_on_each_new_message_and_before_its_messages_expire(synthesized: Synthesized) -> None:
    alarms = _alarms(synthesized)
    for p in synthesized.stack.processors.values():
        for dlq in (p.failure_dlq, p.target_dlq):
            queue = {"Fn::GetAtt": [synthesized.logical_id(dlq.queue), "QueueName"]}
            by_metric = {a["MetricName"]: a for a in alarms if _dims(a) == {"QueueName": queue}}
            assert set(by_metric) == {
                "ApproximateNumberOfMessagesVisible",  # depth: something is parked
                "NumberOfMessagesSent",  # a new failure, even while the depth alarm is already in ALARM
                "ApproximateAgeOfOldestMessage",  # redrive before the 14-day retention ends
            }
            assert by_metric["ApproximateAgeOfOldestMessage"]["Threshold"] < 14 * 86400


def test_notification_delivery_failures_page(synthesized: Synthesized) -> None:
    topic = _ref(synthesized, synthesized.stack.node.find_child("Notification").topic)
    [alarm] = [a for a in _alarms(synthesized) if a.get("MetricName") == "NumberOfNotificationsFailed"]
    assert _dims(alarm) == {"TopicName": {"Fn::GetAtt": [topic["Ref"], "TopicName"]}}


def test_an_unusual_rate_of_rejections_pages_for_each_image_processor(synthesized: Synthesized) -> None:
    # (the upload API's 4xx share is a rate too: tests/infra/test_frontdoor.py)
    rate_alarms = [a for a in _alarms(synthesized) if "Metrics" in a and "upload API" not in a["AlarmDescription"]]
    producers = [
        m.name for m in discover(synthesized.stack.node.try_get_context(CTX_SERVICES_ROOT)) if m.produces_variants
    ]
    assert len(rate_alarms) == len(producers)
    for alarm in rate_alarms:
        [expression] = [m for m in alarm["Metrics"] if "Expression" in m]
        assert "rejections / invocations" in expression["Expression"]
        namespaces = {m["MetricStat"]["Metric"]["Namespace"] for m in alarm["Metrics"] if "MetricStat" in m}
        assert namespaces == {"AWS/Lambda", f"imgpipe/{STACK_NAME}"}


def test_the_dashboard_finds_the_services_by_search_and_shows_the_pipeline(synthesized: Synthesized) -> None:
    [dashboard] = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    # No event service is named on it: its graphs search the stack's functions, queues and namespace,
    # so it refers to no resource of the stack but the one HTTP service's (its API row), and has no
    # row per service.
    refs = re.findall(r'"Ref": "([^"]+)"', body) + re.findall(r'"Fn::GetAtt": \["([^"]+)"', body)
    assert [r for r in refs if not r.startswith(("AWS::", "FrontDoor"))] == []
    assert re.findall(r"### (\w+)", body) == ["api", "Services"]
    flat = body.replace("\\", "")
    for search in (
        f'{{AWS/Lambda,FunctionName}} (MetricName="Errors") {STACK_NAME}',
        f'{{AWS/SQS,QueueName}} (MetricName="ApproximateNumberOfMessagesVisible") {STACK_NAME}',
        f'{{"imgpipe/{STACK_NAME}",service}} (MetricName="VariantBytes")',
    ):
        assert search in flat, search
    for metric in ("Invocations", "Duration", "Throttles", "Rejections", "RoundsCompleted", "UploadToEmailSeconds"):
        assert metric in body, metric
    for reason in Reason:
        assert f"Rejected_{reason.value}" in body
    # the pipeline's figures are notify's, whichever other service also keeps the catalog (describe)
    assert '"UploadsReceived","service","notify"' in flat
    # and the upload API's row: its requests and answers, and callers refused for their rate
    assert "### api (upload API)" in body and '"5xx"' in flat and '"RateLimited"' in flat


def test_reserved_concurrency_bounds_every_function_with_heavy_processors_below_notify(
    synthesized: Synthesized,
) -> None:
    reserved = {
        name: synthesized.resources[synthesized.logical_id(p.function)]["Properties"].get(
            "ReservedConcurrentExecutions"
        )
        for name, p in synthesized.stack.processors.items()
    }
    assert all(isinstance(v, int) and v > 0 for v in reserved.values()), reserved
    heavy = [name for name, p in synthesized.stack.processors.items() if p.manifest.memory_mb >= 1024]
    notify = next(n for n, p in synthesized.stack.processors.items() if not p.manifest.produces_variants)
    assert heavy and all(reserved[h] < reserved[notify] for h in heavy), reserved


def test_reservations_can_be_turned_off_for_a_fresh_account(disposable: Synthesized) -> None:
    for p in disposable.stack.processors.values():
        assert (
            "ReservedConcurrentExecutions" not in disposable.resources[disposable.logical_id(p.function)]["Properties"]
        )


def test_reservations_can_be_overridden_per_service(tmp_path: Path, services_snapshot: Path) -> None:
    s = synthesize(tmp_path, services_snapshot, reserved_concurrency=context_json({"convert": 2}))
    props = s.resources[s.logical_id(s.stack.processors["convert"].function)]["Properties"]
    assert props["ReservedConcurrentExecutions"] == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"nope": 2}', "no service named 'nope'"),
        ('{"convert": -1}', "integers 0-1000"),
        ("lots", "is not 'off' nor valid JSON"),
    ],
)
def test_bad_reserved_concurrency_fails_synth(value: str, message: str, services_snapshot: Path) -> None:
    ctx = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], CTX_SERVICES_ROOT: str(services_snapshot)}
    with pytest.raises(ContextError, match=message):
        build_app({**ctx, "reserved_concurrency": value})


def test_the_stack_name_comes_from_context_and_names_the_metrics(disposable: Synthesized) -> None:
    assert disposable.stack.stack_name == OTHER_STACK
    for p in disposable.stack.processors.values():
        env = disposable.resources[disposable.logical_id(p.function)]["Properties"]["Environment"]["Variables"]
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == f"imgpipe/{OTHER_STACK}"
    [dashboard] = disposable.of_type("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"{OTHER_STACK}-imgpipe"


def test_two_stacks_share_no_fixed_name(synthesized: Synthesized, disposable: Synthesized) -> None:
    """Every physical name is generated by CloudFormation (it includes the stack's name) except the
    ones derived from the stack name itself, so a second stack never collides with the first."""
    naming = ("BucketName", "FunctionName", "QueueName", "TopicName", "TableName", "RoleName", "Name", "DashboardName")
    for s in (synthesized, disposable):
        fixed = [
            (lid, key, value)
            for lid, r in s.resources.items()
            for key, value in r.get("Properties", {}).items()
            if key in naming and isinstance(value, str) and s.stack.stack_name not in value
        ]
        assert fixed == [], fixed


def test_retain_mode_keeps_dlqs_and_destroy_mode_empties_every_bucket(
    synthesized: Synthesized, disposable: Synthesized
) -> None:
    for p in synthesized.stack.processors.values():
        for dlq in (p.failure_dlq, p.target_dlq):
            assert synthesized.resources[synthesized.logical_id(dlq.queue)]["DeletionPolicy"] == "Retain"
    assert synthesized.of_type("Custom::S3AutoDeleteObjects") == {}

    buckets = disposable.of_type("AWS::S3::Bucket")
    emptied = {r["Properties"]["BucketName"]["Ref"] for r in disposable.of_type("Custom::S3AutoDeleteObjects").values()}
    assert emptied == set(buckets)
    for lid in buckets:
        assert disposable.resources[lid]["DeletionPolicy"] == "Delete"
    for p in disposable.stack.processors.values():
        assert disposable.resources[disposable.logical_id(p.failure_dlq.queue)]["DeletionPolicy"] == "Delete"


def test_destroy_mode_is_nag_clean(disposable: Synthesized) -> None:
    from cdk_nag import AwsSolutionsChecks

    result = AwsSolutionsChecks(disposable.app).validate_scope(disposable.app)
    assert result.success, [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in result.violations]
