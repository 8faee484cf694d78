"""The boto3 side of notify's ports: the email through SNS, presigned links to the variants,
and the first bytes of an upload. Every client comes from the shared factory
(:func:`imgpipe.adapters.client`), so each honours ``AWS_ENDPOINT_URL`` (moto, the local
stack) and a warm function reuses it.
"""

from __future__ import annotations

import json
from typing import Any

from .completion import Completion
from .logic import Email, LinkFn
from .ports import HeadReader
from .probe import HEAD_BYTES

#: SigV4 presigned URLs are valid for at most 7 days.
from .settings import MAX_LINK_EXPIRY_S


class SnsSender:
    """Publishes to the notification topic; email subscribers get subject + body."""

    def __init__(self, topic_arn: str, sns: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self._sns = sns

    def send(self, email: Email) -> str:
        from imgpipe.adapters import client

        attributes = {
            name: (
                {"DataType": "String.Array", "StringValue": json.dumps(value)}
                if isinstance(value, list)
                else {"DataType": "String", "StringValue": value}
            )
            for name, value in email.attributes.items()
        }
        sns = self._sns or client("sns")
        r = sns.publish(
            TopicArn=self.topic_arn, Subject=email.subject, Message=email.body, MessageAttributes=attributes
        )
        return str(r["MessageId"])


def s3_links(expiry_s: int, s3: Any | None = None, *, bucket: str) -> LinkFn:
    """Presigned GET links to objects of ``bucket`` (the variants bucket) only, signed locally
    (no request). A link never outlives the credentials that signed it: in Lambda those are the
    role's session credentials (docs/notify.md). The shared S3 client signs with SigV4, which is
    what makes ``X-Amz-Expires`` apply."""
    allowed = bucket

    def link(bucket: str, key: str) -> str:
        from imgpipe.adapters import client

        # The notifier links only keys it checked (trust.py); this refuses the rest regardless.
        if bucket != allowed or not key or key.startswith("/"):
            raise ValueError(f"refusing to presign s3://{bucket}/{key}: only variants of s3://{allowed}")

        return (s3 or client("s3")).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=min(expiry_s, MAX_LINK_EXPIRY_S)
        )

    return link


def s3_head_reader(s3: Any | None = None) -> HeadReader:
    """Reads the first HEAD_BYTES of an upload with a ranged GET, only if it still has the
    event's etag. Any error gives None: these facts are optional, never worth a retry."""

    def read(bucket: str, key: str, etag: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        from imgpipe.adapters import client

        try:
            r = (s3 or client("s3")).get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}", IfMatch=f'"{etag}"'
            )
            return r["Body"].read()
        except (BotoCoreError, ClientError):
            return None

    return read


class EventBridgeCompletions:
    """Puts a round's completion event on the bus, with the one source a completions trigger
    matches (notify's role may put no other)."""

    def __init__(self, bus_name: str, events: Any | None = None) -> None:
        self.bus_name = bus_name
        self._events = events

    def put(self, completion: Completion) -> None:
        from imgpipe.adapters import client
        from imgpipe.errors import TransientError
        from imgpipe.events import COMPLETION_SOURCE

        entry = {
            "Source": COMPLETION_SOURCE,
            "DetailType": completion.detail_type,
            "Detail": json.dumps(completion.detail, separators=(",", ":")),
            "EventBusName": self.bus_name,
        }
        r = (self._events or client("events")).put_events(Entries=[entry])
        # PutEvents succeeds as a call even when its entry failed
        if r.get("FailedEntryCount"):
            code = next((e.get("ErrorCode") for e in r.get("Entries", []) if e.get("ErrorCode")), "unknown")
            raise TransientError(f"PutEvents of {completion.detail_type} {completion.id} failed ({code})")
