"""What the processors share: buckets, topics, key, catalog table, outputs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from imgpipe_tools.outputs import SERVICE_ROLES, service_output_key
from infra.components.frontdoor import OUTPUT_KEYS as FRONT_DOOR_OUTPUTS
from tests.infra.synth import Synthesized, branches


def _bucket(synthesized: Synthesized, attr: str) -> tuple[str, dict[str, Any]]:
    bucket = getattr(synthesized.stack.node.find_child("Storage"), attr)
    logical_id = synthesized.logical_id(bucket)
    return logical_id, synthesized.resources[logical_id]


def _denies_plain_http(statements: list[dict[str, Any]]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def _denies_old_tls(statements: list[dict[str, Any]]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition") == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in statements
    )


def _resource_policy(synthesized: Synthesized, cfn_type: str, key: str, logical_id: str) -> list[dict[str, Any]]:
    for policy in synthesized.of_type(cfn_type).values():
        target = policy["Properties"][key]
        if target == {"Ref": logical_id} or (isinstance(target, list) and {"Ref": logical_id} in target):
            return policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no {cfn_type} for {logical_id}")


def test_resource_counts(synthesized: Synthesized) -> None:
    # the front door's resources are counted in tests/infra/test_frontdoor.py, the edge services'
    # (transforms) in tests/infra/test_transform_stack.py, and the handler of the site's
    # BucketDeployment (a stack-level singleton of CDK's) in tests/infra/test_site.py
    front = ("FrontDoor", "Edge", "CustomCDKBucketDeployment")
    counts = Counter(r["Type"] for k, r in synthesized.resources.items() if not k.startswith(front))
    manifests = [p.manifest for p in synthesized.stack.processors.values()]  # the event services, from discovery
    services, rules = len(manifests), sum(len(m.triggers) for m in manifests)
    image_processors = sum(m.produces_variants for m in manifests)
    assert counts["AWS::Lambda::Function"] == services + 1  # and the backfill item function
    assert counts["AWS::S3::Bucket"] == 3
    assert counts["AWS::SNS::Topic"] == 2
    assert counts["AWS::DynamoDB::Table"] == 1
    assert counts["AWS::Lambda::LayerVersion"] == 1
    batched = sum(m.batch is not None for m in manifests)
    # a target DLQ and a failure DLQ per service, and the input queue of each that takes batches
    assert counts["AWS::SQS::Queue"] == 2 * services + batched
    # per service: 2 DLQ depth, Errors/Throttles/DestinationDeliveryFailures, 2 per rule, 2 more per DLQ
    # (new messages, oldest message); a rejection-rate alarm per image processor; one on the topic;
    # Errors/Throttles of the backfill item function (every Lambda's: infra/components/function.py);
    # the oldest event's age on each input queue
    forged = 1  # notify's ForgedEventsRejected
    assert (
        counts["AWS::CloudWatch::Alarm"]
        == services * (2 + 3 + 4) + 2 * rules + image_processors + 1 + forged + 2 + batched
    )
    assert counts["AWS::Events::Rule"] == rules  # one per trigger: notify has two
    # No custom resources: EventBridge is enabled on the bucket natively, log groups are explicit.
    assert not [t for t in counts if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource"]


def test_uploads_bucket(synthesized: Synthesized) -> None:
    logical_id, bucket = _bucket(synthesized, "uploads")
    logs_id, _ = _bucket(synthesized, "access_logs")
    props = bucket["Properties"]
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["LoggingConfiguration"] == {"DestinationBucketName": {"Ref": logs_id}, "LogFilePrefix": "uploads/"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = props["LifecycleConfiguration"]["Rules"]
    assert {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}, "Id": "AbortIncompleteMultipartUploads",
            "Status": "Enabled"} in rules  # fmt: skip
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert sorted(cors["AllowedMethods"]) == ["POST", "PUT"]
    assert "ETag" in cors["ExposedHeaders"]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    bucket_policy = _resource_policy(synthesized, "AWS::S3::BucketPolicy", "Bucket", logical_id)
    assert _denies_plain_http(bucket_policy) and _denies_old_tls(bucket_policy)


def test_variants_bucket_is_separate_private_and_never_emits_events(synthesized: Synthesized) -> None:
    logical_id, bucket = _bucket(synthesized, "variants")
    uploads_id, _ = _bucket(synthesized, "uploads")
    logs_id, _ = _bucket(synthesized, "access_logs")
    assert logical_id != uploads_id
    props = bucket["Properties"]
    assert "NotificationConfiguration" not in props  # no S3 -> Lambda -> S3 loop
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
    assert "CorsConfiguration" not in props
    assert bucket["DeletionPolicy"] == "Retain"
    bucket_policy = _resource_policy(synthesized, "AWS::S3::BucketPolicy", "Bucket", logical_id)
    assert _denies_plain_http(bucket_policy) and _denies_old_tls(bucket_policy)
    # Rules match only the uploads bucket: S3's events by bucket name, pipeline events by the
    # upload's bucket they name (so a second stack's events never match).
    for rule in synthesized.of_type("AWS::Events::Rule").values():
        for pattern in branches(rule["Properties"]["EventPattern"]):
            bucket_filter = pattern["detail"]["bucket"]
            if pattern["source"] in (["aws.s3"], ["imgpipe.backfill"]):
                assert bucket_filter == {"name": [{"Ref": uploads_id}]}
            else:
                assert bucket_filter == [{"Ref": uploads_id}]


def test_access_log_bucket_accepts_only_s3_log_delivery(synthesized: Synthesized) -> None:
    logs_id, bucket = _bucket(synthesized, "access_logs")
    assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values())
    statements = _resource_policy(synthesized, "AWS::S3::BucketPolicy", "Bucket", logs_id)
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows and all(s["Principal"] == {"Service": "logging.s3.amazonaws.com"} for s in allows)
    assert _denies_plain_http(statements)


def test_topics_are_encrypted_with_a_rotated_key_cloudwatch_may_use(synthesized: Synthesized) -> None:
    monitoring = synthesized.stack.node.find_child("Monitoring")
    key_id = synthesized.logical_id(monitoring.topics_key)
    key = synthesized.resources[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    for topic_id, topic in synthesized.of_type("AWS::SNS::Topic").items():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert _denies_plain_http(_resource_policy(synthesized, "AWS::SNS::TopicPolicy", "Topics", topic_id))
    ops_id = synthesized.logical_id(monitoring.ops_topic)
    ops_policy = _resource_policy(synthesized, "AWS::SNS::TopicPolicy", "Topics", ops_id)
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in ops_policy)


def test_no_email_subscription_without_notify_email(synthesized: Synthesized) -> None:
    assert not synthesized.of_type("AWS::SNS::Subscription")


def test_catalog_table(synthesized: Synthesized) -> None:
    (table,) = synthesized.of_type("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["DeletionPolicy"] == "Retain"


def test_outputs_name_everything_an_operator_needs_without_exports(synthesized: Synthesized) -> None:
    outputs = synthesized.template["Outputs"]
    expected = {
        "UploadsBucketName",
        "VariantsBucketName",
        "AccessLogsBucketName",
        "NotificationTopicArn",
        "OpsTopicArn",
        "CatalogTableName",
        "BackfillStateMachineArn",
    }
    for name in synthesized.stack.processors:
        expected |= {service_output_key(role, name) for role in SERVICE_ROLES}
    expected |= set(FRONT_DOOR_OUTPUTS)  # where the site is and how to sign in (tests/infra/test_frontdoor.py)
    assert set(outputs) == expected
    assert not [k for k, v in outputs.items() if "Export" in v]
    resize = synthesized.stack.processors["resize"]
    assert outputs["FailureDlqUrlResize"]["Value"] == {"Ref": synthesized.logical_id(resize.failure_dlq.queue)}
    assert outputs["TargetDlqUrlResize"]["Value"] == {"Ref": synthesized.logical_id(resize.target_dlq.queue)}
