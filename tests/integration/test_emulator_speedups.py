"""The local stack's speed-ups of moto (imgpipe_tools.local.emulator.speed_up_moto) keep moto's
answers the same.

speed_up_moto patches moto for the whole process and for good, so this module applies it and
never compares with an unpatched moto here: every expected answer is computed in Python from
the items and events the test itself put (what DynamoDB and EventBridge are documented to do).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from moto import mock_aws

from imgpipe_tools.local import emulator

REGION = "us-east-1"
PARTITIONS = [f"user#{i}" for i in range(5)]
PER_PARTITION = 12


@pytest.fixture(scope="module", autouse=True)
def sped_up() -> None:
    emulator.speed_up_moto()


def make_items() -> list[dict[str, Any]]:
    """Several partitions, interleaved; some items outside the GSI (no ``owner``)."""
    items = []
    for n in range(PER_PARTITION):
        for p, pk in enumerate(PARTITIONS):
            item: dict[str, Any] = {
                "pk": pk,
                "sk": f"{'img' if n % 3 else 'doc'}#{n:03d}",
                "size": Decimal((n * 7 + p * 3) % 50),
                "tag": "odd" if n % 2 else "even",
            }
            if n % 4 != 3:
                item["owner"] = f"owner#{(n + p) % 3}"
                item["created"] = Decimal(1000 + p * 100 + n)  # unique: the GSI's order is total
            items.append(item)
    return items


ITEMS = make_items()


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        t = dynamodb.create_table(
            TableName="speedups",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "owner", "AttributeType": "S"},
                {"AttributeName": "created", "AttributeType": "N"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_owner",
                    "KeySchema": [
                        {"AttributeName": "owner", "KeyType": "HASH"},
                        {"AttributeName": "created", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        with t.batch_writer() as batch:
            for item in ITEMS:
                batch.put_item(Item=item)
        yield t


def query_all(table: Any, page_size: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a query; with ``page_size``, each page holds at most that many items."""
    items: list[dict[str, Any]] = []
    if page_size:
        kwargs["Limit"] = page_size
    while True:
        page = table.query(**kwargs)
        if page_size:
            assert len(page["Items"]) <= page_size
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def partition(pk: str, reverse: bool = False) -> list[dict[str, Any]]:
    return sorted((i for i in ITEMS if i["pk"] == pk), key=lambda i: i["sk"], reverse=reverse)


def by_owner(owner: str, reverse: bool = False) -> list[dict[str, Any]]:
    return sorted((i for i in ITEMS if i.get("owner") == owner), key=lambda i: i["created"], reverse=reverse)


@pytest.mark.parametrize("pk", PARTITIONS)
def test_a_query_on_the_hash_key_returns_its_partition_in_order(table: Any, pk: str) -> None:
    assert query_all(table, KeyConditionExpression=Key("pk").eq(pk)) == partition(pk)
    assert query_all(table, KeyConditionExpression=Key("pk").eq(pk), ScanIndexForward=False) == partition(pk, True)
    count = table.query(KeyConditionExpression=Key("pk").eq(pk), Select="COUNT")
    assert count["Count"] == count["ScannedCount"] == PER_PARTITION


def test_a_query_on_a_partition_that_does_not_exist_is_empty(table: Any) -> None:
    page = table.query(KeyConditionExpression=Key("pk").eq("user#none"))
    assert page["Items"] == [] and page["Count"] == 0 and "LastEvaluatedKey" not in page


def test_range_conditions(table: Any) -> None:
    pk = PARTITIONS[2]
    begins = query_all(table, KeyConditionExpression=Key("pk").eq(pk) & Key("sk").begins_with("img#"))
    assert begins == [i for i in partition(pk) if i["sk"].startswith("img#")]
    between = query_all(table, KeyConditionExpression=Key("pk").eq(pk) & Key("sk").between("doc#003", "img#008"))
    assert between == [i for i in partition(pk) if "doc#003" <= i["sk"] <= "img#008"]
    below = query_all(table, KeyConditionExpression=Key("pk").eq(pk) & Key("sk").lt("img#"), ScanIndexForward=False)
    assert below == [i for i in partition(pk, True) if i["sk"] < "img#"]
    assert begins and between and below


@pytest.mark.parametrize("forward", [True, False])
@pytest.mark.parametrize("page_size", [1, 3, 5])
def test_pages_follow_each_other(table: Any, forward: bool, page_size: int) -> None:
    pk = PARTITIONS[1]
    got = query_all(table, page_size, KeyConditionExpression=Key("pk").eq(pk), ScanIndexForward=forward)
    assert got == partition(pk, not forward)
    pages = table.query(KeyConditionExpression=Key("pk").eq(pk), ScanIndexForward=forward, Limit=page_size)
    assert pages["LastEvaluatedKey"] == {"pk": pk, "sk": partition(pk, not forward)[page_size - 1]["sk"]}
    ranged = query_all(
        table,
        page_size,
        KeyConditionExpression=Key("pk").eq(pk) & Key("sk").begins_with("img#"),
        ScanIndexForward=forward,
    )
    assert ranged == [i for i in partition(pk, not forward) if i["sk"].startswith("img#")]


def test_filter_expressions_apply_after_the_key(table: Any) -> None:
    pk = PARTITIONS[3]
    got = query_all(table, KeyConditionExpression=Key("pk").eq(pk), FilterExpression=Attr("size").gt(20))
    assert got == [i for i in partition(pk) if i["size"] > 20]
    both = query_all(
        table,
        KeyConditionExpression=Key("pk").eq(pk) & Key("sk").begins_with("img#"),
        FilterExpression=Attr("tag").eq("odd") & Attr("owner").exists(),
    )
    assert both == [i for i in partition(pk) if i["sk"].startswith("img#") and i["tag"] == "odd" and "owner" in i]
    # Limit counts the items read, before the filter: the pages still add up to the answer
    paged = query_all(table, 4, KeyConditionExpression=Key("pk").eq(pk), FilterExpression=Attr("size").gt(20))
    assert paged == got
    assert got and both


def test_a_projection_keeps_the_partition(table: Any) -> None:
    pk = PARTITIONS[4]
    got = query_all(table, KeyConditionExpression=Key("pk").eq(pk), ProjectionExpression="sk, tag")
    assert got == [{"sk": i["sk"], "tag": i["tag"]} for i in partition(pk)]


@pytest.mark.parametrize("owner", ["owner#0", "owner#1", "owner#2"])
def test_index_queries_span_every_partition(table: Any, owner: str) -> None:
    expected = by_owner(owner)
    assert len({i["pk"] for i in expected}) > 1
    assert query_all(table, IndexName="by_owner", KeyConditionExpression=Key("owner").eq(owner)) == expected
    assert query_all(
        table, IndexName="by_owner", KeyConditionExpression=Key("owner").eq(owner), ScanIndexForward=False
    ) == by_owner(owner, True)
    ranged = query_all(
        table,
        2,
        IndexName="by_owner",
        KeyConditionExpression=Key("owner").eq(owner) & Key("created").between(1100, 1305),
    )
    assert ranged == [i for i in expected if 1100 <= i["created"] <= 1305]
    filtered = query_all(
        table,
        3,
        IndexName="by_owner",
        KeyConditionExpression=Key("owner").eq(owner),
        FilterExpression=Attr("tag").eq("even"),
    )
    assert filtered == [i for i in expected if i["tag"] == "even"]


def test_writes_are_seen_by_the_next_query(table: Any) -> None:
    pk = PARTITIONS[0]
    table.put_item(Item={"pk": pk, "sk": "aaa#new", "size": Decimal(1), "tag": "even"})
    table.delete_item(Key={"pk": pk, "sk": partition(pk)[-1]["sk"]})
    table.put_item(Item={"pk": "user#fresh", "sk": "x", "size": Decimal(2), "tag": "odd"})
    expected = [{"pk": pk, "sk": "aaa#new", "size": Decimal(1), "tag": "even"}, *partition(pk)[:-1]]
    assert query_all(table, KeyConditionExpression=Key("pk").eq(pk)) == expected
    assert query_all(table, KeyConditionExpression=Key("pk").eq("user#fresh")) == [
        {"pk": "user#fresh", "sk": "x", "size": Decimal(2), "tag": "odd"}
    ]
    # a scan (no partition) still sees every item of the table
    scanned = table.scan()["Items"]
    assert len(scanned) == len(ITEMS) + 1


def test_queries_from_many_threads_see_their_own_partition(table: Any) -> None:
    errors: list[BaseException] = []

    def run(pk: str) -> None:
        try:
            for _ in range(5):
                assert query_all(table, KeyConditionExpression=Key("pk").eq(pk)) == partition(pk)
                owner = "owner#1"
                assert query_all(table, IndexName="by_owner", KeyConditionExpression=Key("owner").eq(owner)) == (
                    by_owner(owner)
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(pk,)) for pk in PARTITIONS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


def test_a_table_with_a_hash_key_only() -> None:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        t = dynamodb.create_table(
            TableName="hash-only",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(10):
            t.put_item(Item={"id": Decimal(n), "v": f"value {n}"})
        assert t.query(KeyConditionExpression=Key("id").eq(4))["Items"] == [{"id": Decimal(4), "v": "value 4"}]
        # a number is the same key however it is written
        assert t.query(KeyConditionExpression=Key("id").eq(Decimal("4.0")))["Items"] == [
            {"id": Decimal(4), "v": "value 4"}
        ]
        assert t.query(KeyConditionExpression=Key("id").eq(42))["Items"] == []


# -- EventBridge --------------------------------------------------------------------
EVENTS = [
    {"Source": "imgpipe.test", "DetailType": "Variant Created", "Detail": {"key": f"photos/{n}.jpg", "n": n}}
    for n in range(4)
] + [{"Source": "imgpipe.test", "DetailType": "Image Rejected", "Detail": {"key": "photos/x.gif", "reason": "big"}}]


@pytest.fixture
def events_to_sqs() -> Iterator[tuple[Any, Any, dict[str, str]]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        urls = {}
        for name in ("plain", "transformed"):
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            urls[name] = url
            events.put_rule(Name=name, EventPattern=json.dumps({"source": ["imgpipe.test"]}))
            target: dict[str, Any] = {"Id": "1", "Arn": arn}
            if name == "transformed":
                target["InputTransformer"] = {
                    "InputPathsMap": {"key": "$.detail.key", "kind": "$.detail-type", "source": "$.source"},
                    "InputTemplate": '{"object": "<key>", "kind": "<kind>", "from": "<source>", "fixed": 1}',
                }
            events.put_targets(Rule=name, Targets=[target])
        yield sqs, events, urls


def drain(sqs: Any, url: str, expected: int) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    for _ in range(20):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        bodies += [json.loads(m["Body"]) for m in messages]
        if len(bodies) >= expected and not messages:
            break
    return bodies


def test_events_reach_an_sqs_target_whole(events_to_sqs: tuple[Any, Any, dict[str, str]]) -> None:
    sqs, events, urls = events_to_sqs
    for e in EVENTS:  # one at a time, and again in one batch: the cached parsers serve both
        events.put_events(Entries=[{**e, "Detail": json.dumps(e["Detail"])}])
    events.put_events(Entries=[{**e, "Detail": json.dumps(e["Detail"])} for e in EVENTS])
    bodies = drain(sqs, urls["plain"], 2 * len(EVENTS))
    assert len(bodies) == 2 * len(EVENTS)
    for b in bodies:
        assert b["id"] and b["time"]
    stripped = sorted(
        ({k: v for k, v in b.items() if k not in ("id", "time")} for b in bodies), key=lambda b: json.dumps(b)
    )
    expected = sorted(
        (
            {
                "version": "0",
                "detail-type": e["DetailType"],
                "source": e["Source"],
                "region": REGION,
                "resources": [],
                "detail": e["Detail"],
            }
            for e in EVENTS * 2
        ),
        key=lambda b: json.dumps(b),
    )
    assert stripped == expected
    assert len({b["id"] for b in bodies}) == len(bodies)


def test_events_reach_an_sqs_target_through_an_input_transformer(
    events_to_sqs: tuple[Any, Any, dict[str, str]],
) -> None:
    sqs, events, urls = events_to_sqs
    for e in EVENTS:
        events.put_events(Entries=[{**e, "Detail": json.dumps(e["Detail"])}])
    bodies = drain(sqs, urls["transformed"], len(EVENTS))
    expected = [
        {"object": e["Detail"]["key"], "kind": e["DetailType"], "from": e["Source"], "fixed": 1} for e in EVENTS
    ]
    key = json.dumps
    assert sorted(bodies, key=key) == sorted(expected, key=key)


def test_speed_up_moto_is_idempotent() -> None:
    import jsonpath_ng.ext
    from moto import backends
    from moto.dynamodb.models.table import Table

    emulator.speed_up_moto()
    patched = (Table.query, Table.all_items, jsonpath_ng.ext.parse, backends.list_of_moto_modules)
    emulator.speed_up_moto()
    emulator.speed_up_moto()
    # nothing wrapped twice: the same functions as after the first application
    assert (Table.query, Table.all_items, jsonpath_ng.ext.parse, backends.list_of_moto_modules) == patched
    assert jsonpath_ng.ext.parse("$.detail.key") is jsonpath_ng.ext.parse("$.detail.key")
    modules = list(backends.list_of_moto_modules())
    assert modules == list(backends.list_of_moto_modules())
    assert {"dynamodb", "events", "s3", "sqs"} <= set(modules)
    assert modules == sorted(modules) and not any(m.startswith("__") for m in modules)


# -- items written as moto holds them ---------------------------------------------------
EVERY_TYPE = {
    "pk": "user#types",
    "sk": "all",
    "s": 'text with "quotes", unicode é and a newline\n',
    "n": Decimal("-12.50"),
    "big": Decimal("123456789012345678901234567890"),
    "yes": True,
    "nothing": None,
    "ss": {"a", "b"},
    "ns": {Decimal(1), Decimal("2.5")},
    "bin": b"\x00\xffbytes",
    "bs": {b"\x01", b"\x02"},
    "l": ["x", Decimal(3), {"m": [True, None]}],
    "m": {"nested": {"deeper": ["list", Decimal(0)]}, "empty": {}},
}


@pytest.mark.parametrize("with_binary", [True, False])
def test_items_of_every_type_come_back_whole(table: Any, with_binary: bool) -> None:
    item = dict(EVERY_TYPE) if with_binary else {k: v for k, v in EVERY_TYPE.items() if k not in ("bin", "bs")}
    key = {"pk": item["pk"], "sk": item["sk"]}
    assert table.put_item(Item=item, ReturnValues="ALL_OLD").get("Attributes") is None
    assert table.get_item(Key=key)["Item"] == item
    assert table.get_item(Key=key, ProjectionExpression="s, l")["Item"] == {"s": item["s"], "l": item["l"]}
    assert query_all(table, KeyConditionExpression=Key("pk").eq(item["pk"])) == [item]
    assert [i for i in table.scan()["Items"] if i["pk"] == item["pk"]] == [item]
    got = table.meta.client.batch_get_item(RequestItems={"speedups": {"Keys": [key]}})
    assert got["Responses"]["speedups"] == [item] and got["UnprocessedKeys"] == {}
    new = table.update_item(
        Key=key, UpdateExpression="SET n = :n REMOVE m", ExpressionAttributeValues={":n": 7}, ReturnValues="ALL_NEW"
    )["Attributes"]
    updated = {**{k: v for k, v in item.items() if k != "m"}, "n": Decimal(7)}
    assert new == updated
    old = table.update_item(
        Key=key, UpdateExpression="SET s = :s", ExpressionAttributeValues={":s": "x"}, ReturnValues="UPDATED_OLD"
    )["Attributes"]
    assert old == {"s": item["s"]}
    page = table.query(KeyConditionExpression=Key("pk").eq(PARTITIONS[0]), Limit=2, Select="ALL_ATTRIBUTES")
    assert page["Count"] == page["ScannedCount"] == 2 and page["Items"] == partition(PARTITIONS[0])[:2]
    assert table.delete_item(Key=key, ReturnValues="ALL_OLD")["Attributes"] == {**updated, "s": "x"}
    assert "Item" not in table.get_item(Key=key)


def test_a_failed_condition_returns_the_item_as_it_is(table: Any) -> None:
    from botocore.exceptions import ClientError

    first = ITEMS[0]
    key = {"pk": first["pk"], "sk": first["sk"]}
    with pytest.raises(ClientError) as failed:
        table.update_item(
            Key=key,
            UpdateExpression="SET tag = :t",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues={":t": "new"},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert table.meta.client.meta.config  # the client still works after the error
    assert table.get_item(Key=key)["Item"] == first


@pytest.mark.parametrize(
    ("expression", "section"),
    [
        ("SET a = :v SET b = :v", "SET"),
        ("REMOVE a REMOVE b", "REMOVE"),
        ("ADD n :one ADD m :one", "ADD"),
        ("SET a = :v REMOVE b SET c = :v", "SET"),
    ],
)
def test_an_update_with_a_section_twice_is_refused(table: Any, expression: str, section: str) -> None:
    from botocore.exceptions import ClientError

    values = {k: v for k, v in {":v": "x", ":one": 1}.items() if k in expression}
    with pytest.raises(ClientError) as refused:
        table.update_item(
            Key={"pk": "user#0", "sk": "doc#000"},
            UpdateExpression=expression,
            **({"ExpressionAttributeValues": values} if values else {}),
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert f'The "{section}" section can only be used once' in refused.value.response["Error"]["Message"]


def test_an_update_with_every_section_once_applies(table: Any) -> None:
    key = {"pk": "user#0", "sk": "doc#000"}
    table.put_item(Item={**key, "gone": "x", "count": Decimal(1), "tags": {"a", "b"}})
    new = table.update_item(
        Key=key,
        UpdateExpression="SET #l = list_append(if_not_exists(#l, :empty), :one), s = :s REMOVE gone "
        "ADD #c :inc DELETE tags :a",
        ExpressionAttributeNames={"#l": "list", "#c": "count"},
        ExpressionAttributeValues={":empty": [], ":one": ["x"], ":s": "v", ":inc": 2, ":a": {"a"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert new == {**key, "list": ["x"], "s": "v", "count": Decimal(3), "tags": {"b"}}


# -- SQS ----------------------------------------------------------------------------------
def test_a_message_is_received_within_its_retention_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sqs import models

    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="retained", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        for body in ("old", "fresh"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        now = models.unix_time()
        monkeypatch.setattr(models, "unix_time", lambda: now + 59)
        first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0)["Messages"]
        assert [m["Body"] for m in first] == ["old"]
        handle = first[0]["ReceiptHandle"]
        assert len(handle) == 185 and handle.isascii() and handle.isalpha() and handle.islower()
        again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0)["Messages"]
        assert again[0]["ReceiptHandle"] != handle  # a new handle per receive
        monkeypatch.setattr(models, "unix_time", lambda: now + 61)
        assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []


def test_one_update_text_serves_every_item_with_its_own_values(table: Any) -> None:
    from botocore.exceptions import ClientError

    text = "SET #v = :v, earliest = if_not_exists(earliest, :v) ADD n :one REMOVE tag"
    for round_ in range(3):
        for n in range(4):
            key = {"pk": "user#same-text", "sk": f"item#{n}"}
            table.update_item(
                Key=key,
                UpdateExpression=text,
                ExpressionAttributeNames={"#v": "value"},
                ExpressionAttributeValues={":v": f"{n}-{round_}", ":one": 1},
            )
    other = "SET #v = :v"  # another text right after: not the cached tree of the first
    table.update_item(
        Key={"pk": "user#same-text", "sk": "item#0"},
        UpdateExpression=other,
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":v": "other"},
    )
    got = query_all(table, KeyConditionExpression=Key("pk").eq("user#same-text"))
    assert got == [
        {"pk": "user#same-text", "sk": f"item#{n}", "value": "other" if n == 0 else f"{n}-2", "earliest": f"{n}-0"}
        | {"n": Decimal(3)}
        for n in range(4)
    ]
    for _ in range(2):  # a text that does not parse is refused every time, not remembered as parsed
        with pytest.raises(ClientError) as refused:
            table.update_item(Key={"pk": "user#same-text", "sk": "item#0"}, UpdateExpression="SET = broken")
        assert refused.value.response["Error"]["Code"] == "ValidationException"


# -- S3 as S3 answers -------------------------------------------------------------------------
def test_a_part_with_an_empty_etag_is_an_invalid_part() -> None:
    from botocore.exceptions import ClientError

    emulator.refuse_empty_part_etags_like_s3()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="parts")
        upload = s3.create_multipart_upload(Bucket="parts", Key="k")["UploadId"]
        etag = s3.upload_part(Bucket="parts", Key="k", UploadId=upload, PartNumber=1, Body=b"x")["ETag"]
        with pytest.raises(ClientError) as refused:
            s3.complete_multipart_upload(
                Bucket="parts", Key="k", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": ""}]}
            )
        assert refused.value.response["Error"]["Code"] == "InvalidPart"
        parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
        s3.complete_multipart_upload(Bucket="parts", Key="k", UploadId=upload, MultipartUpload=parts)
        assert s3.get_object(Bucket="parts", Key="k")["Body"].read() == b"x"
