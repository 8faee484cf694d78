"""What every request parser shares: a field's schema constraints (for the OpenAPI document)
and the JSON shape checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import bad_request


def constraint(**schema: Any) -> dict[str, Any]:
    """A field's metadata: its JSON Schema constraints beyond its type, for the OpenAPI document
    (what the parsers below refuse with 400 is what the document says is invalid)."""
    return {"schema": schema}


def json_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("body", "The request body must be a JSON object.")
    return body


def is_json_int(value: Any) -> bool:
    # JSON has one number type: 12.0 is the integer 12 (as JSON Schema says), 12.5 is not; a
    # bool is not a number however Python counts it
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)
