"""The purge's pure logic and its purger on in-memory fakes: what a deletion means, which keys
go, in batches, idempotently, and what the catalog says afterwards."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from imgpipe.catalog import DELETED, PROCESSING, RoundRef, UploadFacts
from imgpipe.events import EventError, Upload, VariantInfo, VariantsCreated
from imgpipe.keys import DONE_RECORD, variant_key, variant_prefix
from imgpipe.transforms import STORED_PREFIX
from imgpipe.variant_store import batches, made_from, variant_prefixes
from imgpipe_tools.testing.fakes import FakeStorage
from imgpipe_tools.testing.memory_catalog import MemoryCatalog

from ..logic import (
    DELETE_MARKER_CREATED,
    IGNORE,
    MARK_VERSION,
    PERMANENTLY_DELETED,
    PURGE,
    parse_deletion,
    plan,
)
from ..purger import Purger

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "events" / "purge"
UPLOADS, VARIANTS = "imgpipe-uploads", "imgpipe-variants"
NOW = datetime(2026, 11, 23, 9, 15, 5, tzinfo=UTC)
V1 = "Zr2bq0uAGWr4TzjLZ3hQ1jDd9m.kXw7s"  # the version in the fixtures' Object Created
V0 = "older0uAGWr4TzjLZ3hQ1jDd9m.kXw7s"


def deletion_event(shape: str, key: str = "photos/cat.jpg", **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(json.loads((FIXTURES / f"object_deleted_{shape}.json").read_text()))
    event["detail"]["object"]["key"] = key
    event["detail"]["object"].update(changes)
    return event


def record(catalog: MemoryCatalog, key: str, etag: str, version: str | None, at: str = "2026-11-22T18:43:48Z") -> None:
    """A finished round: its upload, one variant, and the email."""
    upload = Upload(UPLOADS, key, etag, version)
    catalog.record_upload(upload, UploadFacts(at, 5, version_id=version), expected=["resize"], now=NOW)
    info = VariantInfo("resize", VARIANTS, variant_key("resize", key, "320w", "webp"), "webp", 320, 240, 9)
    catalog.record_variants(VariantsCreated(upload, info.processor, (info,), "h"), expected=["resize"], now=NOW)
    ref = RoundRef.of(upload)
    assert catalog.claim_email(ref, "completed", token="t", now=NOW, stale_before=NOW)
    assert catalog.confirm_email(ref, token="t", message_id="m", subject="s", now=NOW)


def made(storage: FakeStorage, key: str) -> list[str]:
    """Every object the stack makes for an upload: variants and done records of each producer."""
    keys = []
    for p, files in (("convert", ["full.webp", "full.avif"]), ("resize", ["320w.webp", "1280w.webp"])):
        for f in files:
            keys.append(f"{p}/{key}/{f}")
        keys.append(variant_prefix(p, key) + DONE_RECORD)  # left by an older version
    keys += [variant_key("thumbnail", key, "300x300", "webp"), variant_prefix("thumbnail", key) + DONE_RECORD]
    for k in keys:
        storage.put(VARIANTS, k, b"x", content_type="image/webp", metadata={})
    return keys


# --- the event -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "kind", "version"),
    [
        ("marker_aws", DELETE_MARKER_CREATED, "kT1nq8bUJ5W0p1yF3vDgOe7l6s9XcA2m"),
        ("permanent_aws", PERMANENTLY_DELETED, V1),
        ("moto", None, "null"),
    ],
)
def test_the_deletion_event_as_aws_and_moto_write_it(shape: str, kind: str | None, version: str) -> None:
    d = parse_deletion(deletion_event(shape))
    assert (d.bucket, d.key, d.deletion_type, d.version_id, d.time) == (
        UPLOADS,
        "photos/cat.jpg",
        kind,
        version,
        "2026-11-23T09:15:02Z",
    )


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {}},
        {"source": "imgpipe.resize", "detail-type": "Object Deleted", "detail": {}},
        {"source": "aws.s3", "detail-type": "Object Deleted", "detail": {"bucket": {"name": UPLOADS}}},
        {
            "source": "aws.s3",
            "detail-type": "Object Deleted",
            "detail": {"bucket": {"name": UPLOADS}, "object": {"key": ""}},
        },
    ],
)
def test_anything_else_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(EventError):
        parse_deletion(event)


# --- what it means -------------------------------------------------------------------------------
def _rounds(*versions: str | None, deleted: bool = False) -> list[Any]:
    catalog = MemoryCatalog()
    for i, v in enumerate(versions):
        record(catalog, "photos/cat.jpg", f"e{i}", v, at=f"2026-11-2{i}T10:00:00Z")
    if deleted:
        catalog.mark_deleted(UPLOADS, "photos/cat.jpg", now=NOW)
    return catalog.rounds(UPLOADS, "photos/cat.jpg")


def test_a_delete_marker_purges() -> None:
    assert plan(parse_deletion(deletion_event("marker_aws")), _rounds(V1)).action == PURGE
    assert plan(parse_deletion(deletion_event("marker_aws")), []).action == PURGE


@pytest.mark.parametrize("version", ["null", None])
def test_a_permanent_delete_without_versioning_purges(version: str | None) -> None:
    event = deletion_event("moto", **{"version-id": version})
    assert plan(parse_deletion(event), []).action == PURGE


def test_a_permanent_delete_of_the_newest_upload_purges() -> None:
    assert plan(parse_deletion(deletion_event("permanent_aws")), _rounds(V0, V1)).action == PURGE


def test_an_expired_old_version_marks_its_round_only() -> None:
    # S3's lifecycle expires old versions with "Permanently Deleted" while the key lives on
    p = plan(parse_deletion(deletion_event("permanent_aws", **{"version-id": V0})), _rounds(V0, V1))
    assert (p.action, p.version_id) == (MARK_VERSION, V0)


def test_a_version_the_catalog_does_not_know_changes_nothing() -> None:
    assert (
        plan(parse_deletion(deletion_event("permanent_aws", **{"version-id": "other"})), _rounds(V1)).action == IGNORE
    )
    assert plan(parse_deletion(deletion_event("permanent_aws")), []).action == IGNORE
    assert plan(parse_deletion(deletion_event("permanent_aws")), _rounds(V1, deleted=True)).action == IGNORE


# --- which keys ----------------------------------------------------------------------------------
def test_every_producer_folder_of_the_variants_bucket() -> None:
    folders = ["thumbnail/", "resize/", "_backfill/", "retired_one/", "Upper/", "x/"]
    assert variant_prefixes(folders, "photos/cat.jpg") == [
        "resize/photos/cat.jpg/",
        "retired_one/photos/cat.jpg/",
        "thumbnail/photos/cat.jpg/",
    ]


def test_the_fake_lists_folders_as_s3_does() -> None:
    storage = FakeStorage()
    for key in ("resize/a/1.webp", "resize/b/1.webp", "_backfill/keys.txt", "root.txt"):
        storage.put(VARIANTS, key, b"x", content_type="text/plain", metadata={})
    assert storage.list_folders(VARIANTS) == ["_backfill/", "resize/"]


def test_only_keys_directly_under_the_prefix() -> None:
    keys = ["resize/photos/a.webp", "resize/photos/_done.json", "resize/photos/cat.jpg/320w.webp", "resize/photosx/a"]
    assert list(made_from("resize/photos/", keys)) == ["resize/photos/a.webp", "resize/photos/_done.json"]


def test_batches() -> None:
    assert list(batches(iter("abcde"), 2)) == [["a", "b"], ["c", "d"], ["e"]]
    assert list(batches([], 1000)) == []


# --- the purger ----------------------------------------------------------------------------------
def purger(storage: FakeStorage, catalog: MemoryCatalog, batch_size: int = 1000) -> Purger:
    return Purger(storage, catalog, UPLOADS, VARIANTS, batch_size=batch_size, clock=lambda: NOW)


def test_a_deleted_upload_leaves_nothing_behind_and_others_stay() -> None:
    storage, catalog = FakeStorage(), MemoryCatalog()
    made(storage, "photos/cat.jpg")
    storage.put(VARIANTS, "_backfill/photos/cat.jpg/result.json", b"{}", content_type="text/plain", metadata={})
    # a file named like the folder, an upload inside "photos/cat.jpg/", and a neighbour: all stay
    others = made(storage, "photos/cat.jpg/inner.png") + made(storage, "photos/cat.jpg2") + made(storage, "photos")
    others.append("_backfill/photos/cat.jpg/result.json")  # not a variant
    record(catalog, "photos/cat.jpg", "e1", "null")
    record(catalog, "photos/dog.jpg", "e2", "null")

    result = purger(storage, catalog, batch_size=2).handle(deletion_event("moto"))

    assert result["action"] == PURGE and result["variants_deleted"] == 8 and result["rounds_marked"] == 1
    assert storage.keys(VARIANTS) == sorted(others)
    assert all(len(keys) <= 2 for _, keys in storage.deletes)
    (cat,) = catalog.rounds(UPLOADS, "photos/cat.jpg")
    assert cat.status == DELETED and cat.deleted_at == "2026-11-23T09:15:02Z"
    assert cat.variants == () and cat.email_message_id == "m"  # the records go, the email's history stays
    assert catalog.latest(UPLOADS, "photos/cat.jpg")["status"] == DELETED  # what `imgpipe status` prints
    assert catalog.rounds(UPLOADS, "photos/dog.jpg")[0].status != DELETED


def test_the_transform_services_stored_renderings_go_with_the_upload() -> None:
    """Large renderings are kept one folder per ETag under transform/<upload key>/; those of an
    upload inside the key's "folder" and of a neighbour stay."""
    storage, catalog = FakeStorage(), MemoryCatalog()
    made(storage, "photos/cat.jpg")
    renderings = [
        f"{STORED_PREFIX}photos/cat.jpg/e1/w3000_inside.png",
        f"{STORED_PREFIX}photos/cat.jpg/e1/w2000_inside.auto.avif",
        f"{STORED_PREFIX}photos/cat.jpg/e0/w3000_inside.png",  # an earlier upload of the key
    ]
    others = [
        f"{STORED_PREFIX}photos/cat.jpg/inner.png/e5/w3000_inside.png",
        f"{STORED_PREFIX}photos/cat.jpg2/e6/w1_inside.png",
    ]
    for key in renderings + others:
        storage.put(VARIANTS, key, b"x", content_type="image/png", metadata={})
    record(catalog, "photos/cat.jpg", "e1", "null")

    result = purger(storage, catalog).handle(deletion_event("moto"))

    assert result["variants_deleted"] == 8 + len(renderings)
    assert storage.keys(VARIANTS) == sorted(others)


def test_the_fake_lists_folders_under_a_prefix_as_s3_does() -> None:
    storage = FakeStorage()
    for key in ("transform/a/e1/x.png", "transform/a/e2/y.png", "transform/a/b/e3/z.png", "transform/ab/e4/w.png"):
        storage.put(VARIANTS, key, b"x", content_type="image/png", metadata={})
    assert storage.list_folders(VARIANTS, "transform/a/") == ["transform/a/b/", "transform/a/e1/", "transform/a/e2/"]


def test_purging_twice_is_harmless() -> None:
    storage, catalog = FakeStorage(), MemoryCatalog()
    made(storage, "photos/cat.jpg")
    record(catalog, "photos/cat.jpg", "e1", V1)
    p = purger(storage, catalog)
    assert p.handle(deletion_event("marker_aws"))["variants_deleted"] == 8
    again = p.handle(deletion_event("marker_aws", **{"version-id": "another-marker"}))
    assert again["variants_deleted"] == 0
    (cat,) = catalog.rounds(UPLOADS, "photos/cat.jpg")
    assert cat.status == DELETED and cat.deleted_at == "2026-11-23T09:15:02Z"


def test_more_than_a_thousand_variants_go_in_batches_of_a_thousand() -> None:
    storage, catalog = FakeStorage(), MemoryCatalog()
    for i in range(2345):
        storage.put(VARIANTS, f"resize/big.jpg/{i}w.webp", b"x", content_type="image/webp", metadata={})
    assert purger(storage, catalog).handle(deletion_event("moto", key="big.jpg"))["variants_deleted"] == 2345
    assert [len(keys) for _, keys in storage.deletes] == [1000, 1000, 345]
    assert storage.keys(VARIANTS) == []


def test_an_old_version_expiring_keeps_the_current_uploads_variants() -> None:
    storage, catalog = FakeStorage(), MemoryCatalog()
    kept = made(storage, "photos/cat.jpg")
    record(catalog, "photos/cat.jpg", "e0", V0, at="2026-11-20T10:00:00Z")
    record(catalog, "photos/cat.jpg", "e1", V1, at="2026-11-21T10:00:00Z")
    result = purger(storage, catalog).handle(deletion_event("permanent_aws", **{"version-id": V0}))
    assert result["action"] == MARK_VERSION and "variants_deleted" not in result
    assert storage.keys(VARIANTS) == sorted(kept)
    states = {r.version_id: r.status for r in catalog.rounds(UPLOADS, "photos/cat.jpg")}
    assert states == {V0: DELETED, V1: "completed"}


def test_a_deletion_in_another_bucket_is_not_ours() -> None:
    storage, catalog = FakeStorage(), MemoryCatalog()
    kept = made(storage, "photos/cat.jpg")
    event = deletion_event("marker_aws")
    event["detail"]["bucket"]["name"] = "someone-elses"
    assert purger(storage, catalog).handle(event)["action"] == IGNORE
    assert storage.keys(VARIANTS) == sorted(kept) and storage.deletes == []


def test_a_round_the_purge_ends_starts_again_for_a_new_upload_of_the_same_bytes() -> None:
    catalog = MemoryCatalog()
    record(catalog, "photos/cat.jpg", "e1", V1)
    catalog.mark_deleted(UPLOADS, "photos/cat.jpg", now=NOW, deleted_at="2026-11-23T09:15:02Z")
    # a late "Object Created" of the deleted upload itself (same version): still deleted
    late = catalog.record_upload(
        Upload(UPLOADS, "photos/cat.jpg", "e1", V1),
        UploadFacts("2026-11-22T18:43:48Z", 5, version_id=V1),
        expected=["resize"],
        now=NOW,
    )
    assert late.round.status == DELETED and not late.fresh
    # the same bytes again: a new version
    again = catalog.record_upload(
        Upload(UPLOADS, "photos/cat.jpg", "e1", "v2"),
        UploadFacts("2026-11-23T10:00:00Z", 5, version_id="v2"),
        expected=["resize"],
        now=NOW,
    )
    assert again.fresh and again.round.status == PROCESSING
    assert again.round.email_message_id is None and again.round.deleted_at is None
    assert again.round.version_id == "v2"


def test_every_fixture_is_shown_verbatim_in_events_md() -> None:
    text = (FIXTURES.parents[3] / "docs" / "events.md").read_text(encoding="utf-8")
    shown = [json.loads(b) for b in re.findall(r"^```json\n(.*?)^```$", text, flags=re.S | re.M)]
    for path in sorted(FIXTURES.glob("*.json")):
        event = json.loads(path.read_text())
        assert event in shown, f"{path.name} is not in docs/events.md"
        assert parse_deletion(event).key == "photos/cat.jpg"
