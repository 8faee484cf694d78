"""The notification topic, the catalog table and the webhooks' signing secret (only when a service
declares it). What a service that declares a need for them may do is infra/components/needs.py's."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
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
from imgpipe.manifest import Manifest
from imgpipe.needs import Need, Resource
from infra.components import nag
from infra.constants import EVENT_KEY_CHARS, TRANSFORM_SECRET_CHARS, WEBHOOK_SECRET_CHARS


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
        self._transform_secret: secretsmanager.Secret | None = None
        self._event_key: secretsmanager.Secret | None = None
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

    def resources_for(self, manifests: Sequence[Manifest]) -> dict[Resource, str]:
        """The stack's resources this construct holds, by what a need calls them (imgpipe.needs):
        the webhook secret only in a stack with a service that signs with it."""
        resources = {Resource.CATALOG_TABLE: self.catalog.table_name, Resource.NOTIFICATION_TOPIC: self.topic.topic_arn}
        if any(Need.WEBHOOK_SECRET in m.needs for m in manifests):
            resources[Resource.WEBHOOK_SECRET] = self.webhook_secret.secret_arn
        # every producer signs its events and notify checks them (imgpipe/signing.py)
        if any(Need.EVENT_KEY in m.needs for m in manifests):
            resources[Resource.EVENT_KEY] = self.event_key.secret_arn
        # the transform service's (an edge service): the API's declaration alone creates no key
        if any(Need.TRANSFORM_SECRET in m.needs and m.edge is not None for m in manifests):
            resources[Resource.TRANSFORM_SECRET] = self.transform_secret.secret_arn
        return resources

    def _signing_key(self, construct_id: str, description: str, chars: int, unrotated: str) -> secretsmanager.Secret:
        """A generated key of ``chars`` letters and digits; ``unrotated`` says why it has no scheduled
        rotation (after the secret's path, for cdk-nag)."""
        secret = secretsmanager.Secret(
            self,
            construct_id,
            description=description,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=chars, exclude_punctuation=True, include_space=False
            ),
            removal_policy=self.removal_policy,
        )
        nag.acknowledge(secret, "AwsSolutions-SMG4", f"{secret.node.path} {unrotated}")
        return secret

    @property
    def event_key(self) -> secretsmanager.Secret:
        """The pipeline events' signing key (imgpipe/signing.py): only the producers and notify (the
        event_key need) and the backfill's item Lambda, which signs its own events, may read it, each
        once per cold start; never in an environment variable."""
        if self._event_key is None:
            self._event_key = self._signing_key(
                "EventKey",
                "imgpipe pipeline events: the key producers sign their events with and notify checks",
                EVENT_KEY_CHARS,
                "is read once per cold start by the producers and notify: a scheduled "
                "rotation would make warm producers sign with a key a newly started notify no longer accepts until "
                "they restart; rotating it is a redeploy (docs/decisions.md, pipeline events are signed).",
            )
        return self._event_key

    @property
    def existing_transform_secret(self) -> secretsmanager.Secret | None:
        return self._transform_secret

    @property
    def transform_secret(self) -> secretsmanager.Secret:
        """The transform URLs' signing key: 64 letters and digits, which read as base64 are 48
        bytes (imgpipe.transforms.parse_keys). During a rotation the value holds the new key, a
        space and the old one: the new signs, both verify (docs/transforms.md)."""
        if self._transform_secret is None:
            self._transform_secret = self._signing_key(
                "TransformSecret",
                "imgpipe transform URLs: the signing key (new key first, then the old during a rotation)",
                TRANSFORM_SECRET_CHARS,
                "signs transform URLs already published in pages and caches: "
                "rotation is the operator's two-step change (docs/transforms.md), not a scheduled replacement "
                "that would break every published URL at once.",
            )
        return self._transform_secret

    @property
    def webhook_secret(self) -> secretsmanager.Secret:
        """The Standard Webhooks signing key: 48 base64 characters (36 random bytes); a receiver
        verifies with ``whsec_`` followed by them (docs/webhooks.md). Only its ARN reaches a
        function's environment; the function reads the value."""
        if self._webhook_secret is None:
            self._webhook_secret = self._signing_key(
                "WebhookSecret",
                "imgpipe webhooks: the signing key (give receivers whsec_<this value>)",
                WEBHOOK_SECRET_CHARS,
                "is the webhook signing key, shared with the receivers, which "
                "must learn a new one before it is used: rotation is the operator's step (docs/webhooks.md: both "
                "keys sign during the switch).",
            )
        return self._webhook_secret
