"""Every need of imgpipe.needs.NEEDS that grants something has its grant in
infra/components/needs.py, and nothing else has one: adding a need is one entry there and one method here."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from imgpipe.needs import NEEDS, Need
from infra.components.needs import NeedGrants
from infra.components.notification import Notification


def _stack(name: str) -> tuple[cdk.Stack, Notification, NeedGrants]:
    stack = cdk.Stack(cdk.App(), name)
    notification = Notification(
        stack,
        "Notification",
        topics_key=kms.Key(stack, "Key"),
        notify_email=None,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    uploads, variants = s3.Bucket(stack, "Uploads"), s3.Bucket(stack, "Variants")
    return stack, notification, NeedGrants(notification=notification, uploads=uploads, variants=variants)


@pytest.fixture(scope="module")
def grants() -> tuple[cdk.Stack, NeedGrants]:
    stack, notification, need_grants = _stack("Needs")
    # a stack with the transform service has its signing key (Notification.resources_for makes it)
    assert notification.transform_secret is not None
    return stack, need_grants


def test_the_grants_are_the_needs_that_grant_something(grants: tuple[cdk.Stack, NeedGrants]) -> None:
    _, need_grants = grants
    assert set(need_grants.by_need) == {need for need, spec in NEEDS.items() if spec.grants is not None}


@pytest.mark.parametrize("need", list(Need), ids=[n.value for n in Need])
def test_a_need_grants_statements_exactly_when_its_entry_says_so(
    grants: tuple[cdk.Stack, NeedGrants], need: Need
) -> None:
    stack, need_grants = grants
    role = iam.Role(stack, f"Role-{need.value}", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    need_grants.apply(role, {need})
    policy = role.node.try_find_child("DefaultPolicy")
    granted = policy is not None and bool(stack.resolve(policy.document.to_json())["Statement"])
    assert granted == (NEEDS[need].grants is not None)


def test_every_need_is_in_the_registry_once_with_its_own_variable() -> None:
    assert set(NEEDS) == set(Need)
    variables = [spec.env for spec in NEEDS.values() if spec.env]
    assert len(variables) == len(set(variables))


def test_the_apis_transform_secret_creates_and_grants_nothing_without_the_transform_service() -> None:
    stack, notification, need_grants = _stack("NoTransforms")
    role = iam.Role(stack, "Api", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    need_grants.apply(role, {Need.TRANSFORM_SECRET})
    assert role.node.try_find_child("DefaultPolicy") is None
    assert notification.existing_transform_secret is None
