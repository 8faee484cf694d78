"""The catalog on DynamoDB: builds each conditional UpdateItem and reads rounds back.

Every write is one UpdateItem on one item, so each event's write never depends on another
event's (see :mod:`imgpipe.catalog` for why every variant is its own top-level attribute).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from imgpipe.events import Upload

from .model import (
    DELETED,
    EMAIL_ATTRIBUTES,
    IGNORED,
    PROCESSING,
    RECORD_PREFIXES,
    REJECTED,
    REVIEW_DECISIONS,
    SUPERSEDED,
    UPLOAD_FACT_ATTRIBUTES,
    Recorded,
    Round,
    RoundRef,
    iso,
    round_pk,
)
from .port import CatalogBase
from .schema import PARTITION_KEY, TTL_ATTRIBUTE

#: how long a round outlives its last update, unless notify's ``catalog_ttl_days`` says otherwise
DEFAULT_TTL_DAYS = 90


class DynamoTable:
    """The catalog table through the low-level client (which honours AWS_ENDPOINT_URL like every
    client), with DynamoDB's attribute-value encoding both ways. Shared by every reader and writer."""

    def __init__(self, table: str, dynamodb: Any | None = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table = table
        self._client = dynamodb
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    @property
    def client(self) -> Any:
        from imgpipe.adapters import client

        return self._client or client("dynamodb")

    def _av(self, value: Any) -> dict[str, Any]:
        return self._ser.serialize(value)

    def _plain(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._de.deserialize(v) for k, v in item.items()}


class DynamoCatalog(DynamoTable, CatalogBase):
    """The catalog on DynamoDB."""

    def __init__(self, table: str, *, ttl_days: int = DEFAULT_TTL_DAYS, dynamodb: Any | None = None) -> None:
        super().__init__(table, dynamodb)
        self.ttl_days = ttl_days

    def _update(
        self,
        ref: RoundRef,
        sets: Mapping[str, Any],
        *,
        if_absent: Mapping[str, Any] | None = None,
        removes: Iterable[str] = (),
        condition: str | None = None,
        cond_values: Mapping[str, Any] | None = None,
        cond_names: Mapping[str, str] | None = None,
        return_new: bool = False,
        old_if_failed: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """One UpdateItem. Attribute names are always placeholders (#a0...) because variant
        attribute names contain '#', '/' and any character a key may hold. In ``condition``,
        write ``{field}`` for each attribute named in ``cond_names`` (field -> attribute name). Returns the new
        item (or {}), or None when the condition failed; then ``old_if_failed``, when given, is
        filled with the item as it is (DynamoDB returns it with the failure: no second read)."""
        from botocore.exceptions import ClientError

        names: dict[str, str] = {}
        values: dict[str, Any] = {}

        def name(n: str) -> str:
            for placeholder, existing in names.items():
                if existing == n:
                    return placeholder
            placeholder = f"#a{len(names)}"
            names[placeholder] = n
            return placeholder

        def value(v: Any) -> str:
            placeholder = f":v{len(values)}"
            values[placeholder] = self._av(v)
            return placeholder

        clauses = [f"{name(k)} = {value(v)}" for k, v in sets.items()]
        clauses += [f"{name(k)} = if_not_exists({name(k)}, {value(v)})" for k, v in (if_absent or {}).items()]
        expression = "SET " + ", ".join(clauses)
        removed = [name(k) for k in removes]
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": {k: self._av(v) for k, v in ref.item_key.items()},
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW" if return_new else "NONE",
        }
        if condition:
            mapping = {f: name(n) for f, n in (cond_names or {}).items()}
            cond = condition.format(**mapping)
            for placeholder, v in (cond_values or {}).items():
                values[placeholder] = self._av(v)
            kwargs["ConditionExpression"] = cond
            if old_if_failed is not None:
                kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            response = self.client.update_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                if old_if_failed is not None:
                    old_if_failed.update(self._plain(exc.response.get("Item", {})))
                return None
            raise
        return self._plain(response.get("Attributes", {}))

    def _stamp(self, now: datetime) -> dict[str, Any]:
        return {"updated_at": iso(now), TTL_ATTRIBUTE: int(now.timestamp()) + self.ttl_days * 86400}

    def _record(
        self, upload: Upload, marks: Sequence[str], attrs: Mapping[str, Any], initial: Mapping[str, Any], now: datetime
    ) -> Recorded:
        old: dict[str, Any] = {}
        new = self._update(
            RoundRef.of(upload),
            {**attrs, **self._stamp(now)},
            if_absent=initial,
            condition=" AND ".join(f"attribute_not_exists({{m{i}}})" for i in range(len(marks))),
            cond_names={f"m{i}": mark for i, mark in enumerate(marks)},
            return_new=True,
            old_if_failed=old,
        )
        if new is not None:
            return Recorded(Round.from_item(new), fresh=True)
        # A duplicate: the failed write returned the item, as consistent as a read after it.
        existing = Round.from_item(old) if old else self.load(RoundRef.of(upload))
        if existing is None:  # pragma: no cover - the condition failed, so the item exists
            raise RuntimeError(f"catalog item for {upload.uri} vanished")
        return Recorded(existing, fresh=False)

    # --- writes ---------------------------------------------------------------------------
    def end_silently(self, ref: RoundRef, status: str, *, now: datetime) -> bool:
        done = self._update(
            ref,
            {"status": status, "ended_at": iso(now), **self._stamp(now)},
            condition="attribute_exists({pk}) AND attribute_not_exists({email_sent_at}) AND {status} = :processing",
            cond_names={"pk": PARTITION_KEY, "email_sent_at": "email_sent_at", "status": "status"},
            cond_values={":processing": PROCESSING},
        )
        return done is not None

    def claim_email(self, ref: RoundRef, status: str, *, token: str, now: datetime, stale_before: datetime) -> bool:
        done = self._update(
            ref,
            {"status": status, "email_sent_at": iso(now), "email_claim": token, **self._stamp(now)},
            condition=(
                "attribute_exists({pk}) AND NOT {status} IN (:superseded, :ignored, :deleted) AND ("
                "attribute_not_exists({email_sent_at}) OR "
                "(attribute_not_exists({email_message_id}) AND {email_sent_at} < :stale))"
            ),
            cond_names={
                "pk": PARTITION_KEY,
                "status": "status",
                "email_sent_at": "email_sent_at",
                "email_message_id": "email_message_id",
            },
            cond_values={
                ":superseded": SUPERSEDED,
                ":ignored": IGNORED,
                ":deleted": DELETED,
                ":stale": iso(stale_before),
            },
        )
        return done is not None

    def confirm_email(self, ref: RoundRef, *, token: str, message_id: str, subject: str, now: datetime) -> bool:
        done = self._update(
            ref,
            {"email_message_id": message_id, "email_subject": subject, **self._stamp(now)},
            condition="{email_claim} = :token",
            cond_names={"email_claim": "email_claim"},
            cond_values={":token": token},
        )
        return done is not None

    def release_email(self, ref: RoundRef, *, token: str, error: str, now: datetime) -> bool:
        done = self._update(
            ref,
            {"email_last_error": error[:1000], **self._stamp(now)},
            removes=["email_sent_at", "email_claim"],
            condition="{email_claim} = :token AND attribute_not_exists({email_message_id})",
            cond_names={"email_claim": "email_claim", "email_message_id": "email_message_id"},
            cond_values={":token": token},
        )
        return done is not None

    def mark_deleted(
        self, bucket: str, key: str, *, now: datetime, deleted_at: str | None = None, version_id: str | None = None
    ) -> list[RoundRef]:
        marked = []
        for item in self._items(bucket, key):
            r = Round.from_item(item)
            if version_id is not None and r.version_id != version_id:
                continue
            # The records' names are known from this read; one written after it stays, in a
            # round that sends nothing (a late event of the deleted upload).
            records = [n for n in item if n.startswith(RECORD_PREFIXES)]
            self._update(
                r.ref,
                {"status": DELETED, **self._stamp(now)},
                # the first deletion's time stays: a repeated or second delete changes nothing
                if_absent={"deleted_at": deleted_at or iso(now)},
                removes=records,
                condition="attribute_exists({pk})",
                cond_names={"pk": PARTITION_KEY},
            )
            marked.append(r.ref)
        return marked

    def record_review(self, ref: RoundRef, decision: str, *, now: datetime) -> bool:
        if decision not in REVIEW_DECISIONS:
            raise ValueError(f"a review decides one of {REVIEW_DECISIONS}, not {decision!r}")
        done = self._update(
            ref,
            {"review": decision, "reviewed_at": iso(now), **self._stamp(now)},
            condition=(
                "attribute_exists({pk}) AND {status} <> :deleted AND "
                "(attribute_not_exists({review}) OR {review} <> :rejected)"
            ),
            cond_names={"pk": PARTITION_KEY, "status": "status", "review": "review"},
            cond_values={":deleted": DELETED, ":rejected": REJECTED},
        )
        return done is not None

    def _reopen(self, ref: RoundRef, *, now: datetime) -> bool:
        done = self._update(
            ref,
            {"status": PROCESSING, "reopened_at": iso(now), **self._stamp(now)},
            removes=["deleted_at", "ended_at", *EMAIL_ATTRIBUTES, *UPLOAD_FACT_ATTRIBUTES],
            condition="{status} = :deleted",
            cond_names={"status": "status"},
            cond_values={":deleted": DELETED},
        )
        return done is not None

    # --- reads ----------------------------------------------------------------------------
    def load(self, ref: RoundRef) -> Round | None:
        r = self.client.get_item(
            TableName=self.table,
            Key={k: self._av(v) for k, v in ref.item_key.items()},
            ConsistentRead=True,
        )
        item = r.get("Item")
        return Round.from_item(self._plain(item)) if item else None

    def rounds(self, bucket: str, key: str) -> list[Round]:
        return [Round.from_item(item) for item in self._items(bucket, key)]

    def _items(self, bucket: str, key: str) -> list[dict[str, Any]]:
        """Every item (round) of one object, deserialized."""
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": PARTITION_KEY},
            ExpressionAttributeValues={":pk": self._av(round_pk(bucket, key))},
            ConsistentRead=True,
        )
        return [self._plain(item) for page in pages for item in page.get("Items", [])]
