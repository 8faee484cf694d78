"""The notification topic and the catalog table, and what a service that declares a need for
them (``needs`` in its manifest; notify does) may do with them; the completion events notify
puts on the bus, and the webhooks' signing secret (only when a service declares it)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from imgpipe.catalog.schema import (
    OWNER_ATTRIBUTE,
    OWNER_INDEX,
    OWNER_SORT_KEY,
    PARTITION_KEY,
    SORT_KEY,
    TTL_ATTRIBUTE,
)
from imgpipe.events import COMPLETION_SOURCE
from imgpipe.manifest import Manifest, Need
from infra.components import nag
from infra.constants import DEFAULT_EVENT_BUS, WEBHOOK_SECRET_CHARS


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
        self.removal_policy = removal_policy
        self._webhook_secret: secretsmanager.Secret | None = None
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
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=removal_policy,
        )
        # The upload API's list route (docs/api.md): sparse, only rounds of keys under users/<owner>/.
        self.catalog.add_global_secondary_index(
            index_name=OWNER_INDEX,
            partition_key=dynamodb.Attribute(name=OWNER_ATTRIBUTE, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=OWNER_SORT_KEY, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

    def grant_needs(self, role: iam.IRole, needs: Collection[Need], variants_bucket: s3.IBucket) -> None:
        """The permissions a service's declared needs bring, beyond what every processor gets
        (its Processor grants that). The order is fixed, whatever the manifest's: the policy
        document does not change when a manifest reorders its needs."""
        if Need.CATALOG in needs:
            self._keep_catalog(role)
        if Need.NOTIFICATION_TOPIC in needs:
            self._publish(role)
        if Need.READ_VARIANTS in needs:
            self._read_variants(role, variants_bucket)
        if Need.DELETE_VARIANTS in needs:
            self._delete_variants(role, variants_bucket)
        if Need.COMPLETION_EVENTS in needs:
            self._put_completions(role)
        if Need.WEBHOOK_SECRET in needs:
            self._read_webhook_secret(role)
        if Need.MODERATION in needs:
            self._detect_moderation_labels(role)
        # Need.EXPECTED_PRODUCERS is a value in the function's environment: no permission.

    def _keep_catalog(self, role: iam.IRole) -> None:
        # Exactly the calls the catalog adapter makes (imgpipe/catalog/dynamo.py): grant_read_write_data
        # would add Scan, BatchWriteItem, DeleteItem and stream reads that notify never needs.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="KeepCatalog",
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                resources=[self.catalog.table_arn],
            )
        )

    def _publish(self, role: iam.IRole) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="PublishNotifications", actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        # Publishing to a KMS-encrypted topic needs the key (exact actions, not the grant_* wildcards).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UseTopicsKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.topics_key.key_arn]
            )
        )

    def _read_variants(self, role: iam.IRole, variants_bucket: s3.IBucket) -> None:
        # Presigned links in the email are signed with this role's credentials.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PresignVariants", actions=["s3:GetObject"], resources=[variants_bucket.arn_for_objects("*")]
            )
        )
        # notify HEADs the variant an event names (is it really a variant of that upload?): without
        # ListBucket, S3 answers a missing key with 403, and a forged event would be retried into
        # the DLQ instead of refused. Listing shows only keys derived from upload keys.
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="CheckVariants", actions=["s3:ListBucket"], resources=[variants_bucket.bucket_arn])
        )
        bucket = variants_bucket.node.default_child
        assert isinstance(bucket, cdk.CfnElement)
        nag.acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{cdk.Stack.of(self).get_logical_id(bucket)}.Arn>/*]",
            f"{role.node.path} presigns download links for every processor's variants of an upload.",
        )

    def _delete_variants(self, role: iam.IRole, variants_bucket: s3.IBucket) -> None:
        # The delete cascade (services/purge): list <processor>/<upload key>/ and delete what is
        # there, in the variants bucket only. No GetObject: it never reads a variant or an upload.
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ListVariants", actions=["s3:ListBucket"], resources=[variants_bucket.bucket_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DeleteVariants", actions=["s3:DeleteObject"], resources=[variants_bucket.arn_for_objects("*")]
            )
        )
        bucket = variants_bucket.node.default_child
        assert isinstance(bucket, cdk.CfnElement)
        nag.acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{cdk.Stack.of(self).get_logical_id(bucket)}.Arn>/*]",
            f"{role.node.path} deletes the variants of a deleted upload, which every processor makes under its "
            "own prefix of the variants bucket.",
        )

    def resources_for(self, manifests: Sequence[Manifest]) -> dict[Need, str]:
        """The values of the needs this construct satisfies only when a service declares them: the
        webhook secret exists only in a stack with a service that signs with it."""
        if any(Need.WEBHOOK_SECRET in m.needs for m in manifests):
            return {Need.WEBHOOK_SECRET: self.webhook_secret.secret_arn}
        return {}

    @property
    def webhook_secret(self) -> secretsmanager.Secret:
        """The Standard Webhooks signing key: 48 base64 characters (36 random bytes); a receiver
        verifies with ``whsec_`` followed by them (docs/webhooks.md). Only its ARN reaches a
        function's environment; the function reads the value."""
        if self._webhook_secret is None:
            self._webhook_secret = secretsmanager.Secret(
                self,
                "WebhookSecret",
                description="imgpipe webhooks: the signing key (give receivers whsec_<this value>)",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=WEBHOOK_SECRET_CHARS, exclude_punctuation=True, include_space=False
                ),
                removal_policy=self.removal_policy,
            )
            nag.acknowledge(
                self._webhook_secret,
                "AwsSolutions-SMG4",
                f"{self._webhook_secret.node.path} is the webhook signing key, shared with the receivers, which "
                "must learn a new one before it is used: rotation is the operator's step (docs/webhooks.md: both "
                "keys sign during the switch).",
            )
        return self._webhook_secret

    def _put_completions(self, role: iam.IRole) -> None:
        # Only the completion events' one source: this role cannot pass for a processor.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PutCompletionEvents",
                actions=["events:PutEvents"],
                resources=[
                    cdk.Stack.of(self).format_arn(
                        service="events", resource="event-bus", resource_name=DEFAULT_EVENT_BUS
                    )
                ],
                conditions={"StringEquals": {"events:source": COMPLETION_SOURCE}},
            )
        )

    def _read_webhook_secret(self, role: iam.IRole) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadWebhookSecret",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.webhook_secret.secret_arn],
            )
        )

    def _detect_moderation_labels(self, role: iam.IRole) -> None:
        # Rekognition's image operations take the image in the request and have no resource type
        # (the Service Authorization Reference lists none for DetectModerationLabels), so "*" is
        # the only resource IAM accepts; the statement allows this one action and nothing else.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DetectModerationLabels", actions=["rekognition:DetectModerationLabels"], resources=["*"]
            )
        )
        nag.acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            f"{role.node.path} calls rekognition:DetectModerationLabels, which supports no resource-level "
            "permission: the action is the whole scope (docs/moderation.md).",
        )
