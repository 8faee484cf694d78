"""api: the upload API behind API Gateway's HTTP API (see manifest.toml, docs/api.md).

Thin: the resolver maps each row of the route table onto an :class:`UploadApi` method with the
caller from the JWT authorizer's claims; errors become ``{"error": {...}}`` with their status.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.config import Config, current_config
from imgpipe.manifest import Need
from imgpipe.observability import powertools
from imgpipe.settings import parse

from .adapters import S3Uploads, UserCatalog
from .logic import ApiError, bad_request, caller_from_claims
from .openapi import document
from .routes import ROUTES, Route
from .service import UploadApi
from .settings import Settings

logger, tracer, metrics = powertools(__package__)
app = APIGatewayHttpResolver()


def _api(config: Config) -> UploadApi:
    # keyed by the environment: the local stack runs every service in one process, each its own config
    return _api_for(json.dumps(config.as_env(), sort_keys=True))


@cache
def _api_for(env: str) -> UploadApi:
    config = Config.from_env(json.loads(env))
    return UploadApi(
        settings=parse(Settings, config.settings, service=config.processor),
        uploads=S3Uploads(config.uploads_bucket),
        catalog=UserCatalog(config.resource(Need.USER_CATALOG)),
        delivery_url=config.resource(Need.DELIVERY_URL),
    )


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    payload = dataclasses.asdict(body) if dataclasses.is_dataclass(body) else body
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(payload, separators=(",", ":")),
        # answers name one user's uploads: no shared cache may keep them
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _body() -> Any:
    raw = app.current_event.body
    if not raw:
        raise bad_request("body", "The request needs a JSON body.")
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("body", "The request body is not valid JSON.") from None


def _bind(route: Route) -> None:
    def endpoint(**params: str) -> Response:
        if route.public:
            return _json(route.status, document())
        caller = caller_from_claims(app.current_event.request_context.authorizer.jwt_claim)
        method = getattr(_api(current_config()), route.operation)
        args: list[Any] = [caller, *params.values()]
        if route.request is not None:
            args.append(_body())
        elif route.query:
            args.append(dict(app.current_event.query_string_parameters or {}))
        return _json(route.status, method(*args))

    app.route(route.resolver_path, route.method)(endpoint)


for _route in ROUTES:
    _bind(_route)


@app.exception_handler(ApiError)
def _refused(error: ApiError) -> Response:
    return _json(error.status, error.body(), error.headers)


@app.not_found
def _unknown(_: NotFoundError) -> Response:
    return _json(404, {"error": {"code": "not_found", "message": "There is no such route."}})


@logger.inject_lambda_context(clear_state=True, correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
