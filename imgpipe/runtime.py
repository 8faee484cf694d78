"""The processor runtime: everything an upload processor does around its pure ``process()``.

For one S3 "Object Created" event it: resolves the key, applies the byte caps, reads the object
once, calls ``process``, writes each variant with its metadata unless an earlier run with the same
source etag and settings already did (then it writes nothing), and emits one "Variants Created"
listing them all, or one "Image Rejected" when the input is bad. Rejections
return normally (never retried, never in a DLQ); everything else raises, so Lambda retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from imgpipe.errors import Reason, Rejection
from imgpipe.events import (
    ImageRejected,
    ObjectCreated,
    PipelineEvent,
    Upload,
    VariantInfo,
    VariantsCreated,
    parse_object_created,
)
from imgpipe.keys import (
    MAX_KEY_BYTES,
    MAX_USER_METADATA_BYTES,
    MAX_VARIANT_FILE_BYTES,
    encode_metadata_value,
    find_object,
    max_source_key_bytes,
    metadata_bytes,
    settings_hash,
    variant_key,
)
from imgpipe.limits import Limits
from imgpipe.outputs import PUBLIC_ROLES, VISIBILITY_TAG, held_tags, role_of, visibility_of
from imgpipe.ports import (
    EventPublisher,
    MetricsSink,
    NoMetrics,
    ObjectChanged,
    ObjectUnreadable,
    Opened,
    Storage,
)
from imgpipe.settings import as_data, parse

CACHE_CONTROL = "public, max-age=31536000, immutable"

_FORMATS: dict[str, tuple[str, str]] = {
    # format -> (extension, Content-Type)
    "jpeg": ("jpg", "image/jpeg"),
    "png": ("png", "image/png"),
    "webp": ("webp", "image/webp"),
    "avif": ("avif", "image/avif"),
    "gif": ("gif", "image/gif"),
    # not an image: a processor's facts about the upload (services/describe), written like a variant
    "json": ("json", "application/json"),
}


@dataclass(frozen=True)
class Output:
    """One variant made by a processor's pure ``process()``."""

    name: str  # e.g. "640w", "300x300"; the file name before the extension
    format: str  # one of _FORMATS
    data: bytes
    width: int
    height: int
    #: facts about the upload the processor reports with its variants (services/describe); they
    #: ride on its "Variants Created" event (``facts``) and notify keeps them in the catalog
    facts: Mapping[str, Any] | None = None
    #: the processor holds the upload for review (services/moderate): its event says ``hold``
    hold: bool = False

    @property
    def ext(self) -> str:
        return _FORMATS[self.format][0]

    @property
    def content_type(self) -> str:
        return _FORMATS[self.format][1]


#: a processor's pure function: bytes + its parsed settings (an instance of the service's
#: ``Settings``) -> variants, or raise Rejection.
ProcessFn = Callable[[bytes, Any], list[Output]]


@dataclass(frozen=True)
class Result:
    """What a handler returns (also handy in tests and in the local runtime's logs)."""

    status: str  # "processed" | "skipped" | "rejected"
    key: str
    variants: tuple[str, ...] = ()
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "key": self.key, "variants": list(self.variants), "reason": self.reason}


def _superseded(upload: Upload) -> str:
    return f"{upload.uri} was overwritten; the newer upload is processed on its own"


class UploadProcessor:
    def __init__(
        self,
        *,
        processor: str,
        process: ProcessFn,
        storage: Storage,
        publisher: EventPublisher,
        variants_bucket: str,
        settings: Mapping[str, Any],
        settings_type: type[Any],
        metrics: MetricsSink | None = None,
        on_upload: Callable[[Upload], None] | None = None,
        output_role: str = "",
        outputs_gated: bool = False,
    ) -> None:
        self.processor = processor
        #: the manifest's declared role of what it writes, carried on each of its events
        self.output_role = output_role
        #: written held (tagged) until the round is released: a deployment whose uploads may be held
        self.outputs_gated = outputs_gated and role_of(output_role, "") in PUBLIC_ROLES
        self.process = process
        self.storage = storage
        self.publisher = publisher
        self.variants_bucket = variants_bucket
        # Parsed into the service's Settings (a bad value raises SettingsError here) and hashed
        # as parsed, defaults included: a changed default in settings.py redoes the work as a
        # changed value in the manifest or the deployment does.
        self.settings = parse(settings_type, settings, service=processor)
        written: dict[str, Any] = dict(as_data(self.settings))
        # the tag its public images are written with; None for facts, sidecars and a processor
        # that declares no role (a test harness's): never served, fail-safe
        self.visibility = visibility_of(role_of(output_role, ""), processor) if output_role else None
        if self.visibility is not None:
            # how its outputs are written is part of what they are: outputs from before they carried
            # their visibility tag (so are never served) are redone by a re-run, the backfill's
            # included, not skipped as current
            written[VISIBILITY_TAG] = self.visibility
        self.settings_hash = settings_hash(written)
        self.limits = Limits.from_settings(self.settings)
        self.metrics = metrics or NoMetrics()
        # called once the upload is known (the handler appends key/etag to every log line)
        self.on_upload = on_upload or (lambda _u: None)

    @property
    def source(self) -> str:
        return f"imgpipe.{self.processor}"

    def handle(self, event: dict[str, Any]) -> Result:
        created = parse_object_created(event)
        self.on_upload(created.upload)
        started = time.perf_counter()
        try:
            result = self._handle(created)
        except Rejection as rejection:
            result = self._reject(created.upload, rejection)
        self.metrics.add_metric("ProcessingTime", "Milliseconds", (time.perf_counter() - started) * 1000)
        return result

    def _handle(self, created: ObjectCreated) -> Result:
        upload = created.upload
        # One GET tells what a HEAD would (size, etag, archive, the key's spelling) and holds the
        # body unread until the checks below pass: an upload costs one read request, not two.
        try:
            opened = find_object(upload.key, lambda k: self.storage.open(upload.bucket, k, etag=upload.etag or None))
        except ObjectChanged:
            raise Rejection(Reason.SUPERSEDED, _superseded(upload)) from None
        except ObjectUnreadable as exc:
            raise Rejection(exc.reason, f"{upload.uri} {exc.why}") from None
        if opened is None:
            raise Rejection(Reason.OBJECT_MISSING, f"s3://{upload.bucket}/{upload.key} does not exist (deleted?)")
        with opened:
            upload, data = self._read(upload, opened)
        outputs = self.process(data, self.settings)
        if not outputs:
            raise RuntimeError(f"processor {self.processor} made no variant for {upload.uri}")
        announced = self._announced(upload, outputs)
        keys = tuple(v.key for v in announced.variants)
        if self._written_before(upload, outputs):
            # Same source, same settings, every variant in place: write nothing, announce them
            # again so a replayed event still completes notify's round (notify de-duplicates).
            self.publisher.publish(self.source, [announced])
            return Result("skipped", upload.key, keys)
        self._write(upload, outputs, announced)
        self.publisher.publish(self.source, [announced])
        return Result("processed", upload.key, keys)

    def _read(self, upload: Upload, opened: Opened) -> tuple[Upload, bytes]:
        """The upload named by the key that exists in the bucket, and its bytes, once what the
        GET's headers say allows them to be read."""
        info = opened.info
        upload = Upload(upload.bucket, info.key, upload.etag, upload.version_id)
        if upload.etag and info.etag and info.etag != upload.etag:
            # a store that ignored the condition: the etag still tells
            raise Rejection(Reason.SUPERSEDED, _superseded(upload))
        if info.archived:
            raise Rejection(
                Reason.ARCHIVED,
                f"{upload.uri} is in the {info.archive_status or info.storage_class} archive; "
                "restore it, then upload it again",
            )
        self._check_writable(upload)
        if info.size == 0:
            raise Rejection(Reason.EMPTY_OBJECT, f"{upload.uri} is empty (0 bytes)")
        if info.size > self.limits.max_bytes:
            raise Rejection(
                Reason.TOO_LARGE,
                f"{upload.uri} is {info.size:,} bytes; the limit is {self.limits.max_bytes:,} bytes",
            )
        return upload, opened.read()

    def _check_writable(self, upload: Upload) -> None:
        """Reject an upload whose variants S3 would refuse (key or metadata over its limits)."""
        key_bytes, limit = len(upload.key.encode()), max_source_key_bytes(self.processor)
        if key_bytes > limit:
            raise Rejection(
                Reason.KEY_TOO_LONG,
                f"the key is {key_bytes:,} bytes; {self.processor}'s variant keys fit S3's {MAX_KEY_BYTES:,}-byte "
                f"limit for keys up to {limit:,} bytes. Upload it under a shorter name.",
            )
        size = metadata_bytes(self._metadata(upload))
        if size > MAX_USER_METADATA_BYTES:
            raise Rejection(
                Reason.METADATA_TOO_LARGE,
                f"the variants' metadata would be {size:,} bytes (it carries the percent-encoded key); "
                f"S3 allows {MAX_USER_METADATA_BYTES:,}. Upload it under a shorter name.",
            )

    def _metadata(self, upload: Upload) -> dict[str, str]:
        return {
            "source-key": encode_metadata_value(upload.key),
            "source-etag": upload.etag,
            "processor": self.processor,
            "settings-hash": self.settings_hash,
        }

    def _announced(self, upload: Upload, outputs: list[Output]) -> VariantsCreated:
        """One "Variants Created" listing every output, in the order they are written."""
        facts = next((dict(o.facts) for o in outputs if o.facts), None)
        hold = any(o.hold for o in outputs)
        infos: list[VariantInfo] = []
        for out in outputs:
            if len(f"{out.name}.{out.ext}".encode()) > MAX_VARIANT_FILE_BYTES:
                # a processor bug, not bad input: the key budget checked before the GET assumed it
                raise ValueError(f"variant name {out.name!r} is longer than {MAX_VARIANT_FILE_BYTES} bytes")
            vkey = variant_key(self.processor, upload.key, out.name, out.ext)
            info = VariantInfo(
                self.processor,
                self.variants_bucket,
                vkey,
                out.format,
                out.width,
                out.height,
                len(out.data),
                role=self.output_role,
            )
            infos.append(info)
        return VariantsCreated(upload, self.processor, tuple(infos), self.settings_hash, facts, hold)

    def _written_before(self, upload: Upload, outputs: list[Output]) -> bool:
        """Whether an earlier run wrote these very outputs. Variants are written in order, each
        with the source etag and settings hash as metadata, so the last one in place with this
        upload's etag, these settings and its size means every one before it is too. One HEAD on
        every run; no record of its own to write (docs/decisions.md "Skip evidence")."""
        last = outputs[-1]
        info = self.storage.head(self.variants_bucket, variant_key(self.processor, upload.key, last.name, last.ext))
        return (
            info is not None
            and info.metadata.get("source-etag") == upload.etag
            and info.metadata.get("settings-hash") == self.settings_hash
            and info.size == len(last.data)
        )

    def _write(self, upload: Upload, outputs: list[Output], announced: VariantsCreated) -> None:
        metadata = self._metadata(upload)
        # servable only as its tag says (the bucket policy, the local front door), and not before
        # notify or a reviewer releases the round where rounds may be held
        tags = self._tags()
        # In order: the last variant written is the evidence that the run finished (_written_before).
        for out, info in zip(outputs, announced.variants, strict=True):
            self.storage.put(
                self.variants_bucket,
                info.key,
                out.data,
                content_type=out.content_type,
                metadata=metadata,
                cache_control=CACHE_CONTROL,
                tags=tags,
            )
            self.metrics.add_metric("VariantBytes", "Bytes", len(out.data))

    def _tags(self) -> dict[str, str] | None:
        """A public image's visibility (what the CDN decides on, per object) and, while its round
        may still be held, the held mark: in the PUT itself, so never a moment it is servable
        untagged or unheld. Facts and sidecars get none, and so are never served."""
        if self.visibility is None:
            return held_tags() if self.outputs_gated else None
        return {VISIBILITY_TAG: self.visibility, **(held_tags() if self.outputs_gated else {})}

    def _reject(self, upload: Upload, rejection: Rejection) -> Result:
        self.metrics.add_metric(f"Rejected_{rejection.reason.value}", "Count", 1)
        self.metrics.add_metric("Rejections", "Count", 1)
        events: list[PipelineEvent] = [ImageRejected(upload, self.processor, rejection.reason.value, rejection.message)]
        self.publisher.publish(self.source, events)
        return Result("rejected", upload.key, reason=rejection.reason.value)
