"""The boto3 side of the purge's port: list and delete in the variants bucket. The client
comes from the shared factory (:func:`imgpipe.adapters.client`), so it honours
``AWS_ENDPOINT_URL`` (moto, the local stack) and a warm function reuses it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from imgpipe.errors import TransientError


class S3VariantStore:
    def __init__(self, s3: Any | None = None) -> None:
        self._s3 = s3

    @property
    def s3(self) -> Any:
        from imgpipe.adapters import client

        return self._s3 or client("s3")

    def list_folders(self, bucket: str) -> Iterator[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter="/")
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                yield str(common["Prefix"])

    def list_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        # The delimiter keeps deeper "folders" out: under "resize/photos/" are the variants of
        # the upload "photos", and also those of "photos/cat.jpg", which must stay.
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
        for page in pages:
            for obj in page.get("Contents", []):
                yield str(obj["Key"])

    def delete_keys(self, bucket: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        r = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
        # DeleteObjects answers 200 even when some keys failed: check each (a missing key is not one).
        errors = r.get("Errors", [])
        if errors:
            first = errors[0]
            raise TransientError(
                f"DeleteObjects: {len(errors)} of {len(keys)} keys failed ({first.get('Code')}: {first.get('Key')})"
            )
