"""The catalog: one DynamoDB item per upload round (bucket + key + etag), kept by notify and
read by ``imgpipe status``.

Item layout (documented in ``docs/notify.md``)::

    pk  = "s3://<bucket>/<key>"        every round of one object shares a partition
    sk  = "etag#<etag>"                one round per content version
    status, expected, first_seen_at, updated_at, expires_at (TTL), upload facts when known,
    "v#<processor>#<variant key>"      one top-level map per variant
    "r#<processor>"                    one top-level map per rejection
    "f#<processor>"                    a processor's facts about the upload (services/describe)
    "h#<processor>"                    a processor's hold for review (services/moderate)
    review, reviewed_at                a person's decision on a held round
    email_sent_at, email_claim, email_message_id, ...

Every variant and every rejection is its own *top-level* attribute. DynamoDB cannot set
``a.b.c`` unless ``a.b`` exists, so a per-processor nested map would need a "create the
parent" write that races with its siblings; flat attributes make each event exactly one
conditional UpdateItem that never depends on another event's write.

The modules, by concern:

- :mod:`.model`: the state model (a :class:`Round` and its processors), pure;
- :mod:`.port`: the :class:`Catalog` port and :class:`CatalogBase`, shared by implementations;
- :mod:`.dynamo`: :class:`DynamoCatalog`, the port on DynamoDB;
- :mod:`.schema`: the table's key and TTL attribute names (infra uses them too) and
  :func:`create_table` for the local stack and tests.

The in-memory implementation is a test double and does not ship in the layer:
``imgpipe_tools/testing/memory_catalog.py``.
"""

from .dynamo import DEFAULT_TTL_DAYS, DynamoCatalog
from .model import (
    APPROVED,
    COMPLETED,
    DELETED,
    DONE,
    EMAIL_ATTRIBUTES,
    EMAIL_STATUSES,
    FACTS_PREFIX,
    FAILED,
    HELD,
    HOLD_PREFIX,
    IGNORED,
    PARTIAL,
    PENDING,
    PROCESSING,
    RECORD_PREFIXES,
    REJECTED,
    REJECTION_PREFIX,
    REVIEW_DECISIONS,
    SILENT_STATUSES,
    SUPERSEDED,
    UPLOAD_FACT_ATTRIBUTES,
    VARIANT_PREFIX,
    ProcessorState,
    Recorded,
    RejectionRecord,
    Round,
    RoundRef,
    UploadFacts,
    VariantRecord,
    facts_attr,
    hold_attr,
    iso,
    latest_of,
    rejection_attr,
    reopens,
    round_pk,
    round_sk,
    variant_attr,
)
from .port import Catalog, CatalogBase, recorded_in
from .schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, create_table

__all__ = [
    "APPROVED",
    "COMPLETED",
    "DEFAULT_TTL_DAYS",
    "DELETED",
    "DONE",
    "EMAIL_ATTRIBUTES",
    "EMAIL_STATUSES",
    "FACTS_PREFIX",
    "FAILED",
    "HELD",
    "HOLD_PREFIX",
    "IGNORED",
    "PARTIAL",
    "PARTITION_KEY",
    "PENDING",
    "PROCESSING",
    "RECORD_PREFIXES",
    "REJECTED",
    "REJECTION_PREFIX",
    "REVIEW_DECISIONS",
    "SILENT_STATUSES",
    "SORT_KEY",
    "SUPERSEDED",
    "TTL_ATTRIBUTE",
    "UPLOAD_FACT_ATTRIBUTES",
    "VARIANT_PREFIX",
    "Catalog",
    "CatalogBase",
    "DynamoCatalog",
    "ProcessorState",
    "Recorded",
    "RejectionRecord",
    "Round",
    "RoundRef",
    "UploadFacts",
    "VariantRecord",
    "create_table",
    "facts_attr",
    "hold_attr",
    "iso",
    "latest_of",
    "recorded_in",
    "rejection_attr",
    "reopens",
    "round_pk",
    "round_sk",
    "variant_attr",
]
