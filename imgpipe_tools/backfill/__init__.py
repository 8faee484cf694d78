"""``imgpipe backfill``: the options of a run, checked before anything starts, and its runners.

- :mod:`.local` runs a backfill against ``imgpipe local up`` (moto runs no state machines):
  it lists the bucket and calls the same :func:`imgpipe.backfill.run_batch` the AWS Lambda
  calls, delivering to the services' invoke queues;
- :mod:`.aws` starts the stack's Step Functions state machine, follows it and reads the
  summary it wrote.

What each object gets is decided in :mod:`imgpipe.backfill` only, so the two cannot drift.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from imgpipe.backfill import Route, Selection, unknown_services

#: Default pace: objects per second for the whole run. Each object costs every processor one
#: invocation of 1-3 s, so 50/s keeps about 150-450 functions busy: well under the default
#: account limit of 1000 concurrent executions, leaving room for live uploads.
DEFAULT_RATE = 50.0
#: batches the Distributed Map (or the local runner) works on at once
DEFAULT_MAX_CONCURRENCY = 10
DEFAULT_TOLERATED_FAILURE_PERCENT = 1.0
#: a batch should take about this long at its pace: on AWS it is one Express child workflow,
#: which (with its retries) must end within 5 minutes
BATCH_SECONDS = 30
MAX_BATCH = 100


class BackfillError(Exception):
    """Bad input or a state that forbids starting; nothing was started."""


@dataclass(frozen=True)
class Options:
    prefix: str = ""
    modified_since: str | None = None  # ISO 8601 UTC
    keys: tuple[str, ...] = ()  # from --keys FILE
    keys_file: str = ""
    inventory: str = ""  # key of an S3 Inventory manifest.json in the variants bucket
    services: tuple[str, ...] = ()
    notify: bool = False
    rate: float = DEFAULT_RATE
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    tolerated_failure_percent: float = DEFAULT_TOLERATED_FAILURE_PERCENT

    @property
    def per_batch_rate(self) -> float:
        return self.rate / self.max_concurrency

    @property
    def batch_size(self) -> int:
        return max(1, min(MAX_BATCH, int(self.per_batch_rate * BATCH_SECONDS)))

    @property
    def source(self) -> dict[str, str]:
        if self.inventory:
            return {"kind": "inventory", "manifest": self.inventory}
        if self.keys_file:
            digest = hashlib.sha256("\n".join(self.keys).encode()).hexdigest()[:16]
            return {"kind": "keys", "file": self.keys_file, "sha256": digest}
        return {"kind": "listing", "prefix": self.prefix}

    def fingerprint(self) -> str:
        """Same for two runs over the same objects and services: the guard against starting a
        run while the same one is still going."""
        what = {
            "source": self.source,
            "services": sorted(self.services),
            "modified_since": self.modified_since,
            "notify": self.notify,
        }
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]

    def selection(self, run: str) -> Selection:
        return Selection(run, self.services, self.modified_since, self.notify, self.per_batch_rate)

    def describe(self) -> str:
        source = self.source
        where = {
            "listing": f"prefix {self.prefix!r}" if self.prefix else "the whole bucket",
            "keys": f"{len(self.keys)} key(s) from {self.keys_file}",
            "inventory": f"inventory {self.inventory}",
        }[source["kind"]]
        parts = [where, "services: " + (", ".join(self.services) or "all")]
        if self.modified_since:
            parts.append(f"modified since {self.modified_since}")
        parts.append("emails: " + ("yes" if self.notify else "no"))
        return "; ".join(parts)


def parse_date(text: str) -> str:
    """``2024-05-01`` or an ISO 8601 time (UTC unless it says) -> ``2024-05-01T00:00:00Z``."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BackfillError(f"--modified-since {text!r}: not a date (use 2024-05-01 or 2024-05-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_keys(path: str) -> tuple[str, ...]:
    """One key per line; blank lines and lines starting with ``#`` are ignored."""
    file = Path(path)
    if not file.is_file():
        raise BackfillError(f"--keys {path}: no such file")
    keys = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    keys = [k for k in keys if k and not k.startswith("#")]
    if not keys:
        raise BackfillError(f"--keys {path}: the file names no key (empty selection)")
    return tuple(dict.fromkeys(keys))  # each key once, in the file's order


def check_options(options: Options, routes: list[Route]) -> None:
    """Everything that can be checked without the bucket."""
    unknown = unknown_services(options.services, routes)
    if unknown:
        known = ", ".join(r.name for r in routes)
        raise BackfillError(f"no service named {', '.join(unknown)} (known: {known})")
    if options.rate <= 0:
        raise BackfillError("--rate must be above 0")
    if not 1 <= options.max_concurrency <= 10000:
        raise BackfillError("--max-concurrency must be between 1 and 10000 (the Distributed Map's limit)")
    if not 0 <= options.tolerated_failure_percent <= 100:
        raise BackfillError("--tolerated-failure-percent must be between 0 and 100")
    if sum(bool(x) for x in (options.prefix, options.keys_file, options.inventory)) > 1:
        raise BackfillError("give one of --prefix, --keys and --inventory")


def new_run_id(options: Options, now: datetime | None = None) -> str:
    """``<fingerprint>-<UTC time>``: a valid execution name, sortable, and it names the selection."""
    moment = now or datetime.now(UTC)
    return f"{options.fingerprint()}-{moment:%Y%m%dT%H%M%SZ}"
