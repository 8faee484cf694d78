"""Lambda entry point of describe: the runtime around :class:`.logic.Describer`, whose
near-duplicate index is in the catalog table (manifest.toml ``needs``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.observability import powertools

from .wiring import describer_processor

logger, tracer, metrics = powertools(__package__)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return describer_processor(logger=logger, metrics=metrics).handle(event).as_dict()
