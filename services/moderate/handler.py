"""Lambda entry point of moderate: the runtime around :class:`.logic.Moderator`, with the
classifier its ``engine`` setting names (Rekognition, or the stand-in)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.observability import powertools

from .wiring import moderator_processor

logger, tracer, metrics = powertools(__package__)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return moderator_processor(logger=logger, metrics=metrics).handle(event).as_dict()
