"""One CloudWatch dashboard per stack: the pipeline at the top, then a row per service.

Every number on it is a metric something already emits: Lambda's and SQS's own, the runtime's
Powertools metrics (``Rejections``, ``Rejected_<reason>``, ``VariantBytes`` once per variant) and
notify's (``UploadsReceived``, ``Rounds*``, ``UploadToEmailSeconds``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from imgpipe.errors import Reason
from infra.components.alarms import service_metric
from infra.constants import DASHBOARD_PERIOD_MINUTES

WIDTH = 24  # CloudWatch's grid


@dataclass(frozen=True)
class ApiPanel:
    """The upload API's row: API Gateway's requests and answers, the function, callers refused."""

    name: str
    api: apigw.IHttpApi
    function: lambda_.IFunction


@dataclass(frozen=True)
class ServicePanel:
    name: str
    function: lambda_.IFunction
    dlqs: dict[str, sqs.IQueue]
    #: an image processor: it rejects inputs and makes variants
    processes_uploads: bool


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], width: int, **kwargs: object) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width, height=6, **kwargs)  # type: ignore[arg-type]


class Dashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        panels: Sequence[ServicePanel],
        pipeline_service: str | None,
        namespace: str,
        api: ApiPanel | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.namespace = namespace
        period = cdk.Duration.minutes(DASHBOARD_PERIOD_MINUTES)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            # the stack's name keeps two stacks' dashboards apart
            dashboard_name=f"{cdk.Stack.of(self).stack_name}-imgpipe",
            default_interval=cdk.Duration.hours(3),
        )
        if pipeline_service:
            self.dashboard.add_widgets(*self._pipeline(namespace, pipeline_service, period))
        if api is not None:
            self.dashboard.add_widgets(
                cloudwatch.TextWidget(markdown=f"### {api.name} (upload API)", width=WIDTH, height=1)
            )
            self.dashboard.add_widgets(*self._api(namespace, api, period))
        for panel in panels:
            self.dashboard.add_widgets(cloudwatch.TextWidget(markdown=f"### {panel.name}", width=WIDTH, height=1))
            self.dashboard.add_widgets(*self._service(namespace, panel, period))

    @staticmethod
    def _pipeline(namespace: str, service: str, period: cdk.Duration) -> list[cloudwatch.IWidget]:
        minutes = int(period.to_minutes())

        def count(name: str) -> cloudwatch.Metric:
            return service_metric(namespace, service, name, minutes)

        rounds = [
            count("UploadsReceived"),
            count("RoundsCompleted"),
            count("RoundsPartial"),
            count("RoundsRejected"),
        ]
        latency = [
            service_metric(namespace, service, "UploadToEmailSeconds", minutes).with_(statistic=stat, label=f"{stat}")
            for stat in ("p50", "p99")
        ]
        return [
            _graph("Uploads and how their rounds ended", rounds, 12),
            _graph("Upload to email (seconds)", latency, 6),
            _graph("Forged events rejected by notify", [count("ForgedEventsRejected")], 6),
        ]

    @staticmethod
    def _api(namespace: str, panel: ApiPanel, period: cdk.Duration) -> list[cloudwatch.IWidget]:
        fn = panel.function
        return [
            _graph(
                "Requests and answers",
                [
                    panel.api.metric_count(period=period, statistic="Sum", label="requests"),
                    panel.api.metric_client_error(period=period, statistic="Sum", label="4xx"),
                    panel.api.metric_server_error(period=period, statistic="Sum", label="5xx"),
                ],
                8,
            ),
            _graph(
                "Latency (ms)",
                [panel.api.metric_latency(period=period, statistic=s, label=s) for s in ("p50", "p99")],
                6,
            ),
            _graph(
                "Function errors, throttles",
                [fn.metric_errors(period=period, statistic="Sum"), fn.metric_throttles(period=period, statistic="Sum")],
                5,
            ),
            _graph(
                "Callers over their rate (429)",
                [service_metric(namespace, panel.name, "RateLimited", int(period.to_minutes()))],
                5,
            ),
        ]

    @staticmethod
    def _service(namespace: str, panel: ServicePanel, period: cdk.Duration) -> list[cloudwatch.IWidget]:
        fn = panel.function
        minutes = int(period.to_minutes())
        widgets: list[cloudwatch.IWidget] = [
            _graph(
                "Invocations, errors, throttles",
                [
                    fn.metric_invocations(period=period, statistic="Sum"),
                    fn.metric_errors(period=period, statistic="Sum"),
                    fn.metric_throttles(period=period, statistic="Sum"),
                ],
                6,
            ),
            _graph(
                "Duration (ms)",
                [fn.metric_duration(period=period, statistic=s, label=s) for s in ("p50", "p99")],
                6,
            ),
        ]
        if panel.dlqs:  # the API's and backfill's functions are called synchronously: no DLQ
            widgets.append(
                _graph(
                    "DLQ depth",
                    [
                        q.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum", label=kind)
                        for kind, q in panel.dlqs.items()
                    ],
                    4 if panel.processes_uploads else 12,
                )
            )
        if panel.processes_uploads:
            widgets += [
                _graph(
                    "Rejections by reason",
                    [
                        service_metric(namespace, panel.name, f"Rejected_{r.value}", minutes).with_(label=r.value)
                        for r in Reason
                    ],
                    4,
                    stacked=True,
                ),
                _graph(
                    "Variants made",
                    # one VariantBytes sample per variant written
                    [
                        service_metric(namespace, panel.name, "VariantBytes", minutes).with_(
                            statistic="SampleCount", label="made"
                        )
                    ],
                    4,
                ),
            ]
        return widgets
