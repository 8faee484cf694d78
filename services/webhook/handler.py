"""webhook: POSTs each upload's completion event, signed (see manifest.toml, docs/webhooks.md)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.config import current_config
from imgpipe.observability import powertools

from .wiring import from_config

logger, tracer, metrics = powertools(__package__)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(detail_type=event.get("detail-type"), source=event.get("source"))
    result = from_config(current_config(), metrics).handle(event)
    logger.info("webhook", extra=result)
    return result
