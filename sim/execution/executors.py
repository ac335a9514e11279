"""Executors: where batches run. Any ``concurrent.futures.Executor`` will do.

The local default is a process pool with one worker per core. ``workers=1`` runs batches in
this process through ``InlineExecutor`` (same interface, no pickling, easy to debug). On a
cluster, a Dask ``distributed`` client's executor (``Client.get_executor``) takes the same
calls: the ensemble code only submits batches and waits on ``concurrent.futures`` futures,
so results are the same wherever the batches run.
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
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # the server imports the model (numpy, numba, mesa: about a second) and loads its compiled
    # code once; every worker, including those of a renewed pool, forks from it with that done
    context.set_forkserver_preload(["sim.execution.warmup"])
    return context


def start_local_server() -> None:
    """Start the server the local pool's workers fork from, if it is not running yet.

    It imports the model and loads its compiled code (``warmup``): about a second and a half
    before the first batch can start. Called early (by the command line, before it loads
    anything else), that time overlaps the caller's own start-up.
    """
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def dask_executor(address: str) -> tuple[Executor, object]:
    """An Executor on a Dask ``distributed`` cluster, and the client to close afterwards.

    Batches are impure (``pure=False``: never deduplicated) and retried twice if a worker is
    lost. Workers must have this package installed (the same version).
    """
    try:
        from distributed import Client
    except ImportError:
        from sim.errors import UsageError

        raise UsageError("running on a Dask cluster needs the 'distributed' package: "
                         "pip install 'crisis-sim[cluster]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        from sim.errors import UsageError

        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    return client.get_executor(pure=False, retries=2), client


# Batches a local worker runs before its pool is replaced by a fresh one (see ``execute``). A
# long-lived worker's resident size creeps up with the batches it has run (310 MB after 1 batch
# of 1,000, 420 MB after 60; 191 and 562 MB after 50 before the day was compiled), so a
# million-run ensemble renews its workers. Python 3.12's own ``max_tasks_per_child`` can
# deadlock (CPython gh-115634), so the pool is replaced whole, between batches: a fork from the
# warmed-up server (``warmup``) every 25 batches per worker.
RECYCLE_AFTER = 25


def scheduler_address(scheduler: str | None) -> str | None:
    """The Dask scheduler to use: the argument, else ``SIM_SCHEDULER``, else None (local)."""
    return scheduler or os.environ.get("SIM_SCHEDULER") or None


def executor_for(scheduler: str | None, workers: int | None):
    """The executor for a run and a function closing it: Dask if a scheduler is named.

    The scheduler comes from the argument or the ``SIM_SCHEDULER`` environment variable.
    """
    address = scheduler_address(scheduler)
    if address:
        executor, client = dask_executor(address)

        def close(cancel: bool) -> None:
            executor.shutdown(wait=not cancel)
            client.close()

        return executor, close
    executor = local_executor(workers)

    def close_local(cancel: bool) -> None:
        executor.shutdown(wait=not cancel, cancel_futures=cancel)

    return executor, close_local
