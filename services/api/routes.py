"""The route table: one row per route, with the models it reads and answers. The handler matches
events against the rows, the OpenAPI document is generated from them (``openapi.py``), and a
test holds them equal to the manifest's ``routes`` (which API Gateway is built from)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .listing import MAX_LIMIT, UploadPage
from .multipart import CompleteUpload, MultipartTicket, PartList, SignedParts, SignParts
from .status import Deleted, UploadStatus
from .transforms import SignedTransform, TransformRequest
from .uploads import NewUpload, UploadTicket


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str
    type: type = str
    #: JSON Schema constraints beyond the type (what the route refuses with 400 otherwise)
    constraints: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway's syntax: /api/uploads/{id}
    operation: str  # the UploadApi method, and the OpenAPI operationId
    summary: str
    response: type | None
    status: int = 200
    request: type | None = None
    errors: tuple[int, ...] = ()
    query: tuple[QueryParam, ...] = ()
    public: bool = False
    #: operations that take the ``id`` this one answers (OpenAPI links: what a client, or a
    #: stateful fuzzer, may call next with it)
    links: tuple[str, ...] = ()

    @property
    def manifest_route(self) -> str:
        return f"{self.method} {self.path}"


# Every route behind the authorizer may answer 401 (the gateway's) and 429 (the caller's request
# rate, or the gateway's throttling); the rest are the function's own refusals.
_NEW = (400, 401, 413, 415, 429)
_ONE = (401, 404, 429)
_MULTIPART_NEXT = ("status", "sign_parts", "list_parts", "complete", "delete")

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/openapi.json", "openapi", "This document.", None, public=True),
    Route(
        "POST",
        "/api/uploads",
        "create_post",
        "Start a small upload: a presigned POST for one file (exact key, type and size range pinned).",
        UploadTicket,
        201,
        NewUpload,
        _NEW,
    ),
    Route(
        "GET",
        "/api/uploads",
        "list",
        "The caller's uploads, newest first, a page at a time.",
        UploadPage,
        errors=(400, 401, 429),
        query=(
            QueryParam(
                "limit",
                "Uploads per page; a page holds at most the deployment's page size.",
                int,
                {"minimum": 1, "maximum": MAX_LIMIT},
            ),
            QueryParam("cursor", "next_cursor of the previous page.", str, {"minLength": 1, "maxLength": 4096}),
        ),
    ),
    Route(
        "GET",
        "/api/uploads/{id}",
        "status",
        "One upload: its status per processor, plain-words reasons, its variants with URLs, srcset and <picture>.",
        UploadStatus,
        errors=_ONE,
    ),
    Route(
        "DELETE",
        "/api/uploads/{id}",
        "delete",
        "Delete an upload (or abort it while its parts are being sent); its variants follow.",
        Deleted,
        errors=_ONE,
    ),
    Route(
        "POST",
        "/api/uploads/multipart",
        "create_multipart",
        "Start a large or resumable upload: S3 multipart, with the part size and count to use.",
        MultipartTicket,
        201,
        NewUpload,
        _NEW,
        links=_MULTIPART_NEXT,
    ),
    Route(
        "POST",
        "/api/uploads/{id}/parts",
        "sign_parts",
        "Sign one part or a batch, just before sending them: a PUT URL each, its Content-Length pinned.",
        SignedParts,
        request=SignParts,
        errors=(400, 401, 404, 429),
    ),
    Route(
        "GET",
        "/api/uploads/{id}/parts",
        "list_parts",
        "The parts S3 holds so far (to resume an upload).",
        PartList,
        errors=_ONE,
    ),
    Route(
        "POST",
        "/api/uploads/{id}/complete",
        "complete",
        "Assemble the parts into the upload; processing starts.",
        UploadStatus,
        request=CompleteUpload,
        # 409: the upload's key already holds an object (completed once already)
        errors=(400, 401, 404, 409, 429),
    ),
    Route(
        "POST",
        "/api/uploads/{id}/transforms",
        "sign_transform",
        "A signed URL of any size, fit and format of the upload (docs/transforms.md), long-cacheable.",
        SignedTransform,
        request=TransformRequest,
        errors=(400, 401, 404, 409, 429),
    ),
)
