"""Deployment parameters from CDK context, validated before any resource is created.

Context comes either from cdk.json (already typed JSON) or from ``cdk -c key=value`` (always a
string), so list and object values accept both forms. A wrong value fails synth with a message
that names the context key.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgpipe.catalog.schema import USERS_PREFIX
from imgpipe.manifest import Manifest
from imgpipe.registry import DEFAULT_ROOT, SelectionError, discover, setting_names
from infra.constants import (
    CTX_CORS_ORIGINS,
    CTX_KEY_PREFIXES,
    CTX_NOTIFY_EMAIL,
    CTX_OPS_EMAIL,
    CTX_REMOVAL,
    CTX_RESERVED_CONCURRENCY,
    CTX_SERVICES,
    CTX_SERVICES_ROOT,
    CTX_SETTINGS,
    CTX_STACK_NAME,
    ENV_SERVICES_ROOT,
    STACK_NAME,
)

#: the web app's build output (``make web``), which the front door serves at ``/``; the context key
#: ``site_dir`` or the environment variable ``IMGPIPE_SITE_DIR`` point elsewhere (the infra tests
#: use a one-page fixture, so they never depend on the web build)
CTX_SITE_DIR = "site_dir"
ENV_SITE_DIR = "IMGPIPE_SITE_DIR"
DEFAULT_SITE_DIR = Path(__file__).resolve().parent.parent / "web" / "dist"


class ContextError(ValueError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"context '{key}': {problem}")


@dataclass(frozen=True)
class DeployParams:
    services_root: Path
    notify_email: str | None = None
    ops_email: str | None = None
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    key_prefixes: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ("*",)
    retain_data: bool = True
    stack_name: str = STACK_NAME
    #: per-service overrides of the manifests' reserved concurrency; None: reserve nothing at all
    reserved_concurrency: Mapping[str, int] | None = field(default_factory=dict)
    #: the built web app (checked by the front door's Site: a missing build stops synth)
    site_dir: Path = DEFAULT_SITE_DIR
    #: which services deploy (imgpipe.registry.select); None: those enabled by default
    services: str | None = None

    def reserved_concurrency_for(self, manifest: Manifest) -> int | None:
        """The function's reservation (None: it shares the account's unreserved pool)."""
        if self.reserved_concurrency is None:
            return None
        return self.reserved_concurrency.get(manifest.name, manifest.reserved_concurrency) or None

    def selected(self) -> tuple[list[Manifest], list[Manifest]]:
        """The event services and the HTTP services this deployment runs (context ``services``).
        A settings override for a service left out names the way to deploy it."""
        try:
            events = discover(self.services_root, services=self.services)
            http = discover(self.services_root, http=True, services=self.services)
        except SelectionError as exc:
            raise ContextError(CTX_SERVICES, str(exc).removeprefix("services: ")) from None
        chosen = {m.name for m in (*events, *http, *self.edge_services(http))}
        edge = {m.name for m in discover(self.services_root, edge=True)}
        everything = {m.name for m in (*discover(self.services_root), *discover(self.services_root, http=True))} | edge
        for name in self.settings:
            if name in edge and not http:
                raise ContextError(
                    CTX_SETTINGS,
                    f"{name} is served by the front door's distribution, which this deployment leaves out: "
                    "deploy the upload API too, or drop its settings",
                )
            if name in everything and name not in chosen:
                raise ContextError(
                    CTX_SETTINGS,
                    f"{name} is not deployed (it is off by default or left out by 'services'): "
                    f"deploy it with -c services=+{name}, or drop its settings",
                )
        return events, http

    def edge_services(self, http: Sequence[Manifest]) -> list[Manifest]:
        """The services the distribution calls itself (on-demand transforms) this deployment runs:
        only with the front door (``http``), whose distribution routes their paths."""
        if not http:
            return []
        try:
            return discover(self.services_root, edge=True, services=self.services)
        except SelectionError as exc:
            raise ContextError(CTX_SERVICES, str(exc).removeprefix("services: ")) from None

    def check_against(
        self, manifests: Sequence[Manifest], http: Sequence[Manifest] = (), edge: Sequence[Manifest] = ()
    ) -> None:
        """Overrides must name real services and settings: a typo would otherwise be ignored.
        (Their values are checked by each service's Settings, when the stack builds its config.)
        ``manifests`` are the event services, ``http`` the HTTP services (the upload API), ``edge``
        the services the distribution calls (transforms): all take ``settings``; only event
        services have a reserved concurrency to override."""
        by_name = {m.name: m for m in manifests}
        configurable = {**by_name, **{m.name: m for m in (*http, *edge)}}
        for name, overrides in self.settings.items():
            if name not in configurable:
                raise ContextError(CTX_SETTINGS, f"no service named {name!r} (known: {sorted(configurable)})")
            known = setting_names(configurable[name])
            unknown = sorted(set(overrides) - set(known))
            if unknown:
                raise ContextError(
                    CTX_SETTINGS, f"{name} has no setting {unknown[0]!r} (its settings: {', '.join(known) or 'none'})"
                )
        for name in self.reserved_concurrency or {}:
            if name not in by_name:
                raise ContextError(CTX_RESERVED_CONCURRENCY, f"no service named {name!r} (known: {sorted(by_name)})")
        if self.key_prefixes and http and not any(USERS_PREFIX.startswith(p) for p in self.key_prefixes):
            # The upload API writes every upload under users/<sub>/: narrowed away, those uploads
            # would be stored and never processed (docs/decisions.md, "Front door").
            raise ContextError(
                CTX_KEY_PREFIXES,
                f"the upload API ({http[0].name}) stores uploads under {USERS_PREFIX}, which "
                f"{', '.join(self.key_prefixes)} leaves out: add {USERS_PREFIX} "
                f"(e.g. {','.join((*self.key_prefixes, USERS_PREFIX))})",
            )
        if self.key_prefixes:
            for m in manifests:
                if any(t.suffixes for t in m.upload_triggers()):
                    # EventBridge ORs the filters on one field: prefix AND suffix is not expressible.
                    raise ContextError(
                        CTX_KEY_PREFIXES,
                        f"cannot narrow {m.name}'s suffix trigger; put prefixes in its manifest instead",
                    )


def _list(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ContextError(key, f"must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _email(key: str, value: Any) -> str | None:
    if not value:
        return None
    if not isinstance(value, str) or "@" not in value:
        raise ContextError(key, f"must be an email address, got {value!r}")
    return value


def _settings(value: Any) -> dict[str, dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ContextError(CTX_SETTINGS, f"is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ContextError(CTX_SETTINGS, 'must be an object like {"resize": {"widths": [320, 640]}}')
    return value


#: CloudFormation's rule for stack names
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


def _stack_name(value: Any) -> str:
    if not value:
        return STACK_NAME
    if not isinstance(value, str) or not _STACK_NAME.match(value):
        raise ContextError(
            CTX_STACK_NAME,
            f"must start with a letter and hold only letters, digits and '-' (128 at most), got {value!r}",
        )
    return value


def _reserved_concurrency(value: Any) -> dict[str, int] | None:
    """``off`` (a fresh account, whose quota is too small to reserve anything), or per-service
    overrides as JSON: ``{"convert": 5}``."""
    if value in (None, ""):
        return {}
    if value == "off":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ContextError(CTX_RESERVED_CONCURRENCY, f"is not 'off' nor valid JSON: {exc}") from None
    if not isinstance(value, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1000 for v in value.values()
    ):
        raise ContextError(
            CTX_RESERVED_CONCURRENCY, 'must be "off" or an object of integers 0-1000 like {"convert": 5}'
        )
    return value


def _services(value: Any) -> str | None:
    """A comma-separated string (``-c services=+webhook``) or, from cdk.json, a list of names."""
    if value is None or value == "":
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if isinstance(value, str):
        return value
    raise ContextError(CTX_SERVICES, 'must be a list of names like "resize,notify" or "+webhook,-convert"')


def from_context(get: Callable[[str], Any], environ: Mapping[str, str] | None = None) -> DeployParams:
    """``get`` is ``node.try_get_context``; the services root may also come from the environment."""
    environ = os.environ if environ is None else environ
    root = get(CTX_SERVICES_ROOT) or environ.get(ENV_SERVICES_ROOT) or DEFAULT_ROOT
    emails = {key: _email(key, get(key)) for key in (CTX_NOTIFY_EMAIL, CTX_OPS_EMAIL)}
    removal = get(CTX_REMOVAL) or "retain"
    if removal not in ("retain", "destroy"):
        raise ContextError(CTX_REMOVAL, f"must be 'retain' or 'destroy', got {removal!r}")
    prefixes = get(CTX_KEY_PREFIXES)
    origins = get(CTX_CORS_ORIGINS)
    return DeployParams(
        services_root=Path(root),
        notify_email=emails[CTX_NOTIFY_EMAIL],
        ops_email=emails[CTX_OPS_EMAIL],
        settings=_settings(get(CTX_SETTINGS) or {}),
        key_prefixes=_list(CTX_KEY_PREFIXES, prefixes) if prefixes else (),
        cors_origins=_list(CTX_CORS_ORIGINS, origins) if origins else ("*",),
        retain_data=removal == "retain",
        stack_name=_stack_name(get(CTX_STACK_NAME)),
        reserved_concurrency=_reserved_concurrency(get(CTX_RESERVED_CONCURRENCY)),
        site_dir=Path(get(CTX_SITE_DIR) or environ.get(ENV_SITE_DIR) or DEFAULT_SITE_DIR),
        services=_services(get(CTX_SERVICES)),
    )
