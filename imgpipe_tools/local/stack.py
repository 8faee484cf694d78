"""The embedded local stack: the whole pipeline on this machine, no AWS account, no Docker.

A moto server on 127.0.0.1 serves S3, EventBridge, SQS, SNS and DynamoDB over real HTTP
(or, with ``AWS_ENDPOINT_URL`` set, another emulator such as LocalStack is used instead).
:mod:`imgpipe_tools.local.provision` creates the resources from the manifests; dispatchers
invoke the real handlers (:mod:`imgpipe_tools.local.invoker`), in worker processes when asked
(:mod:`imgpipe_tools.local.processes`: ``imgpipe local`` does); emails land in an outbox folder
(:mod:`imgpipe_tools.local.outbox`); a tracker says when each upload is finished
(:mod:`imgpipe_tools.local.tracker`).

In tests and scripts::

    with LocalStack.start(outbox=tmp_path / "outbox") as stack:
        upload = stack.put("photos/cat.jpg", data)
        [report] = stack.wait([upload], timeout=60)

One stack per process at a time: moto keeps its state in process-wide backends, and the
handlers' boto3 clients read the endpoint from the process environment.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import os
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from imgpipe.config import Config
from imgpipe.manifest import Batch, Manifest
from imgpipe.needs import Resource
from imgpipe.outputs import held_until_released
from imgpipe.registry import (
    StackNames,
    discover,
    expected_producers_spec,
    function_config,
    outputs_spec,
    parse_all_settings,
)
from imgpipe_tools import dlq
from imgpipe_tools.local.frontdoor import LocalFrontDoor, start_front_door
from imgpipe_tools.local.invoker import Dispatcher, Invoker, Outcome
from imgpipe_tools.local.outbox import Email, Outbox
from imgpipe_tools.local.processes import HandlerProcesses
from imgpipe_tools.local.provision import Names, Provisioned, provision
from imgpipe_tools.local.tracker import Tracker, UploadId, UploadReport
from imgpipe_tools.resources import StackResources

log = logging.getLogger("imgpipe_tools.local")

#: what the process environment gets while a stack runs (the handlers' clients read it)
_LOCAL_ENV = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "imgpipe",
}
_DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_RUNTIME_SERVICES = ("s3", "sqs", "events", "sns", "dynamodb", "secretsmanager")


class _Environment:
    """Sets environment variables and puts the previous values back on ``restore``."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, name: str, value: str) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def unset(self, name: str) -> None:
        self._saved.setdefault(name, os.environ.get(name))
        os.environ.pop(name, None)

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


#: files up to this size go in one PUT (the transfer manager's own threshold for multipart)
MULTIPART_THRESHOLD_BYTES = 8 * 1024 * 1024
#: uploads in flight at once from :meth:`LocalStack.upload_files`
UPLOAD_CONCURRENCY = 8


def upload_args(path: Path) -> dict[str, str]:
    """S3 upload arguments for a file: its Content-Type, guessed from the name (the pipeline
    itself trusts only the bytes; this is for people browsing the bucket)."""
    content_type, _ = mimetypes.guess_type(path.name)
    return {"ContentType": content_type or "application/octet-stream"}


def _reset_handler_clients() -> None:
    # The handlers' clients are cached per process; they must see this stack's endpoint.
    from imgpipe.adapters import client

    client.cache_clear()


#: settings a service runs with locally unless told otherwise: moto has no Rekognition, so a
#: selected moderate runs its stand-in, which is not a moderation model (docs/moderation.md)
LOCAL_DEFAULT_SETTINGS: Mapping[str, Mapping[str, Any]] = {"moderate": {"engine": "stand-in"}}


class LocalStack:
    def __init__(
        self,
        *,
        port: int = 0,
        endpoint_url: str | None = None,
        services_root: Path | None = None,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        outbox: Path = Path("outbox"),
        workers: int = 1,
        retry_delay_s: float = 0.2,
        verbose: bool = False,
        prefix: str = "imgpipe-local",
        on_terminal: Callable[[UploadReport], None] | None = None,
        on_email: Callable[[Email], None] | None = None,
        api_port: int = 0,
        services: str | None = None,
        processes: int = 0,
    ) -> None:
        """``endpoint_url`` (default: ``AWS_ENDPOINT_URL``) uses that emulator instead of
        starting moto; ``settings`` overrides processors' settings like the CDK context key
        ``settings`` ({"thumbnail": {"crop": "center"}}); ``workers`` is the number of invocations
        each processor runs at once (its concurrency); ``services`` selects the services that run
        like the CDK context key ``services`` (imgpipe.registry.select; None: the defaults);
        ``processes`` runs the handlers in that many worker processes shared by the processors
        (0: in this process's threads, where a test can patch them)."""
        self.port = port
        self.services = services
        self.external_endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self.services_root = services_root
        self.settings = dict(settings or {})
        self.outbox = Outbox(outbox)
        self.workers = workers
        self.processes = processes
        self._handler_processes: HandlerProcesses | None = None
        #: each processor's invoker, by name (its ``config`` may be replaced while it runs)
        self.invokers: dict[str, Invoker] = {}
        self.retry_delay_s = retry_delay_s
        self.verbose = verbose
        self.names = Names(prefix)
        self.on_email = on_email or (lambda _e: None)
        self.manifests: list[Manifest] = []
        self.tracker: Tracker | None = None
        self._on_terminal = on_terminal
        self._server: Any = None
        self._dynamodb_server: Any = None
        #: services served by another emulator than ``endpoint_url`` (DynamoDB, with processes)
        self._endpoints: dict[str, str] = {}
        self._endpoint = ""
        self._env = _Environment()
        self._stop = threading.Event()
        self._dispatchers: list[Dispatcher] = []
        self._provisioned: Provisioned | None = None
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._log_levels: dict[str, int] = {}
        self.api_port = api_port
        #: /api/* and /v/* on one port (imgpipe_tools/local/frontdoor.py), when a service is an HTTP one
        self.frontdoor: LocalFrontDoor | None = None

    # -- lifecycle ------------------------------------------------------------------
    @classmethod
    @contextlib.contextmanager
    def start(cls, **kwargs: Any) -> Iterator[LocalStack]:
        """Start a stack for the duration of a ``with`` block (arguments: see ``__init__``)."""
        stack = cls(**kwargs)
        stack.open()
        try:
            yield stack
        finally:
            stack.close()

    def open(self) -> LocalStack:
        if os.environ.get("IMGPIPE_FAULTS"):
            # Fault injection is developer tooling: it hooks the handlers' clients only here.
            import imgpipe_tools.testing.faults  # noqa: F401

        self.manifests = discover(self.services_root, services=self.services)
        selected = {m.name for m in self.manifests}
        for name, defaults in LOCAL_DEFAULT_SETTINGS.items():
            if name in selected:  # the deployment's own settings win
                self.settings[name] = {**defaults, **self.settings.get(name, {})}
        # Before anything starts: a bad setting fails here, as it fails synth, not at each upload
        # (every service's, selected or not: a typo is a typo).
        every = [*discover(self.services_root), *discover(self.services_root, http=True)]
        parse_all_settings([*every, *discover(self.services_root, edge=True)], self.settings)
        self.tracker = Tracker(self.manifests, on_terminal=self._on_terminal)
        try:
            self._configure_environment()
            self._endpoint = self.external_endpoint or self._start_moto()
            self._env.set("AWS_ENDPOINT_URL", self._endpoint)
            if self._dynamodb_server is not None:
                # botocore routes one service elsewhere by this variable: the handlers' clients follow
                self._env.set("AWS_ENDPOINT_URL_DYNAMODB", self._dynamodb_server.endpoint)
            _reset_handler_clients()
            clients = {s: self.client(s) for s in _RUNTIME_SERVICES}
            self._provisioned = provision(
                clients, self.manifests, self.names, self._endpoint, self._endpoints.get("dynamodb")
            )
            self._start_workers()
            self.frontdoor = start_front_door(
                self.deployment,
                services_root=self.services_root,
                settings=self.settings,
                clients=self.client,
                endpoint=self._endpoint,
                port=self.api_port,
                services=self.services,
            )
            self._quiet_handler_logs()
        except BaseException:
            self.close()  # no server, thread or environment change outlives a failed start
            raise
        return self

    def close(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + 10  # for all of them: a stop must not take a minute
        for d in self._dispatchers:
            d.join(timeout=max(0.0, deadline - time.monotonic()))
        self._dispatchers.clear()
        if self._handler_processes is not None:
            self._handler_processes.close()
            self._handler_processes = None
        if self.frontdoor is not None:
            self.frontdoor.stop()
            self.frontdoor = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._dynamodb_server is not None:
            self._dynamodb_server.stop()
            self._dynamodb_server = None
        self._endpoints.clear()
        self._env.restore()
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._log_levels.clear()
        self._clients.clear()
        _reset_handler_clients()

    def _configure_environment(self) -> None:
        for name, value in _LOCAL_ENV.items():
            self._env.set(name, value)
        own_moto = not self.external_endpoint
        has_credentials = os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")
        if own_moto or not has_credentials:
            # moto takes any credentials; with our own moto, real ones are never used at all
            for name, value in _DUMMY_CREDENTIALS.items():
                self._env.set(name, value)
        if own_moto:
            self._env.unset("AWS_PROFILE")
        if own_moto or not (os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")):
            self._env.set("AWS_DEFAULT_REGION", "us-east-1")
            self._env.set("AWS_REGION", "us-east-1")
        # Powertools warns on every flush of a disabled, empty metric set.
        warnings.filterwarnings("ignore", message="No application metrics to publish")

    def _start_moto(self) -> str:
        from imgpipe_tools.local.emulator import EmulatorProcess, EmulatorServer, prepare_moto

        if self.processes:
            # With the handlers in worker processes, the emulator is the busiest process: it gets
            # its own, and DynamoDB (a third of its work, and independent of the others) a second.
            self._server = EmulatorProcess(self.port)
            self._dynamodb_server = EmulatorProcess(0)
            self._endpoints["dynamodb"] = self._dynamodb_server.endpoint
            return self._server.endpoint
        prepare_moto()
        self._server = EmulatorServer(self.port)
        endpoint = self._server.endpoint
        self._set_log_level("werkzeug", logging.ERROR)  # one line per HTTP request otherwise
        # moto's state lives in this process: a stack started earlier here must not leak in.
        request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass
        return endpoint

    def _set_log_level(self, name: str, level: int) -> None:
        logger = logging.getLogger(name)
        self._log_levels.setdefault(name, logger.level)
        logger.setLevel(level)

    def _quiet_handler_logs(self) -> None:
        """Handler logs only with ``verbose``. Powertools names its logger after the service
        (the processor) and sets its level when the handler module is imported, so this runs
        after the handlers are loaded; ``close`` puts every level back."""
        for m in self.manifests:
            self._set_log_level(m.name, logging.INFO if self.verbose else logging.WARNING)
        # The tracer logs each handler exception with its traceback; the invoker reports failures.
        self._set_log_level("aws_lambda_powertools", logging.WARNING if self.verbose else logging.CRITICAL)

    def _config_for(self, m: Manifest) -> Config:
        """What infra/stack.py puts in each function's environment, built by the same function."""
        d = self.deployment
        names = StackNames(
            uploads_bucket=d.uploads_bucket,
            variants_bucket=d.variants_bucket,
            resources={
                Resource.CATALOG_TABLE: d.catalog_table,
                Resource.NOTIFICATION_TOPIC: d.topic_arn,
                Resource.EXPECTED_PRODUCERS: expected_producers_spec(self.manifests),
                Resource.OUTPUTS: outputs_spec(self.manifests, self.settings),
                **self._provisioned_on_demand(),
            },
            outputs_gated=held_until_released(self.manifests),
        )
        return function_config(m, names, self.settings.get(m.name))

    def _provisioned_on_demand(self) -> dict[Resource, str]:
        """Resources the local stack provides only when a selected service declares a need for them."""
        p = self._provisioned
        found = {Resource.WEBHOOK_SECRET: p.webhook_secret_arn, Resource.EVENT_KEY: p.event_key_arn} if p else {}
        return {resource: arn for resource, arn in found.items() if arn}

    @property
    def webhook_secret_arn(self) -> str | None:
        """The webhooks' signing secret (``whsec_`` + its value is what a receiver verifies with)."""
        return self._provisioned.webhook_secret_arn if self._provisioned else None

    def _start_workers(self) -> None:
        assert self.tracker is not None and self._provisioned is not None
        tracker = self.tracker
        if self.processes:
            # the environment as the handlers see it here: this stack's endpoint and credentials
            self._handler_processes = HandlerProcesses(self.processes, dict(os.environ), verbose=self.verbose)
        sqs = self.client("sqs")
        for m in self.manifests:
            target = self.deployment.processors[m.name]
            invoker = Invoker(
                m,
                self._config_for(m),
                sqs=sqs,
                failure_dlq_url=target.failure_dlq_url,
                retry_delay_s=self.retry_delay_s,
                on_outcome=self._on_outcome,
                processes=self._handler_processes,
            )
            self.invokers[m.name] = invoker
            if m.batch:
                # its rules deliver to a queue that Lambda reads in batches (infra: its input queue)
                self._spawn(m.name, target.invoke_queue_url, invoker.invoke_batch, self.workers, m.batch)
            else:
                self._spawn(m.name, target.invoke_queue_url, invoker.invoke, concurrency=self.workers)
        # one at a time, in order: the tracker and the outbox see events as they were delivered
        self._spawn("observer", self._provisioned.observer_queue_url, tracker.on_event)
        self._spawn("outbox", self._provisioned.outbox_queue_url, self._on_envelope)

    def _spawn(
        self, name: str, url: str, handle: Callable[[Any], Any], concurrency: int = 1, batch: Batch | None = None
    ) -> None:
        dispatcher = Dispatcher(
            f"imgpipe-{name}", self.client("sqs"), url, handle, self._stop, concurrency=concurrency, batch=batch
        )
        dispatcher.start()
        self._dispatchers.append(dispatcher)

    def _on_outcome(self, outcome: Outcome) -> None:
        assert self.tracker is not None
        self.tracker.on_outcome(outcome)

    def _on_envelope(self, envelope: dict[str, Any]) -> None:
        email = self.outbox.add(envelope)
        self.on_email(email)
        assert self.tracker is not None
        self.tracker.on_email(email)  # may finish an upload: after the email itself was shown

    # -- what callers use -----------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        return self._endpoint

    @property
    def deployment(self) -> StackResources:
        if self._provisioned is None:
            raise RuntimeError("the stack is not started (use LocalStack.start() or open())")
        return self._provisioned.deployment

    @property
    def uploads_bucket(self) -> str:
        return self.deployment.uploads_bucket

    @property
    def variants_bucket(self) -> str:
        return self.deployment.variants_bucket

    @property
    def emails(self) -> list[Email]:
        return list(self.outbox.emails)

    def client(self, service: str) -> Any:
        """A boto3 client for this stack's endpoint (not subject to fault injection). One per
        service, shared by the runtime's threads (boto3 clients are thread-safe)."""
        with self._clients_lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config as BotoConfig

                if self._session is None:
                    self._session = boto3.session.Session()
                # every worker long-polls through the one SQS client: room for all of them
                config = BotoConfig(max_pool_connections=64, retries={"mode": "standard"})
                endpoint = self._endpoints.get(service, self._endpoint)
                self._clients[service] = self._session.client(service, endpoint_url=endpoint, config=config)
            return self._clients[service]

    def put(self, key: str, data: bytes) -> UploadId:
        """Upload bytes under ``key``; returns the upload's (key, etag) for :meth:`wait`."""
        started = time.monotonic()
        r = self.client("s3").put_object(Bucket=self.uploads_bucket, Key=key, Body=data)
        return self._expect(key, r["ETag"], started)

    def upload_file(self, path: Path, key: str) -> UploadId:
        """Upload a file: in one PUT, or with the transfer manager (multipart) when large."""
        started = time.monotonic()
        s3 = self.client("s3")
        if path.stat().st_size <= MULTIPART_THRESHOLD_BYTES:
            with path.open("rb") as body:
                etag = s3.put_object(Bucket=self.uploads_bucket, Key=key, Body=body, **upload_args(path))["ETag"]
            return self._expect(key, etag, started)
        s3.upload_file(str(path), self.uploads_bucket, key, ExtraArgs=upload_args(path))
        etag = s3.head_object(Bucket=self.uploads_bucket, Key=key)["ETag"]
        return self._expect(key, etag, started)

    def upload_files(
        self, files: Sequence[tuple[Path, str]], on_uploaded: Callable[[int], None] | None = None
    ) -> list[UploadId]:
        """Upload (file, key) pairs several at a time, as a folder's worth of users would; the
        ids in the order given. ``on_uploaded`` gets the count so far after each one."""
        done, lock = 0, threading.Lock()

        def one(pair: tuple[Path, str]) -> UploadId:
            nonlocal done
            upload = self.upload_file(*pair)
            with lock:
                done += 1
                if on_uploaded is not None:
                    on_uploaded(done)
            return upload

        with ThreadPoolExecutor(UPLOAD_CONCURRENCY, thread_name_prefix="imgpipe-upload") as pool:
            return list(pool.map(one, files))

    def _expect(self, key: str, etag: str, started: float) -> UploadId:
        assert self.tracker is not None
        upload = (key, etag.strip('"'))
        self.tracker.expect(*upload, started=started)
        return upload

    def wait(self, uploads: Iterable[UploadId], timeout: float = 60) -> list[UploadReport]:
        """Block until each upload is finished (or ``timeout``); one report per upload."""
        assert self.tracker is not None
        return self.tracker.wait(uploads, timeout)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30, poll_s: float = 0.1) -> bool:
        """Poll ``condition`` until it holds; False on timeout (handy for DLQ depths)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(poll_s)
        return condition()

    def dlq_messages(self, processor: str) -> list[dlq.DlqMessage]:
        return dlq.list_messages(self.deployment, processor)

    def dlq_depths(self, processors: Sequence[str] | None = None) -> dict[str, int]:
        """Messages in each processor's DLQs (failure + target), by processor."""
        names = processors or [m.name for m in self.manifests]
        return {name: sum(dlq.depth(self.deployment, name).values()) for name in names}

    def redrive(self, processor: str) -> dict[str, int]:
        """Replay the processor's DLQs; the replayed uploads count as pending again."""
        assert self.tracker is not None
        tracker = self.tracker
        return dlq.redrive(self.deployment, processor, lambda m: tracker.reopen(processor, m.event))
