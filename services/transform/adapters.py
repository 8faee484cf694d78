"""transform's outside world on boto3: the upload (HEAD, GET pinned to its ETag), its round in
the catalog, large renderings under ``transform/`` of the variants bucket, and the signing keys."""

from __future__ import annotations

from typing import Any

from imgpipe.adapters import S3Storage, client
from imgpipe.catalog import Round, RoundRef
from imgpipe.catalog.dynamo import DynamoCatalog
from imgpipe.ports import ObjectInfo


class S3Upload:
    def __init__(self, bucket: str, storage: S3Storage | None = None) -> None:
        self.bucket = bucket
        self.storage = storage or S3Storage()

    def head(self, key: str) -> ObjectInfo | None:
        return self.storage.head(self.bucket, key)

    def get(self, key: str, etag: str) -> bytes:
        return self.storage.get(self.bucket, key, etag=etag)


class CatalogRounds:
    def __init__(self, table: str, uploads_bucket: str, dynamodb: Any | None = None) -> None:
        self.catalog = DynamoCatalog(table, dynamodb=dynamodb)
        self.bucket = uploads_bucket

    def load(self, key: str, etag: str) -> Round | None:
        return self.catalog.load(RoundRef(self.bucket, key, etag))


class S3Renderings:
    def __init__(self, bucket: str, s3: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = s3

    @property
    def s3(self) -> Any:
        return self._s3 or client("s3")

    def exists(self, key: str) -> bool:
        return S3Storage(self._s3).head(self.bucket, key) is not None

    def put(self, key: str, data: bytes, content_type: str, cache_control: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, CacheControl=cache_control)

    def link(self, key: str, expires_s: int) -> str:
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )
