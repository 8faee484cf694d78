"""Handlers in worker processes, as Lambda runs each invocation in an environment of its own.

One Python process cannot use more than one core for Python code, and the image work, the
emulator and the runtime's bookkeeping all want one. :class:`HandlerProcesses` is a pool of
worker processes that each import the handlers once and then run invocations sent to them:
the process running the stack keeps the emulator, the queues and the tracker.

A worker gets the stack's environment (its endpoint, dummy credentials, fault settings) when it
starts, not from the parent later, so it runs against the stack that made it. A handler's error
comes back as :class:`HandlerFailed`, with the error's type name, message and the end of its
traceback (what Lambda's failure record carries); the exception object itself may not survive
pickling. A worker that dies (a crash in a native library, say) does not take the stack with
it: the pool is replaced, and the invocations it was running fail as :class:`WorkerDied` and
are retried like any other failure. All of them, not only the one that crashed: Python's
process pool cannot tell which worker held which call, so a crash costs the others an attempt.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from imgpipe.config import Config
from imgpipe.manifest import Manifest
from imgpipe_tools.local.lambda_env import call_handler, load_handler


class HandlerFailed(Exception):
    """A handler raised in a worker process: its error's type name, message and traceback."""

    def __init__(self, type_name: str, message: str, stack: list[str]) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.stack = stack


class WorkerDied(Exception):
    """The worker process running an invocation ended without an answer (a crash, a kill)."""


# -- in the worker process ------------------------------------------------------------
_handlers: dict[tuple[str, str], Any] = {}
_verbose = False


def exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """End this process when ``parent_pid`` has gone (killed, say, with no chance to stop its
    children): a worker or an emulator must not outlive the stack that started it."""

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="imgpipe-parent-watch", daemon=True).start()


def _start_worker(env: Mapping[str, str], verbose: bool, parent_pid: int) -> None:
    global _verbose
    exit_with_parent(parent_pid)
    # Ctrl-C at a terminal reaches the whole process group: the stack stops its workers itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(env)
    _verbose = verbose
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    if env.get("IMGPIPE_FAULTS"):
        import imgpipe_tools.testing.faults  # noqa: F401  (hooks the handlers' clients)


def _handler(manifest: Manifest) -> Any:
    key = (str(manifest.folder), manifest.name)
    if key not in _handlers:
        _handlers[key] = load_handler(manifest)
        # Powertools sets its logger's level when the handler module is imported: after it
        logging.getLogger(manifest.name).setLevel(logging.INFO if _verbose else logging.WARNING)
        logging.getLogger("aws_lambda_powertools").setLevel(logging.WARNING if _verbose else logging.CRITICAL)
    return _handlers[key]


def _invoke(manifest: Manifest, config: Config, event: dict[str, Any]) -> tuple[bool, Any]:
    try:
        return True, call_handler(_handler(manifest), manifest, config, event)
    except Exception as exc:
        return False, (type(exc).__name__, str(exc), traceback.format_exception(exc)[-6:])


# -- in the stack's process -----------------------------------------------------------
class FinishersFirst:
    """Lets at most ``slots`` calls into the pool at once; a call that waits for a slot goes before
    the producers' if its service finishes uploads rather than making variants (notify, purge,
    webhook), then first come, first served.

    The pool's own queue is first come, first served. In a burst the producers' invocations fill
    it, and notify, which Lambda would run beside them, waited behind the whole burst: no upload
    finished, and no email went out, until nearly every image was done."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def enter(self, manifest: Manifest) -> None:
        rank = 1 if manifest.produces_variants else 0
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return
            turn = threading.Event()
            heapq.heappush(self._waiting, (rank, next(self._order), turn))
        turn.wait()  # the slot is handed over by leave()

    def leave(self) -> None:
        with self._lock:
            if self._waiting:
                heapq.heappop(self._waiting)[2].set()
            else:
                self._free += 1


class HandlerProcesses:
    """``count`` worker processes shared by every service of one stack."""

    def __init__(self, count: int, env: Mapping[str, str], *, verbose: bool = False) -> None:
        if count < 1:
            raise ValueError(f"processes must be 1 or more, not {count}")
        self.count = count
        self._env = dict(env)
        self._verbose = verbose
        self._lock = threading.Lock()
        self._pool = self._new_pool()
        self._gate = FinishersFirst(count)

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn: the stack's process has threads, which fork() must not copy; and a worker is then
        # the stack's own child, which it can watch (a fork server's would outlive a killed stack)
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(
            self.count,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self._env, self._verbose, os.getpid()),
        )

    def call(self, manifest: Manifest, config: Config, event: dict[str, Any]) -> Any:
        """Run the handler on ``event`` in a worker; its result, or its error as HandlerFailed."""
        self._gate.enter(manifest)
        try:
            with self._lock:
                pool = self._pool
            ok, value = pool.submit(_invoke, manifest, config, event).result()
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:  # the first to notice replaces it
                    self._pool = self._new_pool()
            raise WorkerDied(f"the worker process running {manifest.name} ended without an answer") from exc
        finally:
            self._gate.leave()
        if ok:
            return value
        raise HandlerFailed(*value)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the workers: what is queued is dropped, what runs gets ``timeout_s`` to end."""
        with self._lock:
            pool = self._pool
        # the pool keeps its processes in a private field; without it, wait for them as before
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=not processes, cancel_futures=True)
        deadline = time.monotonic() + timeout_s
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
                process.join(1)
