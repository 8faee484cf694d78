"""Per-caller limits at the edge (docs/decisions.md, "Per-caller fairness"): an AWS WAF web ACL on
the distribution with two rate-based rules on ``/api/``, one keyed on the client's address, one
on the ``Authorization`` header (a signed-in session), each answering 429 beyond its limit. The
API's own per-user limit (services/api/fairness.py) protects the function and the table; this
one stops a flood before API Gateway's stage-wide throttle, which it would otherwise use up for
everyone.

A web ACL for CloudFront lives in us-east-1. Context ``waf``: ``off`` (default: no monthly
charge), ``on`` (the ACL is made in the stack when it is in us-east-1, else in its companion stack
there: infra/components/edge_region.py; the stack's region must be known at synth), or the ARN of
a web ACL made in us-east-1 to attach.
"""

from __future__ import annotations

import re

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.components.edge_region import region_of

CTX_WAF = "waf"
#: requests per minute to /api/ from one address (several people may share one, behind a NAT)
PER_ADDRESS_PER_MINUTE = 1200
#: requests per minute to /api/ with one token: the API's own per-user limit, met at the edge
PER_TOKEN_PER_MINUTE = 600
WINDOW_S = 60
_ACL_ARN = re.compile(r"^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/[\w-]+/[\w-]+$")


def waf_setting(scope: Construct) -> str | None:
    """None (off), "on", or a web ACL's ARN; anything else stops synth, naming the key."""
    value = scope.node.try_get_context(CTX_WAF)
    if value in (None, "", "off", False):
        return None
    if value in ("on", True):
        if region_of(scope) is None:
            raise ValueError(
                f"context '{CTX_WAF}': CloudFront's web ACLs live in us-east-1, and whether this stack is there "
                "is not known at synth: give it a region (a profile with one, or CDK_DEFAULT_REGION), or make "
                f"the web ACL in us-east-1 and pass its ARN (-c {CTX_WAF}=arn:aws:wafv2:us-east-1:...)"
            )
        return "on"
    if isinstance(value, str) and _ACL_ARN.match(value):
        return value
    raise ValueError(f"context '{CTX_WAF}': 'off', 'on' or a us-east-1 web ACL's ARN, got {value!r}")


def _rate_rule(name: str, priority: int, limit: int, key: dict) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=429,
                    response_headers=[
                        wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After", value=str(WINDOW_S))
                    ],
                )
            )
        ),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=limit,
                evaluation_window_sec=WINDOW_S,
                **key,
                scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                    byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                        field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                        positional_constraint="STARTS_WITH",
                        search_string="/api/",
                        text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
                    )
                ),
            )
        ),
        visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
        ),
    )


class EdgeGuard(Construct):
    """The web ACL (``waf=on``, in us-east-1: in the main stack or its companion there);
    ``stack_name`` is the main stack's, which names the ACL's metrics."""

    def __init__(self, scope: Construct, construct_id: str, *, stack_name: str) -> None:
        super().__init__(scope, construct_id)
        self.acl = wafv2.CfnWebACL(
            self,
            "Acl",
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=f"{stack_name}-edge", sampled_requests_enabled=True
            ),
            rules=[
                _rate_rule("PerAddress", 0, PER_ADDRESS_PER_MINUTE, {"aggregate_key_type": "IP"}),
                _rate_rule(
                    "PerToken",
                    1,
                    PER_TOKEN_PER_MINUTE,
                    {
                        "aggregate_key_type": "CUSTOM_KEYS",
                        "custom_keys": [
                            wafv2.CfnWebACL.RateBasedStatementCustomKeyProperty(
                                header=wafv2.CfnWebACL.RateLimitHeaderProperty(
                                    name="authorization",
                                    text_transformations=[
                                        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                                    ],
                                )
                            )
                        ],
                    },
                ),
            ],
        )
        self.arn = self.acl.attr_arn
