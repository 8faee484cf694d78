"""Where a running imgpipe's resources are: the names the CLI and the tests need.

Two sources give the same :class:`StackResources`: the state file that ``imgpipe local up`` writes
(the embedded runtime, read here), and a real stack's CloudFormation outputs (read by
:mod:`imgpipe_tools.outputs`, which also names them for ``infra/``). The CLI commands
(``upload``, ``status``, ``dlq``) only ever see a ``StackResources``, so they work on both.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: the state file ``imgpipe local up`` writes (relative to the working directory).
DEFAULT_STATE_FILE = Path(".imgpipe") / "local.json"
ENV_STATE_FILE = "IMGPIPE_LOCAL_STATE"


class StackNotFound(Exception):
    """No stack (or no running local stack) to talk to; the message says what to do."""


@dataclass(frozen=True)
class ServiceResources:
    name: str
    #: Lambda's on-failure destination: invocation records (event + error) after retries
    failure_dlq_url: str = ""
    #: the EventBridge rule target's DLQ: events that could not be delivered at all
    target_dlq_url: str = ""
    #: local only: the queue the processor's rules deliver to (its "async invoke")
    invoke_queue_url: str = ""
    #: AWS only: the Lambda function
    function_name: str = ""


@dataclass(frozen=True)
class StackResources:
    uploads_bucket: str
    variants_bucket: str
    catalog_table: str = ""
    topic_arn: str = ""
    #: None: the real AWS endpoints; else the emulator's URL
    endpoint_url: str | None = None
    #: the emulator's URL for DynamoDB when it is not ``endpoint_url`` (the local stack's worker
    #: processes mode runs DynamoDB in an emulator process of its own); None: ``endpoint_url``
    dynamodb_endpoint_url: str | None = None
    processors: dict[str, ServiceResources] = field(default_factory=dict)
    #: where these names came from, for messages ("local", "stack imgpipe")
    origin: str = "local"
    #: AWS only: the backfill state machine (``imgpipe backfill``)
    backfill_state_machine: str = ""
    #: the front door's CDN base URL (``<url>/v/<variant key>``); empty: no front door, or one
    #: the CLI does not know (the local stack's front door URL is not in its state file)
    delivery_url: str = ""
    #: the front door's user pool and its browser client (empty without a front door)
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    #: local only: the stack's event key (its secret's ARN), which ``imgpipe backfill --local``
    #: signs its events with (on AWS the backfill's item Lambda reads it); empty: none
    event_key_arn: str = ""

    @property
    def is_local(self) -> bool:
        return self.origin == "local"

    def processor(self, name: str) -> ServiceResources:
        try:
            return self.processors[name]
        except KeyError:
            known = ", ".join(sorted(self.processors)) or "none"
            raise StackNotFound(f"no processor {name!r} in {self.origin} (known: {known})") from None

    def client(self, service: str) -> Any:
        import boto3

        # a fresh session: credentials are resolved now, not taken from an earlier cache
        endpoint = self.dynamodb_endpoint_url if service == "dynamodb" and self.dynamodb_endpoint_url else None
        return boto3.session.Session().client(service, endpoint_url=endpoint or self.endpoint_url)

    # -- the local state file -------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StackResources:
        raw = json.loads(text)
        raw["processors"] = {k: ServiceResources(**v) for k, v in raw.get("processors", {}).items()}
        return cls(**raw)


def state_file() -> Path:
    return Path(os.environ.get(ENV_STATE_FILE, DEFAULT_STATE_FILE))


def write_state(deployment: StackResources, path: Path | None = None) -> Path:
    path = path or state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(deployment.to_json(), encoding="utf-8")
    return path


def read_state(path: Path | None = None) -> StackResources:
    path = path or state_file()
    if not path.is_file():
        raise StackNotFound(f"no local stack is running here ({path} not found): start one with `imgpipe local up`")
    return StackResources.from_json(path.read_text(encoding="utf-8"))
