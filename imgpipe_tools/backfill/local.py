"""A backfill against the stack ``imgpipe local up`` serves (moto runs no state machines).

It does what the Distributed Map does, in this process: list the objects, cut them into
batches, run up to ``max_concurrency`` batches at once, each with
:func:`imgpipe.backfill.run_batch` and the same :class:`~imgpipe.backfill.EventBusTransport`
the AWS Lambda uses (PutEvents on the emulated bus, whose rules deliver to the services' invoke
queues), then write the same summary.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imgpipe.backfill import EventBusTransport, Route, Summary, catalog_acknowledged, run_batch, s3_head, write_summary
from imgpipe.events import normalize_etag
from imgpipe_tools.backfill import BackfillError, Options, new_run_id
from imgpipe_tools.resources import StackResources, state_file

#: objects per batch at most, locally
LOCAL_BATCH_MAX = 20
#: the local stack's rules are on the emulator's default bus, as the stack's are on AWS's
LOCAL_EVENT_BUS = "default"
#: how long a batch waits for notify to record an upload: the local stack shares a few cores with
#: every handler, and notify may be behind a backlog of the producers' reports
LOCAL_ACK_TIMEOUT_S = 600
#: (objects done, total, failed)
ProgressFn = Callable[[int, int | None, int], None]


def _bucket_error(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def list_items(s3: Any, bucket: str, options: Options) -> list[dict[str, Any]]:
    """The objects to consider, as ListObjectsV2 (or a keys file) names them."""
    if options.keys:
        return [{"Key": k} for k in options.keys]
    items = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=options.prefix):
        for o in page.get("Contents", []):
            items.append(
                {
                    "Key": o["Key"],
                    "Etag": normalize_etag(o.get("ETag")),
                    "Size": o.get("Size"),
                    "LastModified": o.get("LastModified"),
                }
            )
    if not items:
        where = f"under prefix {options.prefix!r} " if options.prefix else ""
        raise BackfillError(f"no object {where}in s3://{bucket} (empty selection): nothing started")
    return items


def check_bucket(s3: Any, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as exc:
        if _bucket_error(exc) in ("404", "NoSuchBucket", "NotFound"):
            raise BackfillError(f"the uploads bucket {bucket} does not exist: nothing started") from None
        raise


@contextlib.contextmanager
def run_lock(options: Options) -> Iterator[None]:
    """One local run per selection at a time: a lock file next to the local state file."""
    path = Path(state_file()).parent / f"backfill-{options.fingerprint()}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        pid = path.read_text(encoding="utf-8").strip() or "?"
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)  # its process died: the run is not going any more
            with run_lock(options):
                yield
            return
        raise BackfillError(f"a backfill of the same selection is already running (pid {pid}, lock {path})") from None
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_local(
    deployment: StackResources,
    routes: list[Route],
    options: Options,
    progress: ProgressFn | None = None,
    run: str | None = None,
) -> Summary:
    """List, deliver in batches, write the summary to the variants bucket; returns it."""
    s3 = deployment.client("s3")
    bucket = deployment.uploads_bucket
    check_bucket(s3, bucket)
    items = list_items(s3, bucket, options)
    run = run or new_run_id(options)
    selection = options.selection(run)
    summary = Summary(run=run, selection=selection.as_dict(), started_at=_now())
    # The services told first listen to the producers' reports: notify, which keeps the catalog.
    acknowledged = catalog_acknowledged(deployment.client("dynamodb"), deployment.catalog_table)
    transport = EventBusTransport(
        deployment.client("events"),
        LOCAL_EVENT_BUS,
        acknowledged,
        key=_event_key(deployment),
        wait_timeout_s=LOCAL_ACK_TIMEOUT_S,
    )

    head = s3_head(s3, bucket)
    report = progress or (lambda _d, _t, _f: None)
    lock = threading.Lock()
    done = 0
    # Smaller batches than on AWS: the progress bar moves per batch here (a Map Run counts items).
    size = min(options.batch_size, LOCAL_BATCH_MAX)
    batches = [items[i : i + size] for i in range(0, len(items), size)]
    with run_lock(options), ThreadPoolExecutor(max_workers=options.max_concurrency) as pool:
        report(0, len(items), 0)
        futures = {pool.submit(run_batch, b, selection, routes, bucket, transport, head): b for b in batches}
        for future in as_completed(futures):
            result = future.result()
            with lock:
                summary.merge(result.as_dict())
                done += len(futures[future])
                report(done, len(items), len(summary.failed))
    summary.finished_at = _now()
    # As the Distributed Map judges a run (it would have stopped early, too).
    if summary.total and 100 * len(summary.failed) / summary.total > options.tolerated_failure_percent:
        summary.status = "FAILED"
        summary.error = f"more than {options.tolerated_failure_percent}% of the objects failed"
    write_summary(s3, deployment.variants_bucket, summary)
    return summary


def _event_key(deployment: StackResources) -> Callable[[], bytes] | None:
    """The local stack's event key, read once, when it has one (signed events, as on AWS)."""
    if not deployment.event_key_arn:
        return None
    value = deployment.client("secretsmanager").get_secret_value(SecretId=deployment.event_key_arn)["SecretString"]
    key = str(value).encode()
    return lambda: key


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
