"""Builds notify's :class:`~.notifier.Notifier` from the function's configuration, on boto3."""

from __future__ import annotations

import logging
from dataclasses import asdict

from imgpipe.adapters import S3Storage, stack_secret
from imgpipe.catalog import DynamoCatalog
from imgpipe.config import Config
from imgpipe.needs import Need
from imgpipe.ports import MetricsSink
from imgpipe.settings import parse

from .adapters import EventBridgeCompletions, SnsSender, s3_head_reader, s3_links
from .notifier import Notifier
from .settings import Settings


def from_config(config: Config, metrics: MetricsSink) -> Notifier:
    """The boto3-backed notifier for a deployed (or locally emulated) notify function."""
    settings = parse(Settings, config.settings, service=config.processor)
    s3 = S3Storage()
    return Notifier(
        catalog=DynamoCatalog(config.resource(Need.CATALOG), ttl_days=settings.catalog_ttl_days),
        sender=SnsSender(config.resource(Need.NOTIFICATION_TOPIC)),
        link=s3_links(settings.link_expiry_s, bucket=config.variants_bucket),
        expected_spec=config.resource(Need.EXPECTED_PRODUCERS),
        uploads_bucket=config.uploads_bucket,
        variants_bucket=config.variants_bucket,
        uploads=s3,
        variants=s3,
        # with the stack's event key, events are believed by their signature (no HEAD per variant)
        event_key=stack_secret(key_arn) if (key_arn := config.resources.get(Need.EVENT_KEY)) else None,
        read_head=s3_head_reader(),
        announcer=EventBridgeCompletions(config.event_bus),
        releaser=s3 if config.outputs_gated else None,
        # the front door's CDN, when the stack has one (an optional need: absent, S3 presigned links)
        delivery_url=config.resources.get(Need.DELIVERY_URL, ""),
        settings=asdict(settings),
        metrics=metrics,
        # Powertools' Logger is the standard logger named after the service: same handler, same format
        log=logging.getLogger(config.processor),
    )
