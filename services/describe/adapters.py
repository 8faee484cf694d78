"""The near-duplicate index on DynamoDB: entries in the catalog table, in partitions of their own.

One item per upload per band: partition key ``phash#<distance>#<scope>#<band>#<value>`` (no
round's key starts with ``phash#``: those are ``s3://...``), sort key the upload key. A lookup is
one Query per band. The items carry no ``owner``, so the owner index never sees them, and they
expire like the rounds (``expires_at``).
"""

from __future__ import annotations

import time
from typing import Any

from imgpipe.catalog.dynamo import DynamoTable
from imgpipe.catalog.schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

from .duplicates import Entry

PARTITION_PREFIX = "phash#"
SECONDS_PER_DAY = 86400


def partition(scope: str, distance: int, band: tuple[int, int]) -> str:
    return f"{PARTITION_PREFIX}{distance}#{scope}#{band[0]}#{band[1]:x}"


class DynamoIndex(DynamoTable):
    def __init__(self, table: str, *, ttl_days: int, dynamodb: Any | None = None) -> None:
        super().__init__(table, dynamodb)
        self.ttl_s = ttl_days * SECONDS_PER_DAY

    def entries(self, scope: str, distance: int, band: tuple[int, int]) -> list[Entry]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": PARTITION_KEY},
            ExpressionAttributeValues={":pk": self._av(partition(scope, distance, band))},
        )
        items = [self._plain(item) for page in pages for item in page.get("Items", [])]
        return [Entry(str(i[SORT_KEY]), int(str(i["phash"]), 16), str(i["at"])) for i in items]

    def add(self, scope: str, distance: int, band: tuple[int, int], entry: Entry) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={PARTITION_KEY: self._av(partition(scope, distance, band)), SORT_KEY: self._av(entry.key)},
            UpdateExpression="SET #ph = :ph, #at = if_not_exists(#at, :at), #ttl = :ttl",
            ExpressionAttributeNames={"#ph": "phash", "#at": "at", "#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues={
                ":ph": self._av(f"{entry.phash:016x}"),
                ":at": self._av(entry.at),
                ":ttl": self._av(int(time.time()) + self.ttl_s),
            },
        )
