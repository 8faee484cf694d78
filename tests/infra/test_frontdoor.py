"""The front door on the synthesized template: the HTTP API and its JWT authorizer on every route
but the OpenAPI document, the user pool and its browser client, the distribution with OAC, the
uploads bucket's CORS, and the API function's least-privilege role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imgpipe.catalog.schema import OWNER_INDEX
from imgpipe.manifest import load_manifest
from imgpipe_tools import outputs
from tests.infra.synth import REPO_SERVICES, Synthesized, context_json, synthesize


def _one(synthesized: Synthesized, cfn_type: str) -> dict[str, Any]:
    (resource,) = synthesized.of_type(cfn_type).values()
    return resource["Properties"]


def _ref_of(synthesized: Synthesized, construct: Any) -> str:
    return synthesized.logical_id(construct)


def test_every_manifest_route_is_a_gateway_route_and_only_the_document_is_public(synthesized: Synthesized) -> None:
    http = load_manifest(REPO_SERVICES / "api").http
    assert http is not None
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"] for r in synthesized.of_type("AWS::ApiGatewayV2::Route").values()
    }
    # and the transform service's paths, each request signed (tests/infra/test_transform_stack.py)
    edge = {f"{method} /t/{{proxy+}}" for method in ("GET", "HEAD")}
    assert set(routes) == set(http.routes) | edge
    (authorizer_id,) = synthesized.of_type("AWS::ApiGatewayV2::Authorizer")
    for key, props in routes.items():
        if key == "GET /api/openapi.json" or key in edge:
            assert props.get("AuthorizationType", "NONE") == "NONE" and "AuthorizerId" not in props
        else:
            assert props["AuthorizationType"] == "JWT", key
            assert props["AuthorizerId"] == {"Ref": authorizer_id}, key


def test_the_jwt_authorizer_trusts_the_pool_and_its_browser_client(synthesized: Synthesized) -> None:
    front = synthesized.stack.frontdoor
    authorizer = _one(synthesized, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    config = authorizer["JwtConfiguration"]
    assert config["Audience"] == [{"Ref": _ref_of(synthesized, front.client)}]
    assert _ref_of(synthesized, front.user_pool) in json.dumps(config["Issuer"])


def test_the_user_pool_verifies_email_and_the_client_has_no_secret(synthesized: Synthesized) -> None:
    pool = _one(synthesized, "AWS::Cognito::UserPool")
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False  # self sign-up is on by default
    client = _one(synthesized, "AWS::Cognito::UserPoolClient")
    assert client.get("GenerateSecret", False) is False
    assert client["PreventUserExistenceErrors"] == "ENABLED"


def test_the_stage_is_throttled(synthesized: Synthesized) -> None:
    stage = _one(synthesized, "AWS::ApiGatewayV2::Stage")
    settings = stage["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == 50 and settings["ThrottlingBurstLimit"] == 100
    assert "DestinationArn" in stage["AccessLogSettings"]


def test_the_distribution_serves_variants_through_oac_and_the_api(synthesized: Synthesized) -> None:
    dist = _one(synthesized, "AWS::CloudFront::Distribution")["DistributionConfig"]
    assert dist["HttpVersion"] == "http2and3"
    behaviors = {b["PathPattern"]: b for b in dist["CacheBehaviors"]}
    assert set(behaviors) == {"/v/*", "/api/*", "/t/*"}  # /t/*: tests/infra/test_transform_stack.py
    assert behaviors["/v/*"]["Compress"] is False
    assert behaviors["/v/*"]["ViewerProtocolPolicy"] == "redirect-to-https"
    origins = {o["Id"]: o for o in dist["Origins"]}
    variants_origin = origins[behaviors["/v/*"]["TargetOriginId"]]
    assert "OriginAccessControlId" in variants_origin
    assert variants_origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    oacs = synthesized.of_type("AWS::CloudFront::OriginAccessControl")
    oac = oacs[variants_origin["OriginAccessControlId"]["Fn::GetAtt"][0]]
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    api_origin = origins[behaviors["/api/*"]["TargetOriginId"]]
    assert set(behaviors["/api/*"]["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # the variants bucket stays private: its policy lets only CloudFront (this distribution) read
    policies = [p["Properties"]["PolicyDocument"] for p in synthesized.of_type("AWS::S3::BucketPolicy").values()]
    reads = [
        s
        for doc in policies
        for s in doc["Statement"]
        if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"} and s["Effect"] == "Allow"
    ]
    assert reads and all(s["Action"] == "s3:GetObject" and "AWS:SourceArn" in json.dumps(s["Condition"]) for s in reads)


def test_variants_get_security_headers_and_a_long_browser_cache_keyed_by_etag(synthesized: Synthesized) -> None:
    dist = _one(synthesized, "AWS::CloudFront::Distribution")["DistributionConfig"]
    by_id = synthesized.of_type("AWS::CloudFront::ResponseHeadersPolicy")
    policies = [
        by_id[b["ResponseHeadersPolicyId"]["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
        for b in dist["CacheBehaviors"]
    ]
    # the variants', the API's and the transforms' (the page's: tests/infra/test_site.py)
    assert len(policies) == 3
    for policy in policies:
        security = policy["SecurityHeadersConfig"]
        assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
        assert security["FrameOptions"]["FrameOption"] == "DENY"
        assert security["ContentTypeOptions"]["Override"] is True
    (variant,) = [p for p in policies if "CustomHeadersConfig" in p]
    (header,) = variant["CustomHeadersConfig"]["Items"]
    assert header["Header"] == "Cache-Control" and "immutable" in header["Value"]
    dist = _one(synthesized, "AWS::CloudFront::Distribution")["DistributionConfig"]
    [variants] = [b for b in dist["CacheBehaviors"] if b["PathPattern"] == "/v/*"]
    policies = synthesized.of_type("AWS::CloudFront::CachePolicy")
    cache = policies[variants["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    assert cache["MaxTTL"] <= 300  # stale for minutes at most, whatever the URL
    keys = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert keys["QueryStringsConfig"] == {"QueryStringBehavior": "whitelist", "QueryStrings": ["v"]}


def test_the_uploads_bucket_cors_names_only_the_distributions_origin(synthesized: Synthesized) -> None:
    buckets = [
        b["Properties"]
        for b in synthesized.of_type("AWS::S3::Bucket").values()
        if "CorsConfiguration" in b["Properties"]
    ]
    (bucket,) = buckets
    (rule,) = bucket["CorsConfiguration"]["CorsRules"]
    assert set(rule["AllowedMethods"]) == {"POST", "PUT"}
    assert rule["ExposedHeaders"] == ["ETag", "Location"]  # what Uppy reads after a part and a POST
    origins = rule["AllowedOrigins"]
    assert "*" not in origins
    dist = _ref_of(synthesized, synthesized.stack.frontdoor.distribution)
    assert origins == [{"Fn::Join": ["", ["https://", {"Fn::GetAtt": [dist, "DomainName"]}]]}]


def _statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    role = _ref_of(synthesized, synthesized.stack.frontdoor.role)
    docs = [
        p["Properties"]["PolicyDocument"]
        for p in synthesized.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    return [s for doc in docs for s in doc["Statement"]]


def test_the_api_role_may_touch_only_users_uploads_and_its_index(synthesized: Synthesized) -> None:
    statements = _statements(synthesized)
    by_sid = {s.get("Sid"): s for s in statements}
    objects = by_sid["UsersUploads"]
    assert json.dumps(objects["Resource"]).endswith('/users/*"]]}')
    assert "s3:GetObject" not in objects["Action"]
    assert by_sid["ListUsersUploads"]["Condition"] == {"StringLike": {"s3:prefix": ["users/*"]}}
    query = by_sid["QueryOwnerIndex"]
    assert query["Action"] == "dynamodb:Query"
    assert json.dumps(query["Resource"]).endswith(f'/index/{OWNER_INDEX}"]]}}')
    assert by_sid["ReadUsersRounds"]["Action"] == "dynamodb:GetItem"
    assert "users/*" in json.dumps(by_sid["ReadUsersRounds"]["Condition"])
    assert by_sid["CountUsersUploadsAndRequests"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["quota#*", "rate#*"]}
    }
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    # nothing else of DynamoDB or S3: no Scan, no PutItem, no read of any upload or variant
    assert {a for a in actions if a.startswith(("dynamodb:", "s3:"))} == {
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
    }


def test_the_catalog_has_the_owner_index(synthesized: Synthesized) -> None:
    (table,) = synthesized.of_type("AWS::DynamoDB::Table").values()
    (index,) = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == OWNER_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["owner", "first_seen_at"]


def test_the_outputs_name_the_site_the_user_pool_and_how_to_create_a_user(synthesized: Synthesized) -> None:
    template_outputs = synthesized.template["Outputs"]
    assert set(outputs.FRONT_DOOR) <= set(template_outputs)
    front = synthesized.stack.frontdoor
    dist = _ref_of(synthesized, front.distribution)
    site = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [dist, "DomainName"]}]]}
    assert template_outputs["SiteUrl"]["Value"] == site
    assert template_outputs["ApiUrl"]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [dist, "DomainName"]}, "/api"]]
    }
    assert template_outputs["UserPoolId"]["Value"] == {"Ref": _ref_of(synthesized, front.user_pool)}
    assert template_outputs["UserPoolClientId"]["Value"] == {"Ref": _ref_of(synthesized, front.client)}
    command = json.dumps(template_outputs["CreateUserCommand"]["Value"])
    assert "aws cognito-idp admin-create-user" in command and _ref_of(synthesized, front.user_pool) in command
    # the CLI reads them back (imgpipe status shows the variants' CDN URLs from SiteUrl)
    deployed = {
        outputs.UPLOADS_BUCKET: "up",
        outputs.VARIANTS_BUCKET: "var",
        outputs.SITE_URL: "https://d1.cloudfront.net",
        outputs.USER_POOL_ID: "us-east-1_abc",
        outputs.USER_POOL_CLIENT_ID: "client",
        outputs.API_FUNCTION_NAME: "Imgpipe-FrontDoorFunction",
    }
    resources = outputs.from_outputs(deployed, "stack Imgpipe")
    assert (resources.delivery_url, resources.user_pool_id, resources.user_pool_client_id) == (
        "https://d1.cloudfront.net",
        "us-east-1_abc",
        "client",
    )
    assert not resources.processors  # ApiFunctionName is not mistaken for a service's FunctionName
    assert outputs.from_outputs({outputs.UPLOADS_BUCKET: "u", outputs.VARIANTS_BUCKET: "v"}, "s").delivery_url == ""


def test_the_api_function_has_no_managed_policy_no_queue_and_no_secret(synthesized: Synthesized) -> None:
    front = synthesized.stack.frontdoor
    role = synthesized.resources[_ref_of(synthesized, front.role)]["Properties"]
    assert not role.get("ManagedPolicyArns")
    actions = {
        a for s in _statements(synthesized) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not any(a == "*" or a.endswith(":*") or a.startswith(("sqs:", "sns:", "events:")) for a in actions)
    env = synthesized.resources[_ref_of(synthesized, front.function)]["Properties"]["Environment"]["Variables"]
    assert env["IMGPIPE_PROCESSOR"] == "api"
    assert env["IMGPIPE_DELIVERY_URL"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [_ref_of(synthesized, front.distribution), "DomainName"]}]]
    }
    assert set(env) >= {"IMGPIPE_USER_CATALOG_TABLE", "IMGPIPE_UPLOADS_BUCKET", "IMGPIPE_SETTINGS"}


@pytest.fixture(scope="module")
def locked_down(tmp_path_factory: pytest.TempPathFactory, services_snapshot: Path) -> Synthesized:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out-frontdoor"),
        services_snapshot,
        self_signup="off",
        api_rate_limit="5",
        api_burst_limit="10",
        cors_origins=context_json(["https://app.example.com", "*"]),
    )


def test_context_switches_sign_up_throttling_and_extra_origins(locked_down: Synthesized) -> None:
    pool = _one(locked_down, "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    settings = _one(locked_down, "AWS::ApiGatewayV2::Stage")["DefaultRouteSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (5, 10)
    [bucket] = [
        b["Properties"]
        for b in locked_down.of_type("AWS::S3::Bucket").values()
        if "CorsConfiguration" in b["Properties"]
    ]
    origins = [o for rule in bucket["CorsConfiguration"]["CorsRules"] for o in rule["AllowedOrigins"]]
    assert "https://app.example.com" in origins and "*" not in origins and len(origins) == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"self_signup": "maybe"},
        {"api_rate_limit": "0"},
        {"api_burst_limit": "many"},
        {"waf": "maybe"},
        {"ses_from": "not an address"},
    ],
)
def test_a_bad_front_door_context_value_fails_synth(
    tmp_path: Path, services_snapshot: Path, bad: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match=f"context '{next(iter(bad))}'"):
        synthesize(tmp_path, services_snapshot, **bad)


def test_the_token_reaches_the_api_and_no_answer_is_cached(synthesized: Synthesized) -> None:
    dist = _one(synthesized, "AWS::CloudFront::Distribution")["DistributionConfig"]
    [api] = [b for b in dist["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    policies = synthesized.of_type("AWS::CloudFront::CachePolicy")
    cache = policies[api["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    # CloudFront forwards Authorization only as part of the cache key
    assert cache["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"] == ["Authorization"]
    assert cache["DefaultTTL"] == 0 and cache["MaxTTL"] <= 1
    # "/" is the web app (tests/infra/test_site.py), never the API's uncached behaviour
    assert dist["DefaultCacheBehavior"]["CachePolicyId"] != api["CachePolicyId"]


def _http_and_event_manifests() -> tuple[list[Any], list[Any]]:
    from imgpipe.registry import discover

    return discover(REPO_SERVICES), discover(REPO_SERVICES, http=True)


def test_the_api_settings_are_overridable_by_context(tmp_path: Path, services_snapshot: Path) -> None:
    s = synthesize(tmp_path, services_snapshot, settings=context_json({"api": {"uploads_per_day": 7}}))
    env = s.resources[s.logical_id(s.stack.frontdoor.function)]["Properties"]["Environment"]["Variables"]
    assert json.loads(env["IMGPIPE_SETTINGS"])["uploads_per_day"] == 7


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"api": {"uploads_per_dai": 7}}, "ContextError", "api has no setting 'uploads_per_dai'"),
        ({"api": {"page_size": 0}}, "SettingsError", "settings of api: 'page_size'"),
    ],
)
def test_a_bad_api_setting_stops_synth_with_its_name(
    tmp_path: Path, services_snapshot: Path, settings: dict[str, Any], error: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as failure:
        synthesize(tmp_path, services_snapshot, settings=context_json(settings))
    assert type(failure.value).__name__ == error


def test_key_prefixes_must_keep_the_upload_apis_users_prefix() -> None:
    from infra.params import ContextError, from_context

    events, http = _http_and_event_manifests()
    narrowed = from_context({"key_prefixes": "photos/"}.get, environ={})
    message = r"context 'key_prefixes': the upload API \(api\) stores uploads under users/"
    with pytest.raises(ContextError, match=message):
        narrowed.check_against(events, http)
    narrowed.check_against(events)  # without the front door, any prefix will do
    for prefixes in ("photos/,users/", "u"):
        from_context({"key_prefixes": prefixes}.get, environ={}).check_against(events, http)


def test_a_service_that_needs_the_delivery_url_gets_the_cdns(synthesized: Synthesized) -> None:
    """notify declares delivery_url: its email links the variants on the CDN (services/notify)."""
    from imgpipe.needs import Need

    dist = _ref_of(synthesized, synthesized.stack.frontdoor.distribution)
    site = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [dist, "DomainName"]}]]}
    needing = [name for name, p in synthesized.stack.processors.items() if Need.DELIVERY_URL in p.manifest.needs]
    assert "notify" in needing
    for name in synthesized.stack.processors:
        function = synthesized.stack.processors[name].function
        env = synthesized.resources[_ref_of(synthesized, function)]["Properties"]["Environment"]["Variables"]
        assert env.get("IMGPIPE_DELIVERY_URL") == (site if name in needing else None), name


def test_the_app_client_allows_only_the_pages_flows_and_revocation(synthesized: Synthesized) -> None:
    client = _one(synthesized, "AWS::Cognito::UserPoolClient")
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    # no OAuth: no flows, scopes, callback or logout URLs (CDK's defaults would add example.com)
    for key in ("AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs", "LogoutURLs"):
        assert not client.get(key), key
    assert client.get("AllowedOAuthFlowsUserPoolClient", False) is False
    assert client["EnableTokenRevocation"] is True


def test_the_pool_has_the_one_password_rule(synthesized: Synthesized) -> None:
    from imgpipe_tools.outputs import cognito_password_policy

    pool = _one(synthesized, "AWS::Cognito::UserPool")
    rule = pool["Policies"]["PasswordPolicy"]
    assert {k: rule[k] for k in cognito_password_policy()} == cognito_password_policy()


def test_the_api_pages_on_5xx_throttles_rate_and_4xx_share_and_forged_events(synthesized: Synthesized) -> None:
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm")
    api_id = {"Ref": _ref_of(synthesized, synthesized.stack.frontdoor.api)}

    def on(metric: str, namespace: str) -> list[dict[str, Any]]:
        return [
            a["Properties"]
            for a in alarms.values()
            if a["Properties"].get("MetricName") == metric and a["Properties"].get("Namespace") == namespace
        ]

    [server] = on("5xx", "AWS/ApiGateway")
    assert {"Name": "ApiId", "Value": api_id} in server["Dimensions"] and server["Threshold"] == 1
    assert server["AlarmActions"] and server["OKActions"]
    function = {"Ref": _ref_of(synthesized, synthesized.stack.frontdoor.function)}
    throttles = [
        a for a in on("Throttles", "AWS/Lambda") if {"Name": "FunctionName", "Value": function} in a["Dimensions"]
    ]
    assert len(throttles) == 1
    [rate] = [a for a in alarms.values() if a["Properties"].get("MetricName") == "RateLimited"]
    assert rate["Properties"]["Dimensions"] == [{"Name": "service", "Value": "api"}]
    [share] = [
        a["Properties"]
        for a in alarms.values()
        if any(m.get("Expression", "").startswith("IF(requests") for m in a["Properties"].get("Metrics", []))
    ]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in share["Metrics"] if "MetricStat" in m}
    assert names == {"4xx", "Count"} and share["Threshold"] == 25
    [forged] = [a for a in alarms.values() if a["Properties"].get("MetricName") == "ForgedEventsRejected"]
    assert forged["Properties"]["Threshold"] == 1 and forged["Properties"]["AlarmActions"]


def test_the_api_answers_only_requests_through_the_distribution(synthesized: Synthesized) -> None:
    from imgpipe.config import ENV_ORIGIN_TOKEN, ORIGIN_HEADER

    dist = _one(synthesized, "AWS::CloudFront::Distribution")["DistributionConfig"]
    [api_behavior] = [b for b in dist["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    [origin] = [o for o in dist["Origins"] if o["Id"] == api_behavior["TargetOriginId"]]
    [header] = origin["OriginCustomHeaders"]
    assert header["HeaderName"] == ORIGIN_HEADER
    function = synthesized.resources[_ref_of(synthesized, synthesized.stack.frontdoor.function)]["Properties"]
    token = function["Environment"]["Variables"][ENV_ORIGIN_TOKEN]
    assert token == header["HeaderValue"]
    assert "AWS::StackId" in json.dumps(token)  # the stack's own UUID: no constant in the template


def test_the_edge_limits_each_address_and_token_on_the_api_when_waf_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    synthesized = synthesize(tmp_path, REPO_SERVICES, waf="on", ses_from="no-reply@example.com")
    acl = _one(synthesized, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "CLOUDFRONT" and acl["DefaultAction"] == {"Allow": {}}
    rules = {r["Name"]: r for r in acl["Rules"]}
    assert set(rules) == {"PerAddress", "PerToken"}
    for rule in rules.values():
        rate = rule["Statement"]["RateBasedStatement"]
        assert rate["EvaluationWindowSec"] == 60
        match = rate["ScopeDownStatement"]["ByteMatchStatement"]
        assert (match["SearchString"], match["PositionalConstraint"]) == ("/api/", "STARTS_WITH")
        assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    assert rules["PerAddress"]["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    token = rules["PerToken"]["Statement"]["RateBasedStatement"]
    assert token["AggregateKeyType"] == "CUSTOM_KEYS"
    assert token["CustomKeys"][0]["Header"]["Name"] == "authorization"
    dist = _one(synthesized, "AWS::CloudFront::Distribution")["DistributionConfig"]
    [acl_id] = synthesized.of_type("AWS::WAFv2::WebACL")
    assert dist["WebACLId"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    pool = _one(synthesized, "AWS::Cognito::UserPool")
    assert pool["EmailConfiguration"]["EmailSendingAccount"] == "DEVELOPER"
    assert pool["EmailConfiguration"]["From"] == "no-reply@example.com"


def test_waf_is_off_by_default_and_on_needs_a_known_region(synthesized: Synthesized, tmp_path: Path) -> None:
    assert synthesized.of_type("AWS::WAFv2::WebACL") == {}
    assert "WebACLId" not in _one(synthesized, "AWS::CloudFront::Distribution")["DistributionConfig"]
    # whether the stack is in us-east-1 (the ACL in it) or not (the ACL in a companion stack) must be known
    with pytest.raises(ValueError, match=r"context 'waf': .*not known at synth"):
        synthesize(tmp_path, REPO_SERVICES, waf="on")


def _cdn_reads(synthesized: Synthesized) -> list[dict[str, Any]]:
    policies = [p["Properties"]["PolicyDocument"] for p in synthesized.of_type("AWS::S3::BucketPolicy").values()]
    return [
        s
        for doc in policies
        for s in doc["Statement"]
        if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"} and s["Effect"] == "Allow"
    ]


def _object_prefixes(statement: dict[str, Any]) -> list[str]:
    """The key patterns a statement's resources name (``Fn::Join`` of the bucket's ARN and ``/<pattern>``)."""
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return sorted(r["Fn::Join"][1][-1].lstrip("/") for r in resources)


def test_the_cdn_may_read_only_objects_tagged_with_a_served_visibility(synthesized: Synthesized) -> None:
    # every service deployed: facts (describe, moderate) and backfill's _backfill/ are written
    # untagged, so outside the grant, whatever their prefix; no producer is named
    reads = [s for s in _cdn_reads(synthesized) if "Fn::Join" in json.dumps(s["Resource"])]
    variants_reads = [s for s in reads if "Variants" in json.dumps(s["Resource"])]
    assert len(variants_reads) == 1, variants_reads
    [read] = variants_reads
    assert _object_prefixes(read) == ["*"]
    # watermark's widths are the srcset (its default): resize's clean widths ("responsive:resize")
    # and convert's clean full-size picture ("full") are not among the values
    tag = read["Condition"]["StringEquals"]["s3:ExistingObjectTag/imgpipe-visibility"]
    assert tag == ["derived", "preview", "responsive:watermark"]
    assert "AWS:SourceArn" in read["Condition"]["StringEquals"]


def test_the_viewer_function_checks_the_path_s_shape_and_names_no_producer(synthesized: Synthesized) -> None:
    functions = synthesized.of_type("AWS::CloudFront::Function")
    [code] = [
        f["Properties"]["FunctionCode"] for f in functions.values() if "IMAGES" in f["Properties"]["FunctionCode"]
    ]
    from imgpipe.outputs import viewer_request_js
    from imgpipe.registry import DEFAULT_ROOT, discover

    # the same rule as the local front door's (imgpipe.outputs.servable), the same in any deployment
    assert code == viewer_request_js()
    for m in discover(DEFAULT_ROOT):
        assert f'"{m.name}' not in code, m.name


def _variants_statements(s: Synthesized) -> list[dict[str, Any]]:
    [policy] = [
        r["Properties"]["PolicyDocument"]
        for r in s.of_type("AWS::S3::BucketPolicy").values()
        if "CdnReadsPublicOutputsOnly" in json.dumps(r)
    ]
    return policy["Statement"]


def test_with_moderate_the_cdn_may_never_read_an_output_written_held(synthesized: Synthesized) -> None:
    [deny] = [s for s in _variants_statements(synthesized) if s.get("Sid") == "CdnNeverReadsHeldOutputs"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:GetObject"
    assert deny["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert deny["Condition"] == {"StringEquals": {"s3:ExistingObjectTag/imgpipe-release": "held"}}
    # every producer of public images writes held, notify releases (and may only read and put back
    # tags: the visibility stays, the held mark goes); no other is told
    gated = {
        name
        for name, p in synthesized.stack.processors.items()
        if synthesized.resources[synthesized.logical_id(p.function)]["Properties"]["Environment"]["Variables"].get(
            "IMGPIPE_OUTPUTS_GATED"
        )
        == "1"
    }
    assert gated == {"convert", "resize", "thumbnail", "watermark", "notify"}
    notify_role = synthesized.logical_id(synthesized.stack.processors["notify"].role)
    statements = [
        st
        for p in synthesized.of_type("AWS::IAM::Policy").values()
        if {"Ref": notify_role} in p["Properties"]["Roles"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        s.get("Sid") == "ReleaseOutputs" and s["Action"] == ["s3:GetObjectTagging", "s3:PutObjectTagging"]
        for s in statements
    )


def test_without_moderate_nothing_is_held_and_nothing_released(locked_down: Synthesized) -> None:
    assert "moderate" not in locked_down.stack.processors
    assert not any(s.get("Sid") == "CdnNeverReadsHeldOutputs" for s in _variants_statements(locked_down))
    for name, p in locked_down.stack.processors.items():
        env = locked_down.resources[locked_down.logical_id(p.function)]["Properties"]["Environment"]["Variables"]
        assert "IMGPIPE_OUTPUTS_GATED" not in env, name
