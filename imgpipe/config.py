"""A processor's runtime configuration: what the stack puts in its environment.

In Lambda each function has its own environment. The local runtime runs every handler in
one process, so it sets a per-thread override with :func:`use_config` instead of mutating
``os.environ`` (which all threads share).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Environment variable names: the stack (infra/) and the local runtime both set these.
ENV_PROCESSOR = "IMGPIPE_PROCESSOR"
ENV_UPLOADS_BUCKET = "IMGPIPE_UPLOADS_BUCKET"
ENV_VARIANTS_BUCKET = "IMGPIPE_VARIANTS_BUCKET"
ENV_EVENT_BUS = "IMGPIPE_EVENT_BUS"
ENV_SETTINGS = "IMGPIPE_SETTINGS"
ENV_CATALOG_TABLE = "IMGPIPE_CATALOG_TABLE"
ENV_TOPIC_ARN = "IMGPIPE_TOPIC_ARN"
ENV_EXPECTED = "IMGPIPE_EXPECTED_PRODUCERS"


@dataclass(frozen=True)
class Config:
    processor: str
    uploads_bucket: str = ""
    variants_bucket: str = ""
    event_bus: str = "default"
    settings: Mapping[str, Any] = field(default_factory=dict)
    # notify only
    catalog_table: str = ""
    topic_arn: str = ""
    expected_producers: str = "[]"

    def as_env(self) -> dict[str, str]:
        """The environment variables that carry this config (what the stack sets)."""
        return {
            ENV_PROCESSOR: self.processor,
            ENV_UPLOADS_BUCKET: self.uploads_bucket,
            ENV_VARIANTS_BUCKET: self.variants_bucket,
            ENV_EVENT_BUS: self.event_bus,
            ENV_SETTINGS: json.dumps(dict(self.settings), sort_keys=True, separators=(",", ":")),
            ENV_CATALOG_TABLE: self.catalog_table,
            ENV_TOPIC_ARN: self.topic_arn,
            ENV_EXPECTED: self.expected_producers,
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        return cls(
            processor=env.get(ENV_PROCESSOR, env.get("POWERTOOLS_SERVICE_NAME", "")),
            uploads_bucket=env.get(ENV_UPLOADS_BUCKET, ""),
            variants_bucket=env.get(ENV_VARIANTS_BUCKET, ""),
            event_bus=env.get(ENV_EVENT_BUS, "default"),
            settings=json.loads(env.get(ENV_SETTINGS) or "{}"),
            catalog_table=env.get(ENV_CATALOG_TABLE, ""),
            topic_arn=env.get(ENV_TOPIC_ARN, ""),
            expected_producers=env.get(ENV_EXPECTED) or "[]",
        )


_override: contextvars.ContextVar[Config | None] = contextvars.ContextVar("imgpipe_config", default=None)


def current_config() -> Config:
    return _override.get() or Config.from_env()


@contextlib.contextmanager
def use_config(config: Config) -> Iterator[Config]:
    token = _override.set(config)
    try:
        yield config
    finally:
        _override.reset(token)
