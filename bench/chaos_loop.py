"""Runs the chaos scenario (tests/e2e/chaos_scenario.py) again and again, outside ``make test``,
and prints what became of the uploads in each run::

    python -m bench.chaos_loop --runs 20 --uploads 50

Per run: completed, rejected, in a DLQ, lost (neither completed, rejected nor in a DLQ: a bug),
and duplicate emails (docs/notify.md "The one email"). Each run draws new faults (seeds change per
run) and runs in a fresh Python process, so no state (moto's, botocore's retry quotas, cached
clients) carries over from one run to the next. A lost upload is described (its tracker report and
catalog item) so it can be chased. Exits 1 if any run lost an upload or failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COLUMNS = ("completed", "rejected", "dlq", "lost", "duplicate_emails")


def one_run(uploads: int, seed: int, spec: str | None) -> dict[str, Any]:
    """One run in this process: its counts, and a description of anything lost or parked."""
    from tests.e2e import chaos_scenario

    with tempfile.TemporaryDirectory(prefix="chaos-outbox-") as outbox:
        result = chaos_scenario.run(
            uploads, outbox=Path(outbox), seed=seed, chaos_seed=1000 + seed, spec=spec or chaos_scenario.SPEC
        )
    notes = []
    for r in result.reports:
        outcome = result.outcome(r)
        if outcome in ("lost", "dlq"):
            item = result.items.get(r.key)
            notes.append(
                f"{outcome.upper()} {r.key!r} etag {r.etag}: tracker {r.status}, waiting for {r.waiting_for}, "
                f"failures {r.failures}, emails {r.emails}; catalog {json.dumps(item, default=str) if item else None}"
            )
    for key, n in sorted(result.emails_per_upload.items()):
        if n > 1:
            item = result.items.get(key) or {}
            notes.append(f"DUPLICATE {key!r}: {n} emails; catalog email {item.get('email')}")
    if notes:
        notes.append(result.summary())
    return {**result.counts(), "notes": notes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos_loop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=1, help="run i uses seed first-seed + i")
    parser.add_argument("--spec", help="AWS call faults, IMGPIPE_FAULTS syntax (default: the chaos test's)")
    parser.add_argument("--json", type=Path, help="also append one JSON line per run to this file")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)  # one run, JSON on stdout
    args = parser.parse_args(argv)

    if args.single:
        print("CHAOS-RESULT " + json.dumps(one_run(args.uploads, args.first_seed, args.spec)), flush=True)
        return 0

    bad = 0
    print(f"{'run':>4} {'seed':>5} {'completed':>9} {'rejected':>8} {'dlq':>4} {'lost':>4} {'dup emails':>10} {'s':>6}")
    for i in range(args.runs):
        seed = args.first_seed + i
        started = time.monotonic()
        command = [sys.executable, "-m", "bench.chaos_loop", "--single", "--uploads", str(args.uploads)]
        command += ["--first-seed", str(seed)] + (["--spec", args.spec] if args.spec else [])
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        lines = [line for line in done.stdout.splitlines() if line.startswith("CHAOS-RESULT ")]
        if done.returncode != 0 or not lines:
            bad += 1
            print(
                f"{i + 1:>4} {seed:>5} run failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}", flush=True
            )
            continue
        result = json.loads(lines[-1].removeprefix("CHAOS-RESULT "))
        print(
            f"{i + 1:>4} {seed:>5} {result['completed']:>9} {result['rejected']:>8} {result['dlq']:>4} "
            f"{result['lost']:>4} {result['duplicate_emails']:>10} {seconds:>6.0f}",
            flush=True,
        )
        for note in result["notes"]:
            print("      " + note.replace("\n", "\n      "), flush=True)
        bad += bool(result["lost"])
        if args.json:
            with args.json.open("a", encoding="utf-8") as out:
                line = {"run": i + 1, "seed": seed, "uploads": args.uploads, "seconds": round(seconds)}
                out.write(json.dumps({**line, **{c: result[c] for c in COLUMNS}}) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
