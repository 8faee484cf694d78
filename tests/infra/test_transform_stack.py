"""The transform service in the stack: the distribution sends /t/* to its function through the
front door's HTTP API (an unauthenticated route: each request is signed), with the origin header
the function checks, a cache policy keyed by the path and the normalised Accept header, the
Accept function on viewer requests and a TTL that is the service's own Cache-Control; the API
handed the signing key's ARN and the bounds; the function reading the uploads, its own prefix
and the catalog's rounds only."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from imgpipe.config import ENV_ORIGIN_TOKEN, ENV_SETTINGS, ORIGIN_HEADER
from imgpipe.transforms import TransformBounds, bounds_json, negotiate
from infra.components.edge import NORMALISE_ACCEPT_JS
from infra.params import ContextError, from_context
from tests.infra.synth import Synthesized, context_json, synthesize


@pytest.fixture(scope="module")
def s(synthesized: Synthesized) -> Synthesized:
    return synthesized


def _one(s: Synthesized, kind: str) -> dict[str, Any]:
    (lid,) = s.of_type(kind)
    return s.resources[lid]


def _dist(s: Synthesized) -> dict[str, Any]:
    return _one(s, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]


def _behavior(s: Synthesized) -> dict[str, Any]:
    (behavior,) = [b for b in _dist(s)["CacheBehaviors"] if b["PathPattern"] == "/t/*"]
    return behavior


def _cache_policy(s: Synthesized) -> dict[str, Any]:
    policies = s.of_type("AWS::CloudFront::CachePolicy")
    return policies[_behavior(s)["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]


def _function(s: Synthesized) -> dict[str, Any]:
    (edge,) = s.stack.edge
    return s.resources[s.logical_id(edge.function)]["Properties"]


def test_t_goes_to_the_function_through_the_http_api_unauthenticated(s: Synthesized) -> None:
    behavior = _behavior(s)
    (api,) = [b for b in _dist(s)["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    assert behavior["TargetOriginId"] == api["TargetOriginId"]  # the same HTTP API, with its origin header
    assert behavior["AllowedMethods"] == ["GET", "HEAD"] and behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["Compress"] is False  # images are compressed already
    # no origin request policy: the origin gets the path and the cache key's Accept, no cookies or query
    assert "OriginRequestPolicyId" not in behavior
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in s.of_type("AWS::ApiGatewayV2::Route").values()}
    integrations = s.of_type("AWS::ApiGatewayV2::Integration")
    function_id = s.logical_id(s.stack.edge[0].function)
    for method in ("GET", "HEAD"):
        route = routes[f"{method} /t/{{proxy+}}"]
        assert route.get("AuthorizationType", "NONE") == "NONE" and "AuthorizerId" not in route
        (integration,) = [v for k, v in integrations.items() if k in json.dumps(route["Target"])]
        assert function_id in json.dumps(integration["Properties"]["IntegrationUri"])
    # API Gateway may invoke it, nothing else
    permissions = [
        p["Properties"]
        for p in s.of_type("AWS::Lambda::Permission").values()
        if function_id in json.dumps(p["Properties"]["FunctionName"])
    ]
    assert permissions and all(p["Principal"] == "apigateway.amazonaws.com" for p in permissions)


def test_the_function_answers_only_the_distribution(s: Synthesized) -> None:
    dist = _dist(s)
    origins = {o["Id"]: o for o in dist["Origins"]}
    origin = origins[_behavior(s)["TargetOriginId"]]
    (header,) = origin["OriginCustomHeaders"]
    assert header["HeaderName"] == ORIGIN_HEADER
    assert _function(s)["Environment"]["Variables"][ENV_ORIGIN_TOKEN] == header["HeaderValue"]


def test_the_cache_key_is_the_path_and_the_normalised_accept(s: Synthesized) -> None:
    key = _cache_policy(s)["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Accept"]}
    assert key["QueryStringsConfig"]["QueryStringBehavior"] == "none"
    assert key["CookiesConfig"]["CookieBehavior"] == "none"
    assert key["EnableAcceptEncodingGzip"] is False and key["EnableAcceptEncodingBrotli"] is False
    (association,) = _behavior(s)["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    (function,) = [
        r["Properties"]
        for lid, r in s.of_type("AWS::CloudFront::Function").items()
        if association["FunctionARN"] == {"Fn::GetAtt": [lid, "FunctionARN"]}
    ]
    assert function["FunctionCode"] == NORMALISE_ACCEPT_JS
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"


def test_the_edge_keeps_a_rendering_as_long_as_the_service_says_and_no_longer(s: Synthesized) -> None:
    """The function's answers carry ``Cache-Control: public, max-age=<cache_ttl_s>`` (a day by
    default: long for a URL that never changes content, short enough that a deleted upload's
    renderings leave the edge); the policy's ceiling is the same, and no response headers policy
    overrides it."""
    policy = _cache_policy(s)
    ttl = json.loads(_function(s)["Environment"]["Variables"][ENV_SETTINGS])["cache_ttl_s"]
    assert ttl >= 86400
    assert policy["DefaultTTL"] == policy["MaxTTL"] == ttl and policy["MinTTL"] == 0
    headers = s.of_type("AWS::CloudFront::ResponseHeadersPolicy")[_behavior(s)["ResponseHeadersPolicyId"]["Ref"]]
    config = headers["Properties"]["ResponseHeadersPolicyConfig"]
    assert "CustomHeadersConfig" not in config  # Cache-Control and Vary are the function's
    assert config["SecurityHeadersConfig"]["ContentTypeOptions"]["Override"] is True


def test_the_api_can_sign_with_the_services_key_and_bounds(s: Synthesized) -> None:
    functions = {lid: r["Properties"] for lid, r in s.of_type("AWS::Lambda::Function").items()}
    api = functions[s.logical_id(s.stack.frontdoor.function)]["Environment"]["Variables"]
    env = _function(s)["Environment"]["Variables"]
    assert api["IMGPIPE_TRANSFORM_SIGNING_KEY_ARN"] == env["IMGPIPE_TRANSFORM_SIGNING_KEY_ARN"]
    assert api["IMGPIPE_TRANSFORM_BOUNDS"] == bounds_json(TransformBounds())
    (secret,) = [
        lid for lid in s.of_type("AWS::SecretsManager::Secret") if lid.startswith("NotificationTransformSecret")
    ]
    assert env["IMGPIPE_TRANSFORM_SIGNING_KEY_ARN"] == {"Ref": secret}


def _statements(s: Synthesized) -> list[dict[str, Any]]:
    role = s.stack.edge[0].role
    policy = s.resources[s.logical_id(role.node.find_child("DefaultPolicy"))]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_the_function_reads_uploads_and_rounds_and_writes_only_its_prefix(s: Synthesized) -> None:
    statements = _statements(s)
    text = json.dumps(statements)
    writes = [st for st in statements if "s3:PutObject" in json.dumps(st["Action"])]
    assert len(writes) == 1 and json.dumps(writes[0]["Resource"]).endswith('"/transform/*"]]}')
    assert '"*"' not in text.replace('"Resource": "*"', "")  # X-Ray's is the only bare wildcard
    # the catalog read only: whether a round may be shown, never a write or a query
    dynamo = [st for st in statements if "dynamodb:" in json.dumps(st["Action"])]
    assert [st["Action"] for st in dynamo] == ["dynamodb:GetItem"]
    assert not any(a in text for a in ("sns:", "events:", "sqs:", "DeleteObject"))
    role = s.resources[s.logical_id(s.stack.edge[0].role)]["Properties"]
    assert not role.get("ManagedPolicyArns")


def test_the_function_pages_on_errors_and_throttles(s: Synthesized) -> None:
    function_id = s.logical_id(s.stack.edge[0].function)
    metrics = sorted(
        a["Properties"]["MetricName"]
        for a in s.of_type("AWS::CloudWatch::Alarm").values()
        if {"Name": "FunctionName", "Value": {"Ref": function_id}} in a["Properties"].get("Dimensions", [])
    )
    assert metrics == ["Errors", "Throttles"]


ACCEPTS = [
    "image/avif,image/webp,image/apng,*/*;q=0.8",
    "image/webp,*/*",
    "image/avif;q=0, image/webp",
    "image/avif; q=0.0,image/webp;q=0",
    "IMAGE/WEBP",
    "image/png,*/*",
    "",
    None,
]


def test_the_edge_function_reduces_accept_as_the_service_negotiates() -> None:
    """The CloudFront Function's rule and imgpipe.transforms.negotiate are one rule: the cache key
    must name the format the function will write."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the CloudFront Function's code (it is installed with the CDK)")
    script = NORMALISE_ACCEPT_JS + (
        "\nconst cases = JSON.parse(process.argv[1]);"
        "\nconsole.log(JSON.stringify(cases.map(a => { const h = a === null ? {} : {accept: {value: a}};"
        "\n  const r = handler({request: {uri: '/t/s/w1_inside.auto/k', headers: h}});"
        "\n  return r.headers.accept.value; })));"
        "\nconst fixed = handler({request: {uri: '/t/s/w1_inside.webp/k', headers: {accept: {value: 'image/avif'}}}});"
        "\nif ('accept' in fixed.headers) { process.exit(3); }"
        # a preset's format is a setting (it may be auto): reduced, never dropped
        "\nconst preset = handler({request: {uri: '/t/p/card/users/k.jpg',"
        "\n  headers: {accept: {value: 'image/webp,*/*'}}}});"
        "\nif (preset.headers.accept.value !== 'image/webp') { process.exit(4); }"
    )
    out = subprocess.run([node, "-e", script, json.dumps(ACCEPTS)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [f"image/{negotiate(a)}" for a in ACCEPTS]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, services_snapshot: Path) -> Synthesized:
    settings = {"transform": {"cache_ttl_s": 3600, "max_dimension": 2048}}
    return synthesize(tmp_path_factory.mktemp("cdk.out-tuned"), services_snapshot, settings=context_json(settings))


def test_the_deployments_settings_reach_the_edge_and_the_api(tuned: Synthesized) -> None:
    policy = _cache_policy(tuned)
    assert policy["DefaultTTL"] == policy["MaxTTL"] == 3600
    api = tuned.resources[tuned.logical_id(tuned.stack.frontdoor.function)]["Properties"]["Environment"]
    assert json.loads(api["Variables"]["IMGPIPE_TRANSFORM_BOUNDS"])["max_dimension"] == 2048


def test_without_the_front_door_there_is_no_transform_service_to_configure() -> None:
    context = {"services": "resize,notify,purge,transform", "settings": context_json({"transform": {"widths": [320]}})}
    deployment = from_context(context.get, environ={})
    with pytest.raises(ContextError, match="front door"):
        deployment.selected()
    assert from_context({"services": "resize,notify,purge,transform"}.get, environ={}).edge_services([]) == []
