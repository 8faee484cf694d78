"""The distribution's us-east-1 pieces (the web ACL, the standard logs' delivery) and the API's own
domain, on every synthesized template: a stack outside us-east-1 with its companion stacks there,
a stack in us-east-1 that holds them itself, and an environment-agnostic one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint_all

from imgpipe_tools import outputs
from infra.components.cdn_logs import NO_REGION_WARNING, delivery_name
from tests.infra.synth import REPO_SERVICES, Synthesized, synthesize

ACCOUNT = "123456789012"
CERTIFICATE = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"


def _templates(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    assembly = synthesized.app.synth()
    return {s.stack_name: json.loads(json.dumps(s.template)) for s in assembly.stacks}


def _of_type(template: dict[str, Any], cfn_type: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == cfn_type]


def _distribution(template: dict[str, Any]) -> dict[str, Any]:
    [distribution] = _of_type(template, "AWS::CloudFront::Distribution")
    return distribution["DistributionConfig"]


def _logs_statement(template: dict[str, Any]) -> dict[str, Any]:
    [statement] = [
        s
        for policy in _of_type(template, "AWS::S3::BucketPolicy")
        for s in policy["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "delivery.logs.amazonaws.com"}
    ]
    return statement


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A stack in eu-west-1 with the web ACL on and the API's own domain."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CDK_DEFAULT_REGION", "eu-west-1")
        env.setenv("CDK_DEFAULT_ACCOUNT", ACCOUNT)
        return synthesize(
            tmp_path_factory.mktemp("elsewhere"),
            REPO_SERVICES,
            waf="on",
            api_domain="api.example.com",
            api_certificate=CERTIFICATE,
        )


def test_outside_us_east_1_the_web_acl_is_a_companion_stack_s_and_the_distribution_reads_its_arn(
    elsewhere: Synthesized,
) -> None:
    templates = _templates(elsewhere)
    assert set(templates) == {"Imgpipe", "Imgpipe-eu-west-1-Edge", "Imgpipe-eu-west-1-EdgeLogs"}
    assert _of_type(templates["Imgpipe"], "AWS::WAFv2::WebACL") == []
    edge = templates["Imgpipe-eu-west-1-Edge"]
    # the companion holds the web ACL and nothing else (no custom resource, no role)
    assert {r["Type"] for r in edge["Resources"].values()} == {"AWS::WAFv2::WebACL"}
    [acl] = _of_type(edge, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "CLOUDFRONT"
    rules = {r["Name"]: r["Statement"]["RateBasedStatement"] for r in acl["Rules"]}
    assert rules["PerAddress"]["AggregateKeyType"] == "IP"
    assert rules["PerToken"]["CustomKeys"][0]["Header"]["Name"] == "authorization"
    assert acl["VisibilityConfig"]["MetricName"] == "Imgpipe-edge"  # named after the main stack
    # the distribution takes the ACL's ARN from the companion's output, read across regions
    reference = _distribution(templates["Imgpipe"])["WebACLId"]["Fn::GetStackOutput"]
    assert (reference["StackName"], reference["Region"]) == ("Imgpipe-eu-west-1-Edge", "us-east-1")
    [(output_name, output)] = edge["Outputs"].items()
    assert reference["OutputName"] == output_name
    assert output["Value"] == {"Fn::GetAtt": [next(iter(edge["Resources"])), "Arn"]}


def test_the_companions_are_in_us_east_1_and_deploy_around_the_main_stack(elsewhere: Synthesized) -> None:
    stacks = {s.stack_name: s for s in elsewhere.app.synth().stacks}
    assert stacks["Imgpipe"].environment.region == "eu-west-1"
    for name in ("Imgpipe-eu-west-1-Edge", "Imgpipe-eu-west-1-EdgeLogs"):
        assert (stacks[name].environment.region, stacks[name].environment.account) == ("us-east-1", ACCOUNT)
    # the web ACL before the distribution, the logs' delivery after it
    assert "Imgpipe-eu-west-1-Edge" in {d.id for d in stacks["Imgpipe"].dependencies}
    assert "Imgpipe" in {d.id for d in stacks["Imgpipe-eu-west-1-EdgeLogs"].dependencies}
    assert "Imgpipe-eu-west-1-EdgeLogs" not in {d.id for d in stacks["Imgpipe"].dependencies}


def test_outside_us_east_1_the_standard_logs_are_delivered_from_us_east_1_into_the_access_logs_bucket(
    elsewhere: Synthesized,
) -> None:
    templates = _templates(elsewhere)
    main, logs = templates["Imgpipe"], templates["Imgpipe-eu-west-1-EdgeLogs"]
    assert _of_type(main, "AWS::Logs::DeliverySource") == []
    [source] = _of_type(logs, "AWS::Logs::DeliverySource")
    [destination] = _of_type(logs, "AWS::Logs::DeliveryDestination")
    [delivery] = _of_type(logs, "AWS::Logs::Delivery")
    name = delivery_name("Imgpipe", "eu-west-1")
    assert source["LogType"] == "ACCESS_LOGS" and source["Name"] == name == delivery["DeliverySourceName"]
    # the source is the main stack's distribution, the destination its access-logs bucket
    prefix, reference = source["ResourceArn"]["Fn::Join"][1]
    assert prefix == f"arn:aws:cloudfront::{ACCOUNT}:distribution/"
    distribution_id = reference["Fn::GetStackOutput"]
    assert (distribution_id["StackName"], distribution_id["Region"]) == ("Imgpipe", "eu-west-1")
    [cdn_id] = [k for k, r in main["Resources"].items() if r["Type"] == "AWS::CloudFront::Distribution"]
    assert main["Outputs"][distribution_id["OutputName"]]["Value"] == {"Ref": cdn_id}
    bucket = destination["DestinationResourceArn"]["Fn::GetStackOutput"]
    access_logs = main["Outputs"][outputs.ACCESS_LOGS_BUCKET]["Value"]["Ref"]
    assert main["Outputs"][bucket["OutputName"]]["Value"] == {"Fn::GetAtt": [access_logs, "Arn"]}
    [destination_id] = [k for k, r in logs["Resources"].items() if r["Type"] == "AWS::Logs::DeliveryDestination"]
    assert delivery["DeliveryDestinationArn"] == {"Fn::GetAtt": [destination_id, "Arn"]}
    # the bucket lets the log delivery service write its prefix, for this delivery source only
    statement = _logs_statement(main)
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"]["Fn::Join"][1] == [{"Fn::GetAtt": [access_logs, "Arn"]}, f"/AWSLogs/{ACCOUNT}/*"]
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:delivery-source:{name}"
    )
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT


def test_with_its_own_domain_the_api_s_execute_api_endpoint_is_off_and_cloudfront_uses_the_domain(
    elsewhere: Synthesized,
) -> None:
    main = _templates(elsewhere)["Imgpipe"]
    [api] = _of_type(main, "AWS::ApiGatewayV2::Api")
    assert api["DisableExecuteApiEndpoint"] is True
    [domain] = _of_type(main, "AWS::ApiGatewayV2::DomainName")
    assert domain["DomainName"] == "api.example.com"
    [config] = domain["DomainNameConfigurations"]
    assert (config["CertificateArn"], config["EndpointType"], config["SecurityPolicy"]) == (
        CERTIFICATE,
        "REGIONAL",
        "TLS_1_2",
    )
    [mapping] = _of_type(main, "AWS::ApiGatewayV2::ApiMapping")
    [api_id] = [k for k, r in main["Resources"].items() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    assert mapping["ApiId"] == {"Ref": api_id} and mapping["Stage"] == "$default"
    dist = _distribution(main)
    [api_behavior] = [b for b in dist["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    [origin] = [o for o in dist["Origins"] if o["Id"] == api_behavior["TargetOriginId"]]
    assert origin["DomainName"] == "api.example.com"
    assert origin["OriginCustomHeaders"]  # the custom domain is public too: the origin header stays
    [domain_id] = [k for k, r in main["Resources"].items() if r["Type"] == "AWS::ApiGatewayV2::DomainName"]
    target = main["Outputs"][outputs.API_DOMAIN_TARGET]["Value"]
    assert target == {"Fn::GetAtt": [domain_id, "RegionalDomainName"]}


def test_every_template_is_nag_clean_and_lints_without_errors(elsewhere: Synthesized) -> None:
    result = AwsSolutionsChecks(elsewhere.app).validate_scope(elsewhere.app)
    assert result.success, [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in result.violations]
    for name, template in _templates(elsewhere).items():
        errors = [f"{m.rule.id} {m.message}" for m in lint_all(json.dumps(template)) if m.rule.id.startswith("E")]
        assert errors == [], name


def test_in_us_east_1_the_stack_holds_the_logs_delivery_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", ACCOUNT)
    synthesized = synthesize(tmp_path, REPO_SERVICES)
    assert set(_templates(synthesized)) == {"Imgpipe"}
    [source] = synthesized.of_type("AWS::Logs::DeliverySource").values()
    [cdn_id] = synthesized.of_type("AWS::CloudFront::Distribution")
    assert source["Properties"]["ResourceArn"]["Fn::Join"][1][1] == {"Ref": cdn_id}
    [destination] = synthesized.of_type("AWS::Logs::DeliveryDestination").values()
    access_logs = synthesized.logical_id(synthesized.stack.node.find_child("Storage").node.find_child("AccessLogs"))
    assert destination["Properties"]["DestinationResourceArn"] == {"Fn::GetAtt": [access_logs, "Arn"]}
    assert len(synthesized.of_type("AWS::Logs::Delivery")) == 1
    assert _logs_statement(synthesized.template)["Condition"]["ArnLike"]["aws:SourceArn"].endswith(
        f":delivery-source:{delivery_name('Imgpipe', 'us-east-1')}"
    )


def test_without_a_region_there_are_no_companions_no_logs_and_a_warning_says_why(synthesized: Synthesized) -> None:
    assembly = synthesized.app.synth()
    assert [s.stack_name for s in assembly.stacks] == [synthesized.stack.stack_name]
    assert synthesized.of_type("AWS::Logs::DeliverySource") == {}
    assert not [
        s
        for p in synthesized.of_type("AWS::S3::BucketPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "delivery.logs.amazonaws.com"}
    ]
    warnings = [m.data for m in synthesized.stack.frontdoor.node.metadata if m.type == "aws:cdk:warning"]
    assert any(NO_REGION_WARNING in str(w) for w in warnings), warnings


def test_by_default_the_api_keeps_its_endpoint_and_cloudfront_reaches_it_there(synthesized: Synthesized) -> None:
    [api] = synthesized.of_type("AWS::ApiGatewayV2::Api").values()
    assert api["Properties"].get("DisableExecuteApiEndpoint", False) is False
    assert synthesized.of_type("AWS::ApiGatewayV2::DomainName") == {}
    assert outputs.API_DOMAIN_TARGET not in synthesized.template["Outputs"]
    dist = _distribution(synthesized.template)
    [api_behavior] = [b for b in dist["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    [origin] = [o for o in dist["Origins"] if o["Id"] == api_behavior["TargetOriginId"]]
    assert ".execute-api." in json.dumps(origin["DomainName"])


@pytest.mark.parametrize(
    ("context", "key", "says"),
    [
        ({"api_domain": "api.example.com"}, "api_certificate", "needed with 'api_domain'"),
        ({"api_certificate": CERTIFICATE}, "api_domain", "needed with 'api_certificate'"),
        ({"api_domain": "API.example.com/x", "api_certificate": CERTIFICATE}, "api_domain", "DNS name"),
        ({"api_domain": "api.example.com", "api_certificate": "arn:aws:iam::1:role/x"}, "api_certificate", "ARN"),
    ],
)
def test_a_bad_api_domain_fails_synth_naming_the_key(
    tmp_path: Path, services_snapshot: Path, context: dict[str, str], key: str, says: str
) -> None:
    with pytest.raises(ValueError, match=f"context '{key}': .*{says}"):
        synthesize(tmp_path, services_snapshot, **context)


def test_the_api_domain_s_certificate_must_be_in_the_stack_s_region(
    tmp_path: Path, services_snapshot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-west-2")
    with pytest.raises(ValueError, match=r"context 'api_certificate': .*region us-west-2, not eu-west-1"):
        synthesize(tmp_path, services_snapshot, api_domain="api.example.com", api_certificate=CERTIFICATE)


def test_a_long_stack_name_still_names_a_valid_delivery() -> None:
    name = delivery_name("A" + "b" * 120, "ap-southeast-2")
    assert len(name) == 60 and name != delivery_name("A" + "b" * 121, "ap-southeast-2")
    assert delivery_name("Imgpipe", "eu-west-1") == "Imgpipe-eu-west-1-cdn"


def test_a_stack_name_with_no_room_for_its_companion_s_fails_synth(
    tmp_path: Path, services_snapshot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    with pytest.raises(ValueError, match=r"context 'stack_name': .*companion stack in us-east-1"):
        synthesize(tmp_path, services_snapshot, stack_name="I" + "m" * 110)
