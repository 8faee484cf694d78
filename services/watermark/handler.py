"""Lambda entry point of this folder's processor: manifest.toml says what it reacts to, settings.py what it accepts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.observability import powertools
from imgpipe.wiring import upload_processor

from .logic import process
from .settings import Settings

logger, tracer, metrics = powertools(__package__)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return upload_processor(process, Settings, logger=logger, metrics=metrics).handle(event).as_dict()
