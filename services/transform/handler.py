"""transform: the CDN's /t/* requests (the HTTP API's event, the shape of a function URL's; the
local front door sends the same), refused unless they came through the distribution. Thin: the
request's method, path and Accept go to :class:`TransformService`, its answer comes back
base64-encoded (images are binary)."""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.config import Config, current_config, through_the_cdn
from imgpipe.manifest import Need
from imgpipe.observability import powertools
from imgpipe.outputs import OutputsView
from imgpipe.settings import parse
from imgpipe.signing_keys import secret_keys
from imgpipe.transforms import KEY_CACHE_S, parse_keys

from .adapters import CatalogRounds, S3Renderings, S3Upload
from .service import TransformService, around_the_cdn
from .settings import Settings

logger, tracer, metrics = powertools(__package__)


def _service(config: Config) -> TransformService:
    # keyed by the environment: the local stack runs every service in one process, each its own config
    return _service_for(json.dumps(config.as_env(), sort_keys=True))


@cache
def _service_for(env: str) -> TransformService:
    config = Config.from_env(json.loads(env))
    outputs = OutputsView.parse(config.resource(Need.OUTPUTS))
    return TransformService(
        settings=parse(Settings, config.settings, service=config.processor),
        uploads=S3Upload(config.uploads_bucket),
        catalog=CatalogRounds(config.resource(Need.READ_CATALOG), config.uploads_bucket),
        renderings=S3Renderings(config.variants_bucket),
        keys=secret_keys(config.resource(Need.TRANSFORM_SECRET), KEY_CACHE_S, parse_keys),
        marked=outputs.marked,
        outputs=outputs,
    )


def _header(event: dict[str, Any], name: str) -> str | None:
    headers = event.get("headers") or {}
    return next((v for k, v in headers.items() if k.lower() == name), None)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    if through_the_cdn(event.get("headers")):
        answer = _service(current_config()).answer(method, event.get("rawPath", ""), _header(event, "accept"))
    else:
        answer = around_the_cdn()
    return {
        "statusCode": answer.status,
        "headers": dict(answer.headers),
        "body": base64.b64encode(answer.body).decode(),
        "isBase64Encoded": True,
    }
