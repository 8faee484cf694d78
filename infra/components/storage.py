"""The buckets: uploads (the pipeline's input), variants (its output) and their access logs.

Variants live in a separate bucket so that writing one can never trigger the pipeline again
(S3 -> Lambda -> S3 loop): only the uploads bucket sends events to EventBridge.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constants import (
    ABORT_INCOMPLETE_MULTIPART_DAYS,
    ACCESS_LOGS_EXPIRY_DAYS,
    CORS_MAX_AGE_SECONDS,
    MINIMUM_TLS_VERSION,
    UPLOADS_ACCESS_LOG_PREFIX,
    UPLOADS_NONCURRENT_VERSION_EXPIRY_DAYS,
    VARIANTS_ACCESS_LOG_PREFIX,
)


def prefix_access(
    bucket: s3.IBucket, prefix: str, actions: Sequence[str], *, sids: tuple[str, str]
) -> list[iam.PolicyStatement]:
    """``actions`` on the objects under ``prefix`` of ``bucket``, and ListBucket held to that
    prefix so that a HEAD on a missing key answers 404, not 403 (``sids``: the two statements').

    IfExists: a HEAD checks ListBucket without any prefix (and must get 404); an actual listing
    is held to the prefix. Listing reveals only keys derived from upload keys, which a role that
    may write them may list anyway."""
    return [
        iam.PolicyStatement(sid=sids[0], actions=list(actions), resources=[bucket.arn_for_objects(f"{prefix}*")]),
        iam.PolicyStatement(
            sid=sids[1],
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLikeIfExists": {"s3:prefix": [f"{prefix}*"]}},
        ),
    ]


def _private_bucket_props(removal_policy: cdk.RemovalPolicy) -> dict[str, object]:
    return {
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "enforce_ssl": True,
        "minimum_tls_version": MINIMUM_TLS_VERSION,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "removal_policy": removal_policy,
        # destroy mode: CloudFormation cannot delete a bucket that holds objects (or versions), so
        # CDK's custom resource empties it first and `cdk destroy` completes.
        "auto_delete_objects": removal_policy == cdk.RemovalPolicy.DESTROY,
    }


class Storage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: cdk.RemovalPolicy,
        cors_origins: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        abort_multipart = s3.LifecycleRule(
            id="AbortIncompleteMultipartUploads",
            abort_incomplete_multipart_upload_after=cdk.Duration.days(ABORT_INCOMPLETE_MULTIPART_DAYS),
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            lifecycle_rules=[
                abort_multipart,
                s3.LifecycleRule(id="ExpireOldLogs", expiration=cdk.Duration.days(ACCESS_LOGS_EXPIRY_DAYS)),
            ],
            **_private_bucket_props(removal_policy),  # type: ignore[arg-type]
        )
        # Versioned: an overwritten or deleted upload can be recovered; old versions expire.
        # Processors always read the current version (GetObject with If-Match on the event's etag).
        self.uploads = s3.Bucket(
            self,
            "Uploads",
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=UPLOADS_ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                abort_multipart,
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=cdk.Duration.days(UPLOADS_NONCURRENT_VERSION_EXPIRY_DAYS),
                ),
            ],
            # Browsers upload with presigned POST (form) or PUT URLs; they must read the ETag. The
            # front door adds a rule for its distribution's origin; none here without origins.
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.PUT],
                    allowed_origins=list(cors_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=CORS_MAX_AGE_SECONDS,
                )
            ]
            if cors_origins
            else None,
            **_private_bucket_props(removal_policy),  # type: ignore[arg-type]
        )
        # S3 -> EventBridge, set on the bucket itself: the L2 `event_bridge_enabled` flag goes
        # through a custom-resource Lambda (its own role, runtime and nag findings) for the
        # same effect that CloudFormation supports natively.
        uploads_cfn = self.uploads.node.default_child
        assert isinstance(uploads_cfn, s3.CfnBucket)
        uploads_cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        # Not versioned: variants are derived and deterministic; a retry rewrites them.
        self.variants = s3.Bucket(
            self,
            "Variants",
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=VARIANTS_ACCESS_LOG_PREFIX,
            lifecycle_rules=[abort_multipart],
            **_private_bucket_props(removal_policy),  # type: ignore[arg-type]
        )
