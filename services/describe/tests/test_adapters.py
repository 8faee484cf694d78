"""The DynamoDB index on moto, in a catalog table made as the stack makes it."""

from __future__ import annotations

import threading

import boto3
from moto import mock_aws

from imgpipe.catalog import DynamoCatalog
from imgpipe.catalog.schema import create_table

from ..adapters import DynamoIndex
from ..duplicates import bands, check_and_remember, find_duplicate


@mock_aws
def test_index_round_trip_on_the_catalog_table() -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_table(dynamodb, "catalog")
    index = DynamoIndex("catalog", ttl_days=90, dynamodb=dynamodb)
    base = 0xF0F0_1234_5678_9ABC
    check_and_remember(index, "photos/a.jpg", base, 6, "2026-01-01T00:00:00+00:00")
    check_and_remember(index, "photos/a.jpg", base, 6, "2026-02-01T00:00:00+00:00")  # a replay keeps the first time
    [entries] = index.entries("photos/", 6, bands(base, 6)[:1])
    assert [(e.key, e.phash, e.at) for e in entries] == [("photos/a.jpg", base, "2026-01-01T00:00:00+00:00")]
    match = find_duplicate(index, "photos/b.jpg", base ^ 0b11, 6)
    assert match is not None and (match.key, match.distance) == ("photos/a.jpg", 2)
    assert find_duplicate(index, "other/b.jpg", base, 6) is None
    # the index's items are not rounds: the catalog's reads of a key never see them
    assert DynamoCatalog("catalog", dynamodb=dynamodb).rounds("uploads", "photos/a.jpg") == []
    item = dynamodb.scan(TableName="catalog")["Items"][0]
    assert "expires_at" in item and "owner" not in item


@mock_aws
def test_an_upload_costs_one_query_and_one_write_per_band_whatever_the_distance() -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_table(dynamodb, "catalog")
    calls: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    index = DynamoIndex("catalog", ttl_days=90, dynamodb=dynamodb)
    for distance in (0, 6, 15):
        calls.clear()
        assert check_and_remember(index, f"photos/{distance}.jpg", 0xF0F0_1234_5678_9ABC, distance, "t") is None
        assert sorted(calls) == ["Query"] * (distance + 1) + ["UpdateItem"] * (distance + 1)
    items = dynamodb.scan(TableName="catalog")["Items"]
    assert len(items) == 1 + 7 + 16 and all(i["at"] == {"S": "t"} and "expires_at" in i for i in items)


def test_the_band_requests_are_in_flight_together() -> None:
    """Each of the 7 Queries, then each of the 7 writes, waits at a barrier that opens only when all
    7 have arrived: sent one after another, the first would time out."""
    barrier = threading.Barrier(7, timeout=10)

    class Together:
        def get_paginator(self, _name: str) -> Together:
            return self

        def paginate(self, **_kwargs: object) -> list[dict]:
            barrier.wait()
            return [{"Items": []}]

        def update_item(self, **_kwargs: object) -> dict:
            barrier.wait()
            return {}

    index = DynamoIndex("catalog", ttl_days=1, dynamodb=Together())
    assert check_and_remember(index, "photos/a.jpg", 0xF0F0_1234_5678_9ABC, 6, "t") is None
