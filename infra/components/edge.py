"""A service the distribution calls itself (an ``edge`` trigger: on-demand transforms): its
function, reached through the front door's HTTP API as a public route (each request carries its
own signature), and the distribution's behaviour for its paths. Not a function URL with origin
access control: the uploads bucket's CORS rule names the distribution, the distribution would name
the URL, and the function names the bucket: a cycle CloudFormation refuses (docs/decisions.md).

The cache key is the path (the signed transform) plus, for ``auto`` specs, the Accept header,
which a CloudFront Function first reduces to one of three values by the same rule as
:func:`imgpipe.transforms.negotiate`, so every browser shares one of three copies; a preset's
(``/t/p/<name>/...``) is reduced too, its format being the deployment's setting. Other specs drop
Accept before the lookup: one copy each.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from imgpipe.manifest import Manifest
from imgpipe.transforms import NEGOTIATED, STORED_PREFIX
from infra.components import nag
from infra.components.function import ServiceFunction
from infra.components.storage import prefix_access

#: Accept, reduced to what ``auto`` can become (imgpipe.transforms.negotiate: AVIF, WebP, else
#: JPEG); removed for a fixed format, which does not depend on it
NORMALISE_ACCEPT_JS = """function handler(event) {
  var request = event.request;
  var accept = request.headers['accept'];
  // /t/<signature>/<spec>/<upload key>: the spec names the format; a preset's
  // (/t/p/<name>/<upload key>) is in the deployment's settings, so it may be auto
  var parts = request.uri.split('/');
  var spec = parts[3] || '';
  if (parts[2] !== 'p' && !spec.endsWith('.auto')) {
    delete request.headers['accept'];
    return request;
  }
  var offered = {};
  var items = accept ? accept.value.toLowerCase().split(',') : [];
  for (var i = 0; i < items.length; i++) {
    var params = items[i].split(';');
    var refused = false;
    for (var j = 1; j < params.length; j++) {
      if (/^\\s*q\\s*=\\s*0(\\.0*)?\\s*$/.test(params[j])) { refused = true; }
    }
    if (!refused) { offered[params[0].trim()] = true; }
  }
  var kind = offered['image/avif'] ? 'image/avif' : (offered['image/webp'] ? 'image/webp' : 'image/jpeg');
  request.headers['accept'] = { value: kind };
  return request;
}"""
assert NEGOTIATED == ("avif", "webp", "jpeg"), "NORMALISE_ACCEPT_JS prefers the formats in this order"


class EdgeService(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        manifest: Manifest,
        environment: Mapping[str, str],
        cache_ttl_s: int,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        uploads: s3.IBucket,
        variants: s3.IBucket,
        alarm_topic: sns.ITopic,
        removal_policy: cdk.RemovalPolicy,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        edge = manifest.edge
        assert edge is not None, f"{manifest.name} has no edge trigger"
        self.manifest = manifest
        #: the distribution's paths for it (``/t/*``)
        self.paths = edge.paths
        #: how long the edge keeps an answer: the service's own Cache-Control, and the cache policy's ceiling
        self.cache_ttl = cdk.Duration.seconds(cache_ttl_s)
        # "Default": built like every imgpipe Lambda (log group, role, tracing, alarms)
        self.lambda_ = ServiceFunction.of(
            self,
            manifest,
            runtime=runtime,
            layer=layer,
            environment=environment,
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
            reserved_concurrency=reserved_concurrency,
        )
        self.role, self.function = self.lambda_.role, self.lambda_.function
        self._grant_storage(uploads, variants)

    def _grant_storage(self, uploads: s3.IBucket, variants: s3.IBucket) -> None:
        stack = cdk.Stack.of(self)
        for statement in (
            iam.PolicyStatement(sid="ReadUploads", actions=["s3:GetObject"], resources=[uploads.arn_for_objects("*")]),
            # a HEAD on a deleted upload must answer 404 (a refusal), not 403
            iam.PolicyStatement(sid="ListUploads", actions=["s3:ListBucket"], resources=[uploads.bucket_arn]),
            *prefix_access(
                variants,
                STORED_PREFIX,
                ["s3:GetObject", "s3:PutObject"],
                sids=("KeepLargeRenderings", "ListLargeRenderings"),
            ),
        ):
            self.role.add_to_principal_policy(statement)
        for bucket, suffix, reason in (
            (uploads, "*", "reads any upload: every upload may be rendered (after its signature is checked)"),
            (variants, f"{STORED_PREFIX}*", f"keeps large renderings under {STORED_PREFIX} of the variants bucket"),
        ):
            child = bucket.node.default_child
            assert isinstance(child, cdk.CfnElement)
            nag.acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(child)}.Arn>/{suffix}]",
                f"{self.role.node.path} {reason}.",
            )

    def api_routes(self) -> list[str]:
        """The HTTP API's routes for the paths: ``/t/*`` is ``/t/{proxy+}``."""
        return [f"{path.removesuffix('*')}{{proxy+}}" for path in self.paths]

    def behaviors(
        self, scope: Construct, security: cloudfront.ResponseSecurityHeadersBehavior, origin: cloudfront.IOrigin
    ) -> dict[str, cloudfront.BehaviorOptions]:
        """The distribution's behaviour for each of the service's paths, through ``origin`` (the
        HTTP API's, with the origin header the function checks)."""
        name = self.manifest.name.title()
        cache = cloudfront.CachePolicy(
            scope,
            f"{name}Cache",
            comment=f"imgpipe {self.manifest.name}: keyed by the signed path (+ normalised Accept for auto)",
            # the function's Cache-Control says how long; never longer, so a deleted upload's
            # renderings leave the edge within it
            default_ttl=self.cache_ttl,
            max_ttl=self.cache_ttl,
            min_ttl=cdk.Duration.seconds(0),
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Accept"),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            # images are compressed already
            enable_accept_encoding_gzip=False,
            enable_accept_encoding_brotli=False,
        )
        normalise = cloudfront.Function(
            scope,
            f"{name}Accept",
            code=cloudfront.FunctionCode.from_inline(NORMALISE_ACCEPT_JS),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Accept -> image/avif | image/webp | image/jpeg for .auto specs and presets; dropped otherwise",
        )
        headers = cloudfront.ResponseHeadersPolicy(
            scope,
            f"{name}Headers",
            comment=f"imgpipe {self.manifest.name}: security headers (Cache-Control and Vary come from the function)",
            security_headers_behavior=security,
        )
        behavior = cloudfront.BehaviorOptions(
            origin=origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cache_policy=cache,
            response_headers_policy=headers,
            compress=False,
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=normalise, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
        )
        return {path: behavior for path in self.paths}
