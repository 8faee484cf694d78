"""Powertools Logger, Tracer and Metrics, configured the same way for every processor."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "imgpipe"


def powertools(service: str) -> tuple[Logger, Tracer, Metrics]:
    """The service name is the processor name (the stack also sets POWERTOOLS_SERVICE_NAME)."""
    return (
        Logger(service=service),
        Tracer(service=service),
        Metrics(namespace=METRICS_NAMESPACE, service=service),
    )
