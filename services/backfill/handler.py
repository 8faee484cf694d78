"""backfill's item Lambda (see __init__.py): a batch from the Distributed Map, or
``{"action": "summarize"}`` once the map is over."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

from imgpipe.backfill import (
    ENV_ROUTES,
    ENV_UPLOADS_BUCKET,
    ENV_VARIANTS_BUCKET,
    DeliveryFailed,
    Selection,
    parse_routes,
    run_batch,
    s3_head,
)

from .adapters import LambdaTransport, summarize

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("action") == "summarize":
        return summarize(event, boto3.client("s3", config=_CONFIG), os.environ[ENV_VARIANTS_BUCKET])
    routes, targets = parse_routes(os.environ[ENV_ROUTES])
    bucket = os.environ[ENV_UPLOADS_BUCKET]
    selection = Selection.from_dict(event["BatchInput"]["selection"])
    transport = LambdaTransport(targets, boto3.client("lambda", config=_CONFIG))
    head = s3_head(boto3.client("s3", config=_CONFIG), bucket)
    result = run_batch(event["Items"], selection, routes, bucket, transport, head=head)
    if result.failed:
        # The map retries the batch, then counts it against the tolerated failure percentage.
        keys = ", ".join(f["key"] for f in result.failed[:5])
        raise DeliveryFailed(f"{len(result.failed)} object(s) not delivered ({keys}): {result.failed[0]['error']}")
    return result.as_dict()
