"""The ``imgpipe`` command: the local stack, and uploads/status/DLQs on a real stack or a local one.

    imgpipe local up                      serve the pipeline locally until Ctrl-C
    imgpipe local run FILE_OR_DIR...      process files end to end, print a summary, exit
    imgpipe upload PATH... [--prefix P]   upload to the uploads bucket (progress, multipart)
    imgpipe status KEY                    the catalog's record of an upload
    imgpipe review approve|reject KEY     release an upload held for review, or delete its variants
    imgpipe dlq list [PROCESSOR]          what is parked in the DLQs
    imgpipe dlq redrive PROCESSOR         replay a processor's DLQs
    imgpipe backfill [--prefix P] ...     process objects already in the bucket (imgpipe_tools/backfill/)

``upload``, ``status`` and ``dlq`` talk to the CloudFormation stack ``--stack`` (default
``Imgpipe``) or, with ``--local``, to the stack ``imgpipe local up`` is serving.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from imgpipe.manifest import ManifestError
from imgpipe.registry import SelectionError
from imgpipe.settings import SettingsError
from imgpipe_tools.backfill.command import add_backfill_parser
from imgpipe_tools.local import LocalStack
from imgpipe_tools.local.frontdoor import SITE_MISSING as frontdoor_site_missing
from imgpipe_tools.local.frontdoor import banner as frontdoor_banner
from imgpipe_tools.local.outbox import Email
from imgpipe_tools.local.tracker import UploadReport
from imgpipe_tools.outputs import from_stack
from imgpipe_tools.resources import StackNotFound, StackResources, read_state, state_file, write_state

#: the CloudFormation stack name infra/ deploys (infra/constants.py STACK_NAME)
DEFAULT_STACK = "Imgpipe"
#: files a folder of images usually also holds; they are not uploads
_SKIPPED_NAMES = ("readme", "license", "licence")


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _err(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# -- files ---------------------------------------------------------------------------
def collect_files(paths: Sequence[str]) -> list[tuple[Path, str]]:
    """(file, key) for every file to upload. A file is uploaded under its name; a folder's
    files under their path relative to the folder (so ``photos/`` keeps ``2024/cat.jpg``).
    Hidden files and README/LICENSE files are skipped."""
    found: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append((path, path.name))
        elif path.is_dir():
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = f.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if f.stem.lower() in _SKIPPED_NAMES:
                    continue
                found.append((f, rel.as_posix()))
        else:
            raise CliError(f"{raw}: no such file or folder")
    if not found:
        raise CliError("no files to upload")
    return found


# -- the local stack -----------------------------------------------------------------
def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    # Retries of transient failures are expected behaviour: shown with --verbose only. (The
    # handlers' own Powertools logs are switched by the stack, see LocalStack(verbose=...).)
    logging.getLogger("imgpipe_tools.local").setLevel(logging.INFO if verbose else logging.ERROR)


def _stack(args: argparse.Namespace, **kwargs: Any) -> contextlib.AbstractContextManager[LocalStack]:
    return LocalStack.start(
        port=args.port,
        outbox=Path(args.outbox),
        workers=args.workers,
        processes=args.processes,
        verbose=args.verbose,
        settings=args.settings,
        services=args.services,
        **kwargs,
    )


def _fmt_email(email: Email) -> str:
    where = f" ({email.path})" if email.path else ""
    return f"--- email{where}\nSubject: {email.subject}\n\n{email.body.rstrip()}\n"


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_local_up(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)

    def on_terminal(report: UploadReport) -> None:
        reasons = _reasons(report)
        extra = f" ({reasons})" if reasons != "-" else ""
        print(f"[{report.status}] {report.key}: {len(report.variants)} variants{extra}", flush=True)

    def on_email(email: Email) -> None:
        print(_fmt_email(email), flush=True)

    # `kill` (SIGTERM) stops as cleanly as Ctrl-C: the state file must not outlive the stack
    signal.signal(signal.SIGTERM, _interrupt)

    with _stack(args, on_terminal=on_terminal, on_email=on_email, api_port=args.api_port) as stack:
        path = write_state(stack.deployment)
        ep, up, var = stack.endpoint_url, stack.uploads_bucket, stack.variants_bucket
        ddb = stack.deployment.dynamodb_endpoint_url or ep
        processors = ", ".join(m.name for m in stack.manifests)
        print(
            f"imgpipe local stack ready on {ep}  (processors: {processors})\n"
            f"  uploads bucket:  {up}\n"
            f"  variants bucket: {var}\n"
            f"  outbox:          {stack.outbox.folder}/\n"
            f"  state file:      {path} (what --local reads: imgpipe status/dlq/upload ... --local)\n\n"
            "Try (in another shell):\n"
            "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1\n"
            f"  aws --endpoint-url {ep} s3 cp photo.jpg s3://{up}/\n"
            f"  aws --endpoint-url {ep} s3 cp photo.jpg 's3://{up}/holiday 2024/a+b é.jpg'\n"
            f"  aws --endpoint-url {ep} s3 ls s3://{var}/ --recursive\n"
            # DynamoDB may have an emulator of its own (worker processes mode): its endpoint
            f"  aws --endpoint-url {ddb} dynamodb scan --table-name {stack.deployment.catalog_table}\n"
            "  imgpipe status photo.jpg --local\n"
            "  imgpipe dlq list --local\n\n"
            + (frontdoor_banner(stack.frontdoor, ep) + "\n" if stack.frontdoor else "")
            + "Ctrl-C stops.",
            flush=True,
        )
        _wait_for_ctrl_c(path)
    return 0


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def _reasons(report: UploadReport) -> str:
    # "unsupported_format (convert, resize, thumbnail)": one entry per reason, not per processor
    by_reason: dict[str, list[str]] = {}
    for processor, reason, _ in report.rejections:
        by_reason.setdefault(reason, []).append(processor)
    parts = [f"{r} ({', '.join(ps)})" for r, ps in by_reason.items()]
    parts += [f"{p}: in DLQ ({e[:60]})" for p, e in report.failures]
    if report.waiting_for:
        parts.append(f"waiting for {', '.join(report.waiting_for)}")
    return "; ".join(parts) or "-"


def _copy_variants(stack: LocalStack, reports: Sequence[UploadReport], out: Path) -> int:
    s3 = stack.client("s3")
    keys = [v.key for report in reports for v in report.variants]

    def copy(key: str) -> None:
        target = out / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=stack.variants_bucket, Key=key)["Body"].read())

    with ThreadPoolExecutor(COPY_CONCURRENCY, thread_name_prefix="imgpipe-copy") as pool:
        list(pool.map(copy, keys))
    return len(keys)


class _RunProgress:
    """How far a local run is, on one line of stderr: rewritten in place at a terminal, a new
    line every 10% otherwise (a log stays readable)."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out = total, out
        self.tty = out.isatty()
        self.uploaded = self.finished = 0
        self._lock = threading.Lock()
        self._shown = (-1, -1)
        self._started = time.monotonic()

    def on_uploaded(self, n: int) -> None:
        with self._lock:
            self.uploaded = n
            self._show()

    def on_terminal(self, _report: UploadReport) -> None:
        with self._lock:
            self.finished += 1
            self._show()

    def _show(self) -> None:
        if self.total < 2:
            return
        tenth = (self.uploaded * 10 // self.total, self.finished * 10 // self.total)
        if not self.tty and tenth == self._shown:
            return
        self._shown = tenth
        seconds = time.monotonic() - self._started
        line = f"{self.uploaded}/{self.total} uploaded, {self.finished}/{self.total} finished, {seconds:.0f} s"
        self.out.write(f"\r{line}" if self.tty else f"{line}\n")
        self.out.flush()

    def done(self) -> None:
        if self.tty and self.total >= 2:
            self.out.write("\n")


def cmd_local_run(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    # a TERM (a CI's cancel, `kill`) stops the stack as Ctrl-C does: its processes with it
    signal.signal(signal.SIGTERM, _interrupt)
    files = collect_files(args.paths)
    out = Path(args.out)
    log: TextIO = sys.stderr
    progress = _RunProgress(len(files), log)
    with _stack(args, on_terminal=progress.on_terminal) as stack:
        if not args.json:
            print(f"local stack on {stack.endpoint_url}; uploading {len(files)} file(s)", file=log, flush=True)
        uploads = stack.upload_files(files, on_uploaded=progress.on_uploaded)
        reports = stack.wait(uploads, timeout=args.timeout)
        progress.done()
        copied = _copy_variants(stack, reports, out)
        emails = stack.emails
        if args.json:
            for r in reports:
                print(json.dumps(r.as_json(), ensure_ascii=False))
        else:
            rows = [["key", "status", "variants", "reasons", "time"]]
            # pictures only: describe's facts document is copied out too, but is no variant
            rows += [
                [r.key, r.status, str(sum(v.public for v in r.variants)), _reasons(r), f"{r.seconds:.1f}s"]
                for r in reports
            ]
            _table(rows, sys.stdout)
            print(f"\n{copied} file(s) copied to {out}/; {len(emails)} email(s) in {args.outbox}/\n")
            for email in emails:
                print(_fmt_email(email))
        # A person at a terminal goes on to the web app; scripts, CI and pipes get their exit
        # code now (docs/decisions.md, "make run serves the web app").
        serve = args.serve
        if serve is None:
            serve = not args.json and sys.stdin.isatty() and sys.stdout.isatty()
        if serve and stack.frontdoor is not None:
            _serve_web_app(stack)
        elif stack.frontdoor is not None and not args.json:
            door = stack.frontdoor
            print(
                f"The web app was at {door.url}/ (sign in: {door.demo.email if door.demo else '-'} / "
                f"{door.demo.password if door.demo else '-'}); the stack stops now, as this is no terminal. "
                "`make run` in a terminal, or `imgpipe local run --serve samples/`, keeps it up.",
                flush=True,
            )
    ok = all(r.terminal and r.status != "failed" for r in reports)
    return 0 if ok else 1


def _serve_web_app(stack: LocalStack) -> None:
    """Keep the stack up for the web app until Ctrl-C (or SIGTERM), saying where it is."""
    door = stack.frontdoor
    assert door is not None
    signal.signal(signal.SIGTERM, _interrupt)
    path = write_state(stack.deployment)
    page = f"{door.url}/" if door.site_built else f"not built: {frontdoor_site_missing}"
    demo = door.demo
    sign_in = f"{demo.email} / {demo.password}" if demo else "create an account on the page"
    print(
        f"The web app:  {page}\n"
        f"  sign in:    {sign_in}\n"
        "  then drop a photo in and watch it become ready.\n"
        f"  (the API and the variants on the same port; `imgpipe status ... --local` reads {path})\n"
        "Ctrl-C stops.",
        flush=True,
    )
    _wait_for_ctrl_c(path)


def _wait_for_ctrl_c(state_path: Path) -> None:
    """Serve until Ctrl-C (or SIGTERM); the state file goes with the stack."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        _err("\nstopping")
    finally:
        state_path.unlink(missing_ok=True)


# -- a deployment: real stack or local -------------------------------------------------
def _deployment(args: argparse.Namespace) -> StackResources:
    if args.local:
        deployment = read_state()
        # the local emulator takes any credentials; have some so boto3 does not refuse
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        return deployment
    return from_stack(args.stack)


def _bucket_must_exist(d: StackResources, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        d.client("s3").head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise CliError(f"bucket {bucket} does not exist ({d.origin})") from None
        if code in ("403", "AccessDenied"):
            raise CliError(f"no access to bucket {bucket} with these credentials") from None
        raise


class _Progress:
    """A one-line progress bar on stderr (boto3 calls it from its transfer threads)."""

    def __init__(self, label: str, total: int, out: TextIO) -> None:
        self.label, self.total, self.out = label, max(total, 1), out
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, n: int) -> None:
        with self._lock:
            self.done += n
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            self.out.write(f"\r[{bar:<30}] {frac:6.1%} {self.done / 1e6:8.1f}/{self.total / 1e6:.1f} MB {self.label}")
            self.out.flush()

    def finish(self) -> None:
        self.out.write("\n")


def cmd_upload(args: argparse.Namespace) -> int:
    from boto3.s3.transfer import TransferConfig

    from imgpipe_tools.local.stack import upload_args

    d = _deployment(args)
    bucket = args.bucket or d.uploads_bucket
    _bucket_must_exist(d, bucket)
    mb = 1024 * 1024
    config = TransferConfig(multipart_threshold=args.multipart_mb * mb, multipart_chunksize=args.multipart_mb * mb)
    s3 = d.client("s3")
    prefix = args.prefix.strip("/") + "/" if args.prefix.strip("/") else ""
    for path, key in collect_files(args.paths):
        full_key = prefix + key
        progress = _Progress(full_key, path.stat().st_size, sys.stderr)
        s3.upload_file(str(path), bucket, full_key, ExtraArgs=upload_args(path), Config=config, Callback=progress)
        progress.finish()
        print(f"s3://{bucket}/{full_key}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from imgpipe.catalog import DynamoCatalog

    d = _deployment(args)
    if not d.catalog_table:
        raise CliError(f"{d.origin} has no catalog table output")
    catalog = DynamoCatalog(d.catalog_table, dynamodb=d.client("dynamodb"))
    bucket = args.bucket or d.uploads_bucket
    found: Any = catalog.history(bucket, args.key) if args.all else catalog.latest(bucket, args.key)
    if not found:
        raise CliError(f"no record of s3://{bucket}/{args.key} in the catalog (not uploaded yet, or expired)")
    if d.delivery_url:  # the front door's CDN: each variant's URL as the API and the email give it
        url = d.delivery_url
        found = [with_delivery_urls(r, url) for r in found] if args.all else with_delivery_urls(found, url)
    print(json.dumps(found, indent=2, ensure_ascii=False, default=str))
    # for people: the facts in a line each, on stderr so stdout stays one JSON document for scripts
    for round_ in found if args.all else [found]:
        for line in description_summary(round_):
            print(line, file=sys.stderr)
    return 0


#: the module of a service's folder that turns its facts into a line: ``summary(facts) -> str``
SUMMARY_MODULE = "summary"


def description_summary(round_: dict[str, Any], root: Path | None = None) -> list[str]:
    """One line per service that stated facts about the upload, in that service's own words (its
    folder's ``summary.py``); a service without one gets its facts' plain values."""
    from imgpipe.registry import discover, service_module

    lines = []
    manifests: dict[str, Any] | None = None
    for name, p in round_.get("processors", {}).items():
        facts = p.get("description")
        if not facts:
            continue
        if manifests is None:
            manifests = {m.name: m for m in discover(root)}
        manifest = manifests.get(name)
        if manifest is not None and (manifest.folder / f"{SUMMARY_MODULE}.py").is_file():
            line = service_module(manifest, SUMMARY_MODULE).summary(facts)
        else:
            line = ", ".join(f"{k} {v}" for k, v in facts.items() if isinstance(v, str | int | float | bool))
        lines.append(f"{name} ({round_.get('etag', '')[:8]}): {line}")
    return lines


def with_delivery_urls(round_: dict[str, Any], delivery_url: str) -> dict[str, Any]:
    """The catalog's view of a round with each variant's URL on the front door's CDN (the URL the
    API and the email give: ``<cdn>/v/<variant key>?v=<upload etag>``)."""
    from imgpipe.keys import cdn_url

    processors = {
        name: {**p, "variants": [{**v, "url": cdn_url(delivery_url, v["key"], round_["etag"])} for v in p["variants"]]}
        for name, p in round_.get("processors", {}).items()
    }
    return {**round_, "processors": processors}


def cmd_review(args: argparse.Namespace) -> int:
    """A person's decision on an upload held for review (docs/moderation.md)."""
    from datetime import UTC, datetime

    from imgpipe.adapters import S3Storage
    from imgpipe.catalog import DynamoCatalog
    from imgpipe_tools.review import ReviewError, S3VariantStore, review

    d = _deployment(args)
    if not d.catalog_table:
        raise CliError(f"{d.origin} has no catalog table output")
    catalog = DynamoCatalog(d.catalog_table, dynamodb=d.client("dynamodb"))
    try:
        done = review(
            catalog,
            S3VariantStore(d.client("s3")),
            bucket=args.bucket or d.uploads_bucket,
            variants_bucket=d.variants_bucket,
            key=args.key,
            decision=args.decision,
            now=datetime.now(UTC),
            etag=args.etag,
            announce=_review_announcer(d),
            releaser=S3Storage(d.client("s3")),
        )
    except ReviewError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(done.as_dict(), ensure_ascii=False))
    return 0


def _review_announcer(d: StackResources) -> Any:
    """What follows a held round's "Upload Held" once a reviewer decides: the round's completion
    event as notify would have put it (approved: "Upload Completed" with its variants; rejected:
    "Upload Rejected"), on the stack's bus, so the webhook sends upload.completed after upload.held.
    Built by the service that puts the completion events (the one declaring that need: notify)."""
    from imgpipe.catalog import COMPLETED, PARTIAL, REJECTED, Round
    from imgpipe.needs import Need
    from imgpipe.registry import discover, service_module

    [keeper] = [m for m in discover() if Need.COMPLETION_EVENTS in m.needs]
    completion = service_module(keeper, "completion")
    completions = service_module(keeper, "adapters").EventBridgeCompletions("default", events=d.client("events"))

    def announce(r: Round) -> None:
        status = REJECTED if r.review == REJECTED else (r.status if r.status in (COMPLETED, PARTIAL) else COMPLETED)
        event = completion.completion_event(r, status, emailed=r.notify is not False, delivery_url=d.delivery_url)
        completions.put(event)

    return announce


def _processor_names(d: StackResources, name: str | None) -> list[str]:
    return [d.processor(name).name] if name else sorted(d.processors)


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from imgpipe_tools import dlq

    d = _deployment(args)
    total = 0
    for name in _processor_names(d, args.processor):
        messages = dlq.list_messages(d, name)
        total += len(messages)
        print(f"{name}: {len(messages)} message(s)")
        for m in messages:
            print(f"  [{m.queue}] {m.source_key}: {m.error[:120]}")
    return 0 if total == 0 or not args.fail_if_any else 1


def cmd_dlq_redrive(args: argparse.Namespace) -> int:
    from imgpipe_tools import dlq

    d = _deployment(args)
    name = d.processor(args.processor).name
    counts = dlq.redrive(d, name)
    how = "to its invoke queue" if d.is_local else f"as async invocations of {d.processors[name].function_name}"
    print(
        f"{name}: redrove {counts[dlq.FAILURE]} from the failure DLQ and "
        f"{counts[dlq.TARGET]} from the target DLQ, {how}"
    )
    return 0


# -- arguments -----------------------------------------------------------------------
def _settings_json(text: str) -> dict[str, dict[str, Any]]:
    """``--settings``: the same JSON object as the CDK context key ``settings``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise argparse.ArgumentTypeError('must be an object like {"resize": {"widths": [320, 640]}}')
    return value


#: a processor's concurrency on the local stack: enough that a slow upload does not hold the
#: uploads behind it (the cores are shared by the worker processes; see --processes)
DEFAULT_WORKERS = 4
#: variants copied out of the local stack at once
COPY_CONCURRENCY = 8


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _local_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=0, help="moto server port (default: a free one)")
    p.add_argument("--outbox", default="outbox", help="folder for the emails, one .eml each (default: outbox)")
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=DEFAULT_WORKERS,
        help=f"invocations each processor runs at once, as Lambda's concurrency (default: {DEFAULT_WORKERS})",
    )
    p.add_argument(
        "--processes",
        type=_non_negative_int,
        default=os.cpu_count() or 1,
        help="worker processes that run the handlers, shared by the processors; 0 runs them in this "
        "process's threads (default: the number of cores)",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="show handler logs and retries")
    p.add_argument(
        "--settings",
        type=_settings_json,
        default={},
        metavar="JSON",
        help='override processors\' settings, as `make synth SETTINGS=...` does: {"thumbnail": {"crop": "center"}}',
    )
    p.add_argument(
        "--services",
        default=None,
        metavar="LIST",
        help="the services to run, as `make synth SERVICES=...`: resize,notify (exactly these), "
        "+watermark,-convert (the defaults changed), all (default: the defaults)",
    )


def _target_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stack",
        default=os.environ.get("IMGPIPE_STACK", DEFAULT_STACK),
        help="CloudFormation stack name (default: $IMGPIPE_STACK or Imgpipe)",
    )
    p.add_argument("--local", action="store_true", help=f"the stack `imgpipe local up` serves (reads {state_file()})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgpipe", description="imgpipe: event-driven image pipeline on AWS.")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="run the whole pipeline on this machine (moto)")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    up = local_sub.add_parser("up", help="serve the local stack until Ctrl-C")
    _local_options(up)
    up.add_argument("--api-port", type=int, default=0, help="port of /api/* and /v/* (default: a free one)")
    up.set_defaults(func=cmd_local_up)
    run = local_sub.add_parser("run", help="process files end to end and print a summary")
    run.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    run.add_argument("--out", default="out", help="where to copy the variants (default: out)")
    run.add_argument("--timeout", type=float, default=120, help="seconds to wait for every upload (default: 120)")
    run.add_argument("--json", action="store_true", help="one JSON object per upload instead of a table")
    run.add_argument(
        "--serve",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="then keep serving the web app until Ctrl-C (default: at a terminal, without --json)",
    )
    _local_options(run)
    run.set_defaults(func=cmd_local_run)

    upload = sub.add_parser("upload", help="upload files to the uploads bucket")
    upload.add_argument("paths", nargs="+", metavar="PATH")
    upload.add_argument("--prefix", default="", help="key prefix, e.g. photos/2024")
    upload.add_argument("--bucket", help="bucket (default: the stack's uploads bucket)")
    upload.add_argument("--multipart-mb", type=int, default=8, help="multipart above this size, in MiB (default: 8)")
    _target_options(upload)
    upload.set_defaults(func=cmd_upload)

    status = sub.add_parser("status", help="the catalog's record of an upload")
    status.add_argument("key")
    status.add_argument("--bucket", help="uploads bucket (default: the stack's)")
    status.add_argument("--all", action="store_true", help="every upload round of the key, newest first")
    _target_options(status)
    status.set_defaults(func=cmd_status)

    review_parser = sub.add_parser("review", help="release an upload held for review, or reject it")
    review_sub = review_parser.add_subparsers(dest="review_command", required=True)
    for decision, word, what in (
        ("approved", "approve", "release it: status and the API offer its variants again"),
        ("rejected", "reject", "delete its variants from the variants bucket and mark it rejected"),
    ):
        decide = review_sub.add_parser(word, help=what)
        decide.add_argument("key")
        decide.add_argument("--bucket", help="uploads bucket (default: the stack's)")
        decide.add_argument("--etag", help="the round of this etag (default: the key's newest upload)")
        _target_options(decide)
        decide.set_defaults(func=cmd_review, decision=decision)

    dlq_parser = sub.add_parser("dlq", help="inspect or replay the dead-letter queues")
    dlq_sub = dlq_parser.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_sub.add_parser("list", help="messages in the DLQs")
    dlq_list.add_argument("processor", nargs="?")
    dlq_list.add_argument("--fail-if-any", action="store_true", help="exit 1 when any DLQ holds a message")
    _target_options(dlq_list)
    dlq_list.set_defaults(func=cmd_dlq_list)
    redrive = dlq_sub.add_parser("redrive", help="replay a processor's DLQs")
    redrive.add_argument("processor")
    _target_options(redrive)
    redrive.set_defaults(func=cmd_dlq_redrive)

    add_backfill_parser(sub, _target_options, _deployment)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        _err("stopped")
        return 130
    except (CliError, StackNotFound, ManifestError, SettingsError, SelectionError) as exc:
        _err(f"imgpipe: {exc}")
        return 2
    except Exception as exc:
        from botocore.exceptions import EndpointConnectionError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            _err("imgpipe: no AWS credentials found (aws configure, AWS_PROFILE, or --local)")
            return 2
        if isinstance(exc, EndpointConnectionError):
            _err(f"imgpipe: cannot reach {exc.kwargs.get('endpoint_url')} (no network, or `imgpipe local up` stopped?)")
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
