"""Alarms that page for what matters, per service: each goes to the ops topic, with its OK action.

The DLQ depth alarms (in :mod:`infra.components.processor`) say "something is parked"; once in
ALARM they stay silent for every further failure. These add what pages *before* a DLQ fills or
while it is already full: the function failing or being throttled, Lambda unable to deliver the
failure record, EventBridge unable to invoke or to park an event, a new message in a DLQ (fires
again after each quiet minute), a DLQ message about to expire, and an unusual share of rejections.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import (
    ALARM_PERIOD_MINUTES,
    API_4XX_ALARM_MIN_REQUESTS,
    API_4XX_ALARM_PERCENT,
    API_ALARM_WINDOW_MINUTES,
    API_RATE_LIMITED_ALARM_COUNT,
    DLQ_OLDEST_MESSAGE_ALARM_HOURS,
    REJECTION_RATE_ALARM_MIN_INVOCATIONS,
    REJECTION_RATE_ALARM_PERCENT,
    REJECTION_RATE_ALARM_WINDOW_MINUTES,
)


def _page(alarm: cloudwatch.Alarm, topic: sns.ITopic) -> cloudwatch.Alarm:
    action = cw_actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)  # ops hear when it is over, too
    return alarm


def any_alarm(
    scope: Construct, construct_id: str, metric: cloudwatch.IMetric, description: str, topic: sns.ITopic
) -> cloudwatch.Alarm:
    """ALARM as soon as the metric's sum over one period is at least 1."""
    return _page(
        cloudwatch.Alarm(
            scope,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
        topic,
    )


def rule_metric(rule: events.IRule, metric_name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name=metric_name,
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=cdk.Duration.minutes(ALARM_PERIOD_MINUTES),
    )


def service_metric(
    namespace: str, service: str, metric_name: str, period_minutes: int = ALARM_PERIOD_MINUTES
) -> cloudwatch.Metric:
    """A Powertools metric of one service (Powertools adds the ``service`` dimension)."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=cdk.Duration.minutes(period_minutes),
    )


class ServiceAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        function: lambda_.IFunction,
        rules: list[events.Rule],
        dlqs: dict[str, sqs.IQueue],
        topic: sns.ITopic,
        rejects_inputs: bool,
        namespace: str,
    ) -> None:
        super().__init__(scope, construct_id)
        period = cdk.Duration.minutes(ALARM_PERIOD_MINUTES)
        # Errors and Throttles come with the function (infra/components/function.py)
        self.alarms: list[cloudwatch.Alarm] = [
            any_alarm(
                self,
                "DestinationFailures",
                function.metric("DestinationDeliveryFailures", period=period, statistic="Sum"),
                f"{name}: Lambda could not put a failure record in the failure DLQ: that event is lost",
                topic,
            ),
        ]
        for rule in rules:
            rid = rule.node.id
            self.alarms += [
                any_alarm(
                    self,
                    f"{rid}FailedInvocations",
                    rule_metric(rule, "FailedInvocations"),
                    f"{name}: EventBridge could not invoke the function ({rid}); the events go to the target DLQ",
                    topic,
                ),
                any_alarm(
                    self,
                    f"{rid}NotParked",
                    rule_metric(rule, "InvocationsFailedToBeSentToDlq"),
                    f"{name}: EventBridge could not put undeliverable events in the target DLQ ({rid}): they are lost",
                    topic,
                ),
            ]
        for kind, queue in dlqs.items():
            self.alarms += [
                # Depth alarms stay in ALARM while anything is parked; this one returns to OK after a
                # quiet period, so every new failure pages again.
                any_alarm(
                    self,
                    f"{kind}NewMessages",
                    queue.metric_number_of_messages_sent(period=period, statistic="Sum"),
                    f"{name}: a new message arrived in the {kind.lower()} DLQ",
                    topic,
                ),
                _page(
                    cloudwatch.Alarm(
                        self,
                        f"{kind}OldestMessage",
                        alarm_description=(
                            f"{name}: a message has waited {DLQ_OLDEST_MESSAGE_ALARM_HOURS} h in the {kind.lower()} "
                            "DLQ; redrive it before its retention ends (`imgpipe dlq redrive`)"
                        ),
                        metric=queue.metric_approximate_age_of_oldest_message(period=period, statistic="Maximum"),
                        threshold=DLQ_OLDEST_MESSAGE_ALARM_HOURS * 3600,
                        evaluation_periods=1,
                        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    ),
                    topic,
                ),
            ]
        if rejects_inputs:
            window = REJECTION_RATE_ALARM_WINDOW_MINUTES
            enough = f"invocations >= {REJECTION_RATE_ALARM_MIN_INVOCATIONS}"
            rate = cloudwatch.MathExpression(
                # A few bad files are normal; a burst (a broken client, an attack) is not.
                expression=f"IF({enough}, 100 * rejections / invocations, 0)",
                using_metrics={
                    "rejections": service_metric(namespace, name, "Rejections", window),
                    "invocations": function.metric_invocations(period=cdk.Duration.minutes(window), statistic="Sum"),
                },
                label=f"{name} rejections (%)",
                period=cdk.Duration.minutes(window),
            )
            self.alarms.append(
                _page(
                    cloudwatch.Alarm(
                        self,
                        "RejectionRate",
                        alarm_description=(
                            f"{name}: more than {REJECTION_RATE_ALARM_PERCENT}% of uploads rejected over {window} min"
                        ),
                        metric=rate,
                        threshold=REJECTION_RATE_ALARM_PERCENT,
                        evaluation_periods=1,
                        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    ),
                    topic,
                )
            )


class TopicAlarm(Construct):
    """SNS could not deliver to a subscriber (e.g. an email address that bounces)."""

    def __init__(self, scope: Construct, construct_id: str, *, watched: sns.ITopic, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.alarm = any_alarm(
            self,
            "DeliveryFailures",
            watched.metric_number_of_notifications_failed(
                period=cdk.Duration.minutes(ALARM_PERIOD_MINUTES), statistic="Sum"
            ),
            "SNS could not deliver notifications to a subscriber of the notification topic",
            topic,
        )


class ApiAlarms(Construct):
    """The upload API's: server errors (any), the function's errors and throttles, callers over
    their request rate, and an abnormal share of client errors (a broken client, or someone
    probing: tokens, ids, inputs)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigw.IHttpApi,
        function: lambda_.IFunction,
        service: str,
        namespace: str,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        period = cdk.Duration.minutes(ALARM_PERIOD_MINUTES)
        window = cdk.Duration.minutes(API_ALARM_WINDOW_MINUTES)
        self.alarms: list[cloudwatch.Alarm] = [
            any_alarm(
                self,
                "ServerErrors",
                api.metric_server_error(period=period, statistic="Sum"),
                "upload API: answered 5xx (the function failed or timed out): clients see errors",
                topic,
            ),
            # the function's Errors and Throttles come with it, as every imgpipe Lambda's
            # (infra/components/function.py)
            _page(
                cloudwatch.Alarm(
                    self,
                    "RateLimited",
                    alarm_description=(
                        f"upload API: callers over their request rate were refused {API_RATE_LIMITED_ALARM_COUNT} "
                        f"times or more in {API_ALARM_WINDOW_MINUTES} min (one account flooding the API?)"
                    ),
                    metric=service_metric(namespace, service, "RateLimited", API_ALARM_WINDOW_MINUTES),
                    threshold=API_RATE_LIMITED_ALARM_COUNT,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                ),
                topic,
            ),
        ]
        share = cloudwatch.MathExpression(
            expression=f"IF(requests >= {API_4XX_ALARM_MIN_REQUESTS}, 100 * clientErrors / requests, 0)",
            using_metrics={
                "clientErrors": api.metric_client_error(period=window, statistic="Sum"),
                "requests": api.metric_count(period=window, statistic="Sum"),
            },
            label="upload API 4xx (%)",
            period=window,
        )
        self.alarms.append(
            _page(
                cloudwatch.Alarm(
                    self,
                    "ClientErrorRate",
                    alarm_description=(
                        f"upload API: more than {API_4XX_ALARM_PERCENT}% of requests answered 4xx over "
                        f"{API_ALARM_WINDOW_MINUTES} min (a broken client, or someone probing tokens, ids or inputs)"
                    ),
                    metric=share,
                    threshold=API_4XX_ALARM_PERCENT,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                ),
                topic,
            )
        )


class ForgedEventsAlarm(Construct):
    """notify refused an event it did not believe (a forged or replayed pipeline event): never
    normal, so any one pages (docs/notify.md, "Forged events")."""

    def __init__(self, scope: Construct, construct_id: str, *, service: str, namespace: str, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.alarm = any_alarm(
            self,
            "ForgedEventsRejected",
            service_metric(namespace, service, "ForgedEventsRejected"),
            f"{service}: refused an event it did not believe (forged or replayed); see its WARNING log",
            topic,
        )
