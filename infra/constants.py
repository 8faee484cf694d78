"""Every name, size and duration the stack uses, in one place. Units are in the names."""

from __future__ import annotations

STACK_NAME = "Imgpipe"

# Context keys (cdk -c key=value, or cdk.json "context").
CTX_SERVICES_ROOT = "services_root"
CTX_NOTIFY_EMAIL = "notify_email"
CTX_OPS_EMAIL = "ops_email"  # subscribed to the ops topic (DLQ alarms)
CTX_SETTINGS = "settings"  # JSON object: {"resize": {"widths": [320, 640]}}
CTX_KEY_PREFIXES = "key_prefixes"  # JSON list or comma-separated: narrows every uploads trigger
CTX_REMOVAL = "removal"  # "retain" (default) or "destroy" (throwaway stacks only)
CTX_CORS_ORIGINS = "cors_origins"  # JSON list or comma-separated; default ["*"] (presigned URLs carry the auth)
CTX_STACK_NAME = "stack_name"  # default STACK_NAME; one account and region can hold several stacks
# "off" (fresh accounts: nothing reserved) or JSON overrides {"convert": 5}; default: the manifests'
CTX_SERVICES = "services"  # which services deploy: default, all, "resize,notify", "+webhook,-convert"
CTX_RESERVED_CONCURRENCY = "reserved_concurrency"
ENV_SERVICES_ROOT = "IMGPIPE_SERVICES_ROOT"

# Lambda
LAMBDA_PYTHON_VERSION = "3.14"  # must match the Runtime below; the layer's wheels are picked for it
# Pillow 13 and pillow-heif publish aarch64 wheels for glibc 2.28+ only; Lambda's python3.12+
# runtimes run on Amazon Linux 2023 (glibc 2.34), so manylinux_2_28 wheels (and older
# manylinux ones) load there. uv's name for that target (``--python-platform``).
LAYER_PYTHON_PLATFORM = "aarch64-manylinux_2_28"
# Lambda allows 250 MiB unzipped for a function and its layers together; keep room for the code.
LAYER_PYTHON_BUDGET_BYTES = 200 * 1024 * 1024
LOG_RETENTION = "ONE_MONTH"  # a member of aws_logs.RetentionDays
POWERTOOLS_METRICS_NAMESPACE_PREFIX = "imgpipe"  # + "/<stack name>": two stacks' metrics never mix
POWERTOOLS_LOG_LEVEL = "INFO"
LAMBDA_DESCRIPTION_MAX_CHARS = 256
LAMBDA_ENVIRONMENT_MAX_BYTES = 4096  # Lambda's limit for all variables of a function together
# Resolved at deploy time (bucket names, ARNs): counted at this size when checking the limit.
UNRESOLVED_TOKEN_BYTES = 256

# Queues and alarms
DLQ_RETENTION_DAYS = 14
DLQ_ALARM_THRESHOLD_MESSAGES = 1
DLQ_ALARM_PERIOD_MINUTES = 1
DLQ_ALARM_EVALUATION_PERIODS = 1
# Alarms on what pages before a DLQ fills (infra/components/alarms.py)
ALARM_PERIOD_MINUTES = 1
DLQ_OLDEST_MESSAGE_ALARM_HOURS = 72  # of DLQ_RETENTION_DAYS: 11 days left to redrive
REJECTION_RATE_ALARM_PERCENT = 50
REJECTION_RATE_ALARM_MIN_INVOCATIONS = 20  # a handful of bad files in a quiet hour is not an incident
REJECTION_RATE_ALARM_WINDOW_MINUTES = 15
DASHBOARD_PERIOD_MINUTES = 5

# Storage
ABORT_INCOMPLETE_MULTIPART_DAYS = 1
UPLOADS_NONCURRENT_VERSION_EXPIRY_DAYS = 30
ACCESS_LOGS_EXPIRY_DAYS = 365
UPLOADS_ACCESS_LOG_PREFIX = "uploads/"
VARIANTS_ACCESS_LOG_PREFIX = "variants/"
CORS_MAX_AGE_SECONDS = 3000
MINIMUM_TLS_VERSION = 1.2  # bucket policies deny older TLS

DEFAULT_EVENT_BUS = "default"
#: the generated webhook signing key: base64 characters, a multiple of 4 (48: 36 bytes of key)
WEBHOOK_SECRET_CHARS = 48
#: letters and digits of a transform signing key: as base64, 48 bytes (at least 32 are required)
TRANSFORM_SECRET_CHARS = 64
#: letters and digits of the pipeline events' HMAC key (imgpipe/signing.py): 64 of 62 symbols, ~380 bits
EVENT_KEY_CHARS = 64


def metrics_namespace(stack_name: str) -> str:
    """The CloudWatch namespace of a stack's Powertools metrics (alarms and dashboard read it)."""
    return f"{POWERTOOLS_METRICS_NAMESPACE_PREFIX}/{stack_name}"


# The upload API's alarms (infra/components/alarms.py, ApiAlarms): a share of client errors that
# is not a few typos but a broken client or someone probing, over enough requests to mean it.
API_4XX_ALARM_PERCENT = 25
API_4XX_ALARM_MIN_REQUESTS = 100
API_ALARM_WINDOW_MINUTES = 15
# callers refused for their request rate in one window: a few is a busy page; more is a flood
API_RATE_LIMITED_ALARM_COUNT = 100
