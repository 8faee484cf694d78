"""Creates the local stack's resources on an emulator (moto or LocalStack), from the manifests.

The same shape as ``infra/``: an uploads bucket that sends its events to EventBridge, a
variants bucket, the catalog table, the notification topic and, per processor, one rule per
manifest trigger (pattern from :meth:`Trigger.event_pattern`, never written here) targeting
that processor's invoke queue, plus its failure DLQ and target DLQ. Two extra queues serve
the runtime itself: the outbox (subscribed to the topic: the emails) and the observer (every
upload and pipeline event, so the runtime can tell when an upload is finished).
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imgpipe.catalog.schema import create_table as create_catalog_table
from imgpipe.manifest import DeletionsTrigger, Manifest, PipelineTrigger, RuleTrigger, UploadsTrigger, rule_pattern
from imgpipe.needs import Need
from imgpipe_tools.resources import ServiceResources, StackResources


@dataclass(frozen=True)
class Names:
    """Resource names: ``<prefix>-uploads`` and so on; the prefix keeps two stacks apart."""

    prefix: str = "imgpipe-local"

    @property
    def uploads_bucket(self) -> str:
        return f"{self.prefix}-uploads"

    @property
    def variants_bucket(self) -> str:
        return f"{self.prefix}-variants"

    @property
    def catalog_table(self) -> str:
        return f"{self.prefix}-catalog"

    @property
    def topic(self) -> str:
        return f"{self.prefix}-notifications"

    @property
    def outbox_queue(self) -> str:
        return f"{self.prefix}-outbox"

    @property
    def observer_queue(self) -> str:
        return f"{self.prefix}-observer"

    def invoke_queue(self, processor: str) -> str:
        return f"{self.prefix}-{processor}-invoke"

    def failure_dlq(self, processor: str) -> str:
        return f"{self.prefix}-{processor}-failures"

    def target_dlq(self, processor: str) -> str:
        return f"{self.prefix}-{processor}-target-dlq"

    def rule(self, owner: str, index: int) -> str:
        return f"{self.prefix}-{owner}-{index}"

    @property
    def webhook_secret(self) -> str:
        return f"{self.prefix}-webhook-secret"

    @property
    def event_key(self) -> str:
        return f"{self.prefix}-event-key"


@dataclass(frozen=True)
class Provisioned:
    deployment: StackResources
    outbox_queue_url: str
    observer_queue_url: str
    #: the webhooks' signing secret, when a service declares the need (infra creates it the same way)
    webhook_secret_arn: str | None = None
    #: the pipeline events' signing key, whenever a service signs or checks them (infra's likewise)
    event_key_arn: str | None = None


def _queue(sqs: Any, name: str, visibility_s: int = 30) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility_s)})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # What AWS (and LocalStack) need before EventBridge or SNS may send to the queue; moto ignores it.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "sns.amazonaws.com"]},
                "Action": "sqs:SendMessage",
                "Resource": arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def _bucket(s3: Any, name: str) -> None:
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=name)


def _rule(events: Any, name: str, pattern: dict[str, Any], target_arn: str) -> None:
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "target", "Arn": target_arn}])


#: a generated signing key: 48 base64 characters (36 random bytes), as infra's webhook key (a
#: transform key needs 32 bytes at least: this serves both)
_WEBHOOK_KEY_BYTES = 36


def generated_secret(client: Any, name: str) -> str:
    """A signing secret's ARN, created with a random key unless it exists (a long-lived emulator)."""
    try:
        return str(client.describe_secret(SecretId=name)["ARN"])
    except client.exceptions.ResourceNotFoundException:
        value = base64.b64encode(secrets.token_bytes(_WEBHOOK_KEY_BYTES)).decode()
        return str(client.create_secret(Name=name, SecretString=value)["ARN"])


def provision(
    clients: dict[str, Any],
    manifests: Sequence[Manifest],
    names: Names,
    endpoint_url: str | None,
    dynamodb_endpoint_url: str | None = None,
) -> Provisioned:
    """Create (or reuse) every resource; idempotent, so it also works on a long-lived emulator."""
    s3, sqs, events, sns = clients["s3"], clients["sqs"], clients["events"], clients["sns"]
    _bucket(s3, names.uploads_bucket)
    _bucket(s3, names.variants_bucket)
    s3.put_bucket_notification_configuration(
        Bucket=names.uploads_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    create_catalog_table(clients["dynamodb"], names.catalog_table)
    topic_arn = sns.create_topic(Name=names.topic)["TopicArn"]
    outbox_url, outbox_arn = _queue(sqs, names.outbox_queue)
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=outbox_arn)

    processors: dict[str, ServiceResources] = {}
    # a pipeline rule matches exactly these sources, as the stack's does
    producers = [m.name for m in manifests if m.produces_variants]
    for m in manifests:
        # the worker retries in-process before it deletes the message: keep it hidden meanwhile
        visibility = m.timeout_s * (m.retry_attempts + 1) + 30
        invoke_url, invoke_arn = _queue(sqs, names.invoke_queue(m.name), visibility)
        failure_url, _ = _queue(sqs, names.failure_dlq(m.name))
        target_url, _ = _queue(sqs, names.target_dlq(m.name))
        for i, trigger in enumerate(m.rule_triggers()):
            pattern = rule_pattern(m.name, trigger, names.uploads_bucket, producers)
            _rule(events, names.rule(m.name, i), pattern, invoke_arn)
        processors[m.name] = ServiceResources(
            name=m.name, failure_dlq_url=failure_url, target_dlq_url=target_url, invoke_queue_url=invoke_url
        )

    observer_url, observer_arn = _queue(sqs, names.observer_queue)
    # Built by the same Trigger code as every processor's rule: uploads, pipeline events, and
    # deletions (after one, a new upload of the same key is a new upload for the tracker).
    observed: tuple[RuleTrigger, ...] = (UploadsTrigger(), PipelineTrigger(), DeletionsTrigger())
    for i, trigger in enumerate(observed):
        if isinstance(trigger, PipelineTrigger) and not producers:
            continue  # no producer, no pipeline event
        _rule(events, names.rule("observer", i), trigger.event_pattern(names.uploads_bucket, producers), observer_arn)

    webhook_secret = None
    if any(Need.WEBHOOK_SECRET in m.needs for m in manifests):
        webhook_secret = generated_secret(clients["secretsmanager"], names.webhook_secret)

    event_key = None
    if any(Need.EVENT_KEY in m.needs for m in manifests):
        event_key = generated_secret(clients["secretsmanager"], names.event_key)
    deployment = StackResources(
        uploads_bucket=names.uploads_bucket,
        variants_bucket=names.variants_bucket,
        catalog_table=names.catalog_table,
        topic_arn=topic_arn,
        endpoint_url=endpoint_url,
        dynamodb_endpoint_url=dynamodb_endpoint_url,
        processors=processors,
        origin="local",
        event_key_arn=event_key or "",
    )
    return Provisioned(deployment, outbox_url, observer_url, webhook_secret, event_key)
