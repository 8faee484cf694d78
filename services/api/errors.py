"""The API's refusals, pure. Every refusal is an :class:`ApiError` with the status code, a stable
``code``, a sentence, and the field at fault, so a client can show it next to the right input;
the error bodies the OpenAPI document describes are here too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    """A request the API refuses: answered with ``status`` and ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}


def bad_request(field_name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", message, field=field_name)


def not_found() -> ApiError:
    # The same answer for "not yours" and "does not exist": existence must not leak.
    return ApiError(404, "not_found", "There is no upload with this id.")


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Sign in: the request has no valid token.")


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    field: str | None = None


@dataclass(frozen=True)
class ErrorBody:
    """A refusal of the function."""

    error: ErrorDetail


@dataclass(frozen=True)
class GatewayError:
    """A refusal of API Gateway itself (no valid token, throttled), before the function runs."""

    message: str
