"""Where the distribution's us-east-1 pieces live (docs/decisions.md, "The edge's companion stacks").

CloudFront is configured from us-east-1: a web ACL for a distribution and the delivery source of
its standard logs (v2) can only be made there. In a stack deployed in us-east-1 they are the
stack's own resources. Elsewhere they go to small companion stacks of the same app in us-east-1,
same account. CDK wires them to the main stack by itself: cdk.json's
``@aws-cdk/core:defaultCrossStackReferences: weak`` makes a reference to another stack's value a
``Fn::GetStackOutput`` (with the producer's region), which CloudFormation resolves across regions;
no custom resource, no SSM parameter, no export. A weak reference does not stop the producer's
deletion: the stacks are deployed and destroyed together (``cdk deploy --all``).

- ``<stack>-<region>-Edge`` holds the web ACL; the distribution needs its ARN, so it deploys first;
- ``<stack>-<region>-EdgeLogs`` holds the logs' delivery, which needs the distribution's ARN, so it
  deploys after. One stack could not hold both: each would wait for the other.

The main stack's region is in their names: two stacks of one name in two regions (``stack_name`` is
unique per region only) have two pairs of companions side by side in us-east-1.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

EDGE_REGION = "us-east-1"
#: the companion stacks' names after the main stack's and its region: before it (the web ACL), after it (the logs)
ACL_STACK_SUFFIX = "-Edge"
LOGS_STACK_SUFFIX = "-EdgeLogs"
_STACK_NAME_LENGTH = 128  # CloudFormation's limit


def region_of(scope: Construct) -> str | None:
    """The stack's region, or None when the template is environment-agnostic."""
    region = cdk.Stack.of(scope).region
    return None if cdk.Token.is_unresolved(region) else region


def edge_scope(scope: Construct, suffix: str, description: str) -> Construct:
    """``scope`` when its stack is in us-east-1; else the companion stack ``<stack>-<region><suffix>``
    in us-east-1 and the same account (made on first use). The caller checks the region is known."""
    stack = cdk.Stack.of(scope)
    region = region_of(scope)
    if region == EDGE_REGION:
        return scope
    stage = cdk.Stage.of(stack)
    assert stage is not None
    name = f"{stack.stack_name}-{region}{suffix}"
    if len(name) > _STACK_NAME_LENGTH:
        raise ValueError(
            f"context 'stack_name': {stack.stack_name!r} leaves no room for its companion stack in {EDGE_REGION} "
            f"({name!r} is over {_STACK_NAME_LENGTH} characters): choose a shorter name"
        )
    existing = stage.node.try_find_child(name)
    if existing is not None:
        return existing
    account = None if cdk.Token.is_unresolved(stack.account) else stack.account
    return cdk.Stack(
        stage,
        name,
        stack_name=name,
        env=cdk.Environment(account=account, region=EDGE_REGION),
        description=description,
    )
