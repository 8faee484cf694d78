"""The ``imgpipe backfill`` subcommand: its options, and printing (the work is in .local / .aws)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from imgpipe.backfill import Summary, summary_key
from imgpipe.registry import discover
from imgpipe_tools.backfill import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_RATE,
    DEFAULT_TOLERATED_FAILURE_PERCENT,
    BackfillError,
    Options,
    check_options,
    parse_date,
    read_keys,
)
from imgpipe_tools.backfill.progress import ProgressBar, format_summary
from imgpipe_tools.resources import StackResources

HELP = "process objects already in the uploads bucket (Step Functions on AWS; no emails unless --notify)"


def add_backfill_parser(
    sub: Any,
    target_options: Callable[[argparse.ArgumentParser], None],
    deployment: Callable[[argparse.Namespace], StackResources],
) -> None:
    """``deployment`` resolves ``--stack`` / ``--local`` to the resources (the CLI's own)."""
    p = sub.add_parser("backfill", help=HELP, description=HELP)
    p.add_argument("--prefix", default="", help="only keys under this prefix (default: the whole bucket)")
    p.add_argument("--modified-since", metavar="DATE", help="only objects last modified at or after DATE (UTC)")
    p.add_argument("--keys", metavar="FILE", help="only the keys listed in FILE, one per line")
    p.add_argument(
        "--inventory",
        metavar="MANIFEST_KEY",
        help="AWS: read the objects from an S3 Inventory manifest.json in the variants bucket "
        "(under _backfill/inventory/); faster than listing for tens of millions of objects",
    )
    p.add_argument("--services", default="", help="comma-separated services (default: every one)")
    p.add_argument("--notify", action="store_true", help="send the usual email per upload (default: none)")
    p.add_argument("--rate", type=float, default=DEFAULT_RATE, help=f"objects per second (default: {DEFAULT_RATE:g})")
    p.add_argument(
        "--max-concurrency",
        type=int,
        default=DEFAULT_MAX_CONCURRENCY,
        help=f"batches at once (default: {DEFAULT_MAX_CONCURRENCY})",
    )
    p.add_argument(
        "--tolerated-failure-percent",
        type=float,
        default=DEFAULT_TOLERATED_FAILURE_PERCENT,
        help=f"stop the run above this share of failed objects (default: {DEFAULT_TOLERATED_FAILURE_PERCENT:g})",
    )
    p.add_argument("--detach", action="store_true", help="AWS: start the run and return (see --attach)")
    p.add_argument("--attach", metavar="EXECUTION_ARN", help="AWS: follow a running backfill to its end")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    target_options(p)
    p.set_defaults(func=cmd_backfill, deployment=deployment)


def options_from(args: argparse.Namespace) -> Options:
    services = tuple(s.strip() for s in args.services.split(",") if s.strip())
    return Options(
        prefix=args.prefix.lstrip("/"),
        modified_since=parse_date(args.modified_since) if args.modified_since else None,
        keys=read_keys(args.keys) if args.keys else (),
        keys_file=args.keys or "",
        inventory=args.inventory or "",
        services=services,
        notify=args.notify,
        rate=args.rate,
        max_concurrency=args.max_concurrency,
        tolerated_failure_percent=args.tolerated_failure_percent,
    )


def _print_summary(summary: Summary, bucket: str, as_json: bool) -> int:
    where = f"s3://{bucket}/{summary_key(summary.run)}"
    if as_json:
        print(json.dumps({**summary.as_dict(), "summary": where}, ensure_ascii=False))
    else:
        print(format_summary(summary, where))
    return 0 if summary.status == "SUCCEEDED" else 1


def cmd_backfill(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BackfillError as exc:
        print(f"imgpipe: {exc}", file=sys.stderr, flush=True)
        return 2


def _run(args: argparse.Namespace) -> int:
    from imgpipe.backfill import routes_from_manifests

    deployment = args.deployment(args)
    bar = ProgressBar(sys.stderr)
    if args.attach:
        if deployment.is_local:
            raise BackfillError("--attach follows a run on AWS; a local run is followed where it was started")
        from imgpipe_tools.backfill import aws

        summary = aws.attach(deployment, args.attach, progress=bar.update)
        bar.update(*_final(summary), final=True)
        return _print_summary(summary, deployment.variants_bucket, args.json)

    options = options_from(args)
    # The routes come from the manifests, as the stack's rules do (the run carries them to the
    # item Lambda), limited to the services this stack runs (a folder added since is not deployed yet).
    routes = [r for r in routes_from_manifests(discover()) if r.name in deployment.processors]
    check_options(options, routes)
    print(f"backfill: {options.describe()} ({deployment.origin})", file=sys.stderr, flush=True)
    if deployment.is_local:
        if args.detach or options.inventory:
            raise BackfillError("--detach and --inventory need a deployed stack (the local run is in this process)")
        from imgpipe_tools.backfill.local import run_local

        summary = run_local(deployment, routes, options, progress=bar.update)
        bar.update(*_final(summary), final=True)
        return _print_summary(summary, deployment.variants_bucket, args.json)

    from imgpipe_tools.backfill import aws

    execution = aws.start(deployment, options, routes)
    print(f"started {execution}", file=sys.stderr, flush=True)
    if args.detach:
        print(f"follow it with: imgpipe backfill --attach {execution} --stack {args.stack}")
        return 0
    summary = aws.attach(deployment, execution, progress=bar.update)
    bar.update(*_final(summary), final=True)
    return _print_summary(summary, deployment.variants_bucket, args.json)


def _final(summary: Summary) -> tuple[int, int, int]:
    return summary.total, summary.total, len(summary.failed)
