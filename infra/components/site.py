"""The web app's home on AWS (docs/api.md, "The web app"): a private site bucket that the front
door's distribution serves at ``/`` through Origin Access Control, the built app deployed into it
with a ``config.json`` written at deploy time, and the page's security headers.

- The bucket is private like every imgpipe bucket (no public access, TLS only, S3-managed
  encryption, server access logs to the stack's log bucket, emptied on delete only in destroy mode).
- The app's directory is a parameter (``web/dist`` for ``make deploy``, a fixture in the tests); a
  missing build stops synth with "build the web app first: make web".
- ``config.json`` holds what the page must not hard-code (the user pool, its client, the region,
  the Cognito endpoint, the uploads bucket's origin, the API's size cap); CloudFormation fills the
  values at deploy time, so one build serves every stack.
- The Content-Security-Policy and the other headers come from ``web/headers.json``, the one
  definition the local front door serves too; ``{uploads}`` and ``{auth}`` become the real origins.
- Objects carry no Cache-Control: the edge keeps them for the cache policy's default TTL and each
  deployment invalidates ``/*``; browsers get ``no-cache`` (a cheap revalidation by ETag), so a new
  deployment is seen on the next load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.components import nag
from infra.components.storage import _private_bucket_props

#: the page's security headers, shared with the local front door (imgpipe_tools/local/frontdoor.py)
HEADERS_FILE = Path(__file__).resolve().parents[2] / "web" / "headers.json"
INDEX = "index.html"
CONFIG_OBJECT = "config.json"
SITE_ACCESS_LOG_PREFIX = "site/"
#: the API is served by the same distribution: the page calls it on its own origin
API_BASE = "/api"
#: what the page's own responses tell browsers (see the module docstring)
BROWSER_CACHE_CONTROL = "no-cache"
#: CloudFront's limit on a Content-Security-Policy header value
MAX_CSP_CHARS = 1783
DEPLOYMENT_MEMORY_MB = 256
#: a path whose last segment has no dot is one of the app's own routes (/uploads/abc): the app
#: answers it; files (/app.js, /config.json) are served as they are, and a missing one is S3's 403
_SPA_FALLBACK = """function handler(event) {
  var request = event.request;
  var last = request.uri.substring(request.uri.lastIndexOf("/") + 1);
  if (last.indexOf(".") === -1) {
    request.uri = "/index.html";
  }
  return request;
}"""
_HSTS = re.compile(r"^max-age=(\d+)((?:;\s*(?:includeSubDomains|preload))*)\s*;?$", re.IGNORECASE)


class SiteNotBuilt(ValueError):
    """The web app's build output is missing: synth stops (``infra/app.py`` prints the message)."""


@dataclass(frozen=True)
class PageHeaders:
    """The page's headers as ``web/headers.json`` defines them, with the placeholders filled."""

    content_security_policy: str
    headers: Mapping[str, str]


def page_headers(spec: Mapping[str, Any], *, uploads: Sequence[str], auth: Sequence[str]) -> PageHeaders:
    """``web/headers.json`` -> the CSP string and the other headers. ``{uploads}`` and ``{auth}``
    stand for one source each in the file and may expand to several origins here."""
    fill = {"{uploads}": list(uploads), "{auth}": list(auth)}
    directives = []
    for directive, sources in spec["content_security_policy"].items():
        expanded = [o for source in sources for o in fill.get(source, [source])]
        unknown = [s for s in expanded if isinstance(s, str) and s.startswith("{") and s.endswith("}")]
        if unknown:
            raise ValueError(f"{HEADERS_FILE}: unknown placeholder {unknown[0]} in {directive}")
        directives.append(" ".join([directive, *expanded]))
    return PageHeaders("; ".join(directives), dict(spec.get("headers", {})))


def _security_behavior(page: PageHeaders) -> tuple[cloudfront.ResponseSecurityHeadersBehavior, dict[str, str]]:
    """CloudFront sets these headers with typed fields; every other header becomes a custom one."""
    custom = dict(page.headers)
    fields: dict[str, Any] = {
        "content_security_policy": cloudfront.ResponseHeadersContentSecurityPolicy(
            content_security_policy=page.content_security_policy, override=True
        )
    }
    if (value := custom.pop("X-Content-Type-Options", None)) is not None:
        if value.lower() != "nosniff":
            raise ValueError(f"{HEADERS_FILE}: X-Content-Type-Options can only be nosniff, got {value!r}")
        fields["content_type_options"] = cloudfront.ResponseHeadersContentTypeOptions(override=True)
    if (value := custom.pop("X-Frame-Options", None)) is not None:
        option = {"DENY": cloudfront.HeadersFrameOption.DENY, "SAMEORIGIN": cloudfront.HeadersFrameOption.SAMEORIGIN}
        if value.upper() not in option:
            raise ValueError(f"{HEADERS_FILE}: X-Frame-Options must be DENY or SAMEORIGIN, got {value!r}")
        fields["frame_options"] = cloudfront.ResponseHeadersFrameOptions(
            frame_option=option[value.upper()], override=True
        )
    if (value := custom.pop("Referrer-Policy", None)) is not None:
        name = value.strip().upper().replace("-", "_")
        if not hasattr(cloudfront.HeadersReferrerPolicy, name):
            raise ValueError(f"{HEADERS_FILE}: Referrer-Policy {value!r} is not one CloudFront can send")
        fields["referrer_policy"] = cloudfront.ResponseHeadersReferrerPolicy(
            referrer_policy=getattr(cloudfront.HeadersReferrerPolicy, name), override=True
        )
    if (value := custom.pop("Strict-Transport-Security", None)) is not None:
        match = _HSTS.match(value.strip())
        if not match:
            raise ValueError(f"{HEADERS_FILE}: Strict-Transport-Security {value!r} is not max-age=N[; ...]")
        flags = match[2].lower()
        fields["strict_transport_security"] = cloudfront.ResponseHeadersStrictTransportSecurity(
            access_control_max_age=cdk.Duration.seconds(int(match[1])),
            include_subdomains="includesubdomains" in flags,
            preload="preload" in flags,
            override=True,
        )
    return cloudfront.ResponseSecurityHeadersBehavior(**fields), custom


class Site(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site_dir: Path,
        access_logs: s3.IBucket,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (site_dir / INDEX).is_file():
            raise SiteNotBuilt(f"build the web app first: make web (no {INDEX} in {site_dir})")
        self.site_dir = site_dir
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=SITE_ACCESS_LOG_PREFIX,
            **_private_bucket_props(removal_policy),  # type: ignore[arg-type]
        )
        self.spa_fallback = cloudfront.Function(
            self,
            "Routes",
            code=cloudfront.FunctionCode.from_inline(_SPA_FALLBACK),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="the web app's own routes (no file extension) -> /index.html",
        )
        self.access = cloudfront.S3OriginAccessControl(self, "Access", signing=cloudfront.Signing.SIGV4_ALWAYS)

    def behavior(self, *, uploads: Sequence[str], auth: Sequence[str]) -> cloudfront.BehaviorOptions:
        """The distribution's default behaviour: the app from the private bucket (OAC), with the
        page's headers. ``uploads`` and ``auth`` are the origins the page may connect to."""
        page = page_headers(json.loads(HEADERS_FILE.read_text(encoding="utf-8")), uploads=uploads, auth=auth)
        if not cdk.Token.is_unresolved(page.content_security_policy) and len(page.content_security_policy) > (
            MAX_CSP_CHARS
        ):
            raise ValueError(f"{HEADERS_FILE}: the Content-Security-Policy exceeds CloudFront's {MAX_CSP_CHARS}")
        security, custom = _security_behavior(page)
        custom["Cache-Control"] = BROWSER_CACHE_CONTROL
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="imgpipe web app: CSP and security headers from web/headers.json",
            security_headers_behavior=security,
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(header=name, value=value, override=True)
                    for name, value in custom.items()
                ]
            ),
        )
        return cloudfront.BehaviorOptions(
            origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket, origin_access_control=self.access),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            response_headers_policy=self.headers,
            compress=True,
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=self.spa_fallback, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
        )

    def publish(self, distribution: cloudfront.IDistribution, config: Mapping[str, Any]) -> s3deploy.BucketDeployment:
        """Deploy the built app and ``config.json`` (values may be tokens: CloudFormation fills
        them in), then invalidate the distribution so the new version is served at once."""
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(self.site_dir)),
                s3deploy.Source.json_data(CONFIG_OBJECT, dict(config)),
            ],
            distribution=distribution,
            distribution_paths=["/*"],
            memory_limit=DEPLOYMENT_MEMORY_MB,
            # files of a previous build that this one no longer has are removed
            prune=True,
        )
        self._acknowledge_deployment_handler()
        return self.deployment

    def _acknowledge_deployment_handler(self) -> None:
        """CDK's BucketDeployment runs one singleton Lambda per stack (its own role and runtime,
        which imgpipe does not choose): its findings are acknowledged on it, with the reasons."""
        stack = cdk.Stack.of(self)
        # the singleton's id is CDK's (a prefix, then a uuid and the memory size)
        handler = next(c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment"))
        path = handler.node.path

        # cdk-nag names a resource as synthesized: literal where the stack's environment is known
        # (`cdk synth` with a region), a pseudo parameter where not (the tests' app).
        def shown(value: str, pseudo: str) -> str:
            return f"<AWS::{pseudo}>" if cdk.Token.is_unresolved(value) else value

        assets = (
            f"arn:{shown(stack.partition, 'Partition')}:s3:::cdk-{cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER}"
            f"-assets-{shown(stack.account, 'AccountId')}-{shown(stack.region, 'Region')}/*"
        )
        site = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        for finding, reason in (
            (
                f"AwsSolutions-IAM5[Resource::{assets}]",
                "CDK's BucketDeployment handler reads the built app from CDK's asset bucket.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::<{site}.Arn>/*]",
                "CDK's BucketDeployment handler writes and prunes every file of the site bucket.",
            ),
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's BucketDeployment handler writes its own logs with the basic execution managed policy.",
            ),
            *(
                (f"AwsSolutions-IAM5[Action::s3:{action}]", f"CDK's grant to its BucketDeployment handler: {why}.")
                for action, why in (
                    ("GetBucket*", "it reads the CDK asset bucket and the site bucket"),
                    ("GetObject*", "it copies the built app out of the CDK asset bucket"),
                    ("List*", "it lists what it replaces"),
                    ("DeleteObject*", "it prunes the files a new build no longer has"),
                    ("Abort*", "it uploads large files in parts"),
                )
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "CDK's BucketDeployment handler creates and reads CloudFront invalidations, which have no ARN.",
            ),
            ("AwsSolutions-L1", "CDK's BucketDeployment handler runs the Python runtime aws-cdk-lib pins."),
        ):
            nag.acknowledge(handler, finding, f"{path}: {reason}")
