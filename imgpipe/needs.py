"""What a service may declare in its manifest's ``needs``, beyond what every service gets, and what
each one brings: one entry per need in :data:`NEEDS`.

Every service may read the uploads and, if it ``produces_variants``, write its own prefix of the
variants bucket and put its own events on the bus. Anything more is a need, declared by name, and
an entry here says all that the need is:

- ``env``: the variable of the function's environment that carries its value (None: a permission
  only), and ``value``: which of the stack's shared resources that value is. A stack (CDK, the local
  stack, the moto harness) names each :class:`Resource` once, in :class:`imgpipe.registry.StackNames`,
  and :func:`imgpipe.registry.function_config` hands each service the values of its needs, so a
  new need on an existing resource is this entry and its grant, nothing else;
- ``grants``: what the function's role may do because of it (None: nothing). The statements are
  infra's, one method per such need in ``infra/components/needs.py`` (a test holds that file and this
  table to the same needs); the local stack and the moto harness grant nothing (no IAM there);
- ``optional``: a stack may lack it (then the service gets no value and does without).

Declaration order is the order the grants are applied in, so a policy document does not change
when a manifest reorders its needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Need(StrEnum):
    CATALOG = "catalog"
    READ_CATALOG = "read_catalog"
    NOTIFICATION_TOPIC = "notification_topic"
    EXPECTED_PRODUCERS = "expected_producers"
    READ_VARIANTS = "read_variants"
    DELETE_VARIANTS = "delete_variants"
    USER_UPLOADS = "user_uploads"
    USER_CATALOG = "user_catalog"
    DELIVERY_URL = "delivery_url"
    COMPLETION_EVENTS = "completion_events"
    WEBHOOK_SECRET = "webhook_secret"
    MODERATION = "moderation"
    TRANSFORM_SECRET = "transform_secret"
    TRANSFORM_BOUNDS = "transform_bounds"
    OUTPUTS = "outputs"
    RELEASE_OUTPUTS = "release_outputs"
    EVENT_KEY = "event_key"


class Resource(StrEnum):
    """A shared resource of a stack whose name (or value) a need hands to a function."""

    CATALOG_TABLE = "catalog_table"
    NOTIFICATION_TOPIC = "notification_topic"
    #: generated from every manifest (imgpipe.registry.expected_producers_spec)
    EXPECTED_PRODUCERS = "expected_producers"
    #: the CDN's base URL for variants (``<url>/v/<variant key>``); a stack without a front door has none
    DELIVERY_URL = "delivery_url"
    #: the webhooks' signing secret's ARN (its value is read from Secrets Manager, never put in the environment)
    WEBHOOK_SECRET = "webhook_secret"
    #: the transform URLs' signing keys' ARN (likewise read from Secrets Manager)
    TRANSFORM_SECRET = "transform_secret"
    #: the transform service's bounds (max_dimension, widths) as JSON, for the API that signs
    #: (imgpipe.registry.transform_bounds); a stack without the transform service has none
    TRANSFORM_BOUNDS = "transform_bounds"
    #: generated from every manifest: the producers' output roles and the srcset's set (imgpipe.outputs.outputs_spec)
    OUTPUTS = "outputs"
    #: the pipeline events' signing key's ARN (imgpipe/signing.py; read from Secrets Manager once per
    #: cold start, never put in the environment)
    EVENT_KEY = "event_key"


@dataclass(frozen=True)
class NeedSpec:
    #: what the role may do because of it (None: nothing, its value is all it brings)
    grants: str | None
    env: str | None = None
    value: Resource | None = None
    optional: bool = False

    def __post_init__(self) -> None:
        if (self.env is None) != (self.value is None):
            raise ValueError("a need with a variable names the resource its value comes from, and only then")


NEEDS: dict[Need, NeedSpec] = {
    Need.CATALOG: NeedSpec(
        "GetItem, UpdateItem, Query on the catalog table", "IMGPIPE_CATALOG_TABLE", Resource.CATALOG_TABLE
    ),
    # a service that only looks rounds up (transform: is this upload servable, and what did it make?)
    Need.READ_CATALOG: NeedSpec(
        "GetItem on the catalog table, nothing else", "IMGPIPE_READ_CATALOG_TABLE", Resource.CATALOG_TABLE
    ),
    Need.NOTIFICATION_TOPIC: NeedSpec(
        "publish to the notification topic (and use its KMS key)", "IMGPIPE_TOPIC_ARN", Resource.NOTIFICATION_TOPIC
    ),
    Need.EXPECTED_PRODUCERS: NeedSpec(
        None,  # the generated list of the variant producers and their key filters
        "IMGPIPE_EXPECTED_PRODUCERS",
        Resource.EXPECTED_PRODUCERS,
    ),
    Need.READ_VARIANTS: NeedSpec("read (and so presign links to) every object of the variants bucket"),
    Need.DELETE_VARIANTS: NeedSpec("list the variants bucket and delete its objects (the delete cascade)"),
    Need.USER_UPLOADS: NeedSpec("presign, list and delete objects under users/* of the uploads bucket only"),
    Need.USER_CATALOG: NeedSpec(
        "query the catalog's owner-index, get rounds of users/ keys, update quota# and rate# counters",
        "IMGPIPE_USER_CATALOG_TABLE",
        Resource.CATALOG_TABLE,
    ),
    Need.DELIVERY_URL: NeedSpec(None, "IMGPIPE_DELIVERY_URL", Resource.DELIVERY_URL, optional=True),
    Need.COMPLETION_EVENTS: NeedSpec("events:PutEvents on the default bus with the source imgpipe.notify only"),
    Need.WEBHOOK_SECRET: NeedSpec(
        "secretsmanager:GetSecretValue on the webhooks' signing secret (created only when a service declares this)",
        "IMGPIPE_WEBHOOK_SIGNING_KEY_ARN",
        Resource.WEBHOOK_SECRET,
    ),
    Need.MODERATION: NeedSpec("rekognition:DetectModerationLabels (the action has no resource-level permission)"),
    Need.TRANSFORM_SECRET: NeedSpec(
        "secretsmanager:GetSecretValue on the transform URLs' signing keys (created only when a service declares this)",
        "IMGPIPE_TRANSFORM_SIGNING_KEY_ARN",
        Resource.TRANSFORM_SECRET,
        optional=True,
    ),
    Need.TRANSFORM_BOUNDS: NeedSpec(None, "IMGPIPE_TRANSFORM_BOUNDS", Resource.TRANSFORM_BOUNDS, optional=True),
    # the deployed producers' output roles and which responsive set is the srcset (a service that
    # shows outputs to people: the API)
    Need.OUTPUTS: NeedSpec(None, "IMGPIPE_OUTPUTS", Resource.OUTPUTS),
    # remove the held mark a public output was written with (keeping its visibility tag), when its
    # round ends not held (notify, in a deployment with moderate: imgpipe/outputs.py)
    Need.RELEASE_OUTPUTS: NeedSpec("s3:GetObjectTagging and s3:PutObjectTagging on the variants bucket's objects"),
    # sign (every producer) or verify (notify) pipeline events: notify believes one by its signature,
    # with no request per variant (imgpipe/signing.py)
    Need.EVENT_KEY: NeedSpec(
        "secretsmanager:GetSecretValue on the pipeline events' signing key",
        "IMGPIPE_EVENT_KEY_ARN",
        Resource.EVENT_KEY,
        # a stack without it (a test harness) trusts by a HEAD of each variant instead
        optional=True,
    ),
}
