"""What each need (``imgpipe.needs.NEEDS``) lets a function's role do: one method per need that
grants something, applied in the needs' declaration order, so a policy document does not change
when a manifest reorders its needs. The processors' roles and the upload API's get theirs here
alike; nothing is granted because of a service's name.

Every statement is exactly the calls the service's adapter makes (no ``grant_*`` wildcard where it
would add actions the code never uses), each with the reason beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from imgpipe.catalog.schema import OWNER_INDEX, USERS_PREFIX
from imgpipe.events import COMPLETION_SOURCE
from imgpipe.needs import NEEDS, Need
from infra.components import nag
from infra.components.notification import Notification
from infra.constants import DEFAULT_EVENT_BUS


class NeedGrants:
    def __init__(self, *, notification: Notification, uploads: s3.IBucket, variants: s3.IBucket) -> None:
        self.notification = notification
        self.uploads = uploads
        self.variants = variants
        #: one entry per need whose NEEDS entry grants something (tests/infra/test_needs.py)
        self.by_need: dict[Need, Callable[[iam.IRole], None]] = {
            Need.CATALOG: self._keep_catalog,
            Need.READ_CATALOG: self._read_catalog,
            Need.NOTIFICATION_TOPIC: self._publish,
            Need.READ_VARIANTS: self._read_variants,
            Need.DELETE_VARIANTS: self._delete_variants,
            Need.USER_UPLOADS: self._users_uploads,
            Need.USER_CATALOG: self._users_catalog,
            Need.COMPLETION_EVENTS: self._put_completions,
            Need.WEBHOOK_SECRET: self._read_webhook_secret,
            Need.MODERATION: self._detect_moderation_labels,
            Need.TRANSFORM_SECRET: self._read_transform_secret,
            Need.RELEASE_OUTPUTS: self._release_outputs,
            Need.EVENT_KEY: self._read_event_key,
        }

    def apply(self, role: iam.IRole, needs: Collection[Need]) -> None:
        """The permissions ``needs`` bring, beyond what every service gets (its construct grants that)."""
        for need in NEEDS:
            if need in needs and need in self.by_need:
                self.by_need[need](role)

    def _keep_catalog(self, role: iam.IRole) -> None:
        # Exactly the calls the catalog adapter makes (imgpipe/catalog/dynamo.py): grant_read_write_data
        # would add Scan, BatchWriteItem, DeleteItem and stream reads that notify never needs.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="KeepCatalog",
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                resources=[self.notification.catalog.table_arn],
            )
        )

    def _read_catalog(self, role: iam.IRole) -> None:
        # one round by its key (DynamoCatalog.load): no writes, no queries
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadCatalogRounds",
                actions=["dynamodb:GetItem"],
                resources=[self.notification.catalog.table_arn],
            )
        )

    def _publish(self, role: iam.IRole) -> None:
        topic, key = self.notification.topic, self.notification.topics_key
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="PublishNotifications", actions=["sns:Publish"], resources=[topic.topic_arn])
        )
        # Publishing to a KMS-encrypted topic needs the key (exact actions, not the grant_* wildcards).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UseTopicsKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]
            )
        )

    def _release_outputs(self, role: iam.IRole) -> None:
        # exactly the calls that make an output written held servable (imgpipe/outputs.py): read its
        # tags and put them back without the held mark (its visibility tag stays); the variants
        # bucket's object ARN is acknowledged with read_variants, which the same role has
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReleaseOutputs",
                actions=["s3:GetObjectTagging", "s3:PutObjectTagging"],
                resources=[self.variants.arn_for_objects("*")],
            )
        )

    def _read_variants(self, role: iam.IRole) -> None:
        # Presigned links in the email are signed with this role's credentials.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PresignVariants", actions=["s3:GetObject"], resources=[self.variants.arn_for_objects("*")]
            )
        )
        # notify HEADs the variant an event names (is it really a variant of that upload?): without
        # ListBucket, S3 answers a missing key with 403, and a forged event would be retried into
        # the DLQ instead of refused. Listing shows only keys derived from upload keys.
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="CheckVariants", actions=["s3:ListBucket"], resources=[self.variants.bucket_arn])
        )
        nag.acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.variants)}.Arn>/*]",
            f"{role.node.path} presigns download links for every processor's variants of an upload.",
        )

    def _delete_variants(self, role: iam.IRole) -> None:
        # The delete cascade (services/purge): list <processor>/<upload key>/ and delete what is
        # there, in the variants bucket only. No GetObject: it never reads a variant or an upload.
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ListVariants", actions=["s3:ListBucket"], resources=[self.variants.bucket_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DeleteVariants", actions=["s3:DeleteObject"], resources=[self.variants.arn_for_objects("*")]
            )
        )
        nag.acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.variants)}.Arn>/*]",
            f"{role.node.path} deletes the variants of a deleted upload, which every processor makes under its "
            "own prefix of the variants bucket.",
        )

    def _users_uploads(self, role: iam.IRole) -> None:
        # The upload API (services/api/adapters.py): presign, list and delete under users/ only.
        users = self.uploads.arn_for_objects(f"{USERS_PREFIX}*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UsersUploads",
                # PutObject signs the POSTs, creates multipart uploads and signs their parts.
                actions=[
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                resources=[users],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListUsersUploads",
                actions=["s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[self.uploads.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{USERS_PREFIX}*"]}},
            )
        )
        nag.acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.uploads)}.Arn>/{USERS_PREFIX}*]",
            f"{role.node.path} presigns and deletes uploads under users/ only: each key is "
            "users/<caller>/<random id>/<name>, chosen per request.",
        )

    def _users_catalog(self, role: iam.IRole) -> None:
        # The upload API's reads of its users' rounds and its daily counters, each held to its keys.
        catalog = self.notification.catalog
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QueryOwnerIndex",
                actions=["dynamodb:Query"],
                resources=[f"{catalog.table_arn}/index/{OWNER_INDEX}"],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadUsersRounds",
                actions=["dynamodb:GetItem"],
                resources=[catalog.table_arn],
                conditions={
                    "ForAllValues:StringLike": {
                        "dynamodb:LeadingKeys": [f"s3://{self.uploads.bucket_name}/{USERS_PREFIX}*"]
                    }
                },
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="CountUsersUploadsAndRequests",
                actions=["dynamodb:UpdateItem"],
                resources=[catalog.table_arn],
                # the daily upload quota and the per-minute request rate (services/api/fairness.py)
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["quota#*", "rate#*"]}},
            )
        )

    def _put_completions(self, role: iam.IRole) -> None:
        # Only the completion events' one source: this role cannot pass for a processor.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PutCompletionEvents",
                actions=["events:PutEvents"],
                resources=[
                    cdk.Stack.of(role).format_arn(
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
                resources=[self.notification.webhook_secret.secret_arn],
            )
        )

    def _read_event_key(self, role: iam.IRole) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadEventKey",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.notification.event_key.secret_arn],
            )
        )

    def _read_transform_secret(self, role: iam.IRole) -> None:
        # The API declares it to sign transforms, but the key exists only in a stack with the
        # transform service (Notification.resources_for): without one, nothing to read.
        secret = self.notification.existing_transform_secret
        if secret is None:
            return
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadTransformSecret",
                actions=["secretsmanager:GetSecretValue"],
                resources=[secret.secret_arn],
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

    @staticmethod
    def _logical_id(bucket: s3.IBucket) -> str:
        cfn = bucket.node.default_child
        assert isinstance(cfn, cdk.CfnElement)
        return cdk.Stack.of(bucket).get_logical_id(cfn)
