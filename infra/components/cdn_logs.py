"""The distribution's standard logs (v2) into the access-logs bucket (docs/decisions.md, "The
edge's companion stacks").

Standard logging v2 is a CloudWatch Logs delivery: a delivery source (the distribution's
ACCESS_LOGS), a delivery destination (the bucket) and the delivery pairing them. CloudFront's
delivery source can only be made in us-east-1, so the three live there: in the stack itself when
it is in us-east-1, else in the companion stack ``<stack>-<region>-EdgeLogs`` (infra/components/edge_region.py),
which reads the distribution's id and the bucket's ARN from the main stack. The bucket may be in
another region. Unlike the legacy logs, these need no ACLs on the bucket (every imgpipe bucket has
them off): the log delivery service writes under ``AWSLogs/<account>/`` by the bucket policy's
grant, which names this stack's delivery source only.

A template with no region known at synth (environment-agnostic) cannot tell where the source
belongs: it gets no standard logs and a synth warning that says how to get them.
"""

from __future__ import annotations

import hashlib

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.components.edge_region import EDGE_REGION, LOGS_STACK_SUFFIX, edge_scope, region_of

#: what the delivery writes (CloudWatch's formats for CloudFront: w3c, json, plain, parquet)
OUTPUT_FORMAT = "json"
#: the bucket policy's key prefix: the log delivery service writes under AWSLogs/<account>/
KEY_PREFIX = "AWSLogs/"
NO_REGION_WARNING = (
    "CloudFront standard logs (v2) are not configured: their delivery source must be made in us-east-1, and "
    "this stack's region is not known at synth. Deploy with a region (a profile with one, or CDK_DEFAULT_REGION)."
)
_NAME_LENGTH = 60  # CloudWatch Logs' limit for a delivery source's or destination's name


def delivery_name(stack_name: str, region: str) -> str:
    """Unique in the account's us-east-1 for one stack name and region (two deployments of
    ``Imgpipe`` in two regions have theirs side by side there); at most 60 characters."""
    name = f"{stack_name}-{region}-cdn"
    if len(name) <= _NAME_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: _NAME_LENGTH - len(digest) - 1]}-{digest}"


class CdnLogs(Construct):
    """The delivery source, destination and delivery (in us-east-1)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name: str, distribution_id: str, bucket_arn: str
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.source = logs.CfnDeliverySource(
            self,
            "Source",
            name=name,
            log_type="ACCESS_LOGS",
            resource_arn=stack.format_arn(
                service="cloudfront", region="", resource="distribution", resource_name=distribution_id
            ),
        )
        self.destination = logs.CfnDeliveryDestination(
            self, "Destination", name=name, destination_resource_arn=bucket_arn, output_format=OUTPUT_FORMAT
        )
        self.delivery = logs.CfnDelivery(
            self,
            "Delivery",
            delivery_source_name=name,
            delivery_destination_arn=self.destination.attr_arn,
        )
        # the delivery names its source by name, not by a reference CloudFormation would order by
        self.delivery.add_resource_dependency(self.source)


def log_distribution(scope: Construct, distribution: cloudfront.IDistribution, bucket: s3.IBucket) -> CdnLogs | None:
    """Standard logs (v2) of ``distribution`` into ``bucket`` (both of ``scope``'s stack), or None
    with a synth warning when the stack's region is not known."""
    region = region_of(scope)
    if region is None:
        cdk.Annotations.of(scope).add_warning_v2("imgpipe:cdnLogsNeedRegion", NO_REGION_WARNING)
        return None
    stack = cdk.Stack.of(scope)
    name = delivery_name(stack.stack_name, region)
    where = edge_scope(scope, LOGS_STACK_SUFFIX, f"imgpipe: the standard logs of {stack.stack_name}'s distribution")
    # the L1's attribute: a plain reference, which crosses regions as a stack output (the L2's would
    # ask for a physical bucket name first)
    bucket_resource = bucket.node.default_child
    assert isinstance(bucket_resource, s3.CfnBucket)
    cdn_logs = CdnLogs(
        where, "CdnLogs", name=name, distribution_id=distribution.distribution_id, bucket_arn=bucket_resource.attr_arn
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CdnStandardLogs",
            principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{KEY_PREFIX}{stack.account}/*")],
            conditions={
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="logs",
                        region=EDGE_REGION,
                        resource="delivery-source",
                        resource_name=name,
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                },
            },
        )
    )
    return cdn_logs
