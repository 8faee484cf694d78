"""``POST /api/uploads/{id}/transforms``: a signed on-demand transform URL of one of the caller's
uploads (docs/transforms.md). The checks are :mod:`imgpipe.transforms`' (the transform service's
own), with the bounds the stack hands over (the ``transform_bounds`` need); the URL is signed with
the first of the keys in the ``transform_secret`` need."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imgpipe.transforms import InvalidTransform, TransformBounds, servable, transform_from_request, url_path

from .adapters import S3Uploads, UserCatalog
from .callers import Caller
from .errors import ApiError, bad_request, not_found
from .keys import is_upload_id, upload_prefix


@dataclass(frozen=True)
class TransformRequest:
    """The rendering wanted: at least a width or a height (both for ``cover`` and ``contain``).
    ``fit`` defaults to ``inside``, ``format`` to ``auto`` (AVIF, WebP or JPEG by the client's Accept)."""

    width: int | None = None
    height: int | None = None
    fit: str | None = None
    format: str | None = None
    quality: int | None = None


@dataclass(frozen=True)
class SignedTransform:
    """The transform's URL: anyone may fetch it; it is good for this upload as it is now."""

    url: str


def not_enabled() -> ApiError:
    return ApiError(404, "transforms_not_enabled", "This deployment has no transform service.")


def marked_only() -> ApiError:
    # the transform service refuses them too: a transform renders the upload itself, unmarked
    return ApiError(
        404,
        "transforms_not_enabled",
        "Transforms are off in this deployment: its pictures are published watermarked only.",
    )


@dataclass
class TransformSigner:
    bounds: TransformBounds
    keys: Callable[[], tuple[bytes, ...]]
    #: the deployment publishes marked pictures only (imgpipe.outputs.marked): no URL is signed
    marked: bool = False

    def sign(
        self, caller: Caller, upload_id: str, body: Any, *, uploads: S3Uploads, catalog: UserCatalog, delivery_url: str
    ) -> SignedTransform:
        # Whose upload first: a stranger learns nothing, not even which values would be refused.
        if not is_upload_id(upload_id):
            raise not_found()
        stored = uploads.find_object(upload_prefix(caller.sub, upload_id))
        if stored is None:
            raise not_found()
        if self.marked:
            raise marked_only()
        try:
            transform = transform_from_request(body, self.bounds)
        except InvalidTransform as invalid:
            raise bad_request(invalid.field, f"{invalid.field} {invalid.message}") from None
        if not servable(catalog.load(uploads.bucket, stored.key, stored.etag)):
            raise ApiError(
                409, "not_servable", "This upload is still processing, held for review or rejected: try again later."
            )
        return SignedTransform(delivery_url + url_path(self.keys()[0], stored.key, stored.etag, transform))
