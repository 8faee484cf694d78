"""The front door (docs/api.md): sign-in, the upload API, and CDN delivery of the variants.

- a Cognito user pool and a browser app client (no secret); self sign-up with email verification
  unless the context key ``self_signup`` is ``off``;
- an HTTP API whose routes come from the HTTP service's manifest (``services/api``), each behind a
  JWT authorizer on the pool except the manifest's public routes, throttled by context
  (``api_rate_limit``, ``api_burst_limit``);
- the API function, built from the same manifest as every service, with a role that may presign
  only under ``users/*`` of the uploads bucket and read only its users' catalog entries;
- one CloudFront distribution: ``/`` serves the web app from its private site bucket
  (``infra/components/site.py``), ``/v/*`` the private variants bucket, both through Origin Access
  Control, ``/api/*`` the API, and each edge service's paths (``/t/*``: on-demand transforms,
  ``infra/components/edge.py``) its function through the same HTTP API; the uploads bucket's CORS
  names the distribution's origin.

Caching (docs/api.md, "Caching"): variant URLs carry the upload's etag (``?v=``), which is part of
the cache key, so an overwritten upload gets new URLs; the edge keeps an object at most
``VARIANT_EDGE_TTL``, so even an unversioned URL is stale for minutes at most, while browsers may
keep a versioned one for a year.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from imgpipe.config import ENV_ORIGIN_TOKEN, ORIGIN_HEADER
from imgpipe.manifest import Manifest
from imgpipe.needs import Resource
from imgpipe.outputs import HELD_UNTIL_RELEASED, RELEASE_TAG, VISIBILITY_TAG, viewer_request_js
from imgpipe.registry import StackNames, function_config, parse_settings
from imgpipe_tools import outputs
from imgpipe_tools.outputs import PASSWORD_POLICY
from infra.components import nag
from infra.components.api_domain import ApiDomain, api_domain_setting
from infra.components.cdn_logs import log_distribution
from infra.components.edge import EdgeService
from infra.components.edge_guard import EdgeGuard, waf_setting
from infra.components.edge_region import ACL_STACK_SUFFIX, edge_scope
from infra.components.function import ServiceFunction, service_environment
from infra.components.needs import NeedGrants
from infra.components.site import API_BASE, INDEX, Site
from infra.constants import LOG_RETENTION

CTX_SELF_SIGNUP = "self_signup"  # "on" (default) or "off": only an admin creates users
CTX_SES_FROM = "ses_from"  # a verified SES sender for Cognito's emails (default: Cognito's own, ~50 a day)
CTX_API_RATE_LIMIT = "api_rate_limit"  # steady requests per second, whole API (default 50)
CTX_API_BURST_LIMIT = "api_burst_limit"  # burst (default 100)
DEFAULT_RATE_LIMIT = 50
DEFAULT_BURST_LIMIT = 100
VARIANTS_PATH = "/v/*"
API_PATH = "/api/*"
VARIANT_EDGE_TTL = cdk.Duration.minutes(5)
VARIANT_BROWSER_MAX_AGE_S = 365 * 86400
CORS_MAX_AGE_S = 3000
_COMMERCIAL_ONLY = ("AWS::CloudFront::", "AWS::Cognito::")
#: the stack outputs the front door adds (what `make deploy` prints: where the site is, how to sign in);
#: named in imgpipe_tools/outputs.py, which the CLI reads them back with
OUTPUT_KEYS = outputs.FRONT_DOOR


def origin_token(stack: cdk.Stack) -> str:
    """The CDN's proof to the functions behind the HTTP API (imgpipe.config.ORIGIN_HEADER): the
    stack's own UUID, random, known to nobody outside the account, and stable across deployments
    (no secret to rotate into the distribution and the functions at once)."""
    return cdk.Fn.select(2, cdk.Fn.split("/", stack.stack_id))


def _context_int(scope: Construct, key: str, default: int) -> int:
    value = scope.node.try_get_context(key)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"context '{key}': must be a positive integer, got {value!r}") from None
    if number < 1 or isinstance(value, bool):
        raise ValueError(f"context '{key}': must be a positive integer, got {value!r}")
    return number


def _email(scope: Construct) -> cognito.UserPoolEmail | None:
    """Cognito's own sender (None) allows about 50 emails a day per account: enough to try the
    stack, not for strangers' sign-ups, whose codes would use it up and stop real users' codes and
    password resets. ``-c ses_from=no-reply@example.com`` sends through SES from that verified
    address (or domain) in the stack's region."""
    value = scope.node.try_get_context(CTX_SES_FROM)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value):
        raise ValueError(f"context '{CTX_SES_FROM}': an email address SES has verified, got {value!r}")
    return cognito.UserPoolEmail.with_ses(from_email=value, ses_region=cdk.Stack.of(scope).region)


def _self_signup(scope: Construct) -> bool:
    value = scope.node.try_get_context(CTX_SELF_SIGNUP)
    if value in (None, "", "on", True):
        return True
    if value in ("off", False):
        return False
    raise ValueError(f"context '{CTX_SELF_SIGNUP}': must be 'on' or 'off', got {value!r}")


class FrontDoor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        manifest: Manifest,
        names: StackNames,
        settings_overrides: dict[str, Any] | None,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        uploads: s3.IBucket,
        variants: s3.IBucket,
        catalog: dynamodb.ITable,
        grants: NeedGrants,
        namespace: str,
        removal_policy: cdk.RemovalPolicy,
        site_dir: Path,
        access_logs: s3.IBucket,
        alarm_topic: sns.ITopic,
        served_visibilities: Sequence[str] = (),
        outputs_gated: bool = False,
        reserved_concurrency: int | None = None,
        edge: Sequence[EdgeService] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        http = manifest.http
        assert http is not None, f"{manifest.name} has no http trigger"
        stack = cdk.Stack.of(self)
        # The order below is the order the resources appear in the template: kept, so a change
        # here shows in a diff as what it is.
        self._sign_in(removal_policy)
        # the HTTP API before the distribution, which points at it; the function's routes after
        self._http_api(stack, removal_policy)

        auth_endpoint, origin_token = self._delivery(
            stack,
            variants,
            site_dir=site_dir,
            access_logs=access_logs,
            removal_policy=removal_policy,
            served_visibilities=served_visibilities,
            outputs_gated=outputs_gated,
            edge=edge,
        )
        self._api_function(
            manifest,
            names,
            settings_overrides,
            runtime=runtime,
            layer=layer,
            grants=grants,
            namespace=namespace,
            origin_token=origin_token,
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
            reserved_concurrency=reserved_concurrency,
        )
        self._routes(http.routes, http.public_routes, stack)
        for service in edge:
            self._edge_routes(service)
        self._allow_browser_uploads(uploads)
        self._publish_page_config(manifest, settings_overrides, uploads, auth_endpoint, stack)
        self._outputs(stack)
        self._waive_partition_checks()

    def _sign_in(self, removal_policy: cdk.RemovalPolicy) -> None:
        """The Cognito user pool and the browser's app client."""
        self_signup = _self_signup(self)
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=self_signup,
            email=_email(self),
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # one rule (imgpipe_tools/outputs.py): the page states it from config.json
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_POLICY["minLength"],
                require_lowercase=PASSWORD_POLICY["requireLowercase"],
                require_uppercase=PASSWORD_POLICY["requireUppercase"],
                require_digits=PASSWORD_POLICY["requireDigits"],
                require_symbols=PASSWORD_POLICY["requireSymbols"],
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            removal_policy=removal_policy,
        )
        nag.acknowledge(
            self.user_pool,
            "AwsSolutions-COG2",
            f"{self.user_pool.node.path}: MFA is optional (TOTP) for the uploaders: requiring it would block "
            "the self sign-up flow the upload widget offers; operators with AWS access do not sign in here.",
        )
        nag.acknowledge(
            self.user_pool,
            "AwsSolutions-COG8",
            f"{self.user_pool.node.path}: Cognito's threat protection needs the Plus feature plan (a per-user "
            "charge); the API's per-user quota and API Gateway throttling bound what a stolen account can do.",
        )
        self.client = self.user_pool.add_client(
            "Browser",
            generate_secret=False,  # a browser cannot keep a secret
            # Only what the page does: USER_PASSWORD_AUTH over TLS (and refresh, always on); no
            # SRP, no admin or custom flows, and no OAuth (no hosted UI, no callback URLs).
            auth_flows=cognito.AuthFlow(user_password=True),
            disable_o_auth=True,
            # sign-out revokes the refresh token (RevokeToken), so a copy of it stops working
            enable_token_revocation=True,
            prevent_user_existence_errors=True,
            access_token_validity=cdk.Duration.hours(1),
            id_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.days(30),
        )

    def _http_api(self, stack: cdk.Stack, removal_policy: cdk.RemovalPolicy) -> None:
        """The HTTP API and its default stage: throttling and access logs (the routes come later)."""
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays[LOG_RETENTION], removal_policy=removal_policy
        )
        # named after the stack: a second stack in the account never shares a name (test_operations)
        domain = api_domain_setting(self)
        self.api = apigw.HttpApi(
            self,
            "Api",
            api_name=f"{stack.stack_name}-upload-api",
            description="imgpipe upload API",
            create_default_stage=True,
            # with its own domain, the API answers nowhere else (api_domain.py)
            disable_execute_api_endpoint=domain is not None,
        )
        #: the name CloudFront reaches the API by
        self.api_origin = (
            ApiDomain(self, "ApiDomain", api=self.api, setting=domain).name
            if domain
            else f"{self.api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"
        )
        stage = self.api.default_stage
        assert stage is not None
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigw.CfnStage)
        cfn_stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
            throttling_rate_limit=_context_int(self, CTX_API_RATE_LIMIT, DEFAULT_RATE_LIMIT),
            throttling_burst_limit=_context_int(self, CTX_API_BURST_LIMIT, DEFAULT_BURST_LIMIT),
        )
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn,
            format=(
                '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","sub":'
                '"$context.authorizer.claims.sub","route":"$context.routeKey","status":"$context.status",'
                '"latencyMs":"$context.responseLatency","error":"$context.authorizer.error"}'
            ),
        )

    def _delivery(
        self,
        stack: cdk.Stack,
        variants: s3.IBucket,
        *,
        site_dir: Path,
        access_logs: s3.IBucket,
        removal_policy: cdk.RemovalPolicy,
        served_visibilities: Sequence[str],
        outputs_gated: bool,
        edge: Sequence[EdgeService],
    ) -> tuple[str, str]:
        """The web app and the CDN in front of it, the API and the variants; returns Cognito's
        endpoint (the page's config names it) and the origin token (the function checks it)."""
        self.site = Site(self, "Site", site_dir=site_dir, access_logs=access_logs, removal_policy=removal_policy)
        # What the page connects to besides its own origin: S3 for the presigned uploads (boto3
        # presigns on the bucket's global host; its regional host too) and Cognito's endpoint.
        # The CSP cannot name the uploads bucket itself: the bucket's CORS names the distribution,
        # so the distribution's headers naming the bucket would be a dependency cycle; it names S3's
        # hosts instead (docs/decisions.md, "Front door"). config.json, deployed after both, has
        # the exact origin.
        auth_endpoint = f"https://cognito-idp.{stack.region}.{stack.url_suffix}/"
        s3_hosts = [f"https://*.s3.{stack.url_suffix}", f"https://*.s3.{stack.region}.{stack.url_suffix}"]
        token = origin_token(stack)
        self.distribution = self._distribution(
            variants,
            stack,
            self.site.behavior(uploads=s3_hosts, auth=[auth_endpoint.rstrip("/")]),
            token,
            served_visibilities,
            edge,
        )
        # standard logs (v2) into the access-logs bucket, made in us-east-1 (cdn_logs.py)
        log_distribution(self, self.distribution, access_logs)
        if outputs_gated:
            self._deny_held_outputs(variants, stack)
        delivery_url = f"https://{self.distribution.distribution_domain_name}"
        #: the CDN's base URL (``<url>/v/<variant key>``), for every service that declares the need
        self.delivery_url = delivery_url
        return auth_endpoint, token

    def _api_function(
        self,
        manifest: Manifest,
        names: StackNames,
        settings_overrides: dict[str, Any] | None,
        *,
        runtime: lambda_.Runtime,
        layer: lambda_.ILayerVersion,
        grants: NeedGrants,
        namespace: str,
        origin_token: str,
        alarm_topic: sns.ITopic,
        removal_policy: cdk.RemovalPolicy,
        reserved_concurrency: int | None,
    ) -> None:
        """The API's function, with the CDN's URL and the origin token in its environment."""
        delivery_url = self.delivery_url
        config = function_config(
            manifest,
            StackNames(
                uploads_bucket=names.uploads_bucket,
                variants_bucket=names.variants_bucket,
                event_bus=names.event_bus,
                resources={**names.resources, Resource.DELIVERY_URL: delivery_url},
            ),
            settings_overrides,
        )
        # built like every imgpipe Lambda (logs, role, tracing, alarms, dashboard row); "Default":
        # its function, role and log group keep the ids they had as the front door's children
        self.lambda_ = ServiceFunction.of(
            self,
            manifest,
            runtime=runtime,
            layer=layer,
            environment=service_environment(config, namespace, **{ENV_ORIGIN_TOKEN: origin_token}),
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
            reserved_concurrency=reserved_concurrency,
        )
        self.log_group, self.role, self.function = self.lambda_.log_group, self.lambda_.role, self.lambda_.function
        grants.apply(self.role, manifest.needs)

    def _allow_browser_uploads(self, uploads: s3.IBucket) -> None:
        """Browsers upload straight to S3 from the distribution's origin. A rule of its own: the
        configured extra origins keep theirs (Storage's, from the cors_origins context)."""
        delivery_url = self.delivery_url
        assert isinstance(uploads, s3.Bucket)
        uploads.add_cors_rule(
            allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.PUT],
            allowed_origins=[delivery_url],
            allowed_headers=["*"],
            # Uppy reads a part's ETag and a POST's Location (as the local front door exposes them)
            exposed_headers=["ETag", "Location"],
            max_age=CORS_MAX_AGE_S,
        )

    def _publish_page_config(
        self,
        manifest: Manifest,
        settings_overrides: dict[str, Any] | None,
        uploads: s3.IBucket,
        auth_endpoint: str,
        stack: cdk.Stack,
    ) -> None:
        """The page's config.json (docs/api.md, "The web app"), written at deploy time."""
        page_config: dict[str, Any] = {
            "apiBase": API_BASE,
            "region": stack.region,
            "userPoolId": self.user_pool.user_pool_id,
            "userPoolClientId": self.client.user_pool_client_id,
            "authEndpoint": auth_endpoint,
            "uploadsOrigin": f"https://{uploads.bucket_domain_name}",
            "passwordPolicy": dict(PASSWORD_POLICY),
        }
        # the largest upload the API accepts, as parsed (a default in settings.py counts too)
        max_bytes = getattr(parse_settings(manifest, settings_overrides), "max_bytes", None)
        if max_bytes is not None:
            page_config["maxBytes"] = max_bytes
        self.site.publish(self.distribution, page_config)

    def _outputs(self, stack: cdk.Stack) -> None:
        """The stack's outputs: where the site and the API are, and how to create a user."""
        delivery_url = self.delivery_url
        values = {
            outputs.SITE_URL: delivery_url,
            outputs.API_URL: f"{delivery_url}{API_BASE}",
            outputs.USER_POOL_ID: self.user_pool.user_pool_id,
            outputs.USER_POOL_CLIENT_ID: self.client.user_pool_client_id,
            outputs.API_FUNCTION_NAME: self.function.function_name,
            # an admin's way in (and the only one with self_signup=off): Cognito emails a temporary
            # password, changed at the first sign-in
            outputs.CREATE_USER_COMMAND: (
                f"aws cognito-idp admin-create-user --region {stack.region} "
                f"--user-pool-id {self.user_pool.user_pool_id} --username you@example.com "
                "--user-attributes Name=email,Value=you@example.com Name=email_verified,Value=true"
            ),
        }
        assert set(values) == set(OUTPUT_KEYS)
        for key, value in values.items():
            cdk.CfnOutput(stack, key, value=value)

    def _waive_partition_checks(self) -> None:
        """CloudFront (and Cognito in part) are not offered in the GovCloud and China partitions,
        where the front door cannot be deployed: cfn-lint's check that each resource type exists
        in every region of every partition (E3006) is waived for those resources only."""
        for child in self.node.find_all():
            if isinstance(child, cdk.CfnResource) and child.cfn_resource_type.startswith(_COMMERCIAL_ONLY):
                child.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3006"]}})

    def _routes(self, routes: Sequence[str], public: Sequence[str], stack: cdk.Stack) -> None:
        issuer = f"https://cognito-idp.{stack.region}.{stack.url_suffix}/{self.user_pool.user_pool_id}"
        jwt = authorizers.HttpJwtAuthorizer(
            "Jwt",
            issuer,
            authorizer_name=f"{stack.stack_name}-cognito",
            jwt_audience=[self.client.user_pool_client_id],
            identity_source=["$request.header.Authorization"],
        )
        integration = integrations.HttpLambdaIntegration("Function", self.function)
        for route in routes:
            method, path = route.split(" ", 1)
            [added] = self.api.add_routes(
                path=path,
                methods=[apigw.HttpMethod(method)],
                integration=integration,
                authorizer=apigw.HttpNoneAuthorizer() if route in public else jwt,
            )
            if route in public:
                nag.acknowledge(
                    added,
                    "AwsSolutions-APIG4",
                    f"{added.node.path}: {route} is public by design (the manifest's public_routes): the "
                    "OpenAPI document describes the API and holds no user data.",
                )

    def _edge_routes(self, service: EdgeService) -> None:
        """The edge service's paths on the HTTP API, without an authorizer: the distribution's
        behaviour sends its cache misses there, each request signed (docs/transforms.md)."""
        integration = integrations.HttpLambdaIntegration(f"{service.manifest.name.title()}Function", service.function)
        for path in service.api_routes():
            for added in self.api.add_routes(
                path=path,
                methods=[apigw.HttpMethod.GET, apigw.HttpMethod.HEAD],
                integration=integration,
                authorizer=apigw.HttpNoneAuthorizer(),
            ):
                nag.acknowledge(
                    added,
                    "AwsSolutions-APIG4",
                    f"{added.node.path}: public by design: every request carries an HMAC signature over the "
                    "transform, the upload's key and ETag, checked before anything is read (docs/transforms.md).",
                )

    def _distribution(
        self,
        variants: s3.IBucket,
        stack: cdk.Stack,
        site: cloudfront.BehaviorOptions,
        origin_token: str,
        served_visibilities: Sequence[str],
        edge: Sequence[EdgeService] = (),
    ) -> cloudfront.Distribution:
        security = cloudfront.ResponseSecurityHeadersBehavior(
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=cdk.Duration.days(365), include_subdomains=True, override=True
            ),
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            frame_options=cloudfront.ResponseHeadersFrameOptions(
                frame_option=cloudfront.HeadersFrameOption.DENY, override=True
            ),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
            ),
            xss_protection=cloudfront.ResponseHeadersXSSProtection(protection=True, mode_block=True, override=True),
        )
        variant_headers = cloudfront.ResponseHeadersPolicy(
            self,
            "VariantHeaders",
            comment="imgpipe variants: security headers, long browser cache (URLs are versioned)",
            security_headers_behavior=security,
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Cache-Control",
                        value=f"public, max-age={VARIANT_BROWSER_MAX_AGE_S}, immutable",
                        override=True,
                    )
                ]
            ),
        )
        api_headers = cloudfront.ResponseHeadersPolicy(
            self, "ApiHeaders", comment="imgpipe API: security headers", security_headers_behavior=security
        )
        variant_cache = cloudfront.CachePolicy(
            self,
            "VariantCache",
            comment="imgpipe variants: keyed by path and the upload's etag (?v=)",
            default_ttl=VARIANT_EDGE_TTL,
            max_ttl=VARIANT_EDGE_TTL,
            min_ttl=cdk.Duration.seconds(0),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.allow_list("v"),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            # images are compressed already: no gzip/brotli variants in the cache key
            enable_accept_encoding_gzip=False,
            enable_accept_encoding_brotli=False,
        )
        # 404 for a path not shaped like a public image (facts, sidecars, _backfill/): the same rule
        # the local front door applies (imgpipe/outputs.py). It names no producer: whether an object
        # is served is its own tag's to say, in the bucket policy (_grant_public_outputs)
        strip = cloudfront.Function(
            self,
            "StripV",
            code=cloudfront.FunctionCode.from_inline(viewer_request_js()),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="/v/<key> -> /<key> in the variants bucket, public outputs only",
        )
        # the distribution signs every request to the private variants bucket (SigV4, always)
        oac = cloudfront.S3OriginAccessControl(self, "VariantsAccess", signing=cloudfront.Signing.SIGV4_ALWAYS)
        # CloudFront forwards the Authorization header only when it is part of the cache key (an origin
        # request policy may not name it), and a cache key needs a TTL above zero: one second at most,
        # keyed by the token, and the API's answers say no-store anyway.
        api_cache = cloudfront.CachePolicy(
            self,
            "ApiCache",
            comment="imgpipe API: not cached; keyed by Authorization so that the token reaches the API",
            default_ttl=cdk.Duration.seconds(0),
            min_ttl=cdk.Duration.seconds(0),
            max_ttl=cdk.Duration.seconds(1),
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Authorization"),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
        )
        api_behavior = cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(
                self.api_origin,
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                custom_headers={ORIGIN_HEADER: origin_token},
            ),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=api_cache,
            # API Gateway routes by its own host name: everything of the viewer's request but Host
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=api_headers,
        )
        waf = waf_setting(self)
        if waf == "on":
            acl_scope = edge_scope(self, ACL_STACK_SUFFIX, f"imgpipe: the web ACL of {stack.stack_name}'s distribution")
            web_acl_arn: str | None = EdgeGuard(acl_scope, "EdgeGuard", stack_name=stack.stack_name).arn
        else:
            web_acl_arn = waf
        distribution = cloudfront.Distribution(
            self,
            "Cdn",
            web_acl_id=web_acl_arn,
            comment="imgpipe: the web app at /, variants under /v/, the upload API under /api/"
            + "".join(f", {service.manifest.name} under {', '.join(service.paths)}" for service in edge),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            default_behavior=site,
            default_root_object=INDEX,
            additional_behaviors={
                API_PATH: api_behavior,
                VARIANTS_PATH: cloudfront.BehaviorOptions(
                    origin=origins.S3BucketOrigin.with_origin_access_control(
                        # a reference, not the bucket: CDK would grant the distribution every key;
                        # the grant below names the public prefixes only
                        s3.Bucket.from_bucket_attributes(
                            self,
                            "VariantsOrigin",
                            bucket_arn=variants.bucket_arn,
                            bucket_name=variants.bucket_name,
                            bucket_regional_domain_name=variants.bucket_regional_domain_name,
                        ),
                        origin_access_control=oac,
                    ),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cache_policy=variant_cache,
                    response_headers_policy=variant_headers,
                    compress=False,
                    function_associations=[
                        cloudfront.FunctionAssociation(
                            function=strip, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                        )
                    ],
                ),
                # the services the distribution calls itself (on-demand transforms under /t/*),
                # through the HTTP API's origin and so with its origin header
                **{
                    path: behavior
                    for service in edge
                    for path, behavior in service.behaviors(self, security, api_behavior.origin).items()
                },
            },
        )
        self._grant_public_outputs(variants, distribution, stack, served_visibilities)
        findings = [
            ("AwsSolutions-CFR1", "The images are public by design for anyone holding a link; no country is excluded."),
        ]
        if web_acl_arn is None:
            findings.append(
                (
                    "AwsSolutions-CFR2",
                    "No WAF web ACL unless -c waf=on (a monthly charge): the API keeps a per-user request rate, a "
                    "daily quota, a JWT authorizer and stage throttling; the variants are read-only.",
                )
            )
        for finding, reason in (
            *findings,
            (
                "AwsSolutions-CFR3",
                "the rule checks the legacy standard logs, which need ACLs on the target bucket (every imgpipe "
                "bucket has them off); the distribution's standard logs (v2) go to the access-logs bucket through "
                "a CloudWatch Logs delivery in us-east-1 (cdn_logs.py).",
            ),
            (
                "AwsSolutions-CFR4",
                "The distribution uses its default *.cloudfront.net certificate, for which CloudFront fixes the "
                "TLS policy; a deployment with a custom domain and certificate sets TLSv1.2_2021.",
            ),
        ):
            nag.acknowledge(distribution, finding, f"{distribution.node.path}: {reason}")
        return distribution

    def _deny_held_outputs(self, variants: s3.IBucket, stack: cdk.Stack) -> None:
        """An output written held (a deployment with moderate: imgpipe/outputs.py) is unservable
        until its round is released: the distribution may not read an object carrying the tag,
        whoever built the URL and whatever the function lets through."""
        variants.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CdnNeverReadsHeldOutputs",
                effect=iam.Effect.DENY,
                actions=["s3:GetObject"],
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                resources=[variants.arn_for_objects("*")],
                conditions={"StringEquals": {f"s3:ExistingObjectTag/{RELEASE_TAG}": HELD_UNTIL_RELEASED}},
            )
        )

    def _grant_public_outputs(
        self,
        variants: s3.IBucket,
        distribution: cloudfront.Distribution,
        stack: cdk.Stack,
        served_visibilities: Sequence[str],
    ) -> None:
        """The distribution may read an object of the variants bucket only when its producer tagged
        it with a served visibility (imgpipe/outputs.py) in the PUT that wrote it: an untagged
        object (facts, sidecars, backfill's files under ``_backfill/``, anything written by hand)
        is never served, whatever the CloudFront Function lets through. The condition names roles
        and the srcset's set, never a list of producers: adding a service leaves it as it is."""
        cdk.Annotations.of(self).acknowledge_warning(
            "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
            "the distribution's read grant is written here, narrowed to objects tagged public",
        )
        if not served_visibilities:
            return
        variants.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CdnReadsPublicOutputsOnly",
                actions=["s3:GetObject"],
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                resources=[variants.arn_for_objects("*")],
                conditions={
                    "StringEquals": {
                        "AWS:SourceArn": stack.format_arn(
                            service="cloudfront",
                            region="",
                            resource="distribution",
                            resource_name=distribution.distribution_id,
                        ),
                        f"s3:ExistingObjectTag/{VISIBILITY_TAG}": sorted(served_visibilities),
                    }
                },
            )
        )
