"""Builds a processor's runtime from its configuration: the one place handlers meet AWS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from imgpipe.adapters import EventBridgePublisher, S3Storage, stack_secret
from imgpipe.config import current_config
from imgpipe.events import Upload
from imgpipe.needs import Need
from imgpipe.runtime import ProcessFn, UploadProcessor


def upload_processor(
    process: ProcessFn,
    settings_type: type[Any],
    *,
    logger: Logger,
    metrics: Metrics,
    storage: S3Storage | None = None,
    on_upload: Callable[[Upload], None] | None = None,
) -> UploadProcessor:
    """``settings_type`` is the service's ``Settings``: the configured settings are parsed into it
    with the same parser synth and the local stack used to check them. ``on_upload`` is told each
    upload before ``process`` runs (a processor whose work depends on the key, e.g. describe's
    near-duplicate scope); ``storage`` is a client the service shares with its own adapters."""
    config = current_config()

    def upload_known(upload: Upload) -> None:
        # every later log line of this invocation names the upload
        logger.append_keys(source_key=upload.key, etag=upload.etag, bucket=upload.bucket)
        if on_upload is not None:
            on_upload(upload)

    return UploadProcessor(
        processor=config.processor,
        process=process,
        storage=storage or S3Storage(),
        # signed with the stack's event key: notify believes the event without a request per variant
        publisher=EventBridgePublisher(config.event_bus, key=_event_key(config.resources.get(Need.EVENT_KEY))),
        variants_bucket=config.variants_bucket,
        settings=config.settings,
        settings_type=settings_type,
        metrics=metrics,
        on_upload=upload_known,
        output_role=config.output_role,
        outputs_gated=config.outputs_gated,
    )


def _event_key(arn: str | None) -> Callable[[], bytes] | None:
    """The pipeline events' signing key, read once per cold start; None where the stack has none."""
    return stack_secret(arn) if arn else None
