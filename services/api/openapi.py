"""The OpenAPI 3.1 document, generated from the route table and the models' type hints.

Hand-rolled on purpose: Powertools generates OpenAPI only with pydantic, whose compiled core would
add megabytes to the layer every function loads, for a handful of flat models. The models here
are dataclasses of ``str``, ``int``, ``bool``, lists, string maps, optionals and other models,
which is all this needs to describe.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from .errors import ErrorBody, GatewayError
from .routes import ROUTES, Route

_SCALARS = {str: {"type": "string"}, int: {"type": "integer"}, bool: {"type": "boolean"}, float: {"type": "number"}}
_REASONS = {
    400: "A field is missing or malformed (error.field names it).",
    401: "No token, or an invalid or expired one.",
    404: "No upload with this id belongs to the caller.",
    413: "The declared size is over the deployment's limit.",
    415: "The declared type is not an image type the processors accept.",
    409: (
        "The upload is not in a state for this call: already sent (its key is written once), or not "
        "renderable yet or at all (still processing, held for review, or rejected)."
    ),
    429: "Too many requests from this caller, or the daily upload quota is used up (Retry-After says for how long).",
}
#: statuses API Gateway may answer itself, before the function runs, in its own shape
_GATEWAY = {401, 429}


def _schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    if tp is Any:
        return {}  # any JSON value (describe's facts)
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        schema = _schema(inner[0], components)
        return {"anyOf": [schema, {"type": "null"}]} if type(None) in args else schema
    if origin is list:
        return {"type": "array", "items": _schema(args[0], components)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(args[1], components)}
    if dataclasses.is_dataclass(tp):
        return _ref(tp, components)
    raise TypeError(f"no JSON schema for {tp!r}")


def _ref(model: type, components: dict[str, Any]) -> dict[str, Any]:
    name = model.__name__
    if name not in components:
        components[name] = {}  # placed first: a model that refers to itself stops here
        hints = typing.get_type_hints(model)
        fields = dataclasses.fields(model)  # type: ignore[arg-type]
        components[name] = {
            "type": "object",
            "description": (model.__doc__ or "").strip().split("\n\n")[0],
            "properties": {
                f.name: {**_schema(hints[f.name], components), **f.metadata.get("schema", {})} for f in fields
            },
            "required": [
                f.name
                for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
            ],
        }
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.operation, "summary": route.summary}
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in (seg[1:-1] for seg in route.path.split("/") if seg.startswith("{"))
    ]
    params += [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "description": q.description,
            "schema": {**_schema(q.type, {}), **q.constraints},
        }
        for q in route.query
    ]
    if params:
        op["parameters"] = params
    if route.request is not None:
        op["requestBody"] = {"required": True, "content": _json(_ref(route.request, components))}
    ok = _json(_ref(route.response, components)) if route.response else _json({"type": "object"})
    responses: dict[str, Any] = {str(route.status): {"description": "OK", "content": ok}}
    if route.links:
        responses[str(route.status)]["links"] = {
            target: {"operationId": target, "parameters": {"id": "$response.body#/id"}} for target in route.links
        }
    for status in route.errors:
        error = _ref(ErrorBody, components)
        if status in _GATEWAY:
            error = {"anyOf": [error, _ref(GatewayError, components)]}
        responses[str(status)] = {"description": _REASONS[status], "content": _json(error)}
    op["responses"] = responses
    op["security"] = [] if route.public else [{"jwt": []}]
    return op


def document(title: str = "imgpipe upload API", version: str = "1") -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": "The contract is described in docs/api.md."},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "jwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito access token (or ID token) of the stack's user pool.",
                }
            },
        },
    }
