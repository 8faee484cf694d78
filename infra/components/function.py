"""Every imgpipe Lambda, built one way: the processors', notify's, purge's, the upload API's and
backfill's item function. What each one gets comes with the construct, so no function can be
built without it: its own log group (retention, removal policy), an explicit role that may write
only there (not the managed basic-execution policy, which may write to every log group), arm64,
active tracing, reserved concurrency when asked for, recursive-loop termination, an Errors and a
Throttles alarm paging the ops topic (the stack's dashboard finds it by
search, infra/components/dashboard.py).

Used with the id ``Default`` inside its owner (a processor, the front door), it adds no level to
the logical ids: the functions, roles and log groups of a deployed stack keep theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from imgpipe.config import Config
from imgpipe.manifest import Manifest
from infra.components import nag
from infra.components.alarms import any_alarm
from infra.components.bundling import processor_code
from infra.constants import ALARM_PERIOD_MINUTES, LAMBDA_DESCRIPTION_MAX_CHARS, LOG_RETENTION, POWERTOOLS_LOG_LEVEL


def service_environment(config: Config, namespace: str, **extra: str) -> dict[str, str]:
    """A service function's environment: its config (imgpipe.config) and Powertools' names."""
    return {
        **config.as_env(),
        "POWERTOOLS_SERVICE_NAME": config.processor,
        "POWERTOOLS_METRICS_NAMESPACE": namespace,
        "POWERTOOLS_LOG_LEVEL": POWERTOOLS_LOG_LEVEL,
        **extra,
    }


class ServiceFunction(Construct):
    """One imgpipe Lambda with its log group, role and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        handler: str,
        code: lambda_.Code,
        memory_mb: int,
        timeout_s: int,
        environment: Mapping[str, str],
        alarm_topic: sns.ITopic,
        removal_policy: cdk.RemovalPolicy,
        reserved_concurrency: int | None = None,
        **function_props: Any,
    ) -> None:
        super().__init__(scope, construct_id)
        #: the name its alarms go by
        self.name = name
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays[LOG_RETENTION], removal_policy=removal_policy
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=f"imgpipe {name}"
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=(description or f"imgpipe {name}")[:LAMBDA_DESCRIPTION_MAX_CHARS],
            runtime=runtime,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=code,
            layers=[layer],
            memory_size=memory_mb,
            timeout=cdk.Duration.seconds(timeout_s),
            reserved_concurrent_executions=reserved_concurrency or None,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            recursive_loop=lambda_.RecursiveLoop.TERMINATE,
            role=self.role,
            environment=dict(environment),
            **function_props,
        )
        nag.acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            f"{self.role.node.path}: X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) "
            "support no resource-level permissions.",
        )
        period = cdk.Duration.minutes(ALARM_PERIOD_MINUTES)
        self.alarms: list[cloudwatch.Alarm] = [
            any_alarm(
                self,
                "Errors",
                self.function.metric_errors(period=period, statistic="Sum"),
                f"{name}: invocations failed",
                alarm_topic,
            ),
            any_alarm(
                self,
                "Throttles",
                self.function.metric_throttles(period=period, statistic="Sum"),
                f"{name}: invocations throttled (reserved concurrency or the account limit)",
                alarm_topic,
            ),
        ]

    @classmethod
    def of(
        cls,
        scope: Construct,
        manifest: Manifest,
        *,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        alarm_topic: sns.ITopic,
        removal_policy: cdk.RemovalPolicy,
        reserved_concurrency: int | None = None,
        description: str | None = None,
        **function_props: Any,
    ) -> ServiceFunction:
        """A service folder's function, with the id ``Default``: its code, handler, size and
        timeout from its manifest."""
        return cls(
            scope,
            "Default",
            name=manifest.name,
            description=manifest.description or description or f"imgpipe {manifest.name}",
            runtime=runtime,
            layer=layer,
            handler=manifest.handler,
            code=processor_code(manifest.folder, manifest.name),
            memory_mb=manifest.memory_mb,
            timeout_s=manifest.timeout_s,
            environment=environment,
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
            reserved_concurrency=reserved_concurrency,
            **function_props,
        )
