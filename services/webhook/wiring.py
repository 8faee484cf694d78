"""Builds webhook's :class:`~.deliverer.Deliverer` from the function's configuration."""

from __future__ import annotations

import logging

from imgpipe.config import Config
from imgpipe.needs import Need
from imgpipe.ports import MetricsSink
from imgpipe.settings import parse

from .adapters import http_post, secret_keys
from .deliverer import Deliverer
from .settings import Settings


def from_config(config: Config, metrics: MetricsSink) -> Deliverer:
    settings = parse(Settings, config.settings, service=config.processor)
    return Deliverer(
        url=settings.url,
        keys=secret_keys(config.resource(Need.WEBHOOK_SECRET), settings.secret_cache_s),
        post=http_post,
        uploads_bucket=config.uploads_bucket,
        timeout_s=settings.timeout_s,
        metrics=metrics,
        log=logging.getLogger(config.processor),
    )
