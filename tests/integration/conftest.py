"""Fixtures the integration tests share."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from imgpipe.catalog import DynamoCatalog
from imgpipe.catalog.schema import create_table
from imgpipe_tools.testing.memory_catalog import MemoryCatalog


@pytest.fixture(params=["dynamodb", "memory"])
def catalog(request: pytest.FixtureRequest) -> Iterator[DynamoCatalog | MemoryCatalog]:
    """The catalog on DynamoDB (moto) and in memory: the same test holds both to one behaviour."""
    if request.param == "memory":
        yield MemoryCatalog()
        return
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb, "catalog")
        yield DynamoCatalog("catalog", dynamodb=dynamodb)
