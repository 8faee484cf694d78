"""DynamoDB writes one item atomically: a reader sees the item before an UpdateItem or after it,
never half-way. moto's UpdateItem of an absent item first stores the bare key, then applies the
update to it in place, so a GetItem from another thread of the moto server can find an item with
only its keys (the API answered 500 on such a round, ``KeyError: 'bucket'``, in a browser test), and
two UpdateItems of one new item can both create it. The local stack's emulator serves each item
operation whole (``imgpipe_tools/local/emulator.py``); this test reads while writing through the
emulator's HTTP server, as the stack's processes do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import boto3
import pytest

from imgpipe_tools.local.emulator import EmulatorServer, prepare_moto

ITEMS = 150
READERS = 3
ATTRIBUTES = {f"a{i}": {"S": "x" * 200} for i in range(40)}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    prepare_moto()
    server = EmulatorServer()
    try:
        yield server.endpoint
    finally:
        server.stop()


def _client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_reader_never_sees_an_item_half_written(endpoint: str) -> None:
    ddb = _client(endpoint)
    ddb.create_table(
        TableName="atomic",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        BillingMode="PAY_PER_REQUEST",
    )
    names = {f"#{k}": k for k in ATTRIBUTES}
    values = {f":{k}": v for k, v in ATTRIBUTES.items()}
    expression = "SET " + ", ".join(f"#{k} = if_not_exists(#{k}, :{k})" for k in ATTRIBUTES)
    written = threading.Event()
    half: list[dict] = []

    def write() -> None:
        client = _client(endpoint)
        for i in range(ITEMS):
            client.update_item(
                TableName="atomic",
                Key={"pk": {"S": f"p{i}"}, "sk": {"S": "s"}},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        written.set()

    def read() -> None:
        client = _client(endpoint)
        i = 0
        while not written.is_set():
            item = client.get_item(TableName="atomic", Key={"pk": {"S": f"p{i}"}, "sk": {"S": "s"}}).get("Item")
            if item is None:
                continue  # not written yet: ask again
            if set(item) != {"pk", "sk", *ATTRIBUTES}:
                half.append(item)
            i = min(i + 1, ITEMS - 1)

    threads = [threading.Thread(target=write), *(threading.Thread(target=read) for _ in range(READERS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not half, f"{len(half)} reads found an item with only some of its attributes, e.g. {sorted(half[0])}"
