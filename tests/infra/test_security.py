"""Security assertions over the whole synthesized template (docs/reliability.md, "Security").

Written against the template, not the constructs, so that any resource someone adds later is
held to the same rules: private, encrypted, TLS-only storage and queues; least-privilege roles
(own variants prefix, own event source, no wildcard resource on a data-plane action); no
secret in a function's environment; presigned links that expire. cdk-nag is proven clean, with
each acknowledgment needed and reasoned, by tests/infra/test_nag_and_lint.py.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from imgpipe.registry import discover, parse_settings

MANIFESTS = {m.name: m for m in discover()}
HTTP_SERVICES = {m.name for m in discover(http=True)}
EDGE_SERVICES = {m.name for m in discover(edge=True)}
PRODUCERS = sorted(n for n, m in MANIFESTS.items() if m.produces_variants)
# Actions that touch data (reads, writes, messages): never on a "*" resource.
DATA_PLANE = ("s3:", "dynamodb:", "sns:", "sqs:", "events:", "kms:", "lambda:", "secretsmanager:", "ssm:")
# Actions AWS only grants on "*" (no resource-level permissions), and nothing else may be.
WILDCARD_ONLY_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
    # Rekognition's image operations have no resource type (services/moderate, the `moderation` need)
    "rekognition:DetectModerationLabels",
}


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _of_type(t: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in t["Resources"].items() if r["Type"] == cfn_type}


def _refs(value: Any) -> set[str]:
    """Logical ids a property value refers to (Ref / Fn::GetAtt), anywhere inside it."""
    text = json.dumps(value)
    return set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text)) | set(
        re.findall(r'"Fn::GetAtt": \["([A-Za-z0-9]+)"', text)
    )


def _deny_without_tls(policy: dict[str, Any], target: str) -> bool:
    for st in _listify(policy["Statement"]):
        condition = st.get("Condition", {}).get("Bool", {})
        denies_plain_http = st["Effect"] == "Deny" and condition.get("aws:SecureTransport") in ("false", False)
        if denies_plain_http and target in _refs(st.get("Resource")):
            return True
    return False


def _policy_for(t: dict[str, Any], policy_type: str, prop: str, target: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]["PolicyDocument"]
        for r in _of_type(t, policy_type).values()
        if target in _refs(r["Properties"][prop])
    ]


# --- storage, queues, topics -----------------------------------------------------------------


def test_every_bucket_blocks_public_access_encrypts_and_enforces_tls(template: dict[str, Any]) -> None:
    buckets = _of_type(template, "AWS::S3::Bucket")
    assert len(buckets) >= 3  # uploads, variants, access logs
    for lid, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, lid
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rules and all(r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms") for r in rules)
        assert props.get("OwnershipControls", {}).get("Rules") == [{"ObjectOwnership": "BucketOwnerEnforced"}], lid
        policies = _policy_for(template, "AWS::S3::BucketPolicy", "Bucket", lid)
        assert any(_deny_without_tls(p, lid) for p in policies), f"{lid} accepts plain HTTP"
        for p in policies:
            for st in _listify(p["Statement"]):
                assert not (st["Effect"] == "Allow" and st.get("Principal") in ("*", {"AWS": "*"})), (lid, st)


def test_every_queue_is_encrypted_and_tls_only(template: dict[str, Any]) -> None:
    queues = _of_type(template, "AWS::SQS::Queue")
    batched = [m for m in MANIFESTS.values() if m.batch]
    # a failure DLQ and a target DLQ per processor, and the input queue of each that takes batches
    assert len(queues) == 2 * len(MANIFESTS) + len(batched)
    for lid, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), f"{lid} is not encrypted"
        # a DLQ keeps 14 days; an input queue keeps an event as long as its manifest lets one wait
        inputs = [m.max_event_age_s for m in batched if lid.startswith(f"{m.name}InputQueue")]
        assert props.get("MessageRetentionPeriod") == (inputs[0] if inputs else 14 * 86400), lid
        policies = _policy_for(template, "AWS::SQS::QueuePolicy", "Queues", lid)
        assert any(_deny_without_tls(p, lid) for p in policies), f"{lid} accepts plain HTTP"


def test_every_topic_is_encrypted_and_tls_only(template: dict[str, Any]) -> None:
    topics = _of_type(template, "AWS::SNS::Topic")
    assert len(topics) == 2  # notifications and ops alarms
    for lid, topic in topics.items():
        assert topic["Properties"].get("KmsMasterKeyId"), f"{lid} is not encrypted"
        policies = _policy_for(template, "AWS::SNS::TopicPolicy", "Topics", lid)
        assert any(_deny_without_tls(p, lid) for p in policies), f"{lid} accepts plain HTTP"
    for lid, key in _of_type(template, "AWS::KMS::Key").items():
        assert key["Properties"].get("EnableKeyRotation") is True, lid


def test_the_catalog_is_encrypted_and_recoverable(template: dict[str, Any]) -> None:
    [table] = _of_type(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    # DynamoDB always encrypts at rest; an explicit SSESpecification may only strengthen it.
    assert props.get("SSESpecification", {}).get("SSEEnabled", True) is True


# --- least privilege -------------------------------------------------------------------------


def _functions(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """processor name -> (function logical id, function properties)."""
    out = {}
    for lid, fn in _of_type(template, "AWS::Lambda::Function").items():
        props = fn["Properties"]
        if "IMGPIPE_PROCESSOR" not in props["Environment"]["Variables"] and lid.startswith("Backfill"):
            continue  # the backfill item function: tests/infra/test_backfill.py holds its privileges
        if lid.startswith("CustomCDKBucketDeployment"):
            continue  # CDK's copy of the web app to its bucket: tests/infra/test_site.py holds its role
        if props["Environment"]["Variables"].get("IMGPIPE_PROCESSOR") in HTTP_SERVICES:
            continue  # the upload API (invoked by API Gateway): tests/infra/test_frontdoor.py holds its privileges
        if props["Environment"]["Variables"].get("IMGPIPE_PROCESSOR") in EDGE_SERVICES:
            continue  # transforms (invoked by API Gateway): tests/infra/test_transform_stack.py holds its privileges
        out[props["Environment"]["Variables"]["IMGPIPE_PROCESSOR"]] = (lid, props)
    return out


def _statements_of_role(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    statements = []
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        if role in _refs(policy["Properties"]["Roles"]):
            statements += _listify(policy["Properties"]["PolicyDocument"]["Statement"])
    for inline in template["Resources"][role]["Properties"].get("Policies", []):
        statements += _listify(inline["PolicyDocument"]["Statement"])
    return statements


def _role_of(props: dict[str, Any]) -> str:
    [role] = _refs(props["Role"])
    return role


def _bucket(template: dict[str, Any], env_name: str, fn_props: dict[str, Any]) -> str:
    [lid] = _refs(fn_props["Environment"]["Variables"][env_name])
    assert template["Resources"][lid]["Type"] == "AWS::S3::Bucket"
    return lid


def _object_scope(resource: Any) -> tuple[str, str] | None:
    """(bucket logical id, key pattern) of an ``<bucket arn>/<pattern>`` resource."""
    join = resource.get("Fn::Join") if isinstance(resource, dict) else None
    if not join or join[0] != "" or len(join[1]) != 2:
        return None
    arn, suffix = join[1]
    [bucket] = _refs(arn)
    return bucket, suffix


def test_functions_are_the_processors_and_have_no_managed_policies(template: dict[str, Any]) -> None:
    functions = _functions(template)
    assert sorted(functions) == sorted(MANIFESTS)
    for name, (_, props) in functions.items():
        role = template["Resources"][_role_of(props)]["Properties"]
        assert not role.get("ManagedPolicyArns"), f"{name}: managed policies grant more than the function needs"
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_no_wildcard_resource_or_action_on_the_data_plane(template: dict[str, Any]) -> None:
    for name, (_, props) in _functions(template).items():
        for st in _statements_of_role(template, _role_of(props)):
            if st["Effect"] != "Allow":
                continue
            actions = _listify(st["Action"])
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, st)
            resources = _listify(st.get("Resource", "*"))
            if "*" in resources:
                assert set(actions) <= WILDCARD_ONLY_ACTIONS, f"{name}: {actions} on '*'"
            for resource in resources:
                if isinstance(resource, str) and any(a.startswith(DATA_PLANE) for a in actions):
                    assert not resource.endswith(":*") and ":*:" not in resource, (name, resource)


@pytest.mark.parametrize("name", PRODUCERS)
def test_a_producer_writes_only_its_own_prefix_and_reads_only_what_it_must(template: dict[str, Any], name: str) -> None:
    _, props = _functions(template)[name]
    uploads = _bucket(template, "IMGPIPE_UPLOADS_BUCKET", props)
    variants = _bucket(template, "IMGPIPE_VARIANTS_BUCKET", props)
    writes, reads = [], []
    for st in _statements_of_role(template, _role_of(props)):
        actions = _listify(st["Action"])
        s3_object_actions = [a for a in actions if a.startswith("s3:") and a != "s3:ListBucket"]
        if st["Effect"] != "Allow" or not s3_object_actions:
            continue
        for resource in _listify(st["Resource"]):
            scope = _object_scope(resource)
            assert scope is not None, f"{name}: {s3_object_actions} on {resource}"
            if any(a.startswith(("s3:Put", "s3:Delete")) for a in s3_object_actions):
                writes.append(scope)
            reads.append(scope)
        assert not any(a.startswith("s3:Delete") for a in actions), f"{name} may delete objects"
    assert writes and set(writes) == {(variants, f"/{name}/*")}, f"{name} writes {writes}"
    assert set(reads) <= {(uploads, "/*"), (variants, f"/{name}/*")}, f"{name} reads {reads}"


@pytest.mark.parametrize("name", PRODUCERS)
def test_a_producer_puts_events_only_with_its_own_source(template: dict[str, Any], name: str) -> None:
    _, props = _functions(template)[name]
    put_events = [
        st
        for st in _statements_of_role(template, _role_of(props))
        if st["Effect"] == "Allow" and "events:PutEvents" in _listify(st["Action"])
    ]
    assert put_events
    for st in put_events:
        assert st["Condition"] == {"StringEquals": {"events:source": f"imgpipe.{name}"}}, st
        assert "event-bus/" in json.dumps(st["Resource"])


def test_each_function_sends_only_to_its_own_failure_dlq(template: dict[str, Any]) -> None:
    """... and reads only its own input queue, if it has one (an SQS event source's poller)."""
    configs = {
        next(iter(_refs(c["Properties"]["FunctionName"]))): c["Properties"]
        for c in _of_type(template, "AWS::Lambda::EventInvokeConfig").values()
    }
    sources = {
        next(iter(_refs(x["Properties"]["FunctionName"]))): _refs(x["Properties"]["EventSourceArn"])
        for x in _of_type(template, "AWS::Lambda::EventSourceMapping").values()
    }
    consume = {
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
    }
    for name, (lid, props) in _functions(template).items():
        [own_dlq] = _refs(configs[lid]["DestinationConfig"]["OnFailure"]["Destination"])
        assert (lid in sources) == (MANIFESTS[name].batch is not None), name
        for st in _statements_of_role(template, _role_of(props)):
            actions = set(_listify(st["Action"]))
            if any(a.startswith("sqs:") for a in actions):
                if lid in sources and _refs(st["Resource"]) == sources[lid]:
                    assert actions == consume, (name, st)  # reads its input, sends nothing there
                else:
                    assert _refs(st["Resource"]) == {own_dlq}, (name, st)


def test_only_the_catalog_keepers_touch_the_catalog_and_notify_alone_publishes(template: dict[str, Any]) -> None:
    [table] = _of_type(template, "AWS::DynamoDB::Table")
    topics = set(_of_type(template, "AWS::SNS::Topic"))
    for name, (_, props) in _functions(template).items():
        statements = [st for st in _statements_of_role(template, _role_of(props)) if st["Effect"] == "Allow"]
        dynamo = [st for st in statements if any(a.startswith("dynamodb:") for a in _listify(st["Action"]))]
        publish = [st for st in statements if "sns:Publish" in _listify(st["Action"])]
        if name == "purge":
            # the delete cascade marks rounds deleted: the catalog only, never the topic
            assert dynamo and all(_refs(st["Resource"]) == {table} for st in dynamo) and not publish
            continue
        if name == "describe":
            # its near-duplicate index lives in the catalog table (docs/describe.md): the table only
            assert dynamo and all(_refs(st["Resource"]) == {table} for st in dynamo) and not publish
            continue
        if name != "notify":
            assert not dynamo and not publish, name
            continue
        assert dynamo and all(_refs(st["Resource"]) == {table} for st in dynamo)
        assert publish and all(len(_refs(st["Resource"]) & topics) == 1 for st in publish)
        assert not any("s3:PutObject" in _listify(st["Action"]) for st in statements), "notify writes no object"


# --- secrets and links -----------------------------------------------------------------------

_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|CREDENTIAL|ACCESS_KEY", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"(AKIA|ASIA)[0-9A-Z]{16}|-----BEGIN|aws_secret_access_key|xox[bp]-")


def test_no_secret_in_any_function_environment(template: dict[str, Any]) -> None:
    for name, (_, props) in _functions(template).items():
        for var, value in props.get("Environment", {}).get("Variables", {}).items():
            assert not _SECRET_NAME.search(var), f"{name}: {var} looks like a secret"
            text = json.dumps(value)
            assert not _SECRET_VALUE.search(text), f"{name}: {var} holds what looks like a credential"
            if isinstance(value, str):
                # a long high-entropy string with no structure is a key, not configuration
                assert not re.fullmatch(r"[A-Za-z0-9+/=]{32,}", value), f"{name}: {var} looks like a key"


def test_presigned_links_in_emails_expire(template: dict[str, Any]) -> None:
    from services.notify.adapters import MAX_LINK_EXPIRY_S, s3_links

    expiry = parse_settings(MANIFESTS["notify"]).link_expiry_s
    assert 0 < expiry <= MAX_LINK_EXPIRY_S <= 7 * 86400
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
    for asked, granted in ((expiry, expiry), (30 * 86400, MAX_LINK_EXPIRY_S)):
        query = parse_qs(urlparse(s3_links(asked, s3, bucket="bucket")("bucket", "photos/cat.jpg")).query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Expires"] == [str(granted)]
    # notify runs with its role's session credentials: a link also dies with them.
    _, props = _functions(template)["notify"]
    deployed = json.loads(props["Environment"]["Variables"]["IMGPIPE_SETTINGS"])
    assert parse_settings(MANIFESTS["notify"], deployed).link_expiry_s == expiry
