"""The purge's I/O around its pure logic: read what the catalog knows of the key, decide
(:func:`.logic.plan`), delete the upload's variants, mark its rounds deleted.

Every step is idempotent, so a retried or duplicated event does the same again harmlessly:
listing finds nothing left to delete, and marking a deleted round keeps its first deletion time.
Variants go first and the catalog second: if the catalog write fails, the retry finds no
variants and marks the rounds; the other order could leave a round marked deleted with its
variants still in the bucket and no retry to remove them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imgpipe.catalog import Catalog
from imgpipe.ports import MetricsSink, NoMetrics
from imgpipe.variant_store import delete_upload_variants

from .logic import IGNORE, MARK_VERSION, PURGE, Deletion, parse_deletion, plan
from .ports import VariantStore
from .settings import MAX_DELETE_BATCH


@dataclass
class Purger:
    store: VariantStore
    catalog: Catalog
    #: this stack's buckets: a deletion in any other uploads bucket is not ours
    uploads_bucket: str
    variants_bucket: str
    batch_size: int = MAX_DELETE_BATCH
    metrics: MetricsSink = field(default_factory=NoMetrics)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        deletion = parse_deletion(event)
        result: dict[str, Any] = {"key": deletion.key, "version_id": deletion.version_id}
        if deletion.bucket != self.uploads_bucket:
            # The rule matches only our bucket; anything else is a wiring mistake, never acted on.
            self.metrics.add_metric("DeletionsIgnored", "Count", 1)
            return {**result, "action": IGNORE, "why": f"not this stack's uploads bucket: {deletion.bucket!r}"}
        decision = plan(deletion, self.catalog.rounds(deletion.bucket, deletion.key))
        result.update(action=decision.action, why=decision.why)
        if decision.action == IGNORE:
            self.metrics.add_metric("DeletionsIgnored", "Count", 1)
            return result
        if decision.action == PURGE:
            result["variants_deleted"] = self._purge_variants(deletion)
        marked = self.catalog.mark_deleted(
            deletion.bucket,
            deletion.key,
            now=self.clock(),
            deleted_at=deletion.time,
            version_id=decision.version_id if decision.action == MARK_VERSION else None,
        )
        result["rounds_marked"] = len(marked)
        self.metrics.add_metric("UploadsDeleted", "Count", 1)
        return result

    def _purge_variants(self, deletion: Deletion) -> int:
        deleted = delete_upload_variants(self.store, self.variants_bucket, deletion.key, self.batch_size)
        self.metrics.add_metric("VariantsPurged", "Count", deleted)
        return deleted
