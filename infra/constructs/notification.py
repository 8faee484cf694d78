"""What notify needs: the topic its emails go through and the catalog table it keeps."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

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
