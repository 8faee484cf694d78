"""Fault injection for tests and the local stack: make AWS calls fail the way AWS does.

Off unless turned on, by the environment (``IMGPIPE_FAULTS``) or by :func:`inject` in a test::

    IMGPIPE_FAULTS="s3.get_object:0.3,events.put_events:0.3,sns.publish:0.2"
    IMGPIPE_FAULTS_SEED=7                  # reproducible draws (single-threaded runs)
    IMGPIPE_FAULTS_ONLY=resize,thumbnail   # only inside these processors' invocations

Each entry is ``<client>.<operation>:<probability>[:<kind>/<kind>...]``; ``<operation>`` may be
``*`` and the whole entry may be ``*:<p>``. The most specific entry wins. Kinds:

==============  ======================================================  =====================
kind            what the client sees                                     who retries it
==============  ======================================================  =====================
slowdown        HTTP 503 ``SlowDown`` (S3 throttling)                    botocore, then Lambda
internal        HTTP 500 ``InternalError`` / ``InternalFailure`` /          botocore, then Lambda
                ``InternalServerError`` (DynamoDB)
timeout         read timeout before any response                         botocore, then Lambda
throttle        HTTP 400 ``Throttling`` / ``ThrottlingException`` /     botocore, then Lambda
                ``ProvisionedThroughputExceededException`` (DynamoDB)
body_timeout    GetObject's body times out half way (after the headers)  Lambda
partial         PutEvents answers 200 with ``FailedEntryCount > 0``;     the caller (our adapter
                the entries it reports failed were really not delivered  raises, Lambda retries)
==============  ======================================================  =====================

The faults are applied inside real boto3 clients through botocore's event hooks, so the
production retry stack (botocore standard retries, the adapters' checks, Lambda's retries and
DLQs) is what gets exercised. :func:`install` is added to :func:`imgpipe.adapters.client`'s hooks when this module is
imported (by a test or by the local stack); it registers nothing unless faults are configured.
This module is not in the Lambda layer, so a deployed function cannot turn faults on.
HTTP-level kinds are drawn per HTTP attempt (botocore's retries are fresh draws); ``partial``
and ``body_timeout`` once per API call. An entry's probability is shared between its kinds.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from imgpipe import adapters

ENV_FAULTS = "IMGPIPE_FAULTS"
ENV_SEED = "IMGPIPE_FAULTS_SEED"
ENV_ONLY = "IMGPIPE_FAULTS_ONLY"

HTTP_KINDS = frozenset({"slowdown", "internal", "timeout", "throttle"})
CALL_KINDS = frozenset({"partial", "body_timeout"})
KINDS = HTTP_KINDS | CALL_KINDS


def default_kinds(service: str, operation: str) -> tuple[str, ...]:
    """What usually goes wrong with a given call, when the spec does not say."""
    if service == "s3":
        if operation == "get_object":
            return ("slowdown", "internal", "timeout", "body_timeout")
        return ("slowdown", "internal", "timeout")
    if service == "events" and operation == "put_events":
        return ("partial",)
    if service in ("events", "sns", "dynamodb", "sqs"):
        return ("throttle", "internal")
    return ("internal", "timeout")


class FaultSpecError(ValueError):
    """``IMGPIPE_FAULTS`` (or a spec given to :func:`inject`) cannot be parsed."""


@dataclass(frozen=True)
class FaultRule:
    service: str  # boto3 client name ("s3", "events", "sns", "dynamodb", "sqs") or "*"
    operation: str  # snake_case operation ("get_object") or "*"
    probability: float
    kinds: tuple[str, ...] = ()  # empty: default_kinds() of the call

    def specificity(self) -> int:
        return (self.service != "*") * 2 + (self.operation != "*")

    def matches(self, service: str, operation: str) -> bool:
        return self.service in ("*", service) and self.operation in ("*", operation)


def parse_spec(text: str) -> list[FaultRule]:
    rules: list[FaultRule] = []
    for raw in text.replace(";", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) not in (2, 3):
            raise FaultSpecError(f"{entry!r}: expected <client>.<operation>:<probability>[:<kinds>]")
        target, prob_text = parts[0].strip(), parts[1].strip()
        service, _, operation = target.partition(".")
        operation = operation or "*"
        try:
            probability = float(prob_text)
        except ValueError:
            raise FaultSpecError(f"{entry!r}: probability {prob_text!r} is not a number") from None
        if not 0.0 <= probability <= 1.0:
            raise FaultSpecError(f"{entry!r}: probability must be between 0 and 1")
        kinds = tuple(k.strip() for k in parts[2].split("/") if k.strip()) if len(parts) == 3 else ()
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise FaultSpecError(f"{entry!r}: unknown kind {unknown[0]!r} (known: {', '.join(sorted(KINDS))})")
        rules.append(FaultRule(service or "*", operation, probability, kinds))
    return rules


@dataclass
class FaultPlan:
    """The active faults: rules, a seeded random source, a scope, and counts of what fired."""

    rules: list[FaultRule]
    seed: int | None = None
    #: processors whose invocations get faults; None: every call made through an installed client
    only: frozenset[str] | None = None
    enabled: bool = True
    injected: Counter[tuple[str, str]] = field(default_factory=Counter)  # ("s3.get_object", kind) -> n
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def rule_for(self, service: str, operation: str) -> FaultRule | None:
        candidates = [r for r in self.rules if r.matches(service, operation)]
        return max(candidates, key=FaultRule.specificity) if candidates else None

    def _in_scope(self) -> bool:
        if self.only is None:
            return True
        from imgpipe.config import current_config

        return current_config().processor in self.only

    def draw(self, service: str, operation: str, stage: frozenset[str]) -> str | None:
        """A kind from ``stage`` (HTTP_KINDS or CALL_KINDS) to inject now, or None."""
        if not self.enabled:
            return None
        rule = self.rule_for(service, operation)
        if rule is None or rule.probability <= 0:
            return None
        kinds = rule.kinds or default_kinds(service, operation)
        eligible = [k for k in kinds if k in stage]
        if not eligible or not self._in_scope():
            return None
        # The entry's probability is shared by all its kinds, so each stage gets its share.
        p = rule.probability * len(eligible) / len(kinds)
        with self._lock:
            if self._rng.random() >= p:
                return None
            kind = eligible[self._rng.randrange(len(eligible))]
            self.injected[(f"{service}.{operation}", kind)] += 1
        return kind

    def choose_failed(self, n: int) -> list[int]:
        """Which of ``n`` PutEvents entries a partial failure drops (at least one)."""
        with self._lock:
            k = self._rng.randint(1, max(1, n // 2)) if n > 1 else 1
            return sorted(self._rng.sample(range(n), k))

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def summary(self) -> dict[str, int]:
        return {f"{target}:{kind}": n for (target, kind), n in sorted(self.injected.items())}


def plan_from_env(env: Mapping[str, str] | None = None) -> FaultPlan | None:
    env = os.environ if env is None else env
    spec = env.get(ENV_FAULTS, "").strip()
    if not spec:
        return None
    seed = env.get(ENV_SEED)
    only = {p.strip() for p in env.get(ENV_ONLY, "").split(",") if p.strip()}
    return FaultPlan(parse_spec(spec), seed=int(seed) if seed else None, only=frozenset(only) or None)


# The process-wide plan. Loaded from the environment once; tests replace it with inject().
_UNSET: Any = object()
_plan: FaultPlan | None = _UNSET
_plan_lock = threading.Lock()


def active_plan() -> FaultPlan | None:
    global _plan
    if _plan is _UNSET:
        with _plan_lock:
            if _plan is _UNSET:
                _plan = plan_from_env()
    return _plan


@contextlib.contextmanager
def inject(
    spec: str | Iterable[FaultRule], *, seed: int | None = 0, only: Iterable[str] | None = None
) -> Iterator[FaultPlan]:
    """Turn faults on for the duration of a ``with`` block (the test fixture API).

    Clients cached by :func:`imgpipe.adapters.client` are dropped on entry and exit, so the
    code under test gets clients with the hooks installed, and later tests get clean ones."""
    global _plan
    client = adapters.client

    rules = parse_spec(spec) if isinstance(spec, str) else list(spec)
    plan = FaultPlan(rules, seed=seed, only=frozenset(only) if only is not None else None)
    with _plan_lock:
        previous, _plan = _plan, plan
    client.cache_clear()
    try:
        yield plan
    finally:
        with _plan_lock:
            _plan = previous
        client.cache_clear()


# ---------------------------------------------------------------------------------------------
# botocore hooks


@dataclass
class _CallState:
    body_timeout: bool = False
    failed_entries: list[tuple[int, dict[str, Any]]] | None = None  # (original index, entry)
    total_entries: int = 0


_calls = threading.local()  # one API call runs start to finish on one thread


def _state() -> _CallState:
    state = getattr(_calls, "state", None)
    if state is None:
        state = _calls.state = _CallState()
    return state


def _operation(event_name: str) -> str:
    from botocore import xform_name

    return xform_name(event_name.rsplit(".", 1)[-1])


def _error_body(protocol: str, code: str, message: str) -> bytes:
    if protocol == "rest-xml":
        return f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    if protocol == "query":
        return (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message>"
            "</Error><RequestId>imgpipe-fault</RequestId></ErrorResponse>"
        ).encode()
    return json.dumps({"__type": code, "message": message}).encode()


class _Raw:
    """The bit of a urllib3 response that botocore's AWSResponse reads."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


_THROTTLE_CODES = {
    "sns": "Throttling",
    "sqs": "RequestThrottled",
    "dynamodb": "ProvisionedThroughputExceededException",
}


def _http_fault(kind: str, service: str, protocol: str, url: str) -> Any:
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ReadTimeoutError

    if kind == "timeout":
        raise ReadTimeoutError(endpoint_url=url, error="injected read timeout (imgpipe_tools.testing.faults)")
    if kind == "slowdown":
        status, code = 503, "SlowDown" if service == "s3" else "ServiceUnavailable"
    elif kind == "internal":
        status, code = 500, {"s3": "InternalError", "dynamodb": "InternalServerError"}.get(service, "InternalFailure")
    else:  # throttle: each service's own code (DynamoDB's is what a hot partition or capacity answers)
        status, code = 400, _THROTTLE_CODES.get(service, "ThrottlingException")
    content_type = "application/x-amz-json-1.1" if protocol == "json" else "text/xml"
    body = _error_body(protocol, code, f"injected {kind} (imgpipe_tools.testing.faults)")
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "x-amz-request-id": "imgpipe-fault"}
    return AWSResponse(url, status, headers, _Raw(body))


class _TimingOutBody:
    """Stands in for GetObject's StreamingBody: yields part of the data, then times out."""

    def __init__(self, body: Any, url: str) -> None:
        self._body = body
        self._url = url

    def read(self, amt: int | None = None) -> bytes:
        from botocore.exceptions import ReadTimeoutError

        self._body.read(1)  # some bytes arrive before the connection stalls
        raise ReadTimeoutError(endpoint_url=self._url, error="injected body read timeout (faults)")

    def close(self) -> None:
        self._body.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._body, name)


_SINKHOLE = "http://imgpipe-fault.invalid/"


def install(client: Any) -> None:
    """Register the fault hooks on a boto3 client if faults are configured (else do nothing)."""
    if active_plan() is None:
        return
    service = client.meta.service_model.service_name
    protocol = client.meta.service_model.protocol
    events = client.meta.events

    def before_parameter_build(params: dict[str, Any], event_name: str, **kw: Any) -> None:
        if (kw.get("context") or {}).get("is_presign_request"):
            return  # presigning a link sends nothing: there is no call to fail
        state = _calls.state = _CallState()
        plan = active_plan()
        if plan is None:
            return
        operation = _operation(event_name)
        kind = plan.draw(service, operation, CALL_KINDS)
        if kind == "body_timeout" and operation == "get_object":
            state.body_timeout = True
        elif kind == "partial" and operation == "put_events" and params.get("Entries"):
            entries = list(params["Entries"])
            failed = plan.choose_failed(len(entries))
            state.total_entries = len(entries)
            state.failed_entries = [(i, entries[i]) for i in failed]
            kept = [e for i, e in enumerate(entries) if i not in failed]
            # A batch with nothing left is answered in before-call without sending anything;
            # the caller's list is never mutated.
            params["Entries"] = kept or entries

    def before_send(request: Any, event_name: str, **_kw: Any) -> Any:
        plan = active_plan()
        if plan is None:
            return None
        kind = plan.draw(service, _operation(event_name), HTTP_KINDS)
        if not kind:
            return None
        response = _http_fault(kind, service, protocol, request.url)
        # botocore still hands this request to every other before-send handler; moto's
        # in-process mock is one and would carry out the call we say failed. Point this
        # attempt nowhere (botocore builds a fresh request for each retry).
        request.url = _SINKHOLE
        return response

    def _failed_entries_response(parsed: dict[str, Any]) -> None:
        state = _state()
        if not state.failed_entries:
            return
        sent = iter(parsed.get("Entries", []))
        failed = dict(state.failed_entries)
        merged = []
        for i in range(state.total_entries):
            if i in failed:
                merged.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected partial failure"})
            else:
                merged.append(next(sent, {}))
        parsed["Entries"] = merged
        parsed["FailedEntryCount"] = int(parsed.get("FailedEntryCount", 0)) + len(failed)
        state.failed_entries = None

    def before_call(**_kw: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        state = _state()
        if state.failed_entries and len(state.failed_entries) == state.total_entries:
            parsed: dict[str, Any] = {"FailedEntryCount": 0, "Entries": [], "ResponseMetadata": {"HTTPStatusCode": 200}}
            _failed_entries_response(parsed)
            return AWSResponse("", 200, {}, _Raw(b"")), parsed
        return None

    def after_call(parsed: dict[str, Any], http_response: Any, event_name: str, **_kw: Any) -> None:
        state = _state()
        if state.failed_entries and getattr(http_response, "status_code", 500) < 300:
            _failed_entries_response(parsed)
        if state.body_timeout and "Body" in parsed:
            parsed["Body"] = _TimingOutBody(parsed["Body"], getattr(http_response, "url", ""))
        _calls.state = _CallState()

    sid = client.meta.service_model.service_id.hyphenize()
    events.register(f"before-parameter-build.{sid}", before_parameter_build, unique_id=f"imgpipe-faults-bpb-{sid}")
    events.register(f"before-call.{sid}.PutEvents", before_call, unique_id=f"imgpipe-faults-bc-{sid}")
    events.register_first(f"before-send.{sid}", before_send, unique_id=f"imgpipe-faults-bs-{sid}")
    events.register(f"after-call.{sid}", after_call, unique_id=f"imgpipe-faults-ac-{sid}")


# Every client made from now on gets the hooks (they do nothing while no plan is active).
adapters.add_client_hook(install)
