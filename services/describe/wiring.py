"""Builds describe's runtime from the function's configuration, on boto3."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from imgpipe.adapters import S3Storage
from imgpipe.config import current_config
from imgpipe.needs import Need
from imgpipe.runtime import UploadProcessor
from imgpipe.settings import parse
from imgpipe.wiring import upload_processor

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
    return upload_processor(
        describer.process, Settings, logger=logger, metrics=metrics, storage=storage, on_upload=describer.start
    )
