"""Builds moderate's runtime from the function's configuration: the classifier its ``engine``
setting names, on boto3."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from imgpipe.config import current_config
from imgpipe.runtime import UploadProcessor
from imgpipe.settings import parse
from imgpipe.wiring import upload_processor

from .engines import Rekognition, StandIn
from .logic import Classifier, Moderator
from .settings import STAND_IN, Settings


def classifier_for(settings: Settings) -> Classifier:
    return StandIn(settings.stand_in_marker) if settings.engine == STAND_IN else Rekognition()


def moderator_processor(*, logger: Logger, metrics: Metrics) -> UploadProcessor:
    config = current_config()
    settings = parse(Settings, config.settings, service=config.processor)
    moderator = Moderator(classifier_for(settings))

    return upload_processor(moderator.process, Settings, logger=logger, metrics=metrics, on_upload=moderator.start)
