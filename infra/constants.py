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
ENV_SERVICES_ROOT = "IMGPIPE_SERVICES_ROOT"

# Lambda
LAMBDA_PYTHON_VERSION = "3.14"  # must match the Runtime below; the layer's wheels are picked for it
# Pillow 13 and pillow-heif publish aarch64 wheels for glibc 2.28+ only; Lambda's python3.12+
# runtimes run on Amazon Linux 2023 (glibc 2.34), so manylinux_2_28 wheels load there.
LAYER_PIP_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
LAYER_PIP_IMPLEMENTATION = "cp"
# Lambda allows 250 MiB unzipped for a function and its layers together; keep room for the code.
LAYER_PYTHON_BUDGET_BYTES = 200 * 1024 * 1024
LOG_RETENTION = "ONE_MONTH"  # a member of aws_logs.RetentionDays
POWERTOOLS_METRICS_NAMESPACE = "imgpipe"
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

# Storage
ABORT_INCOMPLETE_MULTIPART_DAYS = 1
UPLOADS_NONCURRENT_VERSION_EXPIRY_DAYS = 30
ACCESS_LOGS_EXPIRY_DAYS = 365
UPLOADS_ACCESS_LOG_PREFIX = "uploads/"
VARIANTS_ACCESS_LOG_PREFIX = "variants/"
CORS_MAX_AGE_SECONDS = 3000
MINIMUM_TLS_VERSION = 1.2  # bucket policies deny older TLS

# Catalog (the notify processor defines what goes in pk/sk)
CATALOG_PARTITION_KEY = "pk"
CATALOG_SORT_KEY = "sk"
CATALOG_TTL_ATTRIBUTE = "expires_at"

# Which processor keeps the catalog and sends the email: it gets the table, the topic and
# the generated list of expected producers.
NOTIFY_PROCESSOR = "notify"
DEFAULT_EVENT_BUS = "default"
