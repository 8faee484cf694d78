"""Where the local stack's CPU goes per upload: ``python -m bench.stack_cpu``.

Runs ``imgpipe local run --json`` on a folder of tiny images (the image work is a few ms, so
what is measured is the stack's own cost) and adds up the CPU time of every process of the
stack: the runtime's (dispatchers, tracker, outbox, front door), the emulator's, DynamoDB's
emulator's and the handler workers'. CPU time survives a shared machine; wall time does not, so
the load average is printed beside it.

With ``--tree NAME=PATH`` (repeatable) the same run is made from several checkouts of the repo,
interleaved round by round, so a change is measured side by side with what it replaces::

    git worktree add /tmp/before <commit>
    python -m bench.stack_cpu --tree before=/tmp/before --tree after=. --uploads 100 --rounds 2

Other options (``--processes 4``, say) are passed to ``imgpipe local run`` as they are.

A process's CPU is sampled from ``/proc`` while it runs (its last sample counts; the roles are
told apart by their command lines); the total is also read from ``getrusage`` of the reaped
children, which misses nothing that ended.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import throughput

_TICK = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _role(pid: int, root: int, emulators: list[int]) -> str:
    if pid == root:
        return "runtime"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    if "imgpipe_tools.local.emulator" in cmd:
        if pid not in emulators:
            emulators.append(pid)
        # the stack starts the main emulator first, then DynamoDB's
        return "emulator" if emulators.index(pid) == 0 else "dynamodb"
    if "multiprocessing" in cmd and "resource_tracker" not in cmd:
        return "workers"
    return "other"


class _Sampler(threading.Thread):
    def __init__(self, root: int, every_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root, self.every_s = root, every_s
        self.last: dict[int, tuple[str, float]] = {}
        self.stop = threading.Event()
        self._emulators: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            kids = _children()
            todo, seen = [self.root], []
            while todo:
                pid = todo.pop()
                seen.append(pid)
                todo += kids.get(pid, [])
            for pid in seen:
                cpu = _cpu_s(pid)
                if cpu is not None:
                    role = self.last.get(pid, (None,))[0] or _role(pid, self.root, self._emulators)
                    self.last[pid] = (role, cpu)
            time.sleep(self.every_s)


def one_run(tree: Path, files: Path, workers: int, timeout_s: float, extra: list[str] | None = None) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="imgpipe-stack-cpu-") as tmp:
        cmd = [
            sys.executable,
            "-c",
            "import sys; from imgpipe_tools.cli import main; sys.exit(main())",
            *("local", "run", str(files), "--json", "--workers", str(workers), "--timeout", str(int(timeout_s))),
            *("--out", f"{tmp}/out", "--outbox", f"{tmp}/outbox"),
            *(extra or []),
        ]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = _Sampler(proc.pid)
        sampler.start()
        out, err = proc.communicate(timeout=timeout_s + 120)
        wall = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    by_role: Counter[str] = Counter()
    for role, cpu in sampler.last.values():
        by_role[role] += cpu
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(total, 2),
        "cpu_s_by_role": {k: round(v, 2) for k, v in sorted(by_role.items())},
        "statuses": dict(Counter(ln["status"] for ln in lines)),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "error": None if proc.returncode == 0 else (err.strip().splitlines() or ["?"])[-1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stack_cpu", description=__doc__)
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH", help="a checkout (repeatable)")
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4)
    args, extra = parser.parse_known_args(argv)
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(Path(__file__).resolve().parent.parent)}
    files = throughput.tiny_images(args.uploads)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for r in range(args.rounds):
        for name, path in trees.items():
            result = one_run(Path(path).resolve(), files, args.workers, 60 + 3.0 * args.uploads, extra)
            runs[name].append(result)
            print(f"round {r + 1} {name}: {json.dumps(result)}", file=sys.stderr, flush=True)
    for name, rs in runs.items():
        ok = [x for x in rs if not x["error"]]
        if not ok:
            print(f"{name}: every run failed: {rs[-1]['error']}")
            continue
        cpu = statistics.median(x["cpu_s"] for x in ok) / args.uploads
        wall = statistics.median(x["wall_s"] for x in ok)
        roles = {
            k: round(statistics.median(x["cpu_s_by_role"].get(k, 0) for x in ok) / args.uploads, 3)
            for k in ok[0]["cpu_s_by_role"]
        }
        loads = ", ".join(f"{x['load_before']}-{x['load_after']}" for x in ok)
        print(
            f"{name}: {cpu:.3f} CPU-s per upload {roles}; wall {wall:.1f} s for {args.uploads}"
            f" (start-up included; load average {loads})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
