"""What each route does, on the two adapters: checks (the pure modules: ``uploads``, ``multipart``,
``listing``, ``quota``, ``status``), then the calls, in the order that leaves nothing behind when a
check fails. The handler maps HTTP onto these methods.

Isolation: every method takes the caller and builds the only prefix it may touch,
``users/<caller>/<id>/``, itself; an id that is not under it is indistinguishable from one that
does not exist (404).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from imgpipe.outputs import OutputsView

from .adapters import S3Uploads, UserCatalog
from .callers import Caller
from .errors import not_found
from .fairness import WINDOW_TTL_S, rate_limited, window
from .keys import declared_size, is_upload_id, multipart_upload_id, new_upload_id, upload_key, upload_prefix
from .listing import UploadPage, parse_limit, summary_view
from .multipart import (
    CompleteUpload,
    MultipartTicket,
    PartList,
    PartPlan,
    SignedPart,
    SignedParts,
    UploadedPart,
    parse_complete,
    parse_sign_parts,
)
from .quota import quota_day, quota_exceeded
from .settings import Settings
from .status import Deleted, UploadStatus, status_view
from .transforms import SignedTransform, TransformSigner, not_enabled
from .uploads import NewUpload, PutSpec, UploadTicket, iso, parse_new_upload, sanitize_filename


@dataclass
class UploadApi:
    settings: Settings
    uploads: S3Uploads
    catalog: UserCatalog
    delivery_url: str
    #: the deployed producers' output roles and the srcset's set (imgpipe/outputs.py)
    outputs: OutputsView = field(default_factory=lambda: OutputsView({}, None))
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: None in a stack without the transform service
    transforms: TransformSigner | None = None

    def admit(self, caller: Caller) -> None:
        """Count the caller's request in this minute, or refuse it (429, ``Retry-After``)."""
        now = self.clock()
        current, retry_after = window(now)
        limit = self.settings.requests_per_minute
        if not self.catalog.count_request(caller.sub, current, limit, int(now.timestamp()) + WINDOW_TTL_S):
            raise rate_limited(limit, retry_after)

    # --- new uploads --------------------------------------------------------------------------
    def _new(self, caller: Caller, body: Any, *, multipart: bool) -> tuple[str, str, NewUpload]:
        request = parse_new_upload(body, self.settings.max_bytes)
        now = self.clock()
        # After every check (a refused request does not count) and before anything is signed.
        if not self.catalog.take_quota(caller.sub, quota_day(now), self.settings.uploads_per_day, now):
            raise quota_exceeded(self.settings.uploads_per_day, now)
        upload_id = multipart_upload_id(request.size) if multipart else new_upload_id()
        key = upload_key(caller.sub, upload_id, sanitize_filename(request.filename, request.type))
        return upload_id, key, request

    def create_post(self, caller: Caller, body: Any) -> UploadTicket:
        upload_id, key, request = self._new(caller, body, multipart=False)
        expires_s = self.settings.upload_expiry_s
        spec = PutSpec(request.type, request.size)
        url = self.uploads.presign_put(key, spec, expires_s)
        expires = iso(self.clock() + timedelta(seconds=expires_s))
        return UploadTicket(upload_id, key, "PUT", url, spec.headers, expires)

    def create_multipart(self, caller: Caller, body: Any) -> MultipartTicket:
        upload_id, key, request = self._new(caller, body, multipart=True)
        s3_upload_id = self.uploads.create_multipart(key, request.type)
        plan = PartPlan.for_size(request.size)
        return MultipartTicket(upload_id, key, s3_upload_id, plan.part_size, plan.part_count)

    # --- multipart ----------------------------------------------------------------------------
    def _pending(self, caller: Caller, upload_id: str) -> tuple[str, str, PartPlan]:
        """The caller's multipart upload in progress and its plan (from the size it declared,
        which its id carries: :func:`~.keys.multipart_upload_id`)."""
        size = declared_size(upload_id) if is_upload_id(upload_id) else None
        if size is None:
            raise not_found()
        pending = self.uploads.find_multipart(upload_prefix(caller.sub, upload_id))
        if pending is None:
            raise not_found()
        return pending.key, pending.upload_id, PartPlan.for_size(size)

    def sign_parts(self, caller: Caller, upload_id: str, body: Any) -> SignedParts:
        key, s3_upload_id, plan = self._pending(caller, upload_id)
        request = parse_sign_parts(body, plan.part_count)
        expires_s = self.settings.part_expiry_s
        parts = [
            SignedPart(n, self.uploads.presign_part(key, s3_upload_id, n, plan.length(n), expires_s), plan.length(n))
            for n in request.part_numbers
        ]
        return SignedParts(parts, iso(self.clock() + timedelta(seconds=expires_s)))

    def list_parts(self, caller: Caller, upload_id: str) -> PartList:
        key, s3_upload_id, _ = self._pending(caller, upload_id)
        parts = self.uploads.list_parts(key, s3_upload_id)
        return PartList([UploadedPart(int(p["PartNumber"]), int(p["Size"]), str(p["ETag"])) for p in parts])

    def complete(self, caller: Caller, upload_id: str, body: Any) -> UploadStatus:
        key, s3_upload_id, plan = self._pending(caller, upload_id)
        request: CompleteUpload = parse_complete(body, plan.part_count)
        self.uploads.complete(key, s3_upload_id, [(p.part_number, p.etag) for p in request.parts])
        return status_view(upload_id, key, None, delivery_url=self.delivery_url, outputs=self.outputs, size=plan.size)

    # --- reading and deleting -----------------------------------------------------------------
    def list(self, caller: Caller, query: dict[str, str]) -> UploadPage:
        limit = parse_limit(query.get("limit"), self.settings.page_size)
        rounds, cursor = self.catalog.owned(caller.sub, limit=limit, cursor=query.get("cursor"))
        # Deleted uploads are gone for their owner; superseded rounds are older copies of a key.
        shown = [r for r in rounds if r.status not in ("deleted", "superseded")]
        return UploadPage([summary_view(r, self.outputs) for r in shown], cursor)

    def status(self, caller: Caller, upload_id: str) -> UploadStatus:
        if not is_upload_id(upload_id):
            raise not_found()
        prefix = upload_prefix(caller.sub, upload_id)
        stored = self.uploads.find_object(prefix)
        if stored is None:
            pending = self.uploads.find_multipart(prefix)
            if pending is None:
                raise not_found()
            return status_view(
                upload_id, pending.key, None, delivery_url=self.delivery_url, outputs=self.outputs, uploading=True
            )
        found = self.catalog.load(self.uploads.bucket, stored.key, stored.etag)
        return status_view(
            upload_id,
            stored.key,
            found,
            delivery_url=self.delivery_url,
            outputs=self.outputs,
            size=stored.size,
            created_at=iso(stored.last_modified),
        )

    def delete(self, caller: Caller, upload_id: str) -> Deleted:
        if not is_upload_id(upload_id):
            raise not_found()
        prefix = upload_prefix(caller.sub, upload_id)
        stored = self.uploads.find_object(prefix)
        pending = self.uploads.find_multipart(prefix)
        if stored is None and pending is None:
            raise not_found()
        if pending is not None:
            self.uploads.abort(pending.key, pending.upload_id)
        if stored is not None:
            # Its variants and its catalog rounds follow through the pipeline (services/purge).
            self.uploads.delete(stored.key)
        return Deleted(upload_id)

    # --- on-demand transforms -----------------------------------------------------------------
    def sign_transform(self, caller: Caller, upload_id: str, body: Any) -> SignedTransform:
        if self.transforms is None:
            raise not_enabled()
        return self.transforms.sign(
            caller, upload_id, body, uploads=self.uploads, catalog=self.catalog, delivery_url=self.delivery_url
        )
