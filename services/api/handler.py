"""api: the upload API behind API Gateway's HTTP API (see manifest.toml, docs/api.md).

Thin: each row of the route table is matched on the event's method and raw path and calls an
:class:`UploadApi` method with the caller from the JWT authorizer's claims; errors become
``{"error": {...}}`` with their status.

The matching is done here rather than by Powertools' ``event_handler``: importing that package
imports every resolver it offers (AppSync, Bedrock agents, VPC Lattice, OpenAPI validation...),
about half of this function's cold import, for the one thing used, path templates, which API
Gateway has already matched once.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.config import current_config, through_the_cdn
from imgpipe.observability import powertools

from .callers import caller_from_claims
from .errors import ApiError, bad_request
from .openapi import document
from .routes import ROUTES, Route
from .wiring import from_config

logger, tracer, metrics = powertools(__package__)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) response."""
    payload = dataclasses.asdict(body) if dataclasses.is_dataclass(body) else body
    return {
        "statusCode": status,
        # answers name one user's uploads: no shared cache may keep them
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})},
        "body": json.dumps(payload, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _pattern(route: Route) -> re.Pattern[str]:
    """``/api/uploads/{id}`` matches ``/api/uploads/<one segment>``, the segment named ``id``."""
    parts = re.split(r"\{(\w+)\}", route.path)
    regex = "".join(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts))
    return re.compile(f"{regex}$")


MATCHERS: tuple[tuple[Route, re.Pattern[str]], ...] = tuple((route, _pattern(route)) for route in ROUTES)


#: the largest body a route reads: a complete call naming 10,000 parts is about 600 KB
MAX_BODY_CHARS = 1024 * 1024


def _body(event: dict[str, Any]) -> Any:
    raw = event.get("body")
    if raw and len(raw) > MAX_BODY_CHARS * 4 // 3 + 4:  # checked again once decoded
        raise bad_request("body", f"The request body may have at most {MAX_BODY_CHARS} characters.")
    if raw and event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise bad_request("body", "The request body is not valid JSON.") from None
    if not raw:
        raise bad_request("body", "The request needs a JSON body.")
    if len(raw) > MAX_BODY_CHARS:
        raise bad_request("body", f"The request body may have at most {MAX_BODY_CHARS} characters.")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: deeply nested arrays or objects, which no route's body has
        raise bad_request("body", "The request body is not valid JSON.") from None


def _known_query(route: Route, query: dict[str, str]) -> None:
    """A parameter the route does not take is refused, not ignored: a misspelt ``limt`` would
    otherwise silently give the default page."""
    known = [q.name for q in route.query]
    for name in query:
        if name not in known:
            takes = f"it takes {', '.join(known)}" if known else "it takes none"
            raise bad_request(name[:100], f"This route has no query parameter '{name[:100]}'; {takes}.")


def _through_the_cdn(event: dict[str, Any]) -> None:
    """Refuse a request that did not come through the distribution (its origin header missing or
    wrong): the execute-api host stays reachable, but answers nothing around the front door.
    Without the environment value (the local stack, the tests) there is no CDN to check."""
    if not through_the_cdn(event.get("headers")):
        raise ApiError(403, "forbidden", "Call the API through the site's address, not the API's own host.")


def _call(route: Route, params: dict[str, str], event: dict[str, Any]) -> dict[str, Any]:
    _through_the_cdn(event)
    if route.public:
        return _json(route.status, document())
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt", {}).get("claims") or {}
    caller = caller_from_claims(claims)
    api = from_config(current_config())
    api.admit(caller)  # before anything else: a refused call costs one conditional write
    method = getattr(api, route.operation)
    args: list[Any] = [caller, *params.values()]
    query = dict(event.get("queryStringParameters") or {})
    _known_query(route, query)
    if route.request is not None:
        args.append(_body(event))
    elif route.query:
        args.append(query)
    return _json(route.status, method(*args))


def resolve(event: dict[str, Any]) -> dict[str, Any]:
    """The response to one HTTP API event: the route its method and path name, or 404."""
    verb = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
    path = event.get("rawPath") or ""
    for route, pattern in MATCHERS:
        found = pattern.match(path)
        if found and route.method == verb:
            try:
                return _call(route, found.groupdict(), event)
            except ApiError as error:
                if error.code == "rate_limited":
                    # a caller over their rate: an alarm watches how often (infra/components/alarms.py)
                    metrics.add_metric("RateLimited", "Count", 1)
                return _json(error.status, error.body(), error.headers)
    return _json(404, {"error": {"code": "not_found", "message": "There is no such route."}})


@logger.inject_lambda_context(clear_state=True, correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(event)
