"""The API's two outside worlds on boto3: the uploads bucket (presigning, multipart, listing and
deleting under ``users/``) and the catalog (its owner index, one round, the daily counters).

Every call here is one the function's role allows (infra/components/frontdoor.py); nothing reads
or writes outside ``users/`` of the uploads bucket or outside the catalog's owner index, the
users' rounds and the ``quota#`` counters.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imgpipe.catalog import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, Round, RoundRef
from imgpipe.catalog.dynamo import DynamoTable
from imgpipe.catalog.schema import OWNER_ATTRIBUTE, OWNER_INDEX, OWNER_SORT_KEY
from imgpipe.events import normalize_etag

from .errors import ApiError, bad_request, not_found
from .uploads import WRITE_ONCE, PutSpec

QUOTA_PREFIX = "quota#"
#: a counter outlives its day by this much, then DynamoDB's TTL removes it
QUOTA_TTL_S = 2 * 86400


@dataclass(frozen=True)
class StoredObject:
    key: str
    etag: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class PendingMultipart:
    key: str
    upload_id: str


#: S3's answers to a part list it cannot assemble, said to the client
_PART_REFUSALS = {
    "InvalidPart": "A part in 'parts' was not uploaded, or its 'etag' is not the one S3 answered for it.",
    "InvalidPartOrder": "'parts' must be in ascending part_number order.",
    "EntityTooSmall": "Every part but the last must be at least 5 MiB: send the parts as this upload cut them.",
}


def already_used() -> ApiError:
    return ApiError(409, "already_uploaded", "This upload has already been sent; start a new upload for new bytes.")


class S3Uploads:
    def __init__(self, bucket: str, s3: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = s3

    @property
    def s3(self) -> Any:
        from imgpipe.adapters import client

        # the shared client signs with SigV4, which pins a part's Content-Length in its URL
        return self._s3 or client("s3")

    def presign_put(self, key: str, spec: PutSpec, expires_s: int) -> str:
        # Every parameter here is a signed header: S3 refuses the PUT unless each is sent as signed.
        return self.s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": spec.content_type,
                "ContentLength": spec.content_length,
                "IfNoneMatch": WRITE_ONCE,
            },
            ExpiresIn=expires_s,
        )

    def create_multipart(self, key: str, content_type: str) -> str:
        return self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)["UploadId"]

    def presign_part(self, key: str, upload_id: str, part_number: int, length: int, expires_s: int) -> str:
        # ContentLength is a signed header: S3 refuses the part unless it has exactly this many bytes.
        return self.s3.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": part_number,
                "ContentLength": length,
            },
            ExpiresIn=expires_s,
        )

    def list_parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        marker = 0
        while True:
            r = self.s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
            parts += r.get("Parts", [])
            if not r.get("IsTruncated"):
                return parts
            marker = r["NextPartNumberMarker"]

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Assemble the parts. S3's refusals of the client's part list are the client's 4xx:
        a part never sent or an ETag that is not the part's (400), an upload already completed
        or aborted (404). ``IfNoneMatch="*"``: the key is written once, never replaced."""
        from botocore.exceptions import ClientError

        try:
            self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in parts]},
                IfNoneMatch=WRITE_ONCE,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in _PART_REFUSALS:
                raise bad_request("parts", _PART_REFUSALS[code]) from None
            if code == "NoSuchUpload":
                raise not_found() from None
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise already_used() from None
            raise

    def abort(self, key: str, upload_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    def find_object(self, prefix: str) -> StoredObject | None:
        """The object under an upload's prefix (there is one: the server chose its only key)."""
        r = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        for item in r.get("Contents", []):
            return StoredObject(item["Key"], normalize_etag(item.get("ETag")), int(item["Size"]), item["LastModified"])
        return None

    def find_multipart(self, prefix: str) -> PendingMultipart | None:
        r = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        for item in r.get("Uploads", []):
            if item["Key"].startswith(prefix):
                return PendingMultipart(item["Key"], item["UploadId"])
        return None

    def delete(self, key: str) -> None:
        # On the versioned bucket: a delete marker, and S3 "Object Deleted" starts the purge.
        self.s3.delete_object(Bucket=self.bucket, Key=key)


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode().rstrip("=")


#: the attributes of a position in the owner index (DynamoDB's LastEvaluatedKey), all strings
_CURSOR_KEYS = frozenset({OWNER_ATTRIBUTE, OWNER_SORT_KEY, PARTITION_KEY, SORT_KEY})
_MAX_CURSOR_CHARS = 4096


def decode_cursor(cursor: str, owner: str) -> dict[str, Any]:
    """A cursor back into DynamoDB's ExclusiveStartKey, or 400. Its shape is checked whole (the
    index's four string keys, nothing else) so that no client-made value reaches DynamoDB, which
    would refuse it with a server error."""
    refused = bad_request("cursor", "'cursor' is not one this API returned.")
    if not cursor or len(cursor) > _MAX_CURSOR_CHARS:
        raise refused
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise refused from None
    if (
        not isinstance(raw, dict)
        or set(raw) != _CURSOR_KEYS
        or not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) and v["S"] for v in raw.values())
    ):
        raise refused
    # a cursor names a position in one owner's index: another owner's is refused, not followed
    if raw[OWNER_ATTRIBUTE]["S"] != owner:
        raise refused
    return raw


class UserCatalog(DynamoTable):
    """The catalog, as the API reads it: one owner's rounds, newest first, and one round."""

    def owned(self, owner: str, *, limit: int, cursor: str | None) -> tuple[list[Round], str | None]:
        """A page of ``owner``'s rounds, newest first. Deleted ones are left out (after the page is
        read, so a page may hold fewer than ``limit``; the cursor still moves on)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "#o = :o",
            "ExpressionAttributeNames": {"#o": OWNER_ATTRIBUTE},
            "ExpressionAttributeValues": {":o": {"S": owner}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor is not None:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, owner)
        from botocore.exceptions import ClientError

        try:
            r = self.client.query(**kwargs)
        except ClientError as exc:
            # a well-formed cursor DynamoDB still cannot start from is the client's, not ours
            if cursor and exc.response.get("Error", {}).get("Code") == "ValidationException":
                raise bad_request("cursor", "'cursor' is not one this API returned.") from None
            raise
        rounds = [Round.from_item(self._plain(item)) for item in r.get("Items", [])]
        return rounds, encode_cursor(r.get("LastEvaluatedKey"))

    def load(self, bucket: str, key: str, etag: str) -> Round | None:
        ref = RoundRef(bucket, key, etag)
        r = self.client.get_item(
            TableName=self.table, Key={k: {"S": v} for k, v in ref.item_key.items()}, ConsistentRead=True
        )
        item = r.get("Item")
        return Round.from_item(self._plain(item)) if item else None

    def count_request(self, owner: str, window: str, limit: int, expires_at: int) -> bool:
        """Count one request of ``owner`` in ``window`` unless ``limit`` is reached (one
        conditional write, as :meth:`take_quota`)."""
        from .fairness import RATE_PREFIX

        return self._count(f"{RATE_PREFIX}{owner}", f"minute#{window}", "requests", limit, expires_at)

    def _count(self, pk: str, sk: str, attribute: str, limit: int, expires_at: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self.table,
                Key={PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}},
                UpdateExpression="SET #n = if_not_exists(#n, :zero) + :one, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": attribute, "#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":ttl": {"N": str(expires_at)},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def take_quota(self, owner: str, day: str, limit: int, now: datetime) -> bool:
        """Count one upload for ``owner`` on ``day`` unless ``limit`` is reached; one conditional
        write, so concurrent requests can never count past it."""
        pk = f"{QUOTA_PREFIX}{owner}"
        return self._count(pk, f"day#{day}", "uploads", limit, int(now.timestamp()) + QUOTA_TTL_S)
