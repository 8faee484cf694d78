"""The DynamoDB index on moto, in a catalog table made as the stack makes it."""

from __future__ import annotations

import boto3
from moto import mock_aws

from imgpipe.catalog import DynamoCatalog
from imgpipe.catalog.schema import create_table

from ..adapters import DynamoIndex
from ..duplicates import bands, find_duplicate, remember


@mock_aws
def test_index_round_trip_on_the_catalog_table() -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_table(dynamodb, "catalog")
    index = DynamoIndex("catalog", ttl_days=90, dynamodb=dynamodb)
    base = 0xF0F0_1234_5678_9ABC
    remember(index, "photos/a.jpg", base, 6, "2026-01-01T00:00:00+00:00")
    remember(index, "photos/a.jpg", base, 6, "2026-02-01T00:00:00+00:00")  # a replay keeps the first time
    entries = index.entries("photos/", 6, bands(base, 6)[0])
    assert [(e.key, e.phash, e.at) for e in entries] == [("photos/a.jpg", base, "2026-01-01T00:00:00+00:00")]
    match = find_duplicate(index, "photos/b.jpg", base ^ 0b11, 6)
    assert match is not None and (match.key, match.distance) == ("photos/a.jpg", 2)
    assert find_duplicate(index, "other/b.jpg", base, 6) is None
    # the index's items are not rounds: the catalog's reads of a key never see them
    assert DynamoCatalog("catalog", dynamodb=dynamodb).rounds("uploads", "photos/a.jpg") == []
    item = dynamodb.scan(TableName="catalog")["Items"][0]
    assert "expires_at" in item and "owner" not in item
