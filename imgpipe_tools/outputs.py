"""The stack's CloudFormation outputs: their names, written by ``infra/stack.py`` and read back here.

Every output key is built and parsed in this module only, so the two sides cannot drift apart.

- Fixed outputs name the shared resources: ``UploadsBucketName``, ``CatalogTableName``, ...
- Each service adds one output per role, the role first, then the service's name encoded:
  ``FunctionNameThumbnail``, ``FailureDlqUrlThumbU2x`` (service ``thumb_2x``).
- The front door (docs/api.md), when the stack has one, names the site and how to sign in:
  ``SiteUrl`` (also the CDN's base URL for the variants), ``ApiUrl``, ``UserPoolId``,
  ``UserPoolClientId``, ``ApiFunctionName`` and ``CreateUserCommand``.

Output keys must be alphanumeric. A service name is ``[a-z][a-z0-9_]*`` (the manifest rule), so
the encoding upper-cases the first letter and writes each ``_`` as ``U``; every other character
stays lowercase, which makes decoding exact: ``thumb_2x`` -> ``ThumbU2x`` -> ``thumb_2x``.
(CamelCase was lossy: ``thumb_2x`` and ``thumb2x`` both became ``Thumb2x``.)
"""

from __future__ import annotations

import os
import re
from typing import Any, Final

from imgpipe_tools.resources import ServiceResources, StackNotFound, StackResources

# The shared resources' outputs.
UPLOADS_BUCKET: Final = "UploadsBucketName"
VARIANTS_BUCKET: Final = "VariantsBucketName"
ACCESS_LOGS_BUCKET: Final = "AccessLogsBucketName"
NOTIFICATION_TOPIC: Final = "NotificationTopicArn"
OPS_TOPIC: Final = "OpsTopicArn"
CATALOG_TABLE: Final = "CatalogTableName"
BACKFILL_STATE_MACHINE: Final = "BackfillStateMachineArn"

# The front door's outputs (what `make deploy` prints last: where the site is, how to sign in).
SITE_URL: Final = "SiteUrl"
API_URL: Final = "ApiUrl"
USER_POOL_ID: Final = "UserPoolId"
USER_POOL_CLIENT_ID: Final = "UserPoolClientId"
API_FUNCTION_NAME: Final = "ApiFunctionName"
CREATE_USER_COMMAND: Final = "CreateUserCommand"
FRONT_DOOR: Final = (SITE_URL, API_URL, USER_POOL_ID, USER_POOL_CLIENT_ID, API_FUNCTION_NAME, CREATE_USER_COMMAND)
#: only with the API's own domain (-c api_domain=...): the DNS name that domain must point at
API_DOMAIN_TARGET: Final = "ApiDomainTarget"

# Each service's outputs: role -> the ServiceResources field it fills.
FUNCTION_NAME: Final = "FunctionName"
FAILURE_DLQ_URL: Final = "FailureDlqUrl"
TARGET_DLQ_URL: Final = "TargetDlqUrl"
SERVICE_ROLES: Final = {
    FUNCTION_NAME: "function_name",
    FAILURE_DLQ_URL: "failure_dlq_url",
    TARGET_DLQ_URL: "target_dlq_url",
}

_SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]*")
_ENCODED_NAME = re.compile(r"[A-Z][a-z0-9U]*")
_SERVICE_KEY = re.compile(rf"(?P<role>{'|'.join(SERVICE_ROLES)})(?P<name>[A-Za-z0-9]+)")


def encode_name(service: str) -> str:
    """``thumb_2x`` -> ``ThumbU2x``: alphanumeric, and :func:`decode_name` gives the name back."""
    if not _SERVICE_NAME.fullmatch(service):
        raise ValueError(f"{service!r} is not a service name ([a-z][a-z0-9_]*)")
    return service[0].upper() + service[1:].replace("_", "U")


def decode_name(encoded: str) -> str | None:
    """``ThumbU2x`` -> ``thumb_2x``; None for a string :func:`encode_name` never returns."""
    if not _ENCODED_NAME.fullmatch(encoded):
        return None
    return encoded[0].lower() + encoded[1:].replace("U", "_")


def service_output_key(role: str, service: str) -> str:
    """``(FAILURE_DLQ_URL, "thumb_2x")`` -> ``FailureDlqUrlThumbU2x``."""
    if role not in SERVICE_ROLES:
        raise ValueError(f"unknown output role {role!r} (known: {', '.join(SERVICE_ROLES)})")
    return role + encode_name(service)


def parse_service_output_key(key: str) -> tuple[str, str] | None:
    """``FailureDlqUrlThumbU2x`` -> ``(FAILURE_DLQ_URL, "thumb_2x")``; None for any other key."""
    match = _SERVICE_KEY.fullmatch(key)
    if not match:
        return None
    name = decode_name(match["name"])
    return None if name is None else (match["role"], name)


def from_outputs(outputs: dict[str, str], origin: str) -> StackResources:
    """The resources a stack's outputs name. Outputs this module does not know are ignored."""
    missing = [k for k in (UPLOADS_BUCKET, VARIANTS_BUCKET) if k not in outputs]
    if missing:
        raise StackNotFound(f"{origin} has no output {missing[0]} (is it an imgpipe stack?)")
    services: dict[str, dict[str, str]] = {}
    for key, value in outputs.items():
        parsed = parse_service_output_key(key)
        if parsed:
            role, name = parsed
            services.setdefault(name, {})[SERVICE_ROLES[role]] = value
    return StackResources(
        uploads_bucket=outputs[UPLOADS_BUCKET],
        variants_bucket=outputs[VARIANTS_BUCKET],
        catalog_table=outputs.get(CATALOG_TABLE, ""),
        topic_arn=outputs.get(NOTIFICATION_TOPIC, ""),
        backfill_state_machine=outputs.get(BACKFILL_STATE_MACHINE, ""),
        delivery_url=outputs.get(SITE_URL, ""),
        user_pool_id=outputs.get(USER_POOL_ID, ""),
        user_pool_client_id=outputs.get(USER_POOL_CLIENT_ID, ""),
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        processors={name: ServiceResources(name, **fields) for name, fields in services.items()},
        origin=origin,
    )


def from_stack(stack_name: str) -> StackResources:
    """The resources of a deployed stack, read from its CloudFormation outputs."""
    import boto3
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    origin = f"stack {stack_name}"
    try:
        cloudformation = boto3.session.Session().client("cloudformation")
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except NoCredentialsError:
        raise StackNotFound(
            "no AWS credentials: configure them (aws configure / AWS_PROFILE), or use --local for the local stack"
        ) from None
    except NoRegionError:
        raise StackNotFound("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION") from None
    except ClientError as exc:
        if "does not exist" in str(exc):
            raise StackNotFound(
                f"CloudFormation stack {stack_name!r} not found in this account/region "
                "(deploy it with `make deploy`, pass --stack NAME, or use --local)"
            ) from None
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return from_outputs(outputs, origin)


# --- what the stack tells its sign-in clients besides its outputs ------------------------------
# The user pool's password rule, declared once: infra builds the Cognito pool from it and writes it
# into the page's config.json (``passwordPolicy``), the local stack's pool gets it too, and the
# sign-up page states it from config.json (never a copy of its own).
#: Cognito's PasswordPolicy, in the page's config.json key names
PASSWORD_POLICY: dict[str, Any] = {
    "minLength": 12,
    "requireLowercase": True,
    "requireUppercase": True,
    "requireDigits": True,
    "requireSymbols": True,
}


def cognito_password_policy() -> dict[str, Any]:
    """As Cognito's CreateUserPool takes it (``Policies.PasswordPolicy``)."""
    return {
        "MinimumLength": PASSWORD_POLICY["minLength"],
        "RequireLowercase": PASSWORD_POLICY["requireLowercase"],
        "RequireUppercase": PASSWORD_POLICY["requireUppercase"],
        "RequireNumbers": PASSWORD_POLICY["requireDigits"],
        "RequireSymbols": PASSWORD_POLICY["requireSymbols"],
    }
