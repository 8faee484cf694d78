"""What the purge needs from the variants bucket (the catalog is :class:`imgpipe.catalog.Catalog`).

``adapters.py`` implements it with boto3; unit tests use
:class:`imgpipe_tools.testing.fakes.FakeStorage`, which has the same two methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol


class VariantStore(Protocol):
    def list_folders(self, bucket: str) -> Iterable[str]:
        """The top-level "folders" of the bucket, each ending in "/" (``resize/``...)."""

    def list_keys(self, bucket: str, prefix: str) -> Iterable[str]:
        """Keys directly under ``prefix`` (ending in "/"): not those in deeper "folders"."""

    def delete_keys(self, bucket: str, keys: Sequence[str]) -> None:
        """Delete these keys (at most 1000), a missing one being fine; raise if any failed."""


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: str, value: float) -> None: ...


class NoMetrics:
    def add_metric(self, name: str, unit: str, value: float) -> None:
        return None
