"""Running the conformance plan on several CPU cores: one worker process per core.

The unit of work is one spec on every selected backend and dtype (what
:func:`conformance.checks.run_spec` does), because everything a spec's
backends share (rounded inputs, the float64 reference, the peer's result,
finite differences, the first backend's gradients) sits in one process's
:class:`~conformance.checks.Cache`.  Specs go to the workers in the order
given, each to the next idle worker, so the run is balanced to within one
spec.

Workers are started with ``spawn`` (a fresh interpreter: JAX and torch do
not survive ``fork`` once their thread pools run) and find a spec by name in
:func:`conformance.spec.all_specs`, so a spec must be registered by an entry
module to run in a worker; the CLI runs in-process (``--jobs 1``) otherwise.
Each worker keeps torch to one intra-op thread: the inputs are tiny, and two
workers on two cores should not each start a pool of two threads.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue as queue_module
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from .checks import Result

__all__ = ["default_jobs", "run_parallel"]

_PROGRESS: Any = None  # the worker's end of the progress queue


def default_jobs(*, gpu: bool) -> int:
    """Worker processes of a run: every CPU core this process may use (at most 8);
    1 for GPU backends, which share one device."""
    if gpu:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _init(progress: Any) -> None:  # pragma: no cover - runs in the worker
    global _PROGRESS
    _PROGRESS = progress
    warnings.simplefilter("ignore")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def _run_one(
    name: str,
    backend_names: Sequence[str],
    options: dict[str, Any],
) -> list[Result]:  # pragma: no cover - runs in the worker
    from .backends import available_backends
    from .checks import run_spec
    from .spec import all_specs

    spec = all_specs()[name]
    backends = available_backends(list(backend_names))

    def done(b: Any, dt: str, res: list[Result]) -> None:
        _PROGRESS.put(f"{name} · {b.name} · {dt}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_spec(spec, backends, on_done=done, **options)


def _crashed(name: str, exc: BaseException) -> list[Result]:
    """A worker that died (or raised outside the checks) fails its spec."""
    msg = f"worker failed: {type(exc).__name__}: {exc}"
    return [Result(name, "*", "*", "worker", False, float("inf"), msg)]


def run_parallel(
    jobs: int,
    names: Sequence[str],
    backend_names: Sequence[str],
    options: dict[str, dict[str, Any]],
    on_progress: Callable[[str], None],
) -> Iterator[tuple[str, list[Result]]]:
    """Run ``names`` on ``jobs`` worker processes; yield ``(name, results)`` in the
    order of ``names`` as soon as a spec and all those before it are done.

    ``options[name]`` are the keyword arguments of ``run_spec`` for that spec
    (``quick``, ``dtypes``, ``compile``, ``seed``); ``on_progress(label)`` is
    called in this process once per backend × dtype finished in a worker.
    """
    ctx = multiprocessing.get_context("spawn")
    progress = ctx.Queue()
    finished: dict[str, list[Result]] = {}

    def drain() -> None:
        while True:
            try:
                on_progress(progress.get_nowait())
            except queue_module.Empty:
                return

    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_init, initargs=(progress,)
    ) as pool:
        pending: dict[Future[list[Result]], str] = {
            pool.submit(_run_one, n, list(backend_names), options[n]): n for n in names
        }
        try:
            with _terminate_raises():
                yield from _collect(pending, names, finished, drain)
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM) or failing: the workers would finish their
            # current spec (minutes) before the pool's exit returns; stop them now
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            raise
        finally:
            for fut in pending:
                fut.cancel()
    drain()


@contextlib.contextmanager
def _terminate_raises() -> Iterator[None]:
    """SIGTERM (``kill``, a CI timeout) raises ``SystemExit`` in this process while the
    workers run, so that :func:`run_parallel` stops them (the default action would end this
    process alone and leave its workers computing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        sys.exit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _collect(
    pending: dict[Future[list[Result]], str],
    names: Sequence[str],
    finished: dict[str, list[Result]],
    drain: Callable[[], None],
) -> Iterator[tuple[str, list[Result]]]:
    next_index = 0
    while pending:
        done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        drain()
        for fut in done:
            name = pending.pop(fut)
            try:
                finished[name] = fut.result()
            except Exception as exc:
                finished[name] = _crashed(name, exc)
        while next_index < len(names) and names[next_index] in finished:
            name = names[next_index]
            next_index += 1
            yield name, finished.pop(name)
