"""Backfill: a Step Functions state machine that processes the objects already in the uploads
bucket (``imgpipe backfill``, docs/backfill.md).

A Distributed Map reads the objects (an S3 listing of a prefix, an S3 Inventory manifest, or a
keys file the CLI uploaded), cuts them into batches and runs up to ``max_concurrency`` batches
at once as Express child workflows. Each batch is one call of the "backfill item" Lambda
(``services/backfill/handler.py``, its planning :mod:`imgpipe.backfill`), which decides per
object which services get an "Object Created"-shaped event and puts it on the bus addressed to
them: each service's own rule takes it, so its retries, DLQs and alarms apply, and nothing here
names a service (adding one changes no resource of the backfill). A failed batch is retried, then counted
against ``tolerated_failure_percent``. The map's results go to ``_backfill/results/`` in the
variants bucket; a last step sums them into ``_backfill/<run>/summary.json``.

The definition is plain Amazon States Language (:func:`definition`), built here as a dict with
``${...}`` placeholders that CloudFormation substitutes, so ``tests/infra/test_backfill.py`` can
validate exactly what is deployed against the ASL schema (``asl-validator``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from imgpipe.backfill import (
    ENV_CATALOG_TABLE,
    ENV_EVENT_BUS,
    ENV_EVENT_KEY_ARN,
    ENV_KEY_PREFIXES,
    ENV_UPLOADS_BUCKET,
    ENV_VARIANTS_BUCKET,
    RESULTS_PREFIX,
)
from imgpipe.events import BACKFILL_SOURCE
from imgpipe.registry import DEFAULT_ROOT
from imgpipe_tools import outputs
from infra.components import nag
from infra.components.bundling import processor_code
from infra.components.function import ServiceFunction
from infra.components.storage import Storage
from infra.constants import DEFAULT_EVENT_BUS, LOG_RETENTION
from infra.params import DeployParams

#: the item Lambda's folder: a room like a service's, without a manifest (nothing but the map calls it)
ITEM_PACKAGE = "backfill"
ITEM_FOLDER = DEFAULT_ROOT / ITEM_PACKAGE
#: the batch Lambda: 1 delivery thread per 16 objects in flight; memory is for boto3 only
ITEM_MEMORY_MB = 256
#: a batch is paced to about 30 s (imgpipe_tools.backfill.BATCH_SECONDS), plus its deliveries; an
#: Express child (the batch, its retries included) must end within 5 minutes
ITEM_TIMEOUT_S = 120
#: an execution stops after this long, whatever it is doing
STATE_MACHINE_TIMEOUT_DAYS = 30
#: Lambda service errors worth retrying (throttling included) before a batch counts as failed
_LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
#: raised by the item Lambda when some objects of a batch could not be delivered
DELIVERY_FAILED = "DeliveryFailed"

# The placeholders of the definition (CloudFormation DefinitionSubstitutions).
ITEM_FUNCTION = "${ItemFunctionArn}"
UPLOADS_BUCKET = "${UploadsBucket}"
VARIANTS_BUCKET = "${VariantsBucket}"

MAP_STATES = {"listing": "Map over listing", "inventory": "Map over inventory", "keys": "Map over keys"}


def _readers() -> dict[str, dict[str, Any]]:
    return {
        # ListObjectsV2 of the uploads bucket (the only bucket the role may list), one prefix.
        "listing": {
            "Resource": "arn:aws:states:::s3:listObjectsV2",
            "Parameters": {"Bucket": UPLOADS_BUCKET, "Prefix.$": "$.source.prefix"},
        },
        # An S3 Inventory manifest.json delivered under _backfill/inventory/ of the variants bucket.
        "inventory": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "MANIFEST"},
            "Parameters": {"Bucket": VARIANTS_BUCKET, "Key.$": "$.source.key"},
        },
        # A JSON array [{"Key": ...}] the CLI uploaded from --keys FILE.
        "keys": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": VARIANTS_BUCKET, "Key.$": "$.source.key"},
        },
    }


def _map_state(kind: str, reader: dict[str, Any]) -> dict[str, Any]:
    deliver = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": ITEM_FUNCTION, "Payload.$": "$"},
        "ResultSelector": {"counts.$": "$.Payload.counts", "failed.$": "$.Payload.failed"},
        "Retry": [
            {
                "ErrorEquals": _LAMBDA_ERRORS,
                "IntervalSeconds": 2,
                "MaxAttempts": 4,
                "BackoffRate": 2,
                "JitterStrategy": "FULL",
            },
            # Some objects were not delivered: the whole batch again (the services are
            # idempotent), after the throttling that usually causes it has passed.
            {"ErrorEquals": [DELIVERY_FAILED], "IntervalSeconds": 15, "MaxAttempts": 2, "BackoffRate": 2},
        ],
        "End": True,
    }
    return {
        "Type": "Map",
        "ItemReader": reader,
        "ItemBatcher": {
            "MaxItemsPerBatchPath": "$.batch_size",
            # the routes come with the run: the item Lambda's configuration names no service
            "BatchInput": {"selection.$": "$.selection", "routes.$": "$.routes"},
        },
        "MaxConcurrencyPath": "$.max_concurrency",
        "ToleratedFailurePercentagePath": "$.tolerated_failure_percent",
        "ItemProcessor": {
            # Express children: billed per request and duration, not per state transition.
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            # State names are unique across the whole definition, nested ones included.
            "StartAt": f"Deliver {kind} batch",
            "States": {f"Deliver {kind} batch": deliver},
        },
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": VARIANTS_BUCKET, "Prefix": f"{RESULTS_PREFIX}/results"},
        },
        "ResultPath": "$.map",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Summarize failed run"}],
        "Next": "Summarize",
    }


def _summarize(payload: Mapping[str, Any], next_state: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": ITEM_FUNCTION,
            "Payload": {
                "action": "summarize",
                "run.$": "$.run",
                "selection.$": "$.selection",
                "started_at.$": "$$.Execution.StartTime",
                **payload,
            },
        },
        "ResultSelector": {"summary.$": "$.Payload.summary", "total.$": "$.Payload.total"},
        "Retry": [{"ErrorEquals": _LAMBDA_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2}],
    }
    if next_state:
        state["ResultPath"] = "$.summary"
        state["Next"] = next_state
    else:
        state["End"] = True
    return state


def definition() -> dict[str, Any]:
    """The state machine, with ``${ItemFunctionArn}``, ``${UploadsBucket}`` and ``${VariantsBucket}``
    left for CloudFormation to fill in."""
    readers = _readers()
    states: dict[str, Any] = {
        "Choose reader": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.source.kind", "StringEquals": kind, "Next": MAP_STATES[kind]}
                for kind in ("inventory", "keys")
            ],
            "Default": MAP_STATES["listing"],
        },
        **{MAP_STATES[kind]: _map_state(kind, reader) for kind, reader in readers.items()},
        "Summarize": _summarize({"result_writer.$": "$.map.ResultWriterDetails"}, None),
        "Summarize failed run": _summarize({"error.$": "$.error"}, "Backfill failed"),
        "Backfill failed": {
            "Type": "Fail",
            "Error": "BackfillFailed",
            "Cause": f"see _backfill/<run>/summary.json and {RESULTS_PREFIX}/results/ in the variants bucket",
        },
    }
    return {
        "Comment": "imgpipe backfill: deliver Object Created events for objects already in the uploads bucket",
        "StartAt": "Choose reader",
        "TimeoutSeconds": STATE_MACHINE_TIMEOUT_DAYS * 86400,
        "States": states,
    }


def _cfn(bucket: s3.IBucket) -> cdk.CfnElement:
    child = bucket.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return child


@dataclass(frozen=True)
class BackfillWiring:
    """What the backfill is built from: the stack's shared pieces it uses."""

    runtime: lambda_.Runtime
    layer: lambda_.ILayerVersion
    uploads_bucket: s3.IBucket
    variants_bucket: s3.IBucket
    catalog: dynamodb.ITable
    #: the stack's event key, when its producers sign their events: the backfill signs its own too
    event_key: secretsmanager.ISecret | None
    key_prefixes: tuple[str, ...]
    removal_policy: cdk.RemovalPolicy
    alarm_topic: sns.ITopic


class Backfill(Construct):
    """The backfill state machine and its item Lambda, which puts events on the bus with the
    backfill's source only and reads whether the catalog recorded an upload; it invokes nothing."""

    def __init__(self, scope: Construct, construct_id: str, wiring: BackfillWiring) -> None:
        super().__init__(scope, construct_id)
        results = wiring.variants_bucket.arn_for_objects(f"{RESULTS_PREFIX}/*")
        # the item Lambda first: the state machine names it (and the template keeps this order)
        self._item_lambda(wiring, results)
        self._state_machine(wiring, results)

    def _item_lambda(self, wiring: BackfillWiring, results: str) -> None:
        """The item Lambda, and the only calls its role allows: PutEvents with the backfill's
        source, reading one catalog item at a time, HEAD and list on the uploads, the results files."""
        stack = cdk.Stack.of(self)
        uploads_bucket, variants_bucket = wiring.uploads_bucket, wiring.variants_bucket
        catalog, event_key = wiring.catalog, wiring.event_key
        uploads_id = stack.get_logical_id(_cfn(uploads_bucket))
        variants_id = stack.get_logical_id(_cfn(variants_bucket))
        # built like every imgpipe Lambda (logs, role, tracing, alarms, dashboard row)
        self.item = ServiceFunction(
            self,
            "Item",
            name="backfill",
            description="imgpipe backfill: put Object Created events on the bus for a batch of existing objects",
            runtime=wiring.runtime,
            layer=wiring.layer,
            # its own folder, shipped as package `backfill` as a service's is; the planning is the layer's
            handler=f"{ITEM_PACKAGE}.handler.handler",
            code=processor_code(ITEM_FOLDER, ITEM_PACKAGE),
            memory_mb=ITEM_MEMORY_MB,
            timeout_s=ITEM_TIMEOUT_S,
            environment={
                ENV_UPLOADS_BUCKET: uploads_bucket.bucket_name,
                ENV_VARIANTS_BUCKET: variants_bucket.bucket_name,
                ENV_EVENT_BUS: DEFAULT_EVENT_BUS,
                ENV_CATALOG_TABLE: catalog.table_name,
                ENV_KEY_PREFIXES: json.dumps(list(wiring.key_prefixes)),
                # a stack whose producers sign their events: the backfill signs its own too
                **({ENV_EVENT_KEY_ARN: event_key.secret_arn} if event_key else {}),
            },
            alarm_topic=wiring.alarm_topic,
            removal_policy=wiring.removal_policy,
            # Step Functions calls it synchronously and retries; no async retries to configure.
        )
        self.item_logs, self.item_role, self.item_function = self.item.log_group, self.item.role, self.item.function
        bus = stack.format_arn(service="events", resource="event-bus", resource_name=DEFAULT_EVENT_BUS)
        self.item_role.add_to_policy(
            iam.PolicyStatement(
                sid="PutBackfillEvents",
                actions=["events:PutEvents"],
                resources=[bus],
                # its own source only: it cannot pass for S3 or a producer
                conditions={"StringEquals": {"events:source": BACKFILL_SOURCE}},
            )
        )
        if event_key is not None:
            # notify believes an "Object Created" that is not S3's only when it is signed with this key
            self.item_role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadEventKey", actions=["secretsmanager:GetSecretValue"], resources=[event_key.secret_arn]
                )
            )
        for sid, actions, resources in (
            # whether notify recorded an upload before the producers are told (one item, consistently)
            ("ReadCatalogRounds", ["dynamodb:GetItem"], [catalog.table_arn]),
            # HEAD of the objects a keys file names (their etag); ListBucket makes a missing key 404.
            ("HeadUploads", ["s3:GetObject"], [uploads_bucket.arn_for_objects("*")]),
            ("ListUploads", ["s3:ListBucket"], [uploads_bucket.bucket_arn]),
            ("Summaries", ["s3:GetObject", "s3:PutObject"], [results]),
        ):
            self.item_role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))
        path = self.item_role.node.path
        nag.acknowledge(
            self.item_role,
            f"AwsSolutions-IAM5[Resource::<{uploads_id}.Arn>/*]",
            f"{path} HEADs any upload a backfill names: every object of the uploads bucket may be backfilled.",
        )
        nag.acknowledge(
            self.item_role,
            f"AwsSolutions-IAM5[Resource::<{variants_id}.Arn>/{RESULTS_PREFIX}/*]",
            f"{path} reads the map's result files and writes summaries, all under {RESULTS_PREFIX}/ "
            "of the variants bucket.",
        )

    def _state_machine(self, wiring: BackfillWiring, results: str) -> None:
        """The state machine (a Distributed Map over the keys), its logs and its role."""
        stack = cdk.Stack.of(self)
        uploads_bucket, variants_bucket, removal_policy = (
            wiring.uploads_bucket,
            wiring.variants_bucket,
            wiring.removal_policy,
        )
        variants_id = stack.get_logical_id(_cfn(variants_bucket))
        # A fixed name, so the role can name the machine (child executions) without a cycle.
        name = f"{stack.stack_name}-Backfill"
        machine_arn = stack.format_arn(
            service="states", resource="stateMachine", resource_name=name, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
        )
        executions_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.logs = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays[LOG_RETENTION], removal_policy=removal_policy
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"), description="imgpipe backfill"
        )
        for sid, actions, resources in (
            ("ListUploads", ["s3:ListBucket"], [uploads_bucket.bucket_arn]),
            # Keys files, inventory manifests and their CSVs; the map's result files.
            (
                "Results",
                ["s3:GetObject", "s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
                [results],
            ),
            ("InvokeItem", ["lambda:InvokeFunction"], [self.item_function.function_arn]),
            ("StartChildren", ["states:StartExecution"], [machine_arn]),
            ("ManageChildren", ["states:DescribeExecution", "states:StopExecution"], [executions_arn]),
        ):
            self.role.add_to_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition(), indent=1)),
            definition_substitutions={
                "ItemFunctionArn": self.item_function.function_arn,
                "UploadsBucket": uploads_bucket.bucket_name,
                "VariantsBucket": variants_bucket.bucket_name,
            },
            role=self.role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.logs, level=sfn.LogLevel.ALL, include_execution_data=False),
            removal_policy=removal_policy,
        )
        path = self.role.node.path
        nag.acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            f"{path}: X-Ray tracing and CloudWatch Logs delivery (logs:*LogDelivery) "
            "support no resource-level permissions.",
        )
        nag.acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::<{variants_id}.Arn>/{RESULTS_PREFIX}/*]",
            f"{path} reads keys files and inventory manifests and writes the map's results, all under "
            f"{RESULTS_PREFIX}/ of the variants bucket.",
        )

        # cdk-nag names the resource as synthesized: literal where the stack's environment is known
        # (`cdk synth` with a region), a pseudo parameter where not (the tests' environment-agnostic app).
        def shown(value: str, pseudo: str) -> str:
            return f"<AWS::{pseudo}>" if cdk.Token.is_unresolved(value) else value

        partition, region = shown(stack.partition, "Partition"), shown(stack.region, "Region")
        where = f"{partition}:states:{region}:{shown(stack.account, 'AccountId')}"
        nag.acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::arn:{where}:execution:{name}:*]",
            f"{path} describes and stops the Distributed Map's child executions, whose names are generated.",
        )

    @classmethod
    def compose(
        cls,
        stack: cdk.Stack,
        deployment: DeployParams,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        storage: Storage,
        catalog: dynamodb.ITable,
        event_key: secretsmanager.ISecret | None,
        removal_policy: cdk.RemovalPolicy,
        alarm_topic: sns.ITopic,
    ) -> Backfill:
        """The construct for the stack, and its output (the ARN ``imgpipe backfill`` starts)."""
        wiring = BackfillWiring(
            runtime=runtime,
            layer=layer,
            uploads_bucket=storage.uploads,
            variants_bucket=storage.variants,
            catalog=catalog,
            event_key=event_key,
            key_prefixes=tuple(deployment.key_prefixes),
            removal_policy=removal_policy,
            alarm_topic=alarm_topic,
        )
        backfill = cls(stack, "Backfill", wiring)
        cdk.CfnOutput(stack, outputs.BACKFILL_STATE_MACHINE, value=backfill.state_machine.state_machine_arn)
        return backfill
