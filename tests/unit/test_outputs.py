"""The stack's output keys: every service name the manifest rule allows survives the trip from
``infra/stack.py`` (which builds the keys) to the CLI (which parses them back)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgpipe.manifest import _NAME as MANIFEST_NAME
from imgpipe_tools import outputs

ROLES = sorted(outputs.SERVICE_ROLES)


@pytest.mark.parametrize(
    ("name", "encoded"),
    [("thumb_2x", "ThumbU2x"), ("a_1", "AU1"), ("ab_c_2d", "AbUcU2d"), ("thumbnail", "Thumbnail"), ("u_u", "UUu")],
)
def test_names_are_encoded_readably_and_decoded_exactly(name: str, encoded: str) -> None:
    assert outputs.encode_name(name) == encoded
    assert outputs.decode_name(encoded) == name
    assert outputs.service_output_key(outputs.FAILURE_DLQ_URL, name) == f"FailureDlqUrl{encoded}"


def test_names_camelcase_would_merge_stay_apart() -> None:
    # CamelCase gave both "Thumb2x"; a redrive of thumb_2x then looked for "thumb2x".
    assert outputs.encode_name("thumb_2x") != outputs.encode_name("thumb2x")


@given(name=st.from_regex(MANIFEST_NAME, fullmatch=True), role=st.sampled_from(ROLES))
def test_every_manifest_name_round_trips_through_its_output_key(name: str, role: str) -> None:
    key = outputs.service_output_key(role, name)
    assert key.isascii() and key.isalnum(), "CloudFormation output keys are alphanumeric"
    assert len(key) <= 255
    assert outputs.parse_service_output_key(key) == (role, name)


@given(name=st.from_regex(MANIFEST_NAME, fullmatch=True))
def test_a_stacks_outputs_give_back_each_services_resources(name: str) -> None:
    values = {
        outputs.UPLOADS_BUCKET: "up",
        outputs.VARIANTS_BUCKET: "var",
        outputs.service_output_key(outputs.FUNCTION_NAME, name): f"fn-{name}",
        outputs.service_output_key(outputs.FAILURE_DLQ_URL, name): f"https://sqs/{name}-failures",
        outputs.service_output_key(outputs.TARGET_DLQ_URL, name): f"https://sqs/{name}-target",
    }
    resources = outputs.from_outputs(values, "stack Test").processor(name)
    assert (resources.function_name, resources.failure_dlq_url, resources.target_dlq_url) == (
        f"fn-{name}",
        f"https://sqs/{name}-failures",
        f"https://sqs/{name}-target",
    )


@pytest.mark.parametrize(
    "key",
    [
        outputs.UPLOADS_BUCKET,
        outputs.OPS_TOPIC,
        outputs.ACCESS_LOGS_BUCKET,
        "FailureDlqUrl",  # no name
        "FailureDlqUrlthumb",  # the encoding starts upper-case
        "FailureDlqUrlThumB",  # only U is upper-case after the first letter
        "ThumbU2xFailureDlqUrl",  # the old CamelCase scheme
        "SomethingElseThumb",
    ],
)
def test_other_keys_are_not_service_outputs(key: str) -> None:
    assert outputs.parse_service_output_key(key) is None


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="not a service name"):
        outputs.encode_name("Thumb")
    with pytest.raises(ValueError, match="unknown output role"):
        outputs.service_output_key("QueueArn", "thumb")
