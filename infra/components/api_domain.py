"""The API's own domain, so that its ``execute-api`` endpoint can be disabled (docs/decisions.md,
"The API answers only through the distribution").

CloudFront must reach the API by some name. By default that is the API's ``execute-api`` host,
which is then reachable around the distribution (the origin header keeps the function from
answering there). With ``-c api_domain=api.example.com -c api_certificate=<ACM ARN>`` the API gets
a regional custom domain, CloudFront uses that name as the API's origin, and the ``execute-api``
endpoint is disabled. The certificate is ACM's, in the stack's region (a regional domain's, not
CloudFront's us-east-1), and covers the name. The stack manages no DNS: the name needs a CNAME (or
an alias) to the stack output ``ApiDomainTarget`` before the API answers through the distribution.
The custom domain is public too, so the origin header stays checked either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_certificatemanager as acm
from constructs import Construct

from imgpipe_tools import outputs
from infra.components.edge_region import region_of

CTX_API_DOMAIN = "api_domain"
CTX_API_CERTIFICATE = "api_certificate"
_DNS_NAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[\w-]+$")


@dataclass(frozen=True)
class ApiDomainSetting:
    name: str
    certificate_arn: str


def api_domain_setting(scope: Construct) -> ApiDomainSetting | None:
    """Both keys or neither; a bad value stops synth, naming the key and what it wants."""
    name = scope.node.try_get_context(CTX_API_DOMAIN) or None
    certificate = scope.node.try_get_context(CTX_API_CERTIFICATE) or None
    if name is None and certificate is None:
        return None
    if name is None or certificate is None:
        given, missing = (
            (CTX_API_DOMAIN, CTX_API_CERTIFICATE) if certificate is None else (CTX_API_CERTIFICATE, CTX_API_DOMAIN)
        )
        raise ValueError(
            f"context '{missing}': needed with '{given}' (the API's own domain takes a name and an ACM "
            f"certificate for it: -c {CTX_API_DOMAIN}=api.example.com -c {CTX_API_CERTIFICATE}=arn:aws:acm:...)"
        )
    if not isinstance(name, str) or not _DNS_NAME.match(name):
        raise ValueError(f"context '{CTX_API_DOMAIN}': a lowercase DNS name like api.example.com, got {name!r}")
    match = _CERTIFICATE_ARN.match(certificate) if isinstance(certificate, str) else None
    if match is None:
        raise ValueError(
            f"context '{CTX_API_CERTIFICATE}': an ACM certificate's ARN "
            f"(arn:aws:acm:<region>:<account>:certificate/<id>), got {certificate!r}"
        )
    region = region_of(scope)
    if region is not None and match["region"] != region:
        raise ValueError(
            f"context '{CTX_API_CERTIFICATE}': the API's domain is regional, so its certificate must be in the "
            f"stack's region {region}, not {match['region']} (CloudFront's own certificates are us-east-1's)"
        )
    return ApiDomainSetting(name=name, certificate_arn=certificate)


class ApiDomain(Construct):
    """The regional custom domain, mapped to the API's default stage; outputs its DNS target."""

    def __init__(self, scope: Construct, construct_id: str, *, api: apigw.IHttpApi, setting: ApiDomainSetting) -> None:
        super().__init__(scope, construct_id)
        self.name = setting.name
        self.domain = apigw.DomainName(
            self,
            "Name",
            domain_name=setting.name,
            certificate=acm.Certificate.from_certificate_arn(self, "Certificate", setting.certificate_arn),
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )
        apigw.ApiMapping(self, "Mapping", api=api, domain_name=self.domain)
        cdk.CfnOutput(
            cdk.Stack.of(self),
            outputs.API_DOMAIN_TARGET,
            value=self.domain.regional_domain_name,
            description=f"the DNS name {setting.name} must point at (CNAME or alias)",
        )
