"""A processor's runtime configuration: what the stack puts in its environment.

In Lambda each function has its own environment. The local runtime runs every handler in
one process, so it sets a per-thread override with :func:`use_config` instead of mutating
``os.environ`` (which all threads share).

Every processor gets the buckets, the bus and its settings. A resource only some services
need (the catalog table, the notification topic...) is declared in the service's manifest
(``needs``) and arrives in :attr:`Config.resources`; :func:`imgpipe.registry.function_config`
builds a Config from a manifest the same way for infra, the local stack and the tests.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hmac
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from imgpipe.needs import NEEDS, Need

# Environment variable names: the stack (infra/) and the local runtime both set these.
ENV_PROCESSOR = "IMGPIPE_PROCESSOR"
ENV_UPLOADS_BUCKET = "IMGPIPE_UPLOADS_BUCKET"
ENV_VARIANTS_BUCKET = "IMGPIPE_VARIANTS_BUCKET"
ENV_EVENT_BUS = "IMGPIPE_EVENT_BUS"
ENV_SETTINGS = "IMGPIPE_SETTINGS"
#: the variable that carries each need's value (imgpipe.needs.NEEDS); a need missing here is a
#: permission only (e.g. READ_VARIANTS: the variants bucket is in every function's environment already)
ENV_BY_NEED: dict[Need, str] = {need: spec.env for need, spec in NEEDS.items() if spec.env}
#: the HTTP service's proof that a request came through the stack's CDN: CloudFront adds this
#: header with the value the function's environment holds; a request straight to the API's
#: execute-api host (around the CDN, its rate limits and logs) has none and is refused
ENV_ORIGIN_TOKEN = "IMGPIPE_ORIGIN_TOKEN"
ORIGIN_HEADER = "x-imgpipe-origin"
#: the role of what a producer writes (its manifest's [outputs]): carried on each of its events
ENV_OUTPUT_ROLE = "IMGPIPE_OUTPUT_ROLE"
#: "1" when the deployment holds outputs until their round is released (imgpipe/outputs.py)
ENV_OUTPUTS_GATED = "IMGPIPE_OUTPUTS_GATED"


@dataclass(frozen=True)
class Config:
    processor: str
    uploads_bucket: str = ""
    variants_bucket: str = ""
    event_bus: str = "default"
    #: the values the manifest's [settings] and the deployment's overrides give (the service's
    #: Settings class parses them and supplies every default; the runtime hashes the parsed object)
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: the value of each need the service declared that carries one (a table name, a topic ARN...)
    resources: Mapping[Need, str] = field(default_factory=dict)
    #: a producer's declared output role (imgpipe.outputs.Role); "" for a service that writes none
    output_role: str = ""
    #: outputs are written held and released per round (a deployment with moderate)
    outputs_gated: bool = False

    def resource(self, need: Need) -> str:
        """The value of a declared need; an undeclared one is a mistake in the service's manifest."""
        try:
            return self.resources[need]
        except KeyError:
            raise LookupError(
                f"{self.processor} has no {need.value!r}: add it to needs in services/{self.processor}/manifest.toml"
            ) from None

    def as_env(self) -> dict[str, str]:
        """The environment variables that carry this config (what the stack sets)."""
        env = {
            ENV_PROCESSOR: self.processor,
            ENV_UPLOADS_BUCKET: self.uploads_bucket,
            ENV_VARIANTS_BUCKET: self.variants_bucket,
            ENV_EVENT_BUS: self.event_bus,
            ENV_SETTINGS: json.dumps(dict(self.settings), sort_keys=True, separators=(",", ":")),
        }
        env.update({ENV_BY_NEED[need]: value for need, value in self.resources.items()})
        if self.output_role:
            env[ENV_OUTPUT_ROLE] = self.output_role
        if self.outputs_gated:
            env[ENV_OUTPUTS_GATED] = "1"
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        return cls(
            processor=env.get(ENV_PROCESSOR, env.get("POWERTOOLS_SERVICE_NAME", "")),
            uploads_bucket=env.get(ENV_UPLOADS_BUCKET, ""),
            variants_bucket=env.get(ENV_VARIANTS_BUCKET, ""),
            event_bus=env.get(ENV_EVENT_BUS, "default"),
            settings=json.loads(env.get(ENV_SETTINGS) or "{}"),
            resources={need: env[name] for need, name in ENV_BY_NEED.items() if env.get(name)},
            output_role=env.get(ENV_OUTPUT_ROLE, ""),
            outputs_gated=env.get(ENV_OUTPUTS_GATED) == "1",
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


def through_the_cdn(headers: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a request reached a function behind the HTTP API through the distribution: its
    origin header matches the value in the function's environment (compared in constant time).
    Without that value (the local stack, the tests) there is no CDN to check, and every request passes."""
    expected = (os.environ if environ is None else environ).get(ENV_ORIGIN_TOKEN)
    if not expected:
        return True
    given = next((v for k, v in (headers or {}).items() if k.lower() == ORIGIN_HEADER), None)
    return hmac.compare_digest(str(given or "").encode(), expected.encode())


T = TypeVar("T")


def per_config(build: Callable[[Config], T]) -> Callable[[Config], T]:
    """``build`` (a service's ``from_config``) called once per configuration, its object reused:
    a warm function keeps its clients and caches between invocations, and the local stack, which
    runs every service in one process, each with its own configuration, gets one object per
    service. ``.cache_clear()`` forgets them (a test that swaps the AWS mock)."""

    @functools.cache
    def by_env(env: str) -> T:
        return build(Config.from_env(json.loads(env)))

    @functools.wraps(build)
    def built(config: Config) -> T:
        return by_env(json.dumps(config.as_env(), sort_keys=True))

    built.cache_clear = by_env.cache_clear  # type: ignore[attr-defined]
    return built
