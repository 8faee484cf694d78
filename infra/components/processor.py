"""One processor, from its manifest: function, rule(s), two DLQs, two alarms, least-privilege role.

A manifest with ``[batch]`` gets one more queue, its input: the rules deliver there and Lambda
reads it in batches (an SQS event source reporting failed items); a message that fails on every
receive moves to the failure DLQ. Without it, the rules invoke the function asynchronously.

Every construct id below is fixed or derived from the manifest (never from a position in a
list), so adding a processor, or a trigger to another processor, renames nothing here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from imgpipe.manifest import Manifest, RuleTrigger, Trigger, rule_pattern
from infra.components import nag
from infra.components.function import ServiceFunction
from infra.components.storage import prefix_access
from infra.constants import (
    DLQ_ALARM_EVALUATION_PERIODS,
    DLQ_ALARM_PERIOD_MINUTES,
    DLQ_ALARM_THRESHOLD_MESSAGES,
    DLQ_RETENTION_DAYS,
    LAMBDA_ENVIRONMENT_MAX_BYTES,
    UNRESOLVED_TOKEN_BYTES,
)


def rule_id(trigger: Trigger, siblings: tuple[Trigger, ...]) -> str:
    """``UploadsRule`` / ``PipelineRule``; a processor with several triggers of one kind gets a
    suffix hashed from the trigger's own filters, so reordering the manifest renames nothing."""
    base = f"{trigger.source.capitalize()}Rule"
    if sum(1 for t in siblings if type(t) is type(trigger)) == 1:
        return base
    identity = json.dumps(dataclasses.asdict(trigger), sort_keys=True)
    return f"{base}{hashlib.sha256(identity.encode()).hexdigest()[:8]}"


def environment_size_bytes(environment: Mapping[str, str]) -> int:
    """Lambda's measure of an environment, with each unresolved token counted generously."""
    size = 0
    for key, value in environment.items():
        literal = value if not cdk.Token.is_unresolved(value) else "x" * UNRESOLVED_TOKEN_BYTES
        size += len(key.encode()) + len(literal.encode())
    return size


class DeadLetterQueue(Construct):
    """An encrypted, SSL-only queue kept 14 days, with an alarm on its first message."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        purpose: str,
        alarm_topic: sns.ITopic,
        removal_policy: cdk.RemovalPolicy,
        redrive_target: bool = False,
    ) -> None:
        """``redrive_target``: a queue of the stack names it in its redrive policy (cdk-nag then
        sees by itself that it is a dead-letter queue)."""
        super().__init__(scope, construct_id)
        # SQS-managed keys: EventBridge cannot send to a queue encrypted with the AWS-managed
        # SQS KMS key, and the target DLQ must accept EventBridge's messages.
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(DLQ_RETENTION_DAYS),
            # retained with the data: a stack deleted in retain mode keeps what failed for redrive
            removal_policy=removal_policy,
        )
        if not redrive_target:
            nag.acknowledge(
                self.queue,
                "AwsSolutions-SQS3",
                f"{self.queue.node.path} is itself a dead-letter queue ({purpose}); its messages are "
                "replayed with `imgpipe dlq redrive`, not moved to a further queue.",
            )
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_description=f"{purpose}: at least one message is waiting (inspect, then redrive)",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(DLQ_ALARM_PERIOD_MINUTES), statistic="Maximum"
            ),
            threshold=DLQ_ALARM_THRESHOLD_MESSAGES,
            evaluation_periods=DLQ_ALARM_EVALUATION_PERIODS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # OK too: after a redrive empties the queue, ops hear that it is resolved.
        self.alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
        self.alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))


class Processor(Construct):
    def __init__(
        self,
        scope: Construct,
        manifest: Manifest,
        *,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        uploads_bucket: s3.IBucket,
        variants_bucket: s3.IBucket,
        alarm_topic: sns.ITopic,
        triggers: tuple[tuple[RuleTrigger, RuleTrigger], ...],  # Manifest.rules: as declared, as narrowed
        producers: Sequence[str] = (),  # the stack's variant producers: a pipeline rule's sources
        environment: Mapping[str, str],
        removal_policy: cdk.RemovalPolicy,
        reserved_concurrency: int | None,
    ) -> None:
        super().__init__(scope, manifest.name)
        name = manifest.name
        self.manifest = manifest
        size = environment_size_bytes(environment)
        if size > LAMBDA_ENVIRONMENT_MAX_BYTES:
            # Deploy would fail late with a generic error; name the cause at synth.
            raise ValueError(
                f"services/{name}: the function's environment would be about {size} bytes, over Lambda's "
                f"{LAMBDA_ENVIRONMENT_MAX_BYTES}; shrink [settings] (they travel in IMGPIPE_SETTINGS)"
            )
        stack = cdk.Stack.of(self)

        # Lambda could not deliver (after its own retries): the record lands here.
        self.failure_dlq = DeadLetterQueue(
            self,
            "FailureDlq",
            purpose=f"{name}: invocations that failed after retries",
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
            # with [batch], its input queue's redrive policy moves here what failed on every receive
            redrive_target=manifest.batch is not None,
        )
        # EventBridge could not invoke the function (permission, throttling, max event age).
        self.target_dlq = DeadLetterQueue(
            self,
            "TargetDlq",
            purpose=f"{name}: events EventBridge could not deliver",
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
        )

        # "Default": the function, its role and log group keep the ids they had as direct children
        self.lambda_ = ServiceFunction.of(
            self,
            manifest,
            description=f"imgpipe processor {name}",
            runtime=runtime,
            layer=layer,
            environment=environment,
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
            reserved_concurrency=reserved_concurrency,
            retry_attempts=manifest.retry_attempts,
            max_event_age=cdk.Duration.seconds(manifest.max_event_age_s),
            on_failure=destinations.SqsDestination(self.failure_dlq.queue),
        )
        self.log_group, self.role, self.function = self.lambda_.log_group, self.lambda_.role, self.lambda_.function
        self._grant_pipeline_access(uploads_bucket, variants_bucket, stack)

        #: the queue its rules deliver to, when it takes its events in batches
        self.input_queue: sqs.Queue | None = None
        if manifest.batch:
            self.input_queue = self._batch_input(manifest, reserved_concurrency, removal_policy, alarm_topic)
        self.rules = self._route(triggers, uploads_bucket, producers)

    def _batch_input(
        self,
        manifest: Manifest,
        reserved_concurrency: int | None,
        removal_policy: cdk.RemovalPolicy,
        alarm_topic: sns.ITopic,
    ) -> sqs.Queue:
        """The input queue, the event source that reads it in batches, and an alarm on its oldest
        event's age."""
        assert manifest.batch is not None
        queue = sqs.Queue(
            self,
            "InputQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,  # EventBridge must be able to send to it
            enforce_ssl=True,
            # AWS's advice for an event source: six times the timeout (a batch that fails is
            # received again after this), plus the time the batch was gathered
            visibility_timeout=cdk.Duration.seconds(6 * manifest.timeout_s + manifest.batch.window_s),
            # an event waits at most as long as the manifest lets an event wait for delivery
            retention_period=cdk.Duration.seconds(manifest.max_event_age_s),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=manifest.retry_attempts + 1, queue=self.failure_dlq.queue
            ),
            removal_policy=removal_policy,
        )
        self.function.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=manifest.batch.size,
                max_batching_window=cdk.Duration.seconds(manifest.batch.window_s),
                report_batch_item_failures=True,
                # within the reservation: pollers that invoke beyond it are throttled, and a
                # throttled batch counts as a receive towards the DLQ
                max_concurrency=reserved_concurrency if reserved_concurrency and reserved_concurrency >= 2 else None,
            )
        )
        # An event left in the queue past its retention is dropped without a trace, so ops hear
        # when the oldest one has waited half of it (the function failing or throttled, or the
        # event source disabled), while there is still time to act.
        self.input_age_alarm = cloudwatch.Alarm(
            self,
            "InputQueueAgeAlarm",
            alarm_description=(
                f"{manifest.name}: an event has waited over half of the {manifest.max_event_age_s} s its input "
                "queue keeps it (check the function's errors and throttles, and its event source)"
            ),
            metric=queue.metric_approximate_age_of_oldest_message(
                period=cdk.Duration.minutes(DLQ_ALARM_PERIOD_MINUTES), statistic="Maximum"
            ),
            threshold=manifest.max_event_age_s // 2,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.input_age_alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
        self.input_age_alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))
        return queue

    def _route(
        self,
        triggers: tuple[tuple[RuleTrigger, RuleTrigger], ...],
        uploads_bucket: s3.IBucket,
        producers: Sequence[str],
    ) -> list[events.Rule]:
        """One rule per trigger, all with the same target: the function (or its input queue),
        its retry policy and its target DLQ."""
        manifest = self.manifest
        delivery = {
            "dead_letter_queue": self.target_dlq.queue,
            "retry_attempts": manifest.retry_attempts,
            "max_event_age": cdk.Duration.seconds(manifest.max_event_age_s),
        }
        target: events.IRuleTarget = (
            targets.SqsQueue(self.input_queue, **delivery)
            if self.input_queue
            else targets.LambdaFunction(self.function, **delivery)
        )
        rules: list[events.Rule] = []
        # Ids come from the manifest's own triggers, so deployment narrowing renames nothing.
        for declared, trigger in triggers:
            pattern = rule_pattern(manifest.name, trigger, uploads_bucket.bucket_name, producers)
            rule = events.Rule(
                self,
                rule_id(declared, manifest.triggers),
                description=f"imgpipe {manifest.name}: {trigger.source} events",
                # Placeholder so the L2 validates; the manifest's pattern replaces it below.
                event_pattern=events.EventPattern(source=[trigger.source]),
            )
            # The pattern dict from the manifest is used as is (the local runtime uses the same
            # dict): EventPattern's typed fields cannot hold content filters such as
            # {"suffix": {"equals-ignore-case": ...}} without rewriting them by hand.
            cfn_rule = rule.node.default_child
            assert isinstance(cfn_rule, events.CfnRule)
            cfn_rule.event_pattern = pattern
            rule.add_target(target)
            rules.append(rule)
        return rules

    def _grant_pipeline_access(self, uploads: s3.IBucket, variants: s3.IBucket, stack: cdk.Stack) -> None:
        name = self.manifest.name
        path = self.role.node.path
        reads_uploads = bool(self.manifest.upload_triggers())
        statements = [
            iam.PolicyStatement(sid="ReadUploads", actions=["s3:GetObject"], resources=[uploads.arn_for_objects("*")]),
            # Without ListBucket a HEAD on a missing key answers 403, not 404, and the runtime
            # must tell "gone" (a rejection) from "denied" (a failure to retry).
            iam.PolicyStatement(sid="ListUploads", actions=["s3:ListBucket"], resources=[uploads.bucket_arn]),
        ]
        # A service that reacts to no upload (the delete cascade) reads none.
        statements = statements if reads_uploads else []
        # Only a variant producer announces anything ("Variants Created" / "Image Rejected"); notify,
        # which matches pipeline events, and the delete cascade put no event, so they may not.
        if self.manifest.produces_variants:
            statements += [
                iam.PolicyStatement(
                    sid="PutOwnEvents",
                    actions=["events:PutEvents"],
                    resources=[
                        stack.format_arn(service="events", resource="event-bus", resource_name="default"),
                    ],
                    conditions={"StringEquals": {"events:source": self.manifest.event_source}},
                ),
            ]
        acks = [
            (
                f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(_cfn(uploads))}.Arn>/*]",
                f"{path} reads any upload: every object in the uploads bucket is this processor's input.",
            )
        ]
        acks = acks if reads_uploads else []
        if self.manifest.produces_variants:
            # PutObjectTagging: a PUT with tags (outputs written held, imgpipe/outputs.py)
            statements += prefix_access(
                variants,
                f"{name}/",
                ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],
                sids=("WriteOwnVariants", "ListOwnVariants"),
            )
            acks.append(
                (
                    f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(_cfn(variants))}.Arn>/{name}/*]",
                    f"{path} writes only under its own prefix {name}/ of the variants bucket (one key per variant).",
                )
            )
        for statement in statements:
            self.role.add_to_policy(statement)
        for finding, reason in acks:
            nag.acknowledge(self.role, finding, reason)


def _cfn(bucket: s3.IBucket) -> cdk.CfnElement:
    child = bucket.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return child
