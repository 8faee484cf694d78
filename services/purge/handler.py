"""purge: the delete cascade (see manifest.toml, docs/purge.md)."""

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
    result = from_config(current_config(), metrics).handle(event)
    logger.append_keys(source_key=result["key"])
    logger.info("purge", extra={k: v for k, v in result.items() if k != "key"})
    return result
