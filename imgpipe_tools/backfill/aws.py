"""A backfill on AWS: start the stack's state machine (infra/components/backfill.py), follow
its Distributed Map run, and read the summary the execution wrote to the variants bucket."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from imgpipe.backfill import RESULTS_PREFIX, Route, Summary, routes_as_list, summary_key
from imgpipe_tools.backfill import BackfillError, Options, new_run_id
from imgpipe_tools.backfill.local import check_bucket
from imgpipe_tools.resources import StackResources

#: (objects done, total or None while listing, failed)
ProgressFn = Callable[[int, int | None, int], None]
_FINISHED_ITEMS = ("succeeded", "failed", "timedOut", "aborted")


def execution_input(options: Options, run: str, source: dict[str, str], routes: list[Route]) -> dict[str, Any]:
    """The state machine's input (the names its definition reads with JSONPath). The routes (each
    service of the stack a key can reach) travel with the run, so the stack's backfill resources
    name no service; the item Lambda narrows them by the deployment's key prefixes."""
    return {
        "run": run,
        "selection": options.selection(run).as_dict(),
        "routes": routes_as_list(routes),
        "source": source,
        "max_concurrency": options.max_concurrency,
        "tolerated_failure_percent": options.tolerated_failure_percent,
        "batch_size": options.batch_size,
    }


def _running_same(sfn: Any, machine: str, fingerprint: str) -> str | None:
    paginator = sfn.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=machine, statusFilter="RUNNING"):
        for e in page.get("executions", []):
            if e["name"].startswith(fingerprint + "-"):
                return str(e["executionArn"])
    return None


def start(deployment: StackResources, options: Options, routes: list[Route]) -> str:
    """Check the input, then start an execution; returns its ARN. Raises BackfillError (with
    nothing started) on bad input or when the same selection is already running."""
    machine = deployment.backfill_state_machine
    if not machine:
        raise BackfillError(
            f"{deployment.origin} has no backfill state machine (deploy this version with `make deploy`)"
        )
    s3, sfn = deployment.client("s3"), deployment.client("stepfunctions")
    check_bucket(s3, deployment.uploads_bucket)
    running = _running_same(sfn, machine, options.fingerprint())
    if running:
        raise BackfillError(
            f"a backfill of the same selection is already running: {running}\n"
            f"  follow it with: imgpipe backfill --attach {running}"
        )
    run = new_run_id(options)
    if options.inventory:
        try:
            s3.head_object(Bucket=deployment.variants_bucket, Key=options.inventory)
        except Exception:
            raise BackfillError(
                f"no inventory manifest s3://{deployment.variants_bucket}/{options.inventory}"
            ) from None
        source = {"kind": "inventory", "key": options.inventory}
    elif options.keys:
        key = f"{RESULTS_PREFIX}/{run}/keys.json"
        body = json.dumps([{"Key": k} for k in options.keys]).encode()
        s3.put_object(Bucket=deployment.variants_bucket, Key=key, Body=body, ContentType="application/json")
        source = {"kind": "keys", "key": key}
    else:
        listed = s3.list_objects_v2(Bucket=deployment.uploads_bucket, Prefix=options.prefix, MaxKeys=1)
        if not listed.get("KeyCount"):
            where = f"under prefix {options.prefix!r} " if options.prefix else ""
            raise BackfillError(
                f"no object {where}in s3://{deployment.uploads_bucket} (empty selection): nothing started"
            )
        source = {"kind": "listing", "prefix": options.prefix}
    r = sfn.start_execution(
        stateMachineArn=machine, name=run, input=json.dumps(execution_input(options, run, source, routes))
    )
    return str(r["executionArn"])


def _map_progress(sfn: Any, execution_arn: str) -> tuple[int, int | None, int]:
    runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    if not runs:
        return 0, None, 0
    counts = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"]).get("itemCounts", {})
    done = sum(int(counts.get(k, 0)) for k in _FINISHED_ITEMS)
    failed = sum(int(counts.get(k, 0)) for k in ("failed", "timedOut", "aborted"))
    total = int(counts.get("total", 0)) or None
    return done, total, failed


def attach(
    deployment: StackResources,
    execution_arn: str,
    progress: ProgressFn | None = None,
    poll_s: float = 3.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Summary:
    """Follow an execution until it ends; then its summary (from the variants bucket)."""
    sfn, s3 = deployment.client("stepfunctions"), deployment.client("s3")
    report = progress or (lambda _d, _t, _f: None)
    try:
        execution = sfn.describe_execution(executionArn=execution_arn)
    except Exception as exc:
        raise BackfillError(f"no backfill execution {execution_arn}: {exc}") from None
    while execution["status"] == "RUNNING":
        report(*_map_progress(sfn, execution_arn))
        sleep(poll_s)
        execution = sfn.describe_execution(executionArn=execution_arn)
    done, total, failed = _map_progress(sfn, execution_arn)
    report(done, total, failed)
    run = execution["name"]
    try:
        body = s3.get_object(Bucket=deployment.variants_bucket, Key=summary_key(run))["Body"].read()
    except Exception:
        cause = execution.get("cause") or execution.get("error") or "no summary was written"
        return Summary(run=run, selection={}, status=execution["status"], error=str(cause)[:500])
    return summary_from_json(json.loads(body))


def summary_from_json(raw: dict[str, Any]) -> Summary:
    return Summary(
        run=raw["run"],
        selection=raw.get("selection") or {},
        counts={k: int(v) for k, v in (raw.get("counts") or {}).items()},
        failed=list(raw.get("failed") or []),
        status=raw.get("status", "SUCCEEDED"),
        error=raw.get("error"),
        started_at=raw.get("started_at"),
        finished_at=raw.get("finished_at"),
    )
