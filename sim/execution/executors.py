"""Executors: where batches run. Any ``concurrent.futures.Executor`` will do.

The local default is a process pool with one worker per core. ``workers=1`` runs batches in
this process through ``InlineExecutor`` (same interface, no pickling, easy to debug). The
ensemble code only calls ``submit`` and waits on futures, so a Dask ``distributed.Client``
(also an Executor) can stand in without changing it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any


class InlineExecutor(Executor):
    """Runs each submitted call immediately in the calling process."""

    def submit(self, fn, /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` now and return a finished future."""
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            future.set_exception(exc)
        return future


def default_workers() -> int:
    """One worker per core available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def local_executor(workers: int | None = None) -> Executor:
    """A local executor: in-process for one worker, else a process pool.

    The pool uses the ``forkserver`` start method where available: workers start from a clean
    interpreter (no inherited threads or state) yet start faster than with ``spawn``.
    """
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        return InlineExecutor()
    return ProcessPoolExecutor(max_workers=workers, mp_context=_context())


def _context() -> multiprocessing.context.BaseContext:
    """``forkserver`` (or ``spawn``), unless ``__main__`` cannot be re-imported by a worker.

    Workers started by forkserver or spawn import the parent's ``__main__`` file; when there
    is none (an interactive session, a script piped to stdin) they would fail, so such
    sessions fork instead.
    """
    methods = multiprocessing.get_all_start_methods()
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if (main_file is None or not os.path.exists(main_file)) and "fork" in methods:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
