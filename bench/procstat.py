"""Memory of the current process, read from /proc/self/status (Linux).

``VmHWM`` is the peak resident set size of *this* process. It is read in the measured
process itself, never through ``ru_maxrss`` of a child, which after fork can report the
parent's peak. Writing ``5`` to ``/proc/self/clear_refs`` resets the peak to the current
RSS, so a measurement can exclude what the imports and setup used.
"""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")


def _field_kib(name: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{name} not in {_STATUS}")


def peak_rss_kib() -> int:
    return _field_kib("VmHWM")


def rss_kib() -> int:
    return _field_kib("VmRSS")


def reset_peak() -> bool:
    """Set the peak back to the current RSS; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True
