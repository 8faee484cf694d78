"""The web app on AWS (infra/components/site.py): a private site bucket served by the front door's
distribution at "/" through Origin Access Control, the built app and its config.json deployed into
it, and the page's CSP and security headers taken from web/headers.json.

The app deployed here is tests/infra/fixtures/site (tests/infra/conftest.py), never web/dist."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.app import CDK_JSON, cdk_json_context
from infra.components.site import HEADERS_FILE, SiteNotBuilt, page_headers
from infra.params import ENV_SITE_DIR
from tests.infra.synth import Synthesized, synthesize

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "site"


def _render(value: Any) -> Any:
    """A template value as text, each reference written ``${Name}`` / ``${Name.Attr}``."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(p) for p in parts)
    raise AssertionError(f"unexpected intrinsic {value}")


def _distribution(s: Synthesized) -> dict[str, Any]:
    (dist,) = s.of_type("AWS::CloudFront::Distribution").values()
    return dist["Properties"]["DistributionConfig"]


def _site_bucket_id(s: Synthesized) -> str:
    return s.logical_id(s.stack.frontdoor.site.bucket)


def test_the_site_bucket_is_private_encrypted_tls_only_and_logged(synthesized: Synthesized) -> None:
    bucket_id = _site_bucket_id(synthesized)
    props = synthesized.resources[bucket_id]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "site/"
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": _access_logs_id(synthesized)}
    # retain mode (the default): the bucket and its objects outlive the stack, no auto-delete
    assert synthesized.resources[bucket_id]["DeletionPolicy"] == "Retain"
    assert not any(t.startswith("Custom::S3AutoDeleteObjects") for t in _types_referencing(synthesized, bucket_id))
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synthesized.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    denies = [s for s in policy if s["Effect"] == "Deny"]
    assert {json.dumps(s["Condition"], sort_keys=True) for s in denies} == {
        '{"Bool": {"aws:SecureTransport": "false"}}',
        '{"NumericLessThan": {"s3:TlsVersion": 1.2}}',
    }
    # the only reader is this distribution, through OAC: no public statement, no OAI
    [allow] = [s for s in policy if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert _render(allow["Condition"]["StringEquals"]["AWS:SourceArn"]).endswith(
        ":distribution/${" + synthesized.logical_id(synthesized.stack.frontdoor.distribution) + "}"
    )


def _access_logs_id(s: Synthesized) -> str:
    [logs] = [k for k in s.of_type("AWS::S3::Bucket") if k.startswith("StorageAccessLogs")]
    return logs


def _types_referencing(s: Synthesized, logical_id: str) -> list[str]:
    return [r["Type"] for r in s.resources.values() if logical_id in json.dumps(r.get("Properties", {}))]


def test_destroy_mode_empties_the_site_bucket_first(tmp_path: Path, services_snapshot: Path) -> None:
    s = synthesize(tmp_path, services_snapshot, removal="destroy")
    bucket_id = _site_bucket_id(s)
    assert s.resources[bucket_id]["DeletionPolicy"] == "Delete"
    assert "Custom::S3AutoDeleteObjects" in _types_referencing(s, bucket_id)


def test_the_distribution_serves_the_app_at_the_root_through_oac(synthesized: Synthesized) -> None:
    dist = _distribution(synthesized)
    assert dist["DefaultRootObject"] == "index.html"
    default = dist["DefaultCacheBehavior"]
    origin = {o["Id"]: o for o in dist["Origins"]}[default["TargetOriginId"]]
    assert origin["DomainName"] == {"Fn::GetAtt": [_site_bucket_id(synthesized), "RegionalDomainName"]}
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    oac = synthesized.resources[origin["OriginAccessControlId"]["Fn::GetAtt"][0]]["Properties"]
    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert oac["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["AllowedMethods"] == ["GET", "HEAD"]
    # the app's own routes fall back to index.html on this behaviour only: the API's 404s and
    # the variants' 403s are never turned into the page
    assert "CustomErrorResponses" not in dist
    [association] = default["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    code = synthesized.resources[association["FunctionARN"]["Fn::GetAtt"][0]]["Properties"]["FunctionCode"]
    assert '"/index.html"' in code


def test_the_built_app_and_its_config_are_deployed_and_the_cdn_invalidated(synthesized: Synthesized) -> None:
    [deployment] = [
        r["Properties"] for r in synthesized.resources.values() if r["Type"] == "Custom::CDKBucketDeployment"
    ]
    assert deployment["DestinationBucketName"] == {"Ref": _site_bucket_id(synthesized)}
    assert deployment["DistributionId"] == {"Ref": synthesized.logical_id(synthesized.stack.frontdoor.distribution)}
    assert deployment["DistributionPaths"] == ["/*"]
    assert deployment["Prune"] is True
    # CDK's handler: one per stack, outside the front door's construct (tests/infra/test_shared_resources.py)
    [handler] = [k for k in synthesized.of_type("AWS::Lambda::Function") if k.startswith("CustomCDKBucketDeployment")]
    assert deployment["ServiceToken"] == {"Fn::GetAtt": [handler, "Arn"]}
    app_key, config_key = deployment["SourceObjectKeys"]
    # the app is the directory given to the construct: here the fixture, byte for byte
    [app_asset] = [p for p in Path(synthesized.app.outdir).glob(f"asset.{app_key.removesuffix('.zip')}*") if p.is_dir()]
    assert (app_asset / "index.html").read_bytes() == (FIXTURE / "index.html").read_bytes()
    [config_asset] = [
        p for p in Path(synthesized.app.outdir).glob(f"asset.{config_key.removesuffix('.zip')}*") if p.is_dir()
    ]
    text = (config_asset / "config.json").read_text()
    for marker, value in deployment["SourceMarkers"][1].items():
        text = text.replace(marker, _render(value))
    front = synthesized.stack.frontdoor
    assert json.loads(text) == {
        "apiBase": "/api",
        "region": "${AWS::Region}",
        "userPoolId": "${" + synthesized.logical_id(front.user_pool) + "}",
        "userPoolClientId": "${" + synthesized.logical_id(front.client) + "}",
        "authEndpoint": "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/",
        "uploadsOrigin": "https://${" + _uploads_id(synthesized) + ".DomainName}",
        "maxBytes": 52428800,
        # the pool's own rule (imgpipe_tools/outputs.py), which the sign-up page states
        "passwordPolicy": {
            "minLength": 12,
            "requireLowercase": True,
            "requireUppercase": True,
            "requireDigits": True,
            "requireSymbols": True,
        },
    }


def _uploads_id(s: Synthesized) -> str:
    [uploads] = [k for k in s.of_type("AWS::S3::Bucket") if k.startswith("StorageUploads")]
    return uploads


def _page_policy(s: Synthesized) -> dict[str, Any]:
    default = _distribution(s)["DefaultCacheBehavior"]
    policy_id = default["ResponseHeadersPolicyId"]["Ref"]
    return s.resources[policy_id]["Properties"]["ResponseHeadersPolicyConfig"]


def test_the_page_gets_the_csp_and_headers_of_web_headers_json(synthesized: Synthesized) -> None:
    spec = json.loads(HEADERS_FILE.read_text())
    policy = _page_policy(synthesized)
    security = policy["SecurityHeadersConfig"]
    csp = _render(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    expected = page_headers(
        spec,
        uploads=["https://*.s3.${AWS::URLSuffix}", "https://*.s3.${AWS::Region}.${AWS::URLSuffix}"],
        auth=["https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}"],
    )
    assert csp == expected.content_security_policy
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert set(directives) == set(spec["content_security_policy"])
    assert "{" not in csp.replace("${", "")  # every placeholder filled
    assert directives["script-src"] == "'self'" and "unsafe" not in csp
    assert security["ContentSecurityPolicy"]["Override"] is True
    headers = spec["headers"]
    assert security["FrameOptions"]["FrameOption"] == headers["X-Frame-Options"]
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == headers["Referrer-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff" and security["ContentTypeOptions"]["Override"] is True
    max_age = int(re.search(r"max-age=(\d+)", headers["Strict-Transport-Security"])[1])  # type: ignore[index]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == max_age
    assert security["StrictTransportSecurity"]["IncludeSubdomains"] is True
    custom = {h["Header"]: h["Value"] for h in policy["CustomHeadersConfig"]["Items"]}
    assert custom == {"Permissions-Policy": headers["Permissions-Policy"], "Cache-Control": "no-cache"}


def test_page_headers_fill_the_placeholders_and_refuse_unknown_ones() -> None:
    spec = {"content_security_policy": {"default-src": ["'none'"], "connect-src": ["'self'", "{uploads}", "{auth}"]}}
    page = page_headers(spec, uploads=["https://a", "https://b"], auth=["https://c"])
    assert page.content_security_policy == "default-src 'none'; connect-src 'self' https://a https://b https://c"
    with pytest.raises(ValueError, match=r"unknown placeholder \{cdn\} in img-src"):
        page_headers({"content_security_policy": {"img-src": ["{cdn}"]}}, uploads=[], auth=[])


def test_without_a_built_web_app_synth_stops_and_says_how_to_build_it(tmp_path: Path, services_snapshot: Path) -> None:
    empty = tmp_path / "dist"
    empty.mkdir()
    with pytest.raises(SiteNotBuilt, match="build the web app first: make web"):
        synthesize(tmp_path / "out", services_snapshot, site_dir=str(empty))
    # as the CDK CLI runs cdk.json's command (infra.app's main): one line that says what to do
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], "services_root": str(services_snapshot)}
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path / "cli"), "CDK_CONTEXT_JSON": json.dumps(context)}
    env[ENV_SITE_DIR] = str(empty)
    command = shlex.split(json.loads(CDK_JSON.read_text())["app"])
    result = subprocess.run(command, cwd=CDK_JSON.parent, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"imgpipe: build the web app first: make web (no index.html in {empty})"
    assert "Traceback" not in result.stderr


def test_the_deployment_handler_writes_only_the_site_bucket_and_reads_only_the_assets(
    synthesized: Synthesized,
) -> None:
    """CDK's BucketDeployment handler (the one Lambda imgpipe does not write): it reads the build
    from the CDK assets bucket, writes the site bucket and nothing else, and may invalidate."""
    site = synthesized.logical_id(synthesized.stack.frontdoor.site.bucket)
    [policy] = [
        p
        for p in synthesized.of_type("AWS::IAM::Policy").values()
        if "CustomCDKBucketDeployment" in json.dumps(p["Properties"]["Roles"])
    ]
    for st in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = json.dumps(st["Resource"])
        if any(a.startswith(("s3:Put", "s3:Delete", "s3:Abort")) for a in actions):
            assert site in resources and "assets" not in resources, st
        elif all(a.startswith("s3:") for a in actions):
            assert "cdk-hnb659fds-assets" in resources and site not in resources, st
        else:
            # CloudFront has no resource-level permission for invalidations of one distribution
            assert actions == ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"], st
