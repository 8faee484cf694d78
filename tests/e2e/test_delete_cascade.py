"""The delete cascade on the local stack (docs/purge.md): a photo is processed and emailed, then
deleted with boto3; the purge removes everything made from it and marks its catalog round
deleted. The same bytes uploaded again are a new upload with its own email."""

from __future__ import annotations

from imgpipe.catalog import DELETED, DynamoCatalog
from imgpipe_tools.local import LocalStack
from tests.e2e.conftest import PRODUCERS, SAMPLES

PHOTO = (SAMPLES / "coffee.jpg").read_bytes()
KEY = "photos/coffee.jpg"
NEIGHBOUR = "photos/coffee.jpg/inside.jpg"  # its variants live under the deleted key's prefixes
TIMEOUT = 60


def _made_from(stack: LocalStack, key: str) -> list[str]:
    """Every object of the variants bucket made from the upload ``key``."""
    s3 = stack.client("s3")
    keys = []
    for producer in PRODUCERS:
        prefix = f"{producer}/{key}/"
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.variants_bucket, Prefix=prefix)
        keys += [o["Key"] for page in pages for o in page.get("Contents", []) if "/" not in o["Key"][len(prefix) :]]
    return sorted(keys)


def test_a_deleted_photo_leaves_nothing_behind_and_can_come_back(local_stack: LocalStack) -> None:
    uploads = [local_stack.put(KEY, PHOTO), local_stack.put(NEIGHBOUR, PHOTO)]
    reports = local_stack.wait(uploads, timeout=TIMEOUT)
    assert [(r.status, r.emails) for r in reports] == [("completed", 1), ("completed", 1)], reports
    made = _made_from(local_stack, KEY)
    assert {k.split("/", 1)[0] for k in made} == set(PRODUCERS)
    neighbour = _made_from(local_stack, NEIGHBOUR)
    catalog = DynamoCatalog(local_stack.deployment.catalog_table, dynamodb=local_stack.client("dynamodb"))

    local_stack.client("s3").delete_object(Bucket=local_stack.uploads_bucket, Key=KEY)

    def purged() -> bool:
        latest = catalog.latest(local_stack.uploads_bucket, KEY)
        return _made_from(local_stack, KEY) == [] and latest is not None and latest["status"] == DELETED

    assert local_stack.wait_until(purged, timeout=TIMEOUT), (
        _made_from(local_stack, KEY),
        catalog.latest(local_stack.uploads_bucket, KEY),
    )
    assert _made_from(local_stack, NEIGHBOUR) == neighbour
    assert catalog.latest(local_stack.uploads_bucket, NEIGHBOUR)["status"] == "completed"
    assert len(local_stack.emails) == 2  # the deletion sent nothing
    assert local_stack.dlq_depths() == {m.name: 0 for m in local_stack.manifests}

    # the same bytes again: processed again, and told again
    [again] = local_stack.wait([local_stack.put(KEY, PHOTO)], timeout=TIMEOUT)
    assert (again.status, again.emails) == ("completed", 1), again
    assert _made_from(local_stack, KEY) == made
    assert catalog.latest(local_stack.uploads_bucket, KEY)["status"] == "completed"
    assert len(local_stack.emails) == 3
