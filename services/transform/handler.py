"""transform: the CDN's /t/* requests (the HTTP API's event, the shape of a function URL's; the
local front door sends the same), refused unless they came through the distribution. Thin: the
request's method, path and Accept go to :class:`TransformService`, its answer comes back
base64-encoded (images are binary)."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.config import current_config, through_the_cdn
from imgpipe.observability import powertools

from .service import around_the_cdn
from .wiring import from_config

logger, tracer, metrics = powertools(__package__)


def _header(event: dict[str, Any], name: str) -> str | None:
    headers = event.get("headers") or {}
    return next((v for k, v in headers.items() if k.lower() == name), None)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    if through_the_cdn(event.get("headers")):
        answer = from_config(current_config()).answer(method, event.get("rawPath", ""), _header(event, "accept"))
    else:
        answer = around_the_cdn()
    return {
        "statusCode": answer.status,
        "headers": dict(answer.headers),
        "body": base64.b64encode(answer.body).decode(),
        "isBase64Encoded": True,
    }
