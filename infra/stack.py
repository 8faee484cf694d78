"""The imgpipe stack: composes the constructs; one Processor per folder under services/."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from imgpipe.config import ENV_ORIGIN_TOKEN
from imgpipe.manifest import Manifest
from imgpipe.needs import Need, Resource
from imgpipe.outputs import held_until_released
from imgpipe.registry import (
    StackNames,
    expected_producers_spec,
    function_config,
    outputs_spec,
    parse_settings,
    served_visibilities,
    transform_bounds,
)
from imgpipe_tools import outputs
from infra.components.alarms import ApiAlarms, ForgedEventsAlarm, ServiceAlarms, TopicAlarm
from infra.components.backfill import Backfill
from infra.components.bundling import SharedLayer
from infra.components.dashboard import ApiPanel, Dashboard
from infra.components.edge import EdgeService
from infra.components.frontdoor import FrontDoor, origin_token
from infra.components.function import service_environment
from infra.components.monitoring import Monitoring
from infra.components.needs import NeedGrants
from infra.components.notification import Notification
from infra.components.processor import Processor
from infra.components.storage import Storage
from infra.constants import (
    DEFAULT_EVENT_BUS,
    LAMBDA_PYTHON_VERSION,
    metrics_namespace,
)
from infra.params import DeployParams

# The newest Python runtime aws-cdk-lib offers for which every layer dependency has aarch64
# wheels; LAMBDA_PYTHON_VERSION must name the same version (the layer's wheels follow it).
RUNTIME = lambda_.Runtime.PYTHON_3_14


class ImgpipeStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, deployment: DeployParams, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if RUNTIME.name != f"python{LAMBDA_PYTHON_VERSION}":
            raise ValueError(f"LAMBDA_PYTHON_VERSION {LAMBDA_PYTHON_VERSION} does not match {RUNTIME.name}")
        manifests, http_services = deployment.selected()
        # the services the distribution calls itself (on-demand transforms): only with the front door
        edge_services = deployment.edge_services(http_services)
        deployment.check_against(manifests, http_services, edge_services)
        removal = cdk.RemovalPolicy.RETAIN if deployment.retain_data else cdk.RemovalPolicy.DESTROY
        namespace = metrics_namespace(self.stack_name)

        # With the front door, browsers upload from the distribution's origin (FrontDoor adds that
        # rule) plus the configured origins, never "*".
        cors_origins = (
            tuple(o for o in deployment.cors_origins if o != "*") if http_services else deployment.cors_origins
        )
        storage = Storage(self, "Storage", removal_policy=removal, cors_origins=cors_origins)
        monitoring = Monitoring(self, "Monitoring", ops_email=deployment.ops_email, removal_policy=removal)
        notification = Notification(
            self,
            "Notification",
            topics_key=monitoring.topics_key,
            notify_email=deployment.notify_email,
            removal_policy=removal,
        )
        layer = SharedLayer(self, "Shared", runtime=RUNTIME, python_version=LAMBDA_PYTHON_VERSION).layer

        # What a function may be told about the stack; each gets the buckets and the bus, plus the
        # values of the needs its manifest declares (the local stack and the tests build theirs
        # with the same function_config).
        names = StackNames(
            uploads_bucket=storage.uploads.bucket_name,
            variants_bucket=storage.variants.bucket_name,
            event_bus=DEFAULT_EVENT_BUS,
            resources={
                # the catalog, the topic and, only in a stack with a service that declares it, the
                # webhook secret (and with the transform service, its signing key)
                **notification.resources_for([*manifests, *edge_services]),
                # which responsive set is the srcset, whether pictures are marked only, facts audiences
                Resource.OUTPUTS: outputs_spec(manifests, deployment.settings),
                # Generated from every manifest: the one value that changes when a processor is added.
                Resource.EXPECTED_PRODUCERS: expected_producers_spec(manifests, deployment.key_prefixes or None),
            },
            # with moderate: outputs are written held and released per round (docs/moderation.md)
            outputs_gated=held_until_released(manifests),
        )
        grants = NeedGrants(notification=notification, uploads=storage.uploads, variants=storage.variants)
        # The transform service's bounds, for the API that signs its URLs.
        bounds = transform_bounds(edge_services, deployment.settings)
        if bounds is not None:
            names = replace(names, resources={**names.resources, Resource.TRANSFORM_BOUNDS: bounds})
        self.edge = [
            self._edge_service(manifest, names, deployment, layer, storage, monitoring, namespace, removal, grants)
            for manifest in edge_services
        ]
        # The front door (docs/api.md): the HTTP services behind sign-in, the web app and the CDN.
        # It sets the uploads bucket's CORS (the distribution's origin plus the cors_origins
        # context). Built before the processors: a service that declares delivery_url (notify's
        # email links) gets the CDN's URL; without a front door the stack provides none.
        for manifest in http_services:
            self.frontdoor = FrontDoor(
                self,
                "FrontDoor",
                manifest=manifest,
                names=names,
                settings_overrides=deployment.settings.get(manifest.name),
                runtime=RUNTIME,
                layer=layer,
                uploads=storage.uploads,
                variants=storage.variants,
                catalog=notification.catalog,
                grants=grants,
                namespace=namespace,
                removal_policy=removal,
                site_dir=deployment.site_dir,
                access_logs=storage.access_logs,
                served_visibilities=served_visibilities(manifests, deployment.settings),
                outputs_gated=names.outputs_gated,
                alarm_topic=monitoring.ops_topic,
                reserved_concurrency=deployment.reserved_concurrency_for(manifest),
                edge=self.edge,
            )
            names = replace(names, resources={**names.resources, Resource.DELIVERY_URL: self.frontdoor.delivery_url})
            ApiAlarms(
                self.frontdoor,
                "Alarms",
                api=self.frontdoor.api,
                function=self.frontdoor.function,
                service=manifest.name,
                namespace=namespace,
                topic=monitoring.ops_topic,
            )

        self.processors: dict[str, Processor] = {}
        for manifest in manifests:
            # Parses the settings: a bad value fails synth here, naming the service and the setting.
            config = function_config(manifest, names, deployment.settings.get(manifest.name))
            environment = service_environment(config, namespace)
            processor = Processor(
                self,
                manifest,
                runtime=RUNTIME,
                layer=layer,
                uploads_bucket=storage.uploads,
                variants_bucket=storage.variants,
                alarm_topic=monitoring.ops_topic,
                triggers=manifest.rules(deployment.key_prefixes),
                producers=[m.name for m in manifests if m.produces_variants],
                environment=environment,
                removal_policy=removal,
                reserved_concurrency=deployment.reserved_concurrency_for(manifest),
            )
            # After the function exists, as before needs were declared: the policy keeps its order.
            grants.apply(processor.role, manifest.needs)
            ServiceAlarms(
                processor,
                "Alarms",
                name=manifest.name,
                function=processor.function,
                rules=processor.rules,
                dlqs=_dlqs(processor),
                topic=monitoring.ops_topic,
                rejects_inputs=manifest.produces_variants,
                namespace=namespace,
            )
            self.processors[manifest.name] = processor

        TopicAlarm(self, "NotificationAlarm", watched=notification.topic, topic=monitoring.ops_topic)
        # Backfill (docs/backfill.md): puts its events on the bus, where the rules above take them.
        self.backfill = Backfill.compose(
            self,
            deployment,
            RUNTIME,
            layer,
            storage,
            notification.catalog,
            # the stack's event key, when its producers sign their events (a service declares the need)
            notification.event_key if Resource.EVENT_KEY in names.resources else None,
            removal,
            monitoring.ops_topic,
        )
        # the service that tracks each round's expected producers checks every pipeline event it is
        # sent, and counts those it does not believe (notify: docs/notify.md, "Forged events")
        checker = next((m.name for m in manifests if Need.EXPECTED_PRODUCERS in m.needs), None)
        if checker:
            ForgedEventsAlarm(self, "ForgedEvents", service=checker, namespace=namespace, topic=monitoring.ops_topic)
        # The services' graphs search the stack's metrics: a new service changes nothing here.
        Dashboard(
            self,
            "Operations",
            # the pipeline's own figures (uploads, rounds, forged events) are notify's: the service that
            # tracks the rounds (the first that keeps the catalog was describe once it was deployed)
            pipeline_service=checker,
            namespace=namespace,
            api=ApiPanel(http_services[0].name, self.frontdoor.api, self.frontdoor.function) if http_services else None,
        )
        self._outputs(storage, monitoring, notification)

    def _edge_service(
        self,
        manifest: Manifest,
        names: StackNames,
        deployment: DeployParams,
        layer: lambda_.ILayerVersion,
        storage: Storage,
        monitoring: Monitoring,
        namespace: str,
        removal: cdk.RemovalPolicy,
        grants: NeedGrants,
    ) -> EdgeService:
        """A service the distribution calls itself (docs/transforms.md), reached through the front
        door's HTTP API, whose origin header it checks as the API does."""
        overrides = deployment.settings.get(manifest.name)
        config = function_config(manifest, names, overrides)
        service = EdgeService(
            self,
            f"Edge{manifest.name.title()}",
            manifest=manifest,
            environment=service_environment(config, namespace, **{ENV_ORIGIN_TOKEN: origin_token(self)}),
            cache_ttl_s=int(parse_settings(manifest, overrides).cache_ttl_s),
            runtime=RUNTIME,
            layer=layer,
            uploads=storage.uploads,
            variants=storage.variants,
            alarm_topic=monitoring.ops_topic,
            removal_policy=removal,
            reserved_concurrency=deployment.reserved_concurrency_for(manifest),
        )
        grants.apply(service.role, manifest.needs)
        return service

    def _outputs(self, storage: Storage, monitoring: Monitoring, notification: Notification) -> None:
        # The keys come from imgpipe_tools.outputs, which the CLI also uses to read them back.
        values = {
            outputs.UPLOADS_BUCKET: storage.uploads.bucket_name,
            outputs.VARIANTS_BUCKET: storage.variants.bucket_name,
            outputs.ACCESS_LOGS_BUCKET: storage.access_logs.bucket_name,
            outputs.NOTIFICATION_TOPIC: notification.topic.topic_arn,
            outputs.OPS_TOPIC: monitoring.ops_topic.topic_arn,
            outputs.CATALOG_TABLE: notification.catalog.table_name,
        }
        for name, p in self.processors.items():
            values[outputs.service_output_key(outputs.FUNCTION_NAME, name)] = p.function.function_name
            values[outputs.service_output_key(outputs.FAILURE_DLQ_URL, name)] = p.failure_dlq.queue.queue_url
            values[outputs.service_output_key(outputs.TARGET_DLQ_URL, name)] = p.target_dlq.queue.queue_url
        # No export names: exports would pin these values for other stacks and block updates.
        for key, value in values.items():
            cdk.CfnOutput(self, key, value=value)


def _dlqs(processor: Processor) -> dict[str, Any]:
    return {"Failure": processor.failure_dlq.queue, "Target": processor.target_dlq.queue}
