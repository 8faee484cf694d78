"""Builds describe's runtime from the function's configuration, on boto3."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from imgpipe.adapters import EventBridgePublisher, S3Storage
from imgpipe.config import current_config
from imgpipe.events import Upload
from imgpipe.manifest import Need
from imgpipe.runtime import UploadProcessor
from imgpipe.settings import parse

from .adapters import DynamoIndex
from .logic import Describer
from .settings import Settings


def describer_processor(*, logger: Logger, metrics: Metrics) -> UploadProcessor:
    config = current_config()
    settings = parse(Settings, config.settings, service=config.processor)
    storage = S3Storage()
    describer = Describer(
        DynamoIndex(config.resource(Need.CATALOG), ttl_days=settings.index_ttl_days),
        exists=lambda key: storage.head(config.uploads_bucket, key) is not None,
    )

    def on_upload(upload: Upload) -> None:
        logger.append_keys(source_key=upload.key, etag=upload.etag, bucket=upload.bucket)
        describer.start(upload)

    return UploadProcessor(
        processor=config.processor,
        process=describer.process,
        storage=storage,
        publisher=EventBridgePublisher(config.event_bus),
        variants_bucket=config.variants_bucket,
        settings=config.settings,
        settings_type=Settings,
        metrics=metrics,
        on_upload=on_upload,
    )
