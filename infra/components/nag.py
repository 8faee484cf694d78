"""cdk-nag acknowledgments: each names one finding on one construct, with its reason."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """``finding`` is a rule id, or ``RuleId[detail]`` for one finding of a multi-finding rule
    (cdk-nag 3 has no prefix match: each wildcard is acknowledged on its own)."""
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))
