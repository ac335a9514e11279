"""Run an ensemble: plan batches, submit them to an executor, store what comes back.

The flow is one way: a ``LoadedScenario`` and run settings go in; ``runs.parquet``,
trajectory tables, ``summary.json``, ``manifest.json`` and the resolved scenario come out.

Crash safety and resumption: each finished batch's rows are written to ``parts/`` at once
(temporary name, then rename), and the streaming trajectory summary is checkpointed every few
seconds together with the list of batches it includes. Run the same command again after a
crash, a ``kill -9`` or Ctrl-C and it skips those batches, re-runs the others, and ends with
exactly the rows an uninterrupted run would have had. A batch whose worker process died is
retried on a fresh pool.

Bounded memory: with an output folder, rows are streamed from the parts into
``runs.parquet`` and daily series are summarised by ``TrajectoryHistogram``; peak memory
grows with the batch size, not with the number of runs. Without an output folder (tests,
notebooks) everything is kept in memory, including every run's daily path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import platform
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

import sim
from sim.analysis import indicator_summary, outcome_table
from sim.errors import RunInterruptedError, SimError, UsageError
from sim.execution.batches import BatchResult, BatchTask, plan_batches, run_batch
from sim.execution.budget import (
    check_available_now,
    check_batches,
    check_daily_size,
    check_memory,
    estimate_memory,
    select_daily,
)
from sim.execution.executors import (
    RECYCLE_AFTER,
    default_workers,
    executor_for,
    scheduler_address,
)
from sim.execution.outdir import (  # noqa: F401  (prepare_out_dir: sweep, compare)
    STRICT_KEYS,
    prepare_out_dir,
    release_folder,
    remove_parts,
    writing_results,
)
from sim.execution.storage import (
    Staging,
    atomic_write_bytes,
    columns_to_table,
    daily_table,
    levels_table,
    part_path,
    paths_table,
    read_runs,
    trajectory_table_from,
    write_json,
    write_parquet,
)
from sim.execution.trajectories import TrajectoryHistogram, ensemble_edges
from sim.scenario.loader import LoadedScenario
from sim.world import compile_scenario, series_names

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS = 5.0
MAX_ATTEMPTS = 3


@dataclass
class EnsembleResult:
    """What an ensemble produced (also written to ``out_dir``)."""

    outcomes: list[dict]
    indicators: list[dict]
    manifest: dict
    out_dir: Path | None
    series: list[str] = field(default_factory=list)
    trajectory: np.ndarray | None = None  # every run's daily values (in-memory runs only)
    _columns: dict[str, np.ndarray] | None = None
    daily_series: list[str] = field(default_factory=list)  # ``--daily``'s series, or none
    _daily: pa.Table | None = None

    @property
    def daily(self) -> pa.Table | None:
        """Every run's values of the ``daily`` series, per day (``daily.parquet``), or None.

        Columns run, day, date and one per series; one row per run and day.
        """
        if self._daily is None and self.daily_series and self.out_dir is not None:
            from sim.execution.storage import read_table

            self._daily = read_table(self.out_dir / "daily.parquet")
        return self._daily

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """One array per column of the runs table (read from ``runs.parquet`` if on disk)."""
        if self._columns is None and self.out_dir is not None:
            self._columns = read_runs(self.out_dir / "runs.parquet")
        return self._columns


class _Checkpoint:
    """Which batches are safely summarised, and the trajectory summary that includes them."""

    def __init__(self, out_dir: Path | None, histogram: TrajectoryHistogram) -> None:
        self.out_dir = out_dir
        self.histogram = histogram
        self.included: set[int] = set()
        self.saved_at = time.monotonic()

    def load(self) -> None:
        if self.out_dir is None:
            return
        state, data = self.out_dir / "parts" / "checkpoint.json", self.out_dir / "parts" / \
            "trajectory.npz"
        if state.exists() and data.exists():
            try:
                saved = json.loads(state.read_text())
                self.histogram.load(data)
                included = {int(x) for x in saved["included"]}
                runs = saved["runs"]
            except Exception:  # a damaged checkpoint: its batches are simply run again
                log.warning("checkpoint in %s/parts unreadable; summarising afresh", self.out_dir)
                included, runs = set(), -1
            on_disk = {int(p.name.split("-")[1]) for p in (self.out_dir / "parts")
                       .glob("runs-*.parquet")}
            if self.histogram.n == runs and included <= on_disk:
                self.included = included
            else:  # torn between its files, or listing parts that are gone: start afresh
                self.histogram.__init__(self.histogram.series, self.histogram.days,
                                        self.histogram.edges)

    def save(self, force: bool = False) -> None:
        if self.out_dir is None:
            return
        if not force and time.monotonic() - self.saved_at < CHECKPOINT_SECONDS:
            return
        self.histogram.save(self.out_dir / "parts" / "trajectory.npz", sparse=True)
        write_json(self.out_dir / "parts" / "checkpoint.json",
                   {"included": sorted(self.included), "runs": self.histogram.n})
        self.saved_at = time.monotonic()


def run_ensemble(
    loaded: LoadedScenario,
    *,
    runs: int | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    scheduler: str | None = None,
    out_dir: Path | None = None,
    progress: bool = True,
    varied=None,
    daily=None,
) -> EnsembleResult:
    """Run ``runs`` replications of a scenario in lockstep batches.

    Args:
        loaded: The validated scenario (with overrides applied).
        runs: Number of replications (default: the scenario's ``run.runs``).
        seed: Ensemble seed (default: the scenario's ``run.seed``).
        batch_size: Replications per batch (default: the scenario's ``run.batch_size``).
        workers: Local worker processes (default: one per core).
        executor: Any ``concurrent.futures.Executor``.
        scheduler: Address of a Dask scheduler (``tcp://host:port``); else ``SIM_SCHEDULER``.
        out_dir: Where to write results (resumable); None keeps them in memory only.
        progress: Show a progress bar on a terminal.
        varied: Per-run values of uncertain assumptions (``sim run --uncertain`` or
            ``--posterior``: a ``sim.execution.variation.VariedSet`` for these runs).
        daily: Daily series (names or patterns, ``budget.select_daily``) whose every run's
            values are kept (``daily.parquet``; ``EnsembleResult.daily``); None: none, and
            the run is exactly as without the option. Refused when the table would not fit.

    Raises:
        RunInterruptedError: On Ctrl-C, after saving finished batches.
    """
    spec = loaded.spec
    runs = spec.run.runs if runs is None else runs
    seed = spec.run.seed if seed is None else seed
    batch_size = spec.run.batch_size if batch_size is None else batch_size
    if runs < 1:
        raise UsageError(f"--runs must be at least 1, not {runs}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
    check_batches(runs, batch_size)
    layout = compile_scenario(spec).layout
    local = executor is None and scheduler_address(scheduler) is None
    # workers beyond the batches never start: they hold no memory
    estimate = estimate_memory(spec, layout, min(batch_size, runs),
                               min((workers or default_workers()) if local else 1,
                                   -(-runs // batch_size)),
                               kept_runs=runs if out_dir is None else 0)
    check_memory(estimate)
    batches = plan_batches(runs, batch_size)
    names = series_names(layout)
    daily_names = select_daily(names, daily) if daily is not None else []
    if daily_names:
        from sim.execution.storage import _table_budget

        check_daily_size(runs, layout.days + 1, len(daily_names), _table_budget())
    digest = loaded.digest()
    mode = varied.mode if varied is not None else "point"
    if out_dir is not None:
        identity = digest
        if varied is not None:  # other draws are another experiment, never mixed in
            import hashlib

            identity = hashlib.sha256(digest.encode() + varied.values.tobytes()).hexdigest()
        claim = {"kind": "run" if mode == "point" else f"run-{mode}",
                 "scenario_sha256": identity, "seed": seed, "runs": runs,
                 "batch_size": batch_size}
        if daily_names:  # saved batches without them cannot be resumed with them
            claim["daily"] = daily_names
        prepare_out_dir(out_dir, claim)
    try:  # the big arrays come next: refused, not a MemoryError
        check_available_now(estimate)
        try:
            histogram = TrajectoryHistogram(names, layout.days + 1,
                                            ensemble_edges(spec, layout))
        except MemoryError:
            raise UsageError(f"this run needs {estimate.describe()}, more than could be "
                             "allocated; use fewer actors, fewer run.days, or fewer --workers"
                             ) from None
    except UsageError:
        if out_dir is not None:
            release_folder(out_dir)
        raise
    checkpoint = _Checkpoint(out_dir, histogram)
    checkpoint.load()
    tasks = [BatchTask(scenario=loaded.data, digest=digest, seed=seed, start=a, stop=b,
                       sample_paths=spec.run.sample_paths, binned=out_dir is not None,
                       varied=varied.task_field(a, b) if varied is not None else (),
                       daily=tuple(names.index(n) for n in daily_names))
             for a, b in batches]
    in_memory: dict[int, BatchResult] = {}

    def keep(result: BatchResult) -> None:
        if out_dir is None:
            in_memory[result.start] = result
        elif result.paths_runs.size:
            tmp = out_dir / "parts" / f".paths-{result.start:010d}.tmp.npz"
            try:
                np.savez(tmp, runs=result.paths_runs, paths=result.paths)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            os.replace(tmp, out_dir / "parts" / f"paths-{result.start:010d}.npz")
        if out_dir is not None and result.daily is not None:  # saved before it counts as done
            write_parquet(daily_part(out_dir, result.start), daily_table(
                daily_names, np.arange(result.start, result.stop), result.daily,
                spec.run.start))
        if result.counts is not None:
            histogram.add_counts(result.counts)
        else:
            histogram.add(result.trajectory)
        checkpoint.included.add(result.start)
        checkpoint.save()

    started = time.perf_counter()
    pending = [t for t in tasks if t.start not in checkpoint.included]
    with writing_results(out_dir, during_run=True):
        execute(pending, executor=executor, scheduler=scheduler, workers=workers,
                progress=progress, total=runs,
                done=runs - sum(t.stop - t.start for t in pending), out_dir=out_dir,
                on_result=keep)
        checkpoint.save(force=True)
    wall = time.perf_counter() - started
    manifest = {
        "package": "crisis-sim", "version": sim.__version__, "kind": "run",
        "scenario": str(loaded.path) if loaded.path else None, "scenario_name": spec.name,
        "scenario_sha256": digest, "overrides": loaded.overrides, "seed": seed, "runs": runs,
        "batch_size": batch_size, "batches": len(batches), "resumed_batches":
        len(tasks) - len(pending),
        "executor": _executor_name(executor, scheduler, workers),
        "workers": workers or default_workers(), "wall_seconds": round(wall, 3),
        "runs_per_second": round(len(pending) and sum(t.stop - t.start for t in pending)
                                 / wall, 1) if wall > 0 else None,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "numpy": np.__version__,
        "command": " ".join(sys.argv), "mode": mode,
    }
    if varied is not None:
        manifest["varied"] = varied.describe
    if daily_names:  # (absent otherwise: a default run's manifest is as it was)
        manifest["daily"] = daily_names
    # which pooled posterior scaled the library's generic constants (None: none did)
    manifest["pooled_posterior"] = varied.pooled if varied is not None else None
    if out_dir is None:
        ordered = [in_memory[a] for a, _ in batches]
        columns = {name: np.concatenate([r.columns[name] for r in ordered])
                   for name in ordered[0].columns}
        trajectory = np.concatenate([r.trajectory for r in ordered], axis=1)
        kept = None
        if daily_names:
            kept = daily_table(daily_names, np.arange(runs), np.concatenate(
                [r.daily for r in ordered], axis=1), spec.run.start)
        return EnsembleResult(outcomes=outcome_table(columns),
                              indicators=indicator_summary(columns), manifest=manifest,
                              out_dir=None, series=names, trajectory=trajectory,
                              _columns=columns, daily_series=daily_names, _daily=kept)
    return write_results(loaded, out_dir, batches, histogram, manifest, names, daily_names)


def _executor_name(executor: Executor | None, scheduler: str | None, workers: int | None) -> str:
    if executor is not None:
        return type(executor).__name__
    address = scheduler or os.environ.get("SIM_SCHEDULER")
    return f"dask {address}" if address else f"local pool ({workers or default_workers()})"


def execute(tasks: list[BatchTask], *, executor: Executor | None, workers: int | None,
            progress: bool, total: int, out_dir: Path | None, done: int = 0,
            scheduler: str | None = None, on_result=None) -> None:
    """Run batch tasks on an executor; save each batch's rows the moment it finishes.

    A batch whose worker process died (a broken local pool) is retried on a fresh pool, up
    to ``MAX_ATTEMPTS`` times; Dask reschedules lost work itself.

    Raises:
        RunInterruptedError: On Ctrl-C, after cancelling what had not started.
    """
    if not tasks:
        return
    attempts = dict.fromkeys((t.start for t in tasks), 0)
    remaining = {t.start: t for t in tasks}
    bar = _progress_bar(total, progress, done)
    finished = 0
    try:
        while remaining:
            own = executor is None
            # one batch gains nothing from a pool but pays for starting it
            runner, close = (executor, None) if executor is not None else executor_for(
                scheduler, 1 if len(remaining) == 1 and not scheduler else workers)
            # a bounded window of batches in flight: finished results are stored and dropped
            # as they come, so memory does not grow with the number of batches
            window = max(4, 2 * (workers or default_workers()))
            # a local pool is replaced after RECYCLE_AFTER batches per worker: long-lived
            # workers' memory creeps up batch after batch, fresh ones start small again
            budget = (RECYCLE_AFTER * (workers or default_workers())
                      if own and scheduler_address(scheduler) is None
                      else len(remaining))
            queue = list(remaining.values())
            in_flight: dict[Future, BatchTask] = {}
            broken = False
            submitted = 0
            try:
                while queue or in_flight:
                    while queue and len(in_flight) < window and not broken and (
                            submitted < budget):
                        task = queue.pop(0)
                        in_flight[runner.submit(run_batch, task)] = task
                        submitted += 1
                    if not in_flight:
                        break
                    ready, _ = wait(set(in_flight), return_when=FIRST_COMPLETED)
                    for future in ready:
                        task = in_flight.pop(future)
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            broken = True  # resubmit what is left on a fresh pool
                            attempts[task.start] += 1
                            if attempts[task.start] >= MAX_ATTEMPTS:
                                raise SimError(f"batch {task.start}..{task.stop} failed "
                                               f"{MAX_ATTEMPTS} times: its worker process "
                                               "died each time") from None
                            log.warning("worker died during batch %s; retrying", task.start)
                            continue
                        if out_dir is not None:
                            write_parquet(part_path(out_dir, result.start, result.stop),
                                          columns_to_table(result.columns))
                        if on_result is not None:
                            on_result(result)
                        del remaining[task.start]
                        finished += 1
                        bar.update(result.stop - result.start)
                        del result
                    if (broken or submitted >= budget) and not in_flight:
                        break  # the next round of the outer loop starts a fresh pool
            except KeyboardInterrupt:
                for future in in_flight:
                    future.cancel()
                if own and close is not None:
                    close(cancel=True)
                    close = None
                raise RunInterruptedError(finished, len(tasks), out_dir) from None
            finally:
                if own and close is not None:
                    close(cancel=False)
    finally:
        bar.close()


def daily_part(out_dir: Path, start: int) -> Path:
    """Where a batch's ``--daily`` series are kept until the run is assembled."""
    return out_dir / "parts" / f"daily-{start:010d}.parquet"


def write_results(loaded: LoadedScenario, out: Path, batches: list[tuple[int, int]],
                  histogram: TrajectoryHistogram, manifest: dict, names: list[str],
                  daily_names: list[str] | None = None) -> EnsembleResult:
    """Assemble the outputs from the parts, streaming; then remove the parts."""
    start = loaded.spec.run.start
    with writing_results(out), Staging() as stage:  # all files replaced together, or none
        runs_file = stage.path(out / "runs.parquet")
        write_concatenated(runs_file, (pq.read_table(part_path(out, a, b)) for a, b in batches))
        outcomes, indicators = summarise_runs(runs_file)
        write_parquet(stage.path(out / "trajectories.parquet"), trajectory_table_from(
            names, histogram.quantiles(), histogram.means(), start))
        write_parquet(stage.path(out / "levels.parquet"),
                      levels_table(names, histogram.level_shares(), start))
        path_files = sorted((out / "parts").glob("paths-*.npz"))
        if path_files:
            parts = [np.load(f) for f in path_files]
            write_parquet(stage.path(out / "paths.parquet"), paths_table(
                names, np.concatenate([p["runs"] for p in parts]),
                np.concatenate([p["paths"] for p in parts], axis=1), start))
        if daily_names:  # a batch's table at a time, as runs.parquet
            write_concatenated(stage.path(out / "daily.parquet"),
                               (pq.read_table(daily_part(out, a)) for a, _ in batches))
        write_json(stage.path(out / "summary.json"),
                   {"outcomes": outcomes, "indicators": indicators,
                    "runs": manifest["runs"], "seed": manifest["seed"]})
        write_scenario_files(out, loaded, "The scenario exactly as run (extends and --set "
                             "overrides applied).", stage)
        write_json(stage.path(out / "manifest.json"), manifest)
    if not daily_names:  # an earlier run's series would sit beside runs they are not of
        (out / "daily.parquet").unlink(missing_ok=True)
    remove_parts(out)
    release_folder(out)
    return EnsembleResult(outcomes=outcomes, indicators=indicators, manifest=manifest,
                          out_dir=out, series=names, daily_series=list(daily_names or []))


def write_concatenated(path: Path, tables) -> None:
    """One Parquet file of ``tables``, in row groups of ``ROW_GROUP`` rows, written safely.

    Tables come one batch each; written as they come, a million runs in batches of 1,000
    made a thousand row groups, whose metadata (kept for every row group and column) a reader
    parses in whole: 150 MB of a summary's memory. At most ``ROW_GROUP`` rows are held. The
    file is written to a temporary name, then renamed.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    writer, held, rows = None, [], 0
    try:
        for table in tables:
            held.append(table)
            rows += table.num_rows
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            if rows >= ROW_GROUP:
                writer.write_table(pa.concat_tables(held), row_group_size=ROW_GROUP)
                held, rows = [], 0
        if held:
            writer.write_table(pa.concat_tables(held), row_group_size=ROW_GROUP)
        writer.close()
    except BaseException:  # a full disk: give the partial file's space back
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


ROW_GROUP = 16_384


def summarise_runs(path: Path) -> tuple[list[dict], list[dict]]:
    """Outcome table and indicator quantiles, reading a few columns at a time (bounded)."""
    outcomes, indicators = [], []
    for name, values in read_columns(path):
        if name == "run":
            continue
        if name.startswith("outcome."):
            outcomes += outcome_table({name: values})
        else:
            indicators += indicator_summary({name: values})
    return outcomes, indicators


def read_columns(path: Path):
    """``(name, values)`` of every column of a Parquet table, read a few columns at a time.

    Each read holds at most ``VALUES_PER_READ`` values (16 MB), so a million-row table is read
    two columns at a time and a small one in a single read.
    """
    table_file = pq.ParquetFile(path)  # its metadata is parsed once, not once per read
    rows = table_file.metadata.num_rows
    names = table_file.schema_arrow.names
    per_read = max(1, VALUES_PER_READ // max(rows, 1))
    for first in range(0, len(names), per_read):
        chunk = names[first:first + per_read]
        table = table_file.read(columns=chunk)
        for name in chunk:
            yield name, table.column(name).to_numpy(zero_copy_only=False)
        del table
        pa.default_memory_pool().release_unused()  # give the read's memory back at once


VALUES_PER_READ = 2_000_000


def write_scenario_files(out: Path, loaded: LoadedScenario, header: str,
                         stage: Staging | None = None) -> None:
    """``scenario.resolved.yaml`` (the data as run) and ``provenance.json`` (for reports).

    Args:
        out: The results folder.
        loaded: The scenario as run.
        header: The YAML file's first comment line.
        stage: Write them as part of this staged result (else each is replaced at once).
    """
    def target(path: Path) -> Path:
        return stage.path(path) if stage is not None else path

    rows = [{"path": path, "value": value, "kind": note.kind if note else None,
             "note": note.text if note else None,
             **({"assumption": note.assumption} if note and note.assumption else {})}
            for path, value, note in loaded.provenance()]
    write_json(target(out / "provenance.json"), rows)
    resolved = json.loads(json.dumps(loaded.data, default=str))
    atomic_write_bytes(target(out / "scenario.resolved.yaml"), (
        f"# {header}\n" + yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
    ).encode())


def _progress_bar(total: int, enabled: bool, done: int = 0):
    """A bar on a terminal (none when output is not one), a widget in Jupyter (tqdm.auto)."""
    from tqdm.auto import tqdm

    if tqdm.__module__ == "tqdm.notebook":  # the widget shows whatever sys.stderr is
        return tqdm(total=total, initial=done, unit="run", desc="runs", disable=not enabled)
    return tqdm(total=total, initial=done, unit="run", desc="runs",
                disable=None if enabled else True, file=sys.stderr, smoothing=0.1)
