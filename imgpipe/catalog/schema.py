"""The catalog table's schema, independent of the table's name: its key and TTL attributes.

Defined once here and used by the adapter (:mod:`imgpipe.catalog.dynamo`), by the CDK stack
(``infra/components/notification.py``), and by :func:`create_table` for the local stack and
the tests, so the deployed table and the emulated one cannot drift apart.
"""

from __future__ import annotations

import contextlib
from typing import Any

PARTITION_KEY = "pk"  # "s3://<bucket>/<key>": every round of one object
SORT_KEY = "sk"  # "etag#<etag>": one round per content version
TTL_ATTRIBUTE = "expires_at"  # epoch seconds; DynamoDB deletes the item some time after
# The owner index (the upload API's list route): only rounds of keys under users/<owner>/ carry
# ``owner``, so the index is sparse and holds nothing of console or CLI uploads.
OWNER_ATTRIBUTE = "owner"
OWNER_INDEX = "owner-index"
OWNER_SORT_KEY = "first_seen_at"  # ISO time of the round's first event: newest first when reversed
USERS_PREFIX = "users/"


def owner_of(key: str) -> str | None:
    """The user id of a key the upload API chose (``users/<owner>/<upload id>/<name>``), else None."""
    if not key.startswith(USERS_PREFIX):
        return None
    owner, _, rest = key[len(USERS_PREFIX) :].partition("/")
    return owner if owner and rest else None


def create_table(dynamodb: Any, name: str) -> None:
    """Create the catalog table as the stack does (string partition and sort keys, TTL), for
    the local stack and tests. Idempotent: a long-lived emulator may already have it, and
    enabling TTL twice is an error on AWS and LocalStack."""
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": SORT_KEY, "AttributeType": "S"},
                {"AttributeName": OWNER_ATTRIBUTE, "AttributeType": "S"},
                {"AttributeName": OWNER_SORT_KEY, "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": OWNER_INDEX,
                    "KeySchema": [
                        {"AttributeName": OWNER_ATTRIBUTE, "KeyType": "HASH"},
                        {"AttributeName": OWNER_SORT_KEY, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
