"""Per processor: function settings, rule(s), target retry policy and DLQ, async config with
its failure DLQ, alarms, and the role's scope. Expected values come from the manifests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from imgpipe.config import Config
from imgpipe.events import COMPLETION_SOURCE
from imgpipe.manifest import Manifest, rule_pattern
from imgpipe.needs import Need
from imgpipe.registry import discover, expected_producers_spec
from tests.infra.synth import REPO_SERVICES, Synthesized

MANIFESTS = discover(REPO_SERVICES)
NAMES = [m.name for m in MANIFESTS]
SCOPED_SERVICES = ("s3", "events", "sns", "dynamodb")


def _ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def _arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _statements(synthesized: Synthesized, name: str) -> list[dict[str, Any]]:
    role_id = synthesized.logical_id(synthesized.stack.processors[name].role)
    policies = [
        p for p in synthesized.of_type("AWS::IAM::Policy").values() if _ref(role_id) in p["Properties"]["Roles"]
    ]
    assert len(policies) == 1, f"{name}: expected one policy on its role"
    return policies[0]["Properties"]["PolicyDocument"]["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _manifest(synthesized: Synthesized, name: str) -> Manifest:
    return synthesized.stack.processors[name].manifest


def test_there_is_one_processor_per_folder(synthesized: Synthesized) -> None:
    assert sorted(synthesized.stack.processors) == NAMES
    # and one more function: the backfill item Lambda (tests/infra/test_backfill.py); the upload
    # API's is the front door's (tests/infra/test_frontdoor.py), the transform service's an edge
    # service's (tests/infra/test_transform_stack.py)
    # CDK's handler of the web app's BucketDeployment: tests/infra/test_site.py holds its role
    functions = [
        k
        for k in synthesized.of_type("AWS::Lambda::Function")
        if not k.startswith(("FrontDoor", "Edge", "CustomCDKBucketDeployment"))
    ]
    assert len(functions) == len(NAMES) + 1


@pytest.mark.parametrize("name", NAMES)
def test_function_follows_its_manifest(synthesized: Synthesized, name: str) -> None:
    m = _manifest(synthesized, name)
    p = synthesized.stack.processors[name]
    props = synthesized.resources[synthesized.logical_id(p.function)]["Properties"]
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == f"{name}.handler.handler"
    assert props["MemorySize"] == m.memory_mb
    assert props["Timeout"] == m.timeout_s
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["RecursiveLoop"] == "Terminate"
    assert props["Layers"] == [_ref(synthesized.logical_id(synthesized.stack.node.find_child("Shared").layer))]
    if m.reserved_concurrency:
        assert props["ReservedConcurrentExecutions"] == m.reserved_concurrency
    else:
        assert "ReservedConcurrentExecutions" not in props
    log_group_id = synthesized.logical_id(p.log_group)
    assert props["LoggingConfig"] == {"LogGroup": _ref(log_group_id)}
    assert synthesized.resources[log_group_id]["Properties"]["RetentionInDays"] == 30


@pytest.mark.parametrize("name", NAMES)
def test_environment_carries_the_config(synthesized: Synthesized, name: str) -> None:
    p = synthesized.stack.processors[name]
    env = synthesized.resources[synthesized.logical_id(p.function)]["Properties"]["Environment"]["Variables"]
    storage = synthesized.stack.node.find_child("Storage")
    assert env["IMGPIPE_UPLOADS_BUCKET"] == _ref(synthesized.logical_id(storage.uploads))
    assert env["IMGPIPE_VARIANTS_BUCKET"] == _ref(synthesized.logical_id(storage.variants))
    literal = {k: v for k, v in env.items() if isinstance(v, str)}
    config = Config.from_env(literal)
    assert config.processor == name
    assert config.event_bus == "default"
    assert dict(config.settings) == _manifest(synthesized, name).effective_settings()
    assert env["POWERTOOLS_SERVICE_NAME"] == name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == f"imgpipe/{synthesized.stack.stack_name}"  # one per stack
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    notification = synthesized.stack.node.find_child("Notification")
    needs = _manifest(synthesized, name).needs
    if Need.CATALOG in needs:
        assert env["IMGPIPE_CATALOG_TABLE"] == _ref(synthesized.logical_id(notification.catalog))
    else:
        assert "IMGPIPE_CATALOG_TABLE" not in env
    if name == "notify":
        assert env["IMGPIPE_TOPIC_ARN"] == _ref(synthesized.logical_id(notification.topic))
        assert env["IMGPIPE_EXPECTED_PRODUCERS"] == expected_producers_spec(MANIFESTS)
        assert {e["name"] for e in json.loads(env["IMGPIPE_EXPECTED_PRODUCERS"])} == {
            m.name for m in MANIFESTS if m.produces_variants
        }
    else:
        assert "IMGPIPE_TOPIC_ARN" not in env


@pytest.mark.parametrize("name", NAMES)
def test_rules_come_from_the_manifest_and_target_the_function(synthesized: Synthesized, name: str) -> None:
    m = _manifest(synthesized, name)
    p = synthesized.stack.processors[name]
    uploads_ref = _ref(synthesized.logical_id(synthesized.stack.node.find_child("Storage").uploads))
    rules = [synthesized.resources[synthesized.logical_id(r)]["Properties"] for r in p.rules]
    producers = [q.manifest.name for q in synthesized.stack.processors.values() if q.manifest.produces_variants]
    patterns = [rule_pattern(name, t, uploads_ref, producers) for t in m.triggers]  # type: ignore[arg-type]
    assert [r["EventPattern"] for r in rules] == patterns
    # a service that takes its events in batches gets them through its input queue
    function_arn = _arn(synthesized.logical_id(p.input_queue if m.batch else p.function))
    for rule in rules:
        assert "EventBusName" not in rule  # the default bus
        assert rule["State"] == "ENABLED"
        (target,) = rule["Targets"]
        assert target["Arn"] == function_arn
        assert target["DeadLetterConfig"] == {"Arn": _arn(synthesized.logical_id(p.target_dlq.queue))}
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": m.retry_attempts,
            "MaximumEventAgeInSeconds": m.max_event_age_s,
        }
    # Every rule of the stack that targets this function is one of its own.
    all_rules = synthesized.of_type("AWS::Events::Rule").values()
    targeting = [r for r in all_rules if r["Properties"]["Targets"][0]["Arn"] == function_arn]
    assert len(targeting) == len(m.triggers)


@pytest.mark.parametrize("name", NAMES)
def test_eventbridge_may_invoke_the_function_and_fill_the_target_dlq_only_from_its_rules(
    synthesized: Synthesized, name: str
) -> None:
    p = synthesized.stack.processors[name]
    rule_arns = sorted(json.dumps(_arn(synthesized.logical_id(r))) for r in p.rules)
    function_arn = _arn(synthesized.logical_id(p.function))
    permissions = [
        x["Properties"]
        for x in synthesized.of_type("AWS::Lambda::Permission").values()
        if x["Properties"]["FunctionName"] == function_arn
    ]
    assert all(x["Principal"] == "events.amazonaws.com" and x["Action"] == "lambda:InvokeFunction" for x in permissions)
    # batched: the rules send to the input queue, and nothing may invoke the function but its queue's poller
    assert sorted(json.dumps(x["SourceArn"]) for x in permissions) == ([] if p.manifest.batch else rule_arns)

    queues = [(p.target_dlq.queue, {"sqs:SendMessage"})]
    if p.input_queue:
        queues.append((p.input_queue, {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}))
    for queue, actions in queues:
        queue_id = synthesized.logical_id(queue)
        (statements,) = [
            q["Properties"]["PolicyDocument"]["Statement"]
            for q in synthesized.of_type("AWS::SQS::QueuePolicy").values()
            if _ref(queue_id) in q["Properties"]["Queues"]
        ]
        from_events = [s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}]
        assert all(set(_as_list(s["Action"])) == actions and s["Resource"] == _arn(queue_id) for s in from_events)
        assert sorted(json.dumps(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in from_events) == rule_arns


@pytest.mark.parametrize("name", [m.name for m in MANIFESTS if m.batch])
def test_a_batched_service_reads_its_input_queue_in_batches_and_its_failures_reach_the_failure_dlq(
    synthesized: Synthesized, name: str
) -> None:
    m = _manifest(synthesized, name)
    assert m.batch is not None
    p = synthesized.stack.processors[name]
    assert p.input_queue is not None
    queue_id = synthesized.logical_id(p.input_queue)
    (mapping,) = [
        x["Properties"]
        for x in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
        if x["Properties"]["FunctionName"] == _ref(synthesized.logical_id(p.function))
    ]
    assert mapping["EventSourceArn"] == _arn(queue_id)
    assert mapping["BatchSize"] == m.batch.size
    assert mapping["MaximumBatchingWindowInSeconds"] == m.batch.window_s
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # within the reservation, so that the poller is not throttled into the DLQ
    assert mapping["ScalingConfig"]["MaximumConcurrency"] <= m.reserved_concurrency
    props = synthesized.resources[queue_id]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": _arn(synthesized.logical_id(p.failure_dlq.queue)),
        "maxReceiveCount": m.retry_attempts + 1,
    }
    assert props["MessageRetentionPeriod"] == m.max_event_age_s
    # a batch is received again only after the function can no longer be working on it
    assert props["VisibilityTimeout"] >= 6 * m.timeout_s + m.batch.window_s


@pytest.mark.parametrize("name", [m.name for m in MANIFESTS if m.batch])
def test_an_input_queue_alarms_before_its_oldest_event_expires(synthesized: Synthesized, name: str) -> None:
    """The queue drops an event after its retention (the manifest's max event age) without a
    trace: the alarm fires at half of it, to the alarm topic."""
    m = _manifest(synthesized, name)
    queue = synthesized.stack.processors[name].input_queue
    assert queue is not None
    queue_name = {"Fn::GetAtt": [synthesized.logical_id(queue), "QueueName"]}
    (alarm,) = [
        a["Properties"]
        for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage"
        and a["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
    ]
    assert alarm["Threshold"] * 2 <= m.max_event_age_s
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] and alarm["OKActions"] == alarm["AlarmActions"]


def test_only_a_service_that_asks_for_batches_has_an_input_queue(synthesized: Synthesized) -> None:
    batched = {n for n, p in synthesized.stack.processors.items() if p.input_queue is not None}
    assert batched == {m.name for m in MANIFESTS if m.batch}
    assert "notify" in batched
    assert len(synthesized.of_type("AWS::Lambda::EventSourceMapping")) == len(batched)


@pytest.mark.parametrize("name", NAMES)
def test_async_invocation_retries_then_lands_in_the_failure_dlq(synthesized: Synthesized, name: str) -> None:
    m = _manifest(synthesized, name)
    p = synthesized.stack.processors[name]
    function_ref = _ref(synthesized.logical_id(p.function))
    (config,) = [
        c["Properties"]
        for c in synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == function_ref
    ]
    assert config["MaximumRetryAttempts"] == m.retry_attempts
    assert config["MaximumEventAgeInSeconds"] == m.max_event_age_s
    assert config["DestinationConfig"] == {
        "OnFailure": {"Destination": _arn(synthesized.logical_id(p.failure_dlq.queue))}
    }
    assert p.failure_dlq.queue is not p.target_dlq.queue


@pytest.mark.parametrize("name", NAMES)
def test_both_dlqs_are_encrypted_kept_14_days_and_alarmed(synthesized: Synthesized, name: str) -> None:
    p = synthesized.stack.processors[name]
    ops_topic_ref = _ref(synthesized.logical_id(synthesized.stack.node.find_child("Monitoring").ops_topic))
    alarms = list(synthesized.of_type("AWS::CloudWatch::Alarm").values())
    for dlq in (p.failure_dlq, p.target_dlq):
        queue_id = synthesized.logical_id(dlq.queue)
        props = synthesized.resources[queue_id]["Properties"]
        assert props["SqsManagedSseEnabled"] is True
        assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
        dimensions = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
        mine = [
            a["Properties"]
            for a in alarms
            if a["Properties"].get("Dimensions") == dimensions
            and a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        ]
        # (its other alarms, new messages and oldest message: tests/infra/test_operations.py)
        assert len(mine) == 1, f"{name}: one depth alarm per DLQ"
        alarm = mine[0]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [ops_topic_ref]
        assert alarm["OKActions"] == [ops_topic_ref]
        policies = [
            q["Properties"]["PolicyDocument"]["Statement"]
            for q in synthesized.of_type("AWS::SQS::QueuePolicy").values()
            if _ref(queue_id) in q["Properties"]["Queues"]
        ]
        (statements,) = policies
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


@pytest.mark.parametrize("name", NAMES)
def test_role_is_scoped_to_the_processor(synthesized: Synthesized, name: str) -> None:
    m = _manifest(synthesized, name)
    statements = _statements(synthesized, name)
    storage = synthesized.stack.node.find_child("Storage")
    uploads_id = synthesized.logical_id(storage.uploads)
    variants_id = synthesized.logical_id(storage.variants)

    for s in statements:
        assert s["Effect"] == "Allow"
        actions = _as_list(s["Action"])
        if any(a.split(":")[0] in SCOPED_SERVICES for a in actions):
            assert "*" not in _as_list(s["Resource"]), f"{name}: {actions} on '*'"
        assert not any(a.endswith(":*") or a == "*" for a in actions), f"{name}: wildcard action {actions}"

    def granted(action: str) -> list[Any]:
        return [r for s in statements if action in _as_list(s["Action"]) for r in _as_list(s["Resource"])]

    variants_prefix = {"Fn::Join": ["", [_arn(variants_id), f"/{name}/*"]]}
    variants_all = {"Fn::Join": ["", [_arn(variants_id), "/*"]]}
    uploads_all = {"Fn::Join": ["", [_arn(uploads_id), "/*"]]}
    if m.produces_variants:
        assert granted("s3:PutObject") == [variants_prefix]
        list_variants = [s for s in statements if s.get("Sid") == "ListOwnVariants"]
        assert list_variants[0]["Condition"] == {"StringLikeIfExists": {"s3:prefix": [f"{name}/*"]}}
    else:
        assert granted("s3:PutObject") == []
    # a service that reacts to no upload (purge, the delete cascade) reads none
    reads_uploads = bool(m.upload_triggers())
    expected_reads = [uploads_all] if reads_uploads else []
    expected_reads += [variants_prefix] if m.produces_variants else []
    expected_reads += [variants_all] if name == "notify" else []
    assert sorted(map(json.dumps, granted("s3:GetObject"))) == sorted(map(json.dumps, expected_reads))
    assert (_arn(uploads_id) in granted("s3:ListBucket")) == reads_uploads
    if name == "notify":
        # a HEAD of a missing variant (a forged event's) must answer 404, not 403
        assert _arn(variants_id) in granted("s3:ListBucket")

    put_events = [s for s in statements if "events:PutEvents" in _as_list(s["Action"])]
    if m.produces_variants:
        assert len(put_events) == 1
        assert put_events[0]["Condition"] == {"StringEquals": {"events:source": f"imgpipe.{name}"}}
        assert "event-bus/default" in json.dumps(put_events[0]["Resource"])
    elif Need.COMPLETION_EVENTS in m.needs:
        # notify announces the rounds it ends, with the one completion source (its own rules match
        # the producers' sources only, so it never receives them)
        assert len(put_events) == 1
        assert put_events[0]["Condition"] == {"StringEquals": {"events:source": COMPLETION_SOURCE}}
    else:
        # the delete cascade and the webhook announce nothing
        assert put_events == []

    notification = synthesized.stack.node.find_child("Notification")
    table_arn = _arn(synthesized.logical_id(notification.catalog))
    if name == "notify":
        assert granted("sns:Publish") == [_ref(synthesized.logical_id(notification.topic))]
        for action in ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"):
            assert granted(action) == [table_arn], action
        for action in ("dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PutItem"):
            assert granted(action) == [], action
    else:
        assert granted("sns:Publish") == [] and granted("dynamodb:PutItem") == []


def test_no_role_outside_the_processors(synthesized: Synthesized) -> None:
    """Every role belongs to a processor or to the backfill (no custom-resource Lambdas with broad
    roles); the backfill's two are held to theirs in tests/infra/test_backfill.py."""
    role_ids = {synthesized.logical_id(p.role) for p in synthesized.stack.processors.values()}
    role_ids |= {synthesized.logical_id(synthesized.stack.backfill.role)}
    role_ids |= {synthesized.logical_id(synthesized.stack.backfill.item_role)}
    # the upload API's, held to its own in tests/infra/test_frontdoor.py
    role_ids |= {synthesized.logical_id(synthesized.stack.frontdoor.role)}
    # the edge services' (transforms), held to theirs in tests/infra/test_transform_stack.py
    role_ids |= {synthesized.logical_id(edge.role) for edge in synthesized.stack.edge}
    # CDK's handler of the web app's BucketDeployment (with the basic-execution managed policy CDK
    # gives it, acknowledged in infra/components/site.py), held to its own in tests/infra/test_site.py
    cdk_roles = {k for k in synthesized.of_type("AWS::IAM::Role") if k.startswith("CustomCDKBucketDeployment")}
    assert len(cdk_roles) == 1
    assert set(synthesized.of_type("AWS::IAM::Role")) == role_ids | cdk_roles
    assert not synthesized.of_type("AWS::IAM::ManagedPolicy")
    for role_id in role_ids:
        assert "ManagedPolicyArns" not in synthesized.resources[role_id]["Properties"]
