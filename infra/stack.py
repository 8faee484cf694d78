"""The imgpipe stack: composes the constructs; one Processor per folder under services/."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from imgpipe.config import Config
from imgpipe.manifest import Manifest, Trigger
from imgpipe.registry import discover, expected_producers_spec
from infra.components.bundling import SharedLayer
from infra.components.monitoring import Monitoring
from infra.components.notification import Notification
from infra.components.processor import Processor
from infra.components.storage import Storage
from infra.constants import (
    DEFAULT_EVENT_BUS,
    LAMBDA_PYTHON_VERSION,
    NOTIFY_PROCESSOR,
    POWERTOOLS_LOG_LEVEL,
    POWERTOOLS_METRICS_NAMESPACE,
)
from infra.params import DeployParams

# The newest Python runtime aws-cdk-lib offers for which every layer dependency has aarch64
# wheels; LAMBDA_PYTHON_VERSION must name the same version (the layer's wheels follow it).
RUNTIME = lambda_.Runtime.PYTHON_3_14


def output_id(*words: str) -> str:
    """``("my_proc", "FailureDlqUrl")`` -> ``MyProcFailureDlqUrl``: stable, alphanumeric."""
    return "".join(part[:1].upper() + part[1:] for word in words for part in word.split("_"))


class ImgpipeStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, deployment: DeployParams, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if RUNTIME.name != f"python{LAMBDA_PYTHON_VERSION}":
            raise ValueError(f"LAMBDA_PYTHON_VERSION {LAMBDA_PYTHON_VERSION} does not match {RUNTIME.name}")
        manifests = discover(deployment.services_root)
        deployment.check_against(manifests)
        removal = cdk.RemovalPolicy.RETAIN if deployment.retain_data else cdk.RemovalPolicy.DESTROY

        storage = Storage(self, "Storage", removal_policy=removal, cors_origins=deployment.cors_origins)
        monitoring = Monitoring(self, "Monitoring", ops_email=deployment.ops_email, removal_policy=removal)
        notification = Notification(
            self,
            "Notification",
            topics_key=monitoring.topics_key,
            notify_email=deployment.notify_email,
            removal_policy=removal,
        )
        layer = SharedLayer(self, "Shared", runtime=RUNTIME, python_version=LAMBDA_PYTHON_VERSION).layer

        self.processors: dict[str, Processor] = {}
        for manifest in manifests:
            is_notify = manifest.name == NOTIFY_PROCESSOR
            config = Config(
                processor=manifest.name,
                uploads_bucket=storage.uploads.bucket_name,
                variants_bucket=storage.variants.bucket_name,
                event_bus=DEFAULT_EVENT_BUS,
                settings=deployment.settings_for(manifest),
                catalog_table=notification.catalog.table_name if is_notify else "",
                topic_arn=notification.topic.topic_arn if is_notify else "",
                # Generated from every manifest: the one value that changes when a processor
                # is added, and it lives only in notify's environment.
                expected_producers=(
                    expected_producers_spec(manifests, deployment.key_prefixes or None) if is_notify else "[]"
                ),
            )
            environment = {
                # Empty values (notify-only settings on other processors) are left out.
                **{k: v for k, v in config.as_env().items() if v},
                "POWERTOOLS_SERVICE_NAME": manifest.name,
                "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": POWERTOOLS_LOG_LEVEL,
            }
            processor = Processor(
                self,
                manifest,
                runtime=RUNTIME,
                layer=layer,
                uploads_bucket=storage.uploads,
                variants_bucket=storage.variants,
                alarm_topic=monitoring.ops_topic,
                triggers=_narrowed(manifest, deployment.key_prefixes),
                environment=environment,
                removal_policy=removal,
            )
            if is_notify:
                notification.grant_notify(processor.role, storage.variants)
            self.processors[manifest.name] = processor

        self._outputs(storage, monitoring, notification)

    def _outputs(self, storage: Storage, monitoring: Monitoring, notification: Notification) -> None:
        values = {
            "UploadsBucketName": storage.uploads.bucket_name,
            "VariantsBucketName": storage.variants.bucket_name,
            "AccessLogsBucketName": storage.access_logs.bucket_name,
            "NotificationTopicArn": notification.topic.topic_arn,
            "OpsTopicArn": monitoring.ops_topic.topic_arn,
            "CatalogTableName": notification.catalog.table_name,
        }
        for name, p in self.processors.items():
            values[output_id(name, "FunctionName")] = p.function.function_name
            values[output_id(name, "FailureDlqUrl")] = p.failure_dlq.queue.queue_url
            values[output_id(name, "TargetDlqUrl")] = p.target_dlq.queue.queue_url
        # No export names: exports would pin these values for other stacks and block updates.
        for key, value in values.items():
            cdk.CfnOutput(self, key, value=value)


def _narrowed(manifest: Manifest, prefixes: tuple[str, ...]) -> tuple[Trigger, ...]:
    """Deployment key prefixes narrow every uploads trigger; pipeline triggers are unchanged."""
    if not prefixes:
        return manifest.triggers
    return tuple(t.with_prefixes(prefixes) if t.source == "uploads" else t for t in manifest.triggers)
