"""Run a sweep: every design point's replications as per-replication parameter vectors.

Design points are not separate models: a batch covers a range of (point, replication) rows,
each point's parameters are compiled once and stacked along the replication axis, and the
whole batch is stepped in lockstep. Replication r of every point uses the random numbers of
replication r (common random numbers), so differences between points are not noise of the
draws.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import sim
from sim.analysis import wilson_interval
from sim.design import Design
from sim.errors import UsageError
from sim.execution.batches import BatchTask, plan_batches
from sim.execution.budget import check_batches
from sim.execution.ensemble import (
    execute,
    prepare_out_dir,
    read_columns,
    write_concatenated,
    write_scenario_files,
)
from sim.execution.executors import default_workers
from sim.execution.outdir import release_folder, remove_parts, writing_results
from sim.execution.storage import Staging, part_path, read_runs, write_json, write_parquet
from sim.execution.variation import check_parameters
from sim.scenario.loader import LoadedScenario


@dataclass
class SweepResult:
    """Rows of every run, the per-point summary and the design."""

    points: dict[str, np.ndarray]
    design: Design
    reps: int
    manifest: dict
    sensitivity: dict | None = None
    out_dir: Path | None = None
    _columns: dict[str, np.ndarray] | None = None

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """One array per column of the runs (read from ``sweep.parquet`` if on disk)."""
        if self._columns is None and self.out_dir is not None:
            self._columns = read_runs(self.out_dir / "sweep.parquet")
        return self._columns


def run_sweep(
    loaded: LoadedScenario, design: Design, *, reps: int, seed: int | None = None,
    batch_size: int | None = None, workers: int | None = None,
    executor: Executor | None = None, scheduler: str | None = None,
    out_dir: Path | None = None, progress: bool = True,
) -> SweepResult:
    """Run ``reps`` replications at every point of ``design``."""
    if reps < 1:
        raise UsageError(f"--reps must be at least 1, not {reps}")
    check_parameters(loaded, design)
    seed = loaded.spec.run.seed if seed is None else seed
    batch_size = batch_size or loaded.spec.run.batch_size
    runs = design.size * reps
    check_batches(runs, batch_size)
    digest = loaded.digest()
    resume = False
    if out_dir is not None:
        resume = prepare_out_dir(out_dir, {
            "kind": "sweep", "scenario_sha256": digest, "seed": seed, "design": design.kind,
            "parameters": [p.path for p in design.parameters],
            "points": design.points.round(12).tolist(), "reps": reps,
            "batch_size": batch_size})
    overrides = [tuple(design.overrides(k).items()) for k in range(design.size)]
    tasks = []
    for start, stop in sweep_batches(runs, batch_size):
        touched = range(start // reps, (stop - 1) // reps + 1)
        tasks.append(BatchTask(scenario=loaded.data, digest=digest, seed=seed, start=start,
                               stop=stop, reps=reps,
                               points=tuple((k, overrides[k]) for k in touched)))
    # validate every point up front, in this process: a bad value fails before any work
    # (about 20 ms a point: a bar says so for a large design, before the runs' bar)
    from tqdm.auto import tqdm

    from sim.scenario.loader import load_data

    shown = ({"disable": not progress} if tqdm.__module__ == "tqdm.notebook"  # a widget
             else {"disable": None if progress else True, "file": sys.stderr})
    with tqdm(total=design.size, unit="point", desc="checking points", leave=False,
              **shown) as bar:
        for k in range(design.size):
            load_data(loaded.data, [f"{path}={value}" for path, value in overrides[k]])
            bar.update()
    # with an output folder the rows stay in the batches' parts on disk (memory does not grow
    # with the runs); without one they are kept here
    results: dict[int, dict[str, np.ndarray]] = {}
    done = {t.start for t in tasks if resume and part_path(out_dir, t.start, t.stop).exists()}
    pending = [t for t in tasks if t.start not in done]
    started = time.perf_counter()
    keep = None if out_dir is not None else (lambda r: results.__setitem__(r.start, r.columns))
    with writing_results(out_dir, during_run=True):
        execute(pending, executor=executor, scheduler=scheduler, workers=workers,
                progress=progress, total=runs,
                done=runs - sum(t.stop - t.start for t in pending), out_dir=out_dir,
                on_result=keep)
    wall = time.perf_counter() - started
    simulated = sum(t.stop - t.start for t in pending)  # a resume's saved runs are not counted
    columns = None
    # every result file replaced together, or none (a full disk keeps the earlier sweep whole)
    with writing_results(out_dir), Staging() as stage:
        if out_dir is None:
            ordered = [results[t.start] for t in tasks]
            columns = {name: np.concatenate([r[name] for r in ordered]) for name in ordered[0]}
            points = point_summary(columns["point"], columns.items(), design)
        else:
            table = stage.path(out_dir / "sweep.parquet")
            write_concatenated(table, (pq.read_table(part_path(out_dir, t.start, t.stop))
                                       for t in tasks))
            points = point_summary(read_runs(table, ["point"])["point"], read_columns(table),
                                   design)
        manifest = {
            "package": "crisis-sim", "version": sim.__version__, "kind": "sweep",
            "scenario": str(loaded.path) if loaded.path else None,
            "scenario_name": loaded.spec.name, "scenario_sha256": digest,
            "overrides": loaded.overrides, "seed": seed, "design": design.kind,
            "points": design.size, "reps": reps, "runs": runs, "batch_size": batch_size,
            "parameters": [p.path for p in design.parameters],
            "workers": getattr(executor, "_max_workers", None) or (workers or default_workers()),
            "wall_seconds": round(wall, 3),
            "runs_per_second": round(simulated / wall, 1) if simulated and wall > 0 else None,
            "resumed_batches": len(tasks) - len(pending), "resumed_runs": runs - simulated,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(), "command": " ".join(sys.argv),
        }
        result = SweepResult(points=points, design=design, reps=reps, manifest=manifest,
                             out_dir=out_dir, _columns=columns)
        if design.kind in ("sobol", "morris"):
            from sim.sensitivity import analyse

            result.sensitivity = analyse(design, points)
        if out_dir is not None:
            write_sweep(result, loaded, out_dir, stage)
    if out_dir is not None:
        remove_parts(out_dir)
        release_folder(out_dir)
    return result


#: A sweep's first ``RAMP_BATCHES`` batches hold ``1 / RAMP_DIVISOR`` of the batch size, so
#: its progress bar moves within seconds (a full first batch, 500 runs over 25 design points,
#: kept it at zero for 12-17 s on two busy cores). Rows do not depend on the cut into batches.
RAMP_BATCHES, RAMP_DIVISOR = 2, 8


def sweep_batches(runs: int, batch_size: int) -> list[tuple[int, int]]:
    """A sweep's batches: ``RAMP_BATCHES`` small ones first, then ``batch_size`` each.

    A sweep of one batch stays one (it would start a process pool for nothing).
    """
    if runs <= batch_size:
        return plan_batches(runs, batch_size)
    small = -(-batch_size // RAMP_DIVISOR)
    plan: list[tuple[int, int]] = []
    start = 0
    while len(plan) < RAMP_BATCHES and start < runs and small < batch_size:
        plan.append((start, min(start + small, runs)))
        start = plan[-1][1]
    return plan + plan_batches(runs - start, batch_size, first=start)


def point_summary(point: np.ndarray, columns, design: Design) -> dict[str, np.ndarray]:
    """Per design point: parameter values, outcome probabilities with 95% intervals, means.

    Args:
        point: ``(runs,)`` the design point of every run.
        columns: ``(name, values)`` of the runs' columns, in any number (a streaming reader's
            chunks will do).
        design: The design.
    """
    order = np.argsort(point, kind="stable")
    counts = np.bincount(point, minlength=design.size)
    out: dict[str, np.ndarray] = {"point": np.arange(design.size), "runs": counts}
    for i, p in enumerate(design.parameters):
        out[f"param.{p.path}"] = design.points[:, i]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for name, values in columns:
        if name in ("run", "point", "rep") or name.startswith("param."):
            continue
        x = np.asarray(values, float)[order]
        if name.startswith("outcome."):
            k = np.add.reduceat(x, starts)
            out[name] = k / counts
            bounds = np.array([wilson_interval(int(a), int(n)) for a, n in zip(k, counts,
                                                                               strict=True)])
            out[f"{name}.low"], out[f"{name}.high"] = bounds[:, 0], bounds[:, 1]
        else:
            seen = ~np.isnan(x)
            sums = np.add.reduceat(np.where(seen, x, 0.0), starts)
            n_seen = np.add.reduceat(seen.astype(float), starts)
            out[f"mean.{name}"] = np.divide(sums, n_seen, out=np.full(design.size, np.nan),
                                            where=n_seen > 0)
    return out


def write_sweep(result: SweepResult, loaded: LoadedScenario, out_dir: Path,
                stage: Staging) -> None:
    """``points.parquet``, ``design.parquet`` and the JSONs, staged with ``sweep.parquet``."""
    write_parquet(stage.path(out_dir / "points.parquet"), pa.table(result.points))
    design = result.design
    table = {"point": np.arange(design.size)}
    table.update({p.path: design.points[:, i] for i, p in enumerate(design.parameters)})
    write_parquet(stage.path(out_dir / "design.parquet"), pa.table(table))
    write_json(stage.path(out_dir / "design.json"), {
        "kind": design.kind, "seed": design.seed, "points": design.size, "reps": result.reps,
        "options": design.options, "problem": design.problem(),
        "parameters": [{"path": p.path, "low": p.low, "high": p.high,
                        "levels": list(p.levels) if p.levels else None}
                       for p in design.parameters]})
    write_scenario_files(out_dir, loaded, "The base scenario of the sweep (each point "
                         "overrides the swept values).", stage)
    if result.sensitivity is not None:
        write_json(stage.path(out_dir / "sensitivity.json"), result.sensitivity)
    write_json(stage.path(out_dir / "manifest.json"), result.manifest)
