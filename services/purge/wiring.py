"""Builds the purge's :class:`~.purger.Purger` from the function's configuration, on boto3."""

from __future__ import annotations

from imgpipe.catalog import DynamoCatalog
from imgpipe.config import Config
from imgpipe.needs import Need
from imgpipe.ports import MetricsSink
from imgpipe.settings import parse
from imgpipe.variant_store import S3VariantStore

from .purger import Purger
from .settings import Settings


def from_config(config: Config, metrics: MetricsSink) -> Purger:
    settings = parse(Settings, config.settings, service=config.processor)
    return Purger(
        store=S3VariantStore(),
        catalog=DynamoCatalog(config.resource(Need.CATALOG)),
        uploads_bucket=config.uploads_bucket,
        variants_bucket=config.variants_bucket,
        batch_size=settings.delete_batch_size,
        metrics=metrics,
    )
