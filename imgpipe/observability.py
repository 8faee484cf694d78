"""Powertools Logger, Tracer and Metrics, configured the same way for every processor."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

METRICS_NAMESPACE = "imgpipe"
#: X-Ray patches only the AWS SDK: every network call imgpipe makes goes through botocore. By
#: default the Tracer patches every library the X-Ray SDK knows, which imports requests,
#: sqlite3 and others just to patch them: about 30 ms of each cold start (bench/coldstart.py).
TRACED_MODULES = ("botocore",)
#: set by the Lambda runtime before each invocation (with active tracing: ``Root=...;Sampled=1``)
TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"


def service_name(package: str) -> str:
    """The service a handler belongs to, from its package: ``thumbnail`` in Lambda (the folder
    ships as package ``thumbnail``), ``services.thumbnail`` from the repository."""
    return package.rpartition(".")[2]


def traced(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether X-Ray records this invocation: Lambda's trace header says ``Sampled=1`` and tracing
    is not switched off. Unsampled invocations record nothing whatever the SDK does, so they
    need no SDK."""
    if environ.get(TRACE_DISABLED_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    fields = dict(part.partition("=")[::2] for part in environ.get(TRACE_HEADER_ENV, "").split(";"))
    return fields.get("Sampled") == "1"


class DeferredTracer:
    """``capture_lambda_handler`` as Powertools' Tracer offers it, with the X-Ray SDK imported on
    the first invocation X-Ray samples rather than at import: ``import aws_xray_sdk.core`` is tens
    of milliseconds of CPU (asyncio, importlib.metadata and wrapt come with it) that every cold
    start paid, while X-Ray samples one request a second and 5% of the rest. The SDK patches
    botocore's client class, so clients made before it was loaded are traced too."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._tracer: Tracer | None = None

    @property
    def tracer(self) -> Tracer:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=self.service, patch_modules=TRACED_MODULES)
        return self._tracer

    def capture_lambda_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        recording: list[Callable[..., Any]] = []  # the traced handler, built on the first sample

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any) -> Any:
            if not traced():
                return handler(event, context)
            if not recording:
                recording.append(self.tracer.capture_lambda_handler(handler))
            return recording[0](event, context)

        return wrapper


def powertools(package: str) -> tuple[Logger, DeferredTracer, Metrics]:
    """Call it as ``powertools(__package__)``: logs, traces and metrics are named after the
    service's folder (the processor name; the stack also sets POWERTOOLS_SERVICE_NAME to it), so
    a handler copied into another folder needs no edit."""
    service = service_name(package)
    return (
        Logger(service=service),
        DeferredTracer(service),
        Metrics(namespace=METRICS_NAMESPACE, service=service),
    )
