"""Builds moderate's runtime from the function's configuration: the classifier its ``engine``
setting names, on boto3."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from imgpipe.adapters import EventBridgePublisher, S3Storage
from imgpipe.config import current_config
from imgpipe.events import Upload
from imgpipe.runtime import UploadProcessor
from imgpipe.settings import parse

from .engines import Rekognition, StandIn
from .logic import Classifier, Moderator
from .settings import STAND_IN, Settings


def classifier_for(settings: Settings) -> Classifier:
    return StandIn(settings.stand_in_marker) if settings.engine == STAND_IN else Rekognition()


def moderator_processor(*, logger: Logger, metrics: Metrics) -> UploadProcessor:
    config = current_config()
    settings = parse(Settings, config.settings, service=config.processor)
    moderator = Moderator(classifier_for(settings))

    def on_upload(upload: Upload) -> None:
        logger.append_keys(source_key=upload.key, etag=upload.etag, bucket=upload.bucket)
        moderator.start(upload)

    return UploadProcessor(
        processor=config.processor,
        process=moderator.process,
        storage=S3Storage(),
        publisher=EventBridgePublisher(config.event_bus),
        variants_bucket=config.variants_bucket,
        settings=config.settings,
        settings_type=Settings,
        metrics=metrics,
        on_upload=on_upload,
    )
