"""What notify needs: the topic its emails go through and the catalog table it keeps."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.components import nag
from infra.constants import CATALOG_PARTITION_KEY, CATALOG_SORT_KEY, CATALOG_TTL_ATTRIBUTE


class Notification(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topics_key: kms.IKey,
        notify_email: str | None,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topics_key = topics_key
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="imgpipe uploads",
            master_key=topics_key,
            enforce_ssl=True,
        )
        if notify_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(notify_email))
        self.catalog = dynamodb.Table(
            self,
            "Catalog",
            partition_key=dynamodb.Attribute(name=CATALOG_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=CATALOG_SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=CATALOG_TTL_ATTRIBUTE,
            removal_policy=removal_policy,
        )

    def grant_notify(self, role: iam.IRole, variants_bucket: s3.IBucket) -> None:
        """What the notify processor does beyond any processor: keep the catalog, publish the
        email, and presign links to the variants."""
        # Exactly the calls the catalog adapter makes (imgpipe/catalog.py): grant_read_write_data
        # would add Scan, BatchWriteItem, DeleteItem and stream reads that notify never needs.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="KeepCatalog",
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                resources=[self.catalog.table_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="PublishNotifications", actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        # Publishing to a KMS-encrypted topic needs the key (exact actions, not the grant_* wildcards).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UseTopicsKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.topics_key.key_arn]
            )
        )
        # Presigned links in the email are signed with this role's credentials.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PresignVariants", actions=["s3:GetObject"], resources=[variants_bucket.arn_for_objects("*")]
            )
        )
        bucket = variants_bucket.node.default_child
        assert isinstance(bucket, cdk.CfnElement)
        nag.acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{cdk.Stack.of(self).get_logical_id(bucket)}.Arn>/*]",
            f"{role.node.path} presigns download links for every processor's variants of an upload.",
        )
