"""Powertools Logger, Tracer and Metrics, configured the same way for every processor."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "imgpipe"
#: X-Ray patches only the AWS SDK: every network call imgpipe makes goes through botocore. By
#: default the Tracer patches every library the X-Ray SDK knows, which imports requests,
#: sqlite3 and others just to patch them: about 30 ms of each cold start (bench/coldstart.py).
TRACED_MODULES = ("botocore",)


def service_name(package: str) -> str:
    """The service a handler belongs to, from its package: ``thumbnail`` in Lambda (the folder
    ships as package ``thumbnail``), ``services.thumbnail`` from the repository."""
    return package.rpartition(".")[2]


def powertools(package: str) -> tuple[Logger, Tracer, Metrics]:
    """Call it as ``powertools(__package__)``: logs, traces and metrics are named after the
    service's folder (the processor name; the stack also sets POWERTOOLS_SERVICE_NAME to it), so
    a handler copied into another folder needs no edit."""
    service = service_name(package)
    return (
        Logger(service=service),
        Tracer(service=service, patch_modules=TRACED_MODULES),
        Metrics(namespace=METRICS_NAMESPACE, service=service),
    )
