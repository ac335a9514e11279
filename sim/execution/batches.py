"""Batches: the unit of work an executor runs, and the pure function that runs one.

A batch is a contiguous range of replication indices of one scenario and seed. Because every
random number is keyed by (seed, replication, day, stream), a batch's rows do not depend on
how the ensemble was cut into batches, nor on which worker ran it.

This module knows how to build and step a model and collect its rows; it knows nothing of
actors or places (those are in the scenario data it is handed).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import UsageError
from sim.execution.binning import BatchCounts, Binning
from sim.execution.trajectories import ensemble_edges
from sim.execution.variation import frozen_data, varied_columns, varied_params
from sim.scenario.loader import LoadedScenario, load_data
from sim.world import Params, World, compile_scenario, series_names

if TYPE_CHECKING:
    from sim.model import CrisisModel


@dataclass(frozen=True)
class BatchTask:
    """One batch of replications to run.

    Attributes:
        scenario: Resolved scenario data (plain, picklable; overrides already applied).
        digest: The scenario's digest (caches the compiled world per worker process).
        seed: Ensemble seed.
        start: First replication index (inclusive).
        stop: Last replication index (exclusive).
        sample_paths: Replications with index below this keep their full daily paths.
        reps: For a sweep, replications per design point (0: a plain ensemble). Run ``i`` is
            then point ``i // reps``, replication ``i % reps``; the replication number keys
            the random numbers, so every point shares common random numbers.
        points: For a sweep, ``(point, ((path, value), ...))`` for the points in this batch.
        binned: Return the daily series as counts for the trajectory histogram instead of
            every value (an ensemble written to disk needs only the histogram).
        varied: For ``sim run --uncertain`` / ``--posterior``: per-run values of some scenario
            paths (``sim.execution.variation.VariedSet.task_field``); run ``i`` keeps
            replication ``i``'s random numbers and gets its own parameter vector.
        daily: Indices (in ``series_names``) of the daily series every run returns whole
            (``sim run --daily``); empty: none.
    """

    scenario: dict
    digest: str
    seed: int
    start: int
    stop: int
    sample_paths: int = 0
    reps: int = 0
    points: tuple = ()
    binned: bool = False
    varied: tuple = ()
    daily: tuple = ()


@dataclass
class BatchResult:
    """Rows and daily series of one batch.

    Attributes:
        start: First replication index.
        stop: Last replication index (exclusive).
        columns: Column name -> ``(stop - start,)`` array (``run``, ``outcome.*``, indicators).
        trajectory: ``(days + 1, stop - start, S)`` float32 daily values of every series.
        series: Names of the S series.
        paths_runs: Replication indices whose full paths are in ``paths``.
        paths: ``(days + 1, len(paths_runs), S)`` float32.
        counts: With ``binned`` tasks, instead of ``trajectory``: the batch's part of the
            trajectory histogram (``Binning.count``).
        daily: ``(days + 1, stop - start, len(task.daily))`` float32: every run's values of
            the task's ``daily`` series; None without them.
    """

    start: int
    stop: int
    columns: dict[str, np.ndarray]
    trajectory: np.ndarray | None
    series: list[str]
    paths_runs: np.ndarray
    paths: np.ndarray | None
    counts: BatchCounts | None = None
    daily: np.ndarray | None = None


def plan_batches(runs: int, batch_size: int, first: int = 0) -> list[tuple[int, int]]:
    """Cut replications ``first .. first + runs`` into ranges of at most ``batch_size``."""
    return [(s, min(s + batch_size, first + runs)) for s in range(first, first + runs,
                                                                   batch_size)]


@lru_cache(maxsize=256)
def _compiled(digest: str, frozen: str, overrides: tuple = ()) -> tuple[LoadedScenario, World]:
    """Validate and compile scenario data (with a design point's overrides), once per process."""
    import json

    loaded = load_data(json.loads(frozen), [f"{path}={value}" for path, value in overrides])
    return loaded, compile_scenario(loaded.spec)


def _frozen(task: BatchTask) -> str:
    return frozen_data(task.scenario)


def prepare(task: BatchTask) -> tuple[LoadedScenario, World]:
    """The task's scenario, validated and compiled once per process (cached by digest)."""
    return _compiled(task.digest, _frozen(task))


def collect_rows(model: CrisisModel, loaded: LoadedScenario) -> dict[str, np.ndarray]:
    """The ``runs`` table columns of a finished model: run, outcome flags, indicators."""
    from sim.outcomes import evaluate_outcomes, indicators

    values = indicators(model)
    flags = evaluate_outcomes(loaded.spec, values)
    columns: dict[str, np.ndarray] = {"run": model.replications.copy()}
    for name, flag in flags.items():
        columns[f"outcome.{name}"] = flag
    columns.update(values)
    return columns


def point_params(task: BatchTask, base: World, point: int) -> Params:
    """Parameters of one design point, checked to leave the model's structure unchanged."""
    import pickle

    overrides = dict(task.points)[point]
    _, world = _compiled(task.digest, _frozen(task), overrides)
    if pickle.dumps(world.layout) != pickle.dumps(base.layout):
        paths = ", ".join(path for path, _ in overrides)
        raise UsageError(f"sweeping {paths} changes the model's structure (menus, timeline, "
                         "calendar); only values that are parameters can be swept")
    return world.params


def run_batch(task: BatchTask) -> BatchResult:
    """Run one batch in lockstep and return its rows (and daily series for ensembles).

    The model is imported here, not with this module: the process that plans a run and
    submits its batches to workers imports this module (to name ``run_batch``) but steps no
    model, and Mesa's import (pandas, scipy, networkx) costs it a second.
    """
    from sim.model import CrisisModel

    loaded, world = prepare(task)
    rows = np.arange(task.start, task.stop)
    if task.reps:
        point, rep = rows // task.reps, rows % task.reps
        order = list(dict.fromkeys(point.tolist()))
        params = Params.stack([point_params(task, world, k) for k in order],
                              [int((point == k).sum()) for k in order])
        model = CrisisModel(loaded, world=world, replications=rep, seed=task.seed,
                            params=params, record_paths=False)
    else:
        params = None
        if task.varied:  # uncertain values: one parameter vector per run
            params = varied_params(task.varied, task.scenario, _frozen(task))
        model = CrisisModel(loaded, world=world, replications=rows, seed=task.seed,
                            params=params,
                            trajectory=_trajectory_buffer(world, rows.size) if task.binned
                            else None)
    model.run()
    columns = collect_rows(model, loaded)
    columns["run"] = rows
    if task.varied:
        columns.update(varied_columns(task.varied))
    if task.reps:
        values = dict(task.points)
        columns = {"run": rows, "point": point, "rep": rep,
                   **{f"param.{path}": np.array([dict(values[k])[path] for k in point])
                      for path, _ in task.points[0][1]},
                   **{k: v for k, v in columns.items() if k != "run"}}
        return BatchResult(start=task.start, stop=task.stop, columns=columns, trajectory=None,
                           series=model.series_names, paths_runs=rows[:0], paths=None)
    keep = rows < task.sample_paths
    result = BatchResult(
        start=task.start, stop=task.stop, columns=columns,
        trajectory=model.trajectory, series=model.series_names,
        paths_runs=rows[keep], paths=model.trajectory[:, keep],
    )
    if task.daily:  # a copy: a binned batch's trajectory is a buffer the next batch reuses
        result.daily = np.ascontiguousarray(model.trajectory[:, :, list(task.daily)])
    if task.binned:
        result.counts = _binning(task).count(model.trajectory)
        result.trajectory = None
    return result


_buffers = threading.local()


def _trajectory_buffer(world: World, runs: int) -> np.ndarray:
    """A float32 trajectory array for a batch, reused by the batches a thread runs.

    Only for binned batches, whose trajectory never leaves the worker: a fresh array of
    50 MB would be paid for in page faults on its first writes, batch after batch. One per
    thread, because a Dask worker may run batches in several threads at once.
    """
    shape = (world.layout.days + 1, runs, len(series_names(world.layout)))
    buffer = getattr(_buffers, "trajectory", None)
    if buffer is None or buffer.shape != shape:
        buffer = _buffers.trajectory = np.empty(shape, dtype=np.float32)
    return buffer


@lru_cache(maxsize=16)
def _binning_for(digest: str, frozen: str) -> Binning:
    loaded, world = _compiled(digest, frozen)
    return Binning(ensemble_edges(loaded.spec, world.layout), world.layout.days + 1)


def _binning(task: BatchTask) -> Binning:
    """The trajectory histogram's bins for the task's scenario, made once per process."""
    return _binning_for(task.digest, _frozen(task))
