"""thumbnail processor: see manifest.toml for what it reacts to and its settings."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.observability import powertools
from imgpipe.wiring import upload_processor

from .logic import process

logger, tracer, metrics = powertools("thumbnail")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return upload_processor(process, logger=logger, metrics=metrics).handle(event).as_dict()
