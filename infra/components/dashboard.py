"""One CloudWatch dashboard per stack: the pipeline at the top, then the services, found by search.

Every number on it is a metric something already emits: Lambda's and SQS's own, the runtime's
Powertools metrics (``Rejected_<reason>``, ``VariantBytes`` once per variant) and notify's
(``UploadsReceived``, ``Rounds*``, ``UploadToEmailSeconds``).

The services' graphs name no service: each is a CloudWatch ``SEARCH`` over the stack's own
metrics (its Powertools namespace; its functions and queues, whose generated names begin with the
stack's name), one line per service. A new service folder appears on the dashboard once it emits,
and adding one leaves the dashboard resource as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
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


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], width: int, **kwargs: object) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width, height=6, **kwargs)  # type: ignore[arg-type]


def search(
    schema: str, metric_names: Sequence[str], term: str, statistic: str, period: cdk.Duration
) -> cloudwatch.MathExpression:
    """Every metric of ``schema`` (``{namespace,dimension}``) named one of ``metric_names`` whose
    dimension values match ``term`` (a token: partial match); one line per match."""
    names = " OR ".join(f'MetricName="{n}"' for n in metric_names)
    where = f" {term}" if term else ""
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{schema} ({names}){where}', '{statistic}', {int(period.to_seconds())})",
        label="",
        period=period,
    )


class Dashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_service: str | None,
        namespace: str,
        api: ApiPanel | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.namespace = namespace
        period = cdk.Duration.minutes(DASHBOARD_PERIOD_MINUTES)
        stack_name = cdk.Stack.of(self).stack_name
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            # the stack's name keeps two stacks' dashboards apart
            dashboard_name=f"{stack_name}-imgpipe",
            default_interval=cdk.Duration.hours(3),
        )
        if pipeline_service:
            self.dashboard.add_widgets(*self._pipeline(namespace, pipeline_service, period))
        if api is not None:
            # the one HTTP service: its API's own figures, which no search of the functions shows
            self.dashboard.add_widgets(
                cloudwatch.TextWidget(markdown=f"### {api.name} (upload API)", width=WIDTH, height=1)
            )
            self.dashboard.add_widgets(*self._api(namespace, api, period))
        self.dashboard.add_widgets(cloudwatch.TextWidget(markdown="### Services", width=WIDTH, height=1))
        self.dashboard.add_widgets(*self._functions(stack_name, period))
        self.dashboard.add_widgets(*self._processors(namespace, stack_name, period))

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
    def _functions(stack_name: str, period: cdk.Duration) -> list[cloudwatch.IWidget]:
        """Every Lambda of the stack, one line each: CloudFormation names a function
        ``<stack>-<logical id>-<suffix>``, and the search matches the stack's name as a token."""

        def lambdas(metric: str, statistic: str) -> cloudwatch.MathExpression:
            return search("{AWS/Lambda,FunctionName}", [metric], stack_name, statistic, period)

        return [
            _graph("Invocations by function", [lambdas("Invocations", "Sum")], 6),
            _graph("Errors by function", [lambdas("Errors", "Sum")], 6),
            _graph("Throttles by function", [lambdas("Throttles", "Sum")], 6),
            _graph("Duration p99 by function (ms)", [lambdas("Duration", "p99")], 6),
        ]

    @staticmethod
    def _processors(namespace: str, stack_name: str, period: cdk.Duration) -> list[cloudwatch.IWidget]:
        """What the image processors report (their Powertools ``service`` dimension), and every
        dead-letter queue of the stack (the synchronous API and backfill have none)."""
        schema = f'{{"{namespace}",service}}'
        return [
            _graph(
                "Dead-letter queue depth",
                [search("{AWS/SQS,QueueName}", ["ApproximateNumberOfMessagesVisible"], stack_name, "Maximum", period)],
                8,
            ),
            _graph("Rejections by service", [search(schema, ["Rejections"], "", "Sum", period)], 4, stacked=True),
            _graph(
                "Rejections by reason",
                [search(schema, [f"Rejected_{r.value}" for r in Reason], "", "Sum", period)],
                4,
                stacked=True,
            ),
            # one VariantBytes sample per variant written
            _graph("Variants made by service", [search(schema, ["VariantBytes"], "", "SampleCount", period)], 8),
        ]
