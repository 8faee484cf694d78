"""Where an upload's variants are in the variants bucket, and the S3 side of listing and deleting
them: one rule for the delete cascade (services/purge) and a reviewer's rejection
(imgpipe_tools/review.py), so the two can never disagree on what belongs to an upload.

The rule: every top-level folder named like a service holds a producer's variants (the folders,
not the stack's list of producers: a processor retired since the upload was processed left its
variants there too), and an upload's are the keys directly under ``<folder>/<upload key>/``.
The transform service's large renderings are one level deeper, one folder per upload ETag
(``transform/<upload key>/<etag>/<spec>``, :data:`imgpipe.transforms.STORED_PREFIX`): an
upload's are the keys directly under each folder of ``transform/<upload key>/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from imgpipe.errors import TransientError
from imgpipe.keys import variant_prefix
from imgpipe.transforms import STORED_PREFIX

if TYPE_CHECKING:
    from imgpipe.catalog import Round
    from imgpipe.ports import Releaser

#: S3's DeleteObjects takes at most this many keys
MAX_DELETE_BATCH = 1000
#: a top-level folder of the variants bucket named like a service (imgpipe.manifest) is a
#: producer's; anything else (the backfill's ``_backfill/``) holds no variant
_PRODUCER_FOLDER = re.compile(r"^[a-z][a-z0-9_]{1,30}/$")


class VariantStore(Protocol):
    """What listing and deleting needs of the variants bucket; :class:`S3VariantStore` on S3,
    :class:`imgpipe_tools.testing.fakes.FakeStorage` in unit tests."""

    def list_folders(self, bucket: str, prefix: str = "") -> Iterable[str]:
        """The "folders" directly under ``prefix`` (by default the top-level ones), each ending in
        "/" (``resize/``...)."""

    def list_keys(self, bucket: str, prefix: str) -> Iterable[str]:
        """Keys directly under ``prefix`` (ending in "/"): not those in deeper "folders"."""

    def delete_keys(self, bucket: str, keys: Sequence[str]) -> None:
        """Delete these keys (at most 1000), a missing one being fine; raise if any failed."""


def variant_prefixes(folders: Iterable[str], upload_key: str) -> list[str]:
    """``<processor>/<upload key>/`` for every producer folder of the variants bucket."""
    return [variant_prefix(f[:-1], upload_key) for f in sorted(folders) if _PRODUCER_FOLDER.match(f)]


def rendering_prefixes(store: VariantStore, bucket: str, upload_key: str) -> list[str]:
    """``transform/<upload key>/<etag>/`` for every ETag of the upload with stored renderings. A
    folder there named like a path segment (``transform/photos/cat.jpg/`` holds the folder of the
    upload ``photos/cat.jpg``) has no keys directly under it: those are two levels down."""
    return sorted(store.list_folders(bucket, variant_prefix(STORED_PREFIX.rstrip("/"), upload_key)))


def made_from(prefix: str, keys: Iterable[str]) -> Iterator[str]:
    """The keys directly under ``prefix``: ``<processor>/<upload key>/<file>``. A deeper key
    belongs to another upload (``resize/photos/`` holds the variants of the upload ``photos``
    and, one level down, those of ``photos/cat.jpg``)."""
    for key in keys:
        rest = key[len(prefix) :] if key.startswith(prefix) else ""
        if rest and "/" not in rest:
            yield key


def batches(keys: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def delete_upload_variants(
    store: VariantStore, bucket: str, upload_key: str, batch_size: int = MAX_DELETE_BATCH
) -> int:
    """Delete every variant of ``upload_key`` in ``bucket``, and the transform service's stored
    renderings of it; how many keys were deleted."""
    deleted = 0
    prefixes = variant_prefixes(store.list_folders(bucket), upload_key)
    for prefix in [*prefixes, *rendering_prefixes(store, bucket, upload_key)]:
        for batch in batches(made_from(prefix, store.list_keys(bucket, prefix)), batch_size):
            store.delete_keys(bucket, batch)
            deleted += len(batch)
    return deleted


class S3VariantStore:
    """The store on S3. The client comes from the shared factory (:func:`imgpipe.adapters.client`)
    unless one is given, so it honours ``AWS_ENDPOINT_URL`` and a warm function reuses it."""

    def __init__(self, s3: Any | None = None) -> None:
        self._s3 = s3

    @property
    def s3(self) -> Any:
        from imgpipe.adapters import client

        return self._s3 or client("s3")

    def list_folders(self, bucket: str, prefix: str = "") -> Iterator[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
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


def release_round(releaser: Releaser, r: Round) -> list[str]:
    """Make a round's public outputs servable (a deployment that holds outputs until their round
    is released: imgpipe/outputs.py); the keys released."""
    by_bucket: dict[str, list[str]] = {}
    for v in r.variants:
        if v.public:
            by_bucket.setdefault(v.bucket, []).append(v.key)
    for bucket, bucket_keys in sorted(by_bucket.items()):
        releaser.release(bucket, bucket_keys)
    return [k for _, keys in sorted(by_bucket.items()) for k in keys]
