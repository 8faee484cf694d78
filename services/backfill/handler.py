"""backfill's item Lambda (see __init__.py): a batch from the Distributed Map, or
``{"action": "summarize"}`` once the map is over."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.config import Config

from imgpipe.adapters import stack_secret
from imgpipe.backfill import (
    ENV_CATALOG_TABLE,
    ENV_EVENT_BUS,
    ENV_EVENT_KEY_ARN,
    ENV_KEY_PREFIXES,
    ENV_UPLOADS_BUCKET,
    ENV_VARIANTS_BUCKET,
    DeliveryFailed,
    EventBusTransport,
    Selection,
    catalog_acknowledged,
    narrowed_routes,
    routes_from_list,
    run_batch,
    s3_head,
)

from .adapters import summarize

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32)
#: how long a batch waits for notify to record its uploads before it counts them failed (the map
#: then retries the batch); within the function's timeout, with the batch's pacing
ACK_TIMEOUT_S = 60


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("action") == "summarize":
        return summarize(event, boto3.client("s3", config=_CONFIG), os.environ[ENV_VARIANTS_BUCKET])
    batch = event["BatchInput"]
    # The run names the routes (the stack's services and their key filters); the deployment's
    # key prefixes narrow them here as they narrow the rules.
    routes = narrowed_routes(routes_from_list(batch["routes"]), json.loads(os.environ.get(ENV_KEY_PREFIXES) or "[]"))
    bucket = os.environ[ENV_UPLOADS_BUCKET]
    selection = Selection.from_dict(batch["selection"])
    acknowledged = catalog_acknowledged(boto3.client("dynamodb", config=_CONFIG), os.environ[ENV_CATALOG_TABLE])
    key_arn = os.environ.get(ENV_EVENT_KEY_ARN)
    transport = EventBusTransport(
        boto3.client("events", config=_CONFIG),
        os.environ[ENV_EVENT_BUS],
        acknowledged,
        # signed as the producers' events are: notify believes it by its signature
        key=stack_secret(key_arn) if key_arn else None,
        wait_timeout_s=ACK_TIMEOUT_S,
    )
    head = s3_head(boto3.client("s3", config=_CONFIG), bucket)
    result = run_batch(event["Items"], selection, routes, bucket, transport, head=head)
    if result.failed:
        # The map retries the batch, then counts it against the tolerated failure percentage.
        keys = ", ".join(f["key"] for f in result.failed[:5])
        raise DeliveryFailed(f"{len(result.failed)} object(s) not delivered ({keys}): {result.failed[0]['error']}")
    return result.as_dict()
