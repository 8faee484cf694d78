"""Processor manifests: what a service reacts to (one trigger class per kind), how it runs, what
it needs (imgpipe.needs), and values that replace its settings' defaults.

A manifest is ``services/<name>/manifest.toml``. It is the single source of truth for
``infra/`` (the Lambda, its rule, retries and DLQs) and for the local runtime (the same
rules on the emulated bus). Validation is strict and every error names the folder and the
field, because a bad manifest must fail ``cdk synth`` with a message a newcomer can act on.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from imgpipe.events import (
    BACKFILL_MARKER,
    BACKFILL_SOURCE,
    BACKFILL_TARGETS,
    COMPLETION_DETAIL_TYPES,
    COMPLETION_SOURCE,
    OBJECT_CREATED,
    OBJECT_DELETED,
    PIPELINE_DETAIL_TYPES,
    PIPELINE_SOURCE_PREFIX,
)
from imgpipe.needs import Need
from imgpipe.outputs import Outputs, OutputsError, parse_outputs

MANIFEST_FILE = "manifest.toml"

# Lambda's own limits: a manifest outside them would fail at deploy time, far from its cause.
_LIMITS: dict[str, tuple[int, int]] = {
    "memory_mb": (128, 10240),
    "timeout_s": (1, 900),
    "retry_attempts": (0, 2),
    "max_event_age_s": (60, 21600),
    "reserved_concurrency": (0, 1000),
    # an SQS event source's batch (standard queue): up to 10,000 messages, a window of 0-300 s
    "batch.size": (1, 10000),
    "batch.window_s": (0, 300),
}
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
_RESERVED_NAMES = {"imgpipe", "infra", "tests", "services", "bench", "docs"}


class ManifestError(ValueError):
    """A manifest is invalid. The message names the folder and the field."""

    def __init__(self, folder: Path | str, field_name: str, problem: str) -> None:
        super().__init__(f"services/{Path(folder).name}/{MANIFEST_FILE}: field '{field_name}': {problem}")
        self.folder = Path(folder)
        self.field = field_name


def _bucket_detail(uploads_bucket: str) -> dict[str, Any]:
    return {"bucket": {"name": [uploads_bucket]}}


@dataclass(frozen=True)
class UploadsTrigger:
    """S3 "Object Created" on the uploads bucket, optionally narrowed by key ``prefixes`` or
    ``suffixes`` (one kind per trigger: EventBridge ORs the filters on one field, so prefix AND
    suffix would need ``$or``). Suffixes match case-insensitively: ``.jpg`` also matches ``.JPG``."""

    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    source: ClassVar[str] = "uploads"

    def event_pattern(self, uploads_bucket: str, producers: Sequence[str] = ()) -> dict[str, Any]:
        detail = _bucket_detail(uploads_bucket)
        key_filters: list[Any] = [{"prefix": p} for p in self.prefixes]
        key_filters += [{"suffix": {"equals-ignore-case": s}} for s in self.suffixes]
        if key_filters:
            detail["object"] = {"key": key_filters}
        return {"source": ["aws.s3"], "detail-type": [OBJECT_CREATED], "detail": detail}

    def backfill_pattern(self, uploads_bucket: str, service: str) -> dict[str, Any]:
        """A backfill's "Object Created" for the same keys, when it names ``service`` among its
        targets (imgpipe/backfill.py puts them on the bus; docs/events.md "From a backfill")."""
        pattern = self.event_pattern(uploads_bucket)
        pattern["source"] = [BACKFILL_SOURCE]
        pattern["detail"][BACKFILL_MARKER] = {BACKFILL_TARGETS: [service]}
        return pattern

    def matches_key(self, key: str) -> bool:
        """Whether an upload with this key reaches this trigger (what the pattern matches)."""
        if self.prefixes and not any(key.startswith(p) for p in self.prefixes):
            return False
        return not self.suffixes or any(key.lower().endswith(s.lower()) for s in self.suffixes)

    def narrowed(self, prefixes: Sequence[str]) -> UploadsTrigger | None:
        """This trigger limited to keys under one of ``prefixes`` as well (a deployment's
        ``key_prefixes``): the keys both admit, so a trigger for ``raw/`` narrowed to ``photos/``
        admits nothing (None) and one narrowed to ``raw/2024/`` admits ``raw/2024/`` only. A
        trigger with suffixes cannot be narrowed by prefix (``$or`` again): ValueError."""
        if not prefixes:
            return self
        if self.suffixes:
            raise ValueError("a trigger with key suffixes cannot also be narrowed by key prefixes")
        mine = self.prefixes or ("",)
        both = {p if p.startswith(d) else d for p in mine for d in prefixes if p.startswith(d) or d.startswith(p)}
        # "a/" already admits every key under "a/b/": keep the widest of each
        kept = sorted(p for p in both if not any(p != q and p.startswith(q) for q in both))
        return UploadsTrigger(tuple(kept)) if kept else None


@dataclass(frozen=True)
class PipelineTrigger:
    """imgpipe's own "Variants Created" / "Image Rejected" events (``detail_types``: some of them),
    from the stack's own producers about the stack's own uploads bucket."""

    detail_types: tuple[str, ...] = PIPELINE_DETAIL_TYPES
    source: ClassVar[str] = "pipeline"

    def event_pattern(self, uploads_bucket: str, producers: Sequence[str] = ()) -> dict[str, Any]:
        """Names the exact sources of the stack's ``producers`` and the stack's uploads bucket:
        anyone may put an ``imgpipe.``-prefixed event on the bus, and a second stack in the account
        puts events about its own bucket (docs/notify.md "Forged events")."""
        if not producers:
            raise ValueError("a pipeline rule needs the names of the stack's producers (its event sources)")
        return {
            "source": [f"{PIPELINE_SOURCE_PREFIX}{name}" for name in sorted(producers)],
            "detail-type": list(self.detail_types),
            "detail": {"bucket": [uploads_bucket]},
        }


@dataclass(frozen=True)
class CompletionsTrigger:
    """The events that end a round ("Upload Completed", "Upload Partly Completed", "Upload
    Rejected", or some of them), put by the catalog keeper with source :data:`COMPLETION_SOURCE`,
    about the stack's uploads bucket."""

    detail_types: tuple[str, ...] = COMPLETION_DETAIL_TYPES
    source: ClassVar[str] = "completions"

    def event_pattern(self, uploads_bucket: str, producers: Sequence[str] = ()) -> dict[str, Any]:
        return {
            "source": [COMPLETION_SOURCE],
            "detail-type": list(self.detail_types),
            "detail": {"bucket": [uploads_bucket]},
        }


@dataclass(frozen=True)
class DeletionsTrigger:
    """S3 "Object Deleted" on the uploads bucket: a permanent delete or a delete marker, of any key
    (a deletion of any key may leave variants behind). A kind of its own, so that no ``uploads``
    trigger, and so no processor, is ever woken by a deletion."""

    source: ClassVar[str] = "deletions"

    def event_pattern(self, uploads_bucket: str, producers: Sequence[str] = ()) -> dict[str, Any]:
        # Both deletion types (and moto's event, which has no deletion-type): the service decides
        # what a deletion means (services/purge/logic.py).
        return {"source": ["aws.s3"], "detail-type": [OBJECT_DELETED], "detail": _bucket_detail(uploads_bucket)}


@dataclass(frozen=True)
class HttpTrigger:
    """Not an EventBridge rule: HTTP ``routes`` (``"POST /api/uploads"``) of the stack's API, each
    behind the JWT authorizer except the ``public_routes``."""

    routes: tuple[str, ...]
    public_routes: tuple[str, ...] = ()
    source: ClassVar[str] = "http"


@dataclass(frozen=True)
class EdgeTrigger:
    """Not an EventBridge rule: CDN path patterns (``"/t/*"``) the distribution sends to the
    function itself, with no sign-in (each request carries its own signature)."""

    paths: tuple[str, ...]
    source: ClassVar[str] = "edge"


#: one of a manifest's ``[[triggers]]``; every kind but ``http`` and ``edge`` becomes one
#: EventBridge rule, whose pattern its ``event_pattern`` builds (CDK and the local stack both use it)
Trigger = UploadsTrigger | PipelineTrigger | CompletionsTrigger | DeletionsTrigger | HttpTrigger | EdgeTrigger
#: the kinds that are EventBridge rules
RuleTrigger = UploadsTrigger | PipelineTrigger | CompletionsTrigger | DeletionsTrigger


def rule_pattern(service: str, trigger: RuleTrigger, uploads_bucket: str, producers: Sequence[str]) -> dict[str, Any]:
    """The pattern of ``service``'s rule for ``trigger`` (CDK and the local stack both use it). An
    uploads rule also matches a backfill's events addressed to the service, so a backfill reaches
    each service through its own rule, retries and DLQs, as an upload does, and adding a service
    changes nothing in the backfill."""
    pattern = trigger.event_pattern(uploads_bucket, producers)
    if isinstance(trigger, UploadsTrigger):
        return {"$or": [pattern, trigger.backfill_pattern(uploads_bucket, service)]}
    return pattern


@dataclass(frozen=True)
class Batch:
    """``[batch]``: the service's rules deliver to a queue, and Lambda hands it the queued events
    in batches (up to ``size`` at once, gathered for up to ``window_s`` seconds after the first),
    reporting per event which failed. Without it, every event is one asynchronous invocation."""

    size: int
    window_s: int


@dataclass(frozen=True)
class Manifest:
    name: str
    folder: Path
    description: str
    triggers: tuple[Trigger, ...]
    memory_mb: int
    timeout_s: int
    retry_attempts: int
    max_event_age_s: int
    reserved_concurrency: int  # 0: no reservation (shares the account pool)
    produces_variants: bool
    settings: Mapping[str, Any] = field(default_factory=dict)
    needs: frozenset[Need] = frozenset()
    #: deployed and run locally unless the deployment's service selection leaves it out; false:
    #: only when named (a service that costs extra per image, or needs a setting to be useful)
    enabled_by_default: bool = True
    #: what its outputs are and who may see them (imgpipe/outputs.py); every producer declares it
    outputs: Outputs | None = None
    #: its events in batches through a queue (None: one asynchronous invocation per event)
    batch: Batch | None = None

    @property
    def handler(self) -> str:
        """Lambda handler string: the folder is shipped as package ``<name>``."""
        return f"{self.name}.handler.handler"

    @property
    def module(self) -> str:
        """Import path of the handler module from the repository root (local runtime, tests)."""
        return f"services.{self.name}.handler"

    @property
    def event_source(self) -> str:
        return f"{PIPELINE_SOURCE_PREFIX}{self.name}"

    def upload_triggers(self) -> tuple[UploadsTrigger, ...]:
        return tuple(t for t in self.triggers if isinstance(t, UploadsTrigger))

    def rule_triggers(self) -> tuple[RuleTrigger, ...]:
        """The triggers that are EventBridge rules (every one but an ``http`` or ``edge`` trigger)."""
        return tuple(t for t in self.triggers if not isinstance(t, HttpTrigger | EdgeTrigger))

    @property
    def listens_to_pipeline(self) -> bool:
        """Whether it hears the producers' reports (the catalog keeper, notify)."""
        return any(isinstance(t, PipelineTrigger) for t in self.triggers)

    @property
    def http(self) -> HttpTrigger | None:
        """The service's HTTP routes, if it is an HTTP service (then it has no other trigger)."""
        return next((t for t in self.triggers if isinstance(t, HttpTrigger)), None)

    @property
    def edge(self) -> EdgeTrigger | None:
        """The CDN paths the service answers, if it is an edge service (then it has no other trigger)."""
        return next((t for t in self.triggers if isinstance(t, EdgeTrigger)), None)

    def matches_key(self, key: str) -> bool:
        return any(t.matches_key(key) for t in self.upload_triggers())

    def rules(self, prefixes: Sequence[str] = ()) -> tuple[tuple[RuleTrigger, RuleTrigger], ...]:
        """Each trigger that is an EventBridge rule, as declared and as a deployment's
        ``key_prefixes`` narrow it (an ``uploads`` trigger limited to the keys both admit; the
        other kinds are not about keys). An uploads trigger left with no key in common has no
        rule. The declared one names the rule, so narrowing renames nothing."""
        out: list[tuple[RuleTrigger, RuleTrigger]] = []
        for t in self.rule_triggers():
            narrowed = t.narrowed(prefixes) if isinstance(t, UploadsTrigger) else t
            if narrowed is not None:
                out.append((t, narrowed))
        return tuple(out)

    def narrowed_uploads(self, prefixes: Sequence[str] = ()) -> tuple[UploadsTrigger, ...]:
        """Its ``uploads`` triggers as a deployment's ``key_prefixes`` narrow them."""
        return tuple(n for _, n in self.rules(prefixes) if isinstance(n, UploadsTrigger))

    def effective_settings(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The values the function is given: the manifest's ``[settings]`` with the deployment's
        overrides on top. Every field of the service's ``Settings`` may be set either way; a key
        that is not one of them is refused when they are parsed (imgpipe.registry.parse_settings),
        and a setting given nowhere keeps the class's default."""
        return {**self.settings, **(overrides or {})}


def _int_field(folder: Path, raw: Mapping[str, Any], name: str, default: int | None = None, *, where: str = "") -> int:
    value = raw.get(name, default)
    name = f"{where}.{name}" if where else name
    if value is None:
        raise ManifestError(folder, name, "is required (an integer)")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(folder, name, f"must be an integer, got {value!r}")
    lo, hi = _LIMITS[name]
    if not lo <= value <= hi:
        raise ManifestError(folder, name, f"must be between {lo} and {hi}, got {value}")
    return value


def _str_list(folder: Path, raw: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ManifestError(folder, f"{where}.{name}", "must be a list of non-empty strings")
    return tuple(value)


def _parse_trigger(folder: Path, raw: Any, index: int) -> Trigger:
    where = f"triggers[{index}]"
    if not isinstance(raw, dict):
        raise ManifestError(folder, where, "must be a table")
    source = raw.get("source")
    if source not in ("uploads", "pipeline", "deletions", "completions", "http", "edge"):
        raise ManifestError(
            folder,
            f"{where}.source",
            "must be 'uploads' or 'pipeline' (or 'deletions', for S3 deletions, 'completions', for the "
            f"rounds' completion events, 'http' or 'edge'), got {source!r}",
        )
    if source == "http":
        return _parse_http_trigger(folder, raw, where)
    if source == "edge":
        return _parse_edge_trigger(folder, raw, where)
    unknown = set(raw) - {"source", "prefixes", "suffixes", "detail_types"}
    if unknown:
        raise ManifestError(folder, f"{where}.{sorted(unknown)[0]}", "is not a known trigger field")
    prefixes = _str_list(folder, raw, "prefixes", where)
    suffixes = _str_list(folder, raw, "suffixes", where)
    if prefixes and suffixes:
        raise ManifestError(folder, where, "use prefixes or suffixes, not both, in one trigger")
    event_types = {"pipeline": PIPELINE_DETAIL_TYPES, "completions": COMPLETION_DETAIL_TYPES}.get(source)
    if event_types is not None:
        # imgpipe's own events: narrowed by detail-type, never by key
        if prefixes or suffixes:
            raise ManifestError(folder, where, "key filters apply to 'uploads' triggers only")
        types = _str_list(folder, raw, "detail_types", where) or event_types
        bad = [t for t in types if t not in event_types]
        if bad:
            raise ManifestError(folder, f"{where}.detail_types", f"unknown detail-type {bad[0]!r}")
        return PipelineTrigger(tuple(types)) if source == "pipeline" else CompletionsTrigger(tuple(types))
    if source == "deletions":
        if prefixes or suffixes or "detail_types" in raw:
            # a deletion of any key may leave variants behind: the cascade sees them all
            raise ManifestError(folder, where, "a 'deletions' trigger takes no filters")
        return DeletionsTrigger()
    if "detail_types" in raw:
        raise ManifestError(folder, f"{where}.detail_types", "applies to 'pipeline' and 'completions' triggers only")
    return UploadsTrigger(prefixes, suffixes)


_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# API Gateway's path syntax: literal segments and whole-segment {parameters}
_ROUTE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>(/([A-Za-z0-9._-]+|\{[a-z_][a-z0-9_]*\}))+)$")


def _parse_http_trigger(folder: Path, raw: Mapping[str, Any], where: str) -> Trigger:
    unknown = set(raw) - {"source", "routes", "public_routes"}
    if unknown:
        raise ManifestError(folder, f"{where}.{sorted(unknown)[0]}", "is not a known field of an 'http' trigger")
    routes = _str_list(folder, raw, "routes", where)
    if not routes:
        raise ManifestError(folder, f"{where}.routes", "an 'http' trigger needs at least one route")
    for route in routes:
        match = _ROUTE.match(route)
        if not match or match["method"] not in _HTTP_METHODS:
            raise ManifestError(
                folder,
                f"{where}.routes",
                f"{route!r} must be '<METHOD> /path/{{param}}' with a method of {', '.join(_HTTP_METHODS)}",
            )
    if len(set(routes)) < len(routes):
        raise ManifestError(folder, f"{where}.routes", "lists a route twice")
    public = _str_list(folder, raw, "public_routes", where)
    stray = [r for r in public if r not in routes]
    if stray:
        raise ManifestError(folder, f"{where}.public_routes", f"{stray[0]!r} is not one of the routes")
    return HttpTrigger(routes, public)


# a CloudFront path pattern under one literal first segment: "/t/*"
_EDGE_PATH = re.compile(r"^/[a-z][a-z0-9-]*/\*$")


def _parse_edge_trigger(folder: Path, raw: Mapping[str, Any], where: str) -> Trigger:
    unknown = set(raw) - {"source", "paths"}
    if unknown:
        raise ManifestError(folder, f"{where}.{sorted(unknown)[0]}", "is not a known field of an 'edge' trigger")
    paths = _str_list(folder, raw, "paths", where)
    if not paths:
        raise ManifestError(folder, f"{where}.paths", "an 'edge' trigger needs at least one path pattern")
    for path in paths:
        if not _EDGE_PATH.match(path):
            raise ManifestError(folder, f"{where}.paths", f"{path!r} must be '/<segment>/*'")
    return EdgeTrigger(paths)


_KNOWN_FIELDS = {
    "name",
    "description",
    "triggers",
    "memory_mb",
    "timeout_s",
    "retry_attempts",
    "max_event_age_s",
    "reserved_concurrency",
    "produces_variants",
    "settings",
    "needs",
    "enabled_by_default",
    "outputs",
    "batch",
}


def _needs(folder: Path, raw: Mapping[str, Any]) -> frozenset[Need]:
    value = raw.get("needs", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(folder, "needs", "must be a list of strings")
    known = [n.value for n in Need]
    for name in value:
        if name not in known:
            raise ManifestError(folder, "needs", f"unknown need {name!r} (known: {', '.join(map(repr, known))})")
    if len(set(value)) < len(value):
        raise ManifestError(folder, "needs", "lists a need twice")
    return frozenset(Need(v) for v in value)


def parse_manifest(folder: Path, raw: Mapping[str, Any]) -> Manifest:
    """Validate a manifest's parsed TOML; raise :class:`ManifestError` on the first problem."""
    folder = Path(folder)
    unknown = set(raw) - _KNOWN_FIELDS
    if unknown:
        raise ManifestError(folder, sorted(unknown)[0], "is not a known manifest field (typo?)")
    name = raw.get("name", folder.name)
    if name != folder.name:
        raise ManifestError(folder, "name", f"must equal the folder name {folder.name!r}, got {name!r}")
    if (
        not isinstance(name, str)
        or not _NAME.match(name)
        or keyword.iskeyword(name)
        or name in sys.stdlib_module_names
        or name in _RESERVED_NAMES
    ):
        raise ManifestError(
            folder,
            "name",
            f"{name!r} must be lowercase [a-z0-9_], 2-31 characters, and not shadow a Python module",
        )
    triggers_raw = raw.get("triggers")
    if not isinstance(triggers_raw, list) or not triggers_raw:
        raise ManifestError(folder, "triggers", "needs at least one [[triggers]] table")
    triggers = tuple(_parse_trigger(folder, t, i) for i, t in enumerate(triggers_raw))
    for kind in (HttpTrigger, EdgeTrigger):
        if any(isinstance(t, kind) for t in triggers) and len(triggers) > 1:
            # Served synchronously over HTTP: no rule, no DLQ; mixing both kinds in one
            # function would give it two failure models.
            raise ManifestError(folder, "triggers", f"an '{kind.source}' trigger must be the service's only trigger")
    produces = raw.get("produces_variants", False)
    if not isinstance(produces, bool):
        raise ManifestError(folder, "produces_variants", "must be true or false")
    if produces and not any(isinstance(t, UploadsTrigger) for t in triggers):
        raise ManifestError(folder, "produces_variants", "a variant producer needs an 'uploads' trigger")
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise ManifestError(folder, "settings", "must be a table")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ManifestError(folder, "description", "must be a string")
    enabled = raw.get("enabled_by_default", True)
    if not isinstance(enabled, bool):
        raise ManifestError(folder, "enabled_by_default", "must be true or false")
    outputs = _outputs(folder, raw, produces)
    return Manifest(
        name=name,
        folder=folder,
        description=description,
        triggers=triggers,
        memory_mb=_int_field(folder, raw, "memory_mb"),
        timeout_s=_int_field(folder, raw, "timeout_s"),
        retry_attempts=_int_field(folder, raw, "retry_attempts", 2),
        max_event_age_s=_int_field(folder, raw, "max_event_age_s", 3600),
        reserved_concurrency=_int_field(folder, raw, "reserved_concurrency", 0),
        produces_variants=produces,
        settings=settings,
        # every producer signs its events (imgpipe/signing.py), so it has the key without declaring it
        needs=_needs(folder, raw) | ({Need.EVENT_KEY} if produces else frozenset()),
        enabled_by_default=enabled,
        outputs=outputs,
        batch=_batch(folder, raw, triggers),
    )


def _batch(folder: Path, raw: Mapping[str, Any], triggers: tuple[Trigger, ...]) -> Batch | None:
    """``[batch]``: only for a service whose events are EventBridge rules' (an HTTP or edge service
    is called synchronously, one request at a time)."""
    if "batch" not in raw:
        return None
    table = raw["batch"]
    if not isinstance(table, dict):
        raise ManifestError(folder, "batch", "must be a table: [batch] size = ..., window_s = ...")
    unknown = set(table) - {"size", "window_s"}
    if unknown:
        raise ManifestError(folder, f"batch.{sorted(unknown)[0]}", "is not a known field (size, window_s)")
    if any(isinstance(t, HttpTrigger | EdgeTrigger) for t in triggers):
        raise ManifestError(folder, "batch", "only a service triggered by events takes them in batches")
    size = _int_field(folder, table, "size", where="batch")
    window = _int_field(folder, table, "window_s", where="batch")
    if size > 10 and window < 1:
        # Lambda's rule for an SQS event source: a batch over 10 needs a batching window
        raise ManifestError(folder, "batch.window_s", f"must be at least 1 for a batch of {size} (over 10)")
    return Batch(size, window)


def _outputs(folder: Path, raw: Mapping[str, Any], produces: bool) -> Outputs | None:
    """``[outputs]``: required of a producer (what the CDN serves and the API offers is decided
    from it), refused for a service that writes nothing."""
    if "outputs" not in raw:
        if produces:
            raise ManifestError(folder, "outputs", 'a variant producer declares its outputs: [outputs] role = "..."')
        return None
    if not produces:
        raise ManifestError(folder, "outputs", "only a service that produces_variants has outputs")
    try:
        return parse_outputs(raw["outputs"])
    except OutputsError as exc:
        raise ManifestError(folder, exc.field, str(exc)) from None


def load_manifest(folder: Path) -> Manifest:
    # here, not at the top: a deployed function never reads a manifest (its configuration comes
    # from the environment), and the TOML parser is a few milliseconds of every cold start
    import tomllib

    path = Path(folder) / MANIFEST_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(folder, "-", f"missing {MANIFEST_FILE}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(folder, "-", f"is not valid TOML: {exc}") from None
    return parse_manifest(folder, raw)
