"""e2e fixtures: the embedded local stack (moto server + the real handlers), started per test.

Other e2e tests use it too::

    def test_something(local_stack):
        upload = local_stack.put("photos/cat.jpg", data)
        [report] = local_stack.wait([upload], timeout=60)

    def test_other(start_local_stack):
        with start_local_stack(workers=2) as stack:   # any LocalStack argument
            ...

``fail_processor`` makes a processor's invocations raise (a transient failure) a given
number of times, for retry and DLQ tests.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from imgpipe.errors import TransientError
from imgpipe.registry import discover
from imgpipe_tools.local import LocalStack

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
#: every processor that makes variants: what a normal photo must come back from
# what a default deployment runs (imgpipe.registry.select): the local stack starts these
PRODUCERS = sorted(m.name for m in discover(services=None) if m.produces_variants)

StartStack = Callable[..., contextlib.AbstractContextManager[LocalStack]]


def interruptible() -> None:
    """``preexec_fn`` for a child a test stops with SIGINT (Ctrl-C): a shell's background job
    ignores SIGINT, a child inherits that, and Python then never raises KeyboardInterrupt; so
    pytest started from such a job would see the stack ignore Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def start_local_stack(tmp_path: Path) -> StartStack:
    def start(**kwargs: Any) -> contextlib.AbstractContextManager[LocalStack]:
        kwargs.setdefault("outbox", tmp_path / "outbox")
        kwargs.setdefault("retry_delay_s", 0.05)
        return LocalStack.start(**kwargs)

    return start


@pytest.fixture
def local_stack(
    start_local_stack: Callable[..., contextlib.AbstractContextManager[LocalStack]],
) -> Iterator[LocalStack]:
    with start_local_stack() as stack:
        yield stack


class FailingProcess:
    """Stands in for a processor's ``process``: raises ``TransientError`` for the first
    ``times`` calls (all calls when ``times`` is None), then does the real work."""

    def __init__(self, real: Callable[[bytes, Mapping[str, Any]], Any], times: int | None) -> None:
        self.real = real
        self.times = times
        self.calls = 0
        self.failing = True

    def __call__(self, data: bytes, settings: Mapping[str, Any]) -> Any:
        self.calls += 1
        if self.failing and (self.times is None or self.calls <= self.times):
            raise TransientError(f"injected failure #{self.calls}")
        return self.real(data, settings)


@pytest.fixture
def fail_processor(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int | None], FailingProcess]:
    def patch(name: str, times: int | None) -> FailingProcess:
        # The handler passes its module-level ``process`` to the runtime on every call.
        handler_module = importlib.import_module(f"services.{name}.handler")
        failing = FailingProcess(handler_module.process, times)
        monkeypatch.setattr(handler_module, "process", failing)
        return failing

    return patch
