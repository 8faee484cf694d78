"""The backfill progress bar: objects processed / total, failures, rate (one line on stderr)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from imgpipe.backfill import Summary


class ProgressBar:
    """Redraws one line on a terminal; elsewhere (a log, CI) prints a line every few seconds."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic, every_s: float = 5.0) -> None:
        self.out = out
        self.clock = clock
        self.started = clock()
        self.every_s = every_s
        self._last_line = -1e9
        self._last_counts: tuple[int, int | None, int] | None = None
        self._tty = bool(getattr(out, "isatty", lambda: False)())

    def line(self, done: int, total: int | None, failed: int) -> str:
        elapsed = max(self.clock() - self.started, 1e-6)
        if total:
            frac = min(done / total, 1.0)
            bar = "#" * int(frac * 30)
            head = f"[{bar:<30}] {frac:6.1%} {done:,}/{total:,} objects"
        else:
            head = f"[{'listing...':<30}] {done:,} objects"
        return f"{head}  {failed:,} failed  {done / elapsed:,.0f}/s  {elapsed:,.0f}s"

    def update(self, done: int, total: int | None, failed: int, final: bool = False) -> None:
        # The counts, not the clock, say whether anything new is shown: a final call with the
        # counts just printed prints nothing more.
        counts = (done, total, failed)
        text = self.line(done, total, failed)
        if self._tty:
            self.out.write("\r" + text + ("\n" if final else ""))
        elif (final and counts != self._last_counts) or self.clock() - self._last_line >= self.every_s:
            self.out.write(text + "\n")
            self._last_line = self.clock()
            self._last_counts = counts
        self.out.flush()


def format_summary(summary: Summary, where: str) -> str:
    """What the CLI prints when a run is over."""
    d = summary.as_dict()
    lines = [f"backfill {summary.run}: {summary.status}" + (f" ({summary.error})" if summary.error else "")]
    lines.append(f"  {d['total']:,} object(s) listed")
    for outcome, n in d["counts"].items():
        if n:
            lines.append(f"  {outcome:<13} {n:,}")
    for f in summary.failed[:10]:
        lines.append(f"  failed: {f['key']}: {f['error'][:150]}")
    if len(summary.failed) > 10:
        lines.append(f"  ... and {len(summary.failed) - 10:,} more (failed-keys.txt next to the summary)")
    lines.append(f"  summary: {where}")
    return "\n".join(lines)
