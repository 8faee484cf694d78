"""Where alarms go: the ops topic, and the customer-managed key that encrypts both topics."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class Monitoring(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, ops_email: str | None, removal_policy: cdk.RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        # A customer-managed key, because CloudWatch cannot publish to a topic encrypted with the
        # AWS-managed SNS key (its key policy cannot be changed to let CloudWatch in).
        self.topics_key = kms.Key(
            self,
            "TopicsKey",
            description="Encrypts the imgpipe ops and notification topics",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.topics_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.ops_topic = sns.Topic(
            self,
            "OpsTopic",
            display_name="imgpipe ops alarms",
            master_key=self.topics_key,
            enforce_ssl=True,
        )
        # The topic policy that enforce_ssl creates replaces SNS's default one, so CloudWatch's
        # right to publish alarm notifications is stated explicitly.
        self.ops_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.ops_topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        if ops_email:
            self.ops_topic.add_subscription(subscriptions.EmailSubscription(ops_email))
