"""The near-duplicate index on DynamoDB: entries in the catalog table, in partitions of their own.

One item per upload per band: partition key ``phash#<distance>#<scope>#<band>#<value>`` (no
round's key starts with ``phash#``: those are ``s3://...``), sort key the upload key. A lookup is
one Query per band and indexing one UpdateItem per band, each wave sent at once from a few
threads: DynamoDB bills the units whatever the order, but the function waits, and is billed, for
round trips, two instead of fourteen. (BatchWriteItem would make the writes one request, billed
the same units, but it cannot keep an entry's first time with ``if_not_exists``, and the catalog
need grants no batch writes.) The items carry no ``owner``, so the owner index never sees them,
and they expire like the rounds (``expires_at``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from imgpipe.catalog.dynamo import DynamoTable
from imgpipe.catalog.schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

from .duplicates import Entry

PARTITION_PREFIX = "phash#"
SECONDS_PER_DAY = 86400
#: requests in flight at once: every band of the default distance (6) in one wave
MAX_CONCURRENT_REQUESTS = 8
T = TypeVar("T")
R = TypeVar("R")


def partition(scope: str, distance: int, band: tuple[int, int]) -> str:
    return f"{PARTITION_PREFIX}{distance}#{scope}#{band[0]}#{band[1]:x}"


class DynamoIndex(DynamoTable):
    def __init__(self, table: str, *, ttl_days: int, dynamodb: Any | None = None) -> None:
        super().__init__(table, dynamodb)
        self.ttl_s = ttl_days * SECONDS_PER_DAY

    def _query(self, key: str) -> list[Entry]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": PARTITION_KEY},
            ExpressionAttributeValues={":pk": self._av(key)},
        )
        items = [self._plain(item) for page in pages for item in page.get("Items", [])]
        return [Entry(str(i[SORT_KEY]), int(str(i["phash"]), 16), str(i["at"])) for i in items]

    def entries(self, scope: str, distance: int, groups: Sequence[tuple[int, int]]) -> list[list[Entry]]:
        return self._concurrently(self._query, [partition(scope, distance, band) for band in groups])

    def add(self, scope: str, distance: int, groups: Sequence[tuple[int, int]], entry: Entry) -> None:
        expires = int(time.time()) + self.ttl_s
        self._concurrently(lambda band: self._put(partition(scope, distance, band), entry, expires), groups)

    def _put(self, key: str, entry: Entry, expires: int) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={PARTITION_KEY: self._av(key), SORT_KEY: self._av(entry.key)},
            UpdateExpression="SET #ph = :ph, #at = if_not_exists(#at, :at), #ttl = :ttl",
            ExpressionAttributeNames={"#ph": "phash", "#at": "at", "#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues={
                ":ph": self._av(f"{entry.phash:016x}"),
                ":at": self._av(entry.at),
                ":ttl": self._av(expires),
            },
        )

    @staticmethod
    def _concurrently(call: Callable[[T], R], args: Sequence[T]) -> list[R]:
        """``call`` on each of ``args`` from a few threads, results in order: the requests are
        independent, and waiting for them one after another is Lambda time, billed."""
        if len(args) <= 1:
            return [call(a) for a in args]
        with ThreadPoolExecutor(max_workers=min(len(args), MAX_CONCURRENT_REQUESTS)) as pool:
            return list(pool.map(call, args))
