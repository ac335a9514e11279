"""Replay one replication of an ensemble alone, with its full daily trajectory and event log.

Because random numbers are keyed by (seed, replication, day, stream), replaying replication K
with R = 1 gives exactly the values it had inside any batch of the ensemble.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv

from sim.errors import UsageError
from sim.execution.batches import collect_rows
from sim.execution.outdir import claim_replay_folder, read_json, release_folder
from sim.execution.storage import paths_table, read_runs, write_json, write_parquet
from sim.execution.variation import frozen_data, varied_columns, varied_params
from sim.model import CrisisModel
from sim.scenario.loader import LoadedScenario


@dataclass
class Replay:
    """One replayed run."""

    run: int
    row: dict[str, float | bool | int | None]
    log: list[tuple[int, str]]
    model: CrisisModel
    matches_ensemble: bool | None  # None when no ensemble table was there to compare


def replay(loaded: LoadedScenario, seed: int, run: int, out_dir: Path | None = None,
           runs: int | None = None, varied=None) -> Replay:
    """Re-run replication ``run`` alone and (optionally) write its trajectory and log.

    ``varied`` (a ``sim.execution.variation.VariedSet`` covering run ``run``): the run's own
    values of the uncertain assumptions, as its ensemble drew them; they depend only on the
    seed and the run's index, so a run drawn from priors replays exactly too.

    Writes into ``out_dir/replay-<run>/``: ``trajectory.parquet`` and ``trajectory.csv``
    (every series, every day), ``events.txt`` (choices and events in words) and ``row.json``.
    If ``out_dir/runs.parquet`` exists from the same scenario and seed, the replayed row is
    compared with row ``run`` there.

    Raises:
        UsageError: ``run`` is not below the ensemble's size (that folder's, else ``runs``,
            else the scenario's ``run.runs``), or ``out_dir`` holds an ensemble of another
            seed or scenario (before anything is computed or written).
    """
    if out_dir is not None:
        claim_replay_folder(out_dir, loaded.digest(), seed, run,
                            runs if runs is not None else loaded.spec.run.runs)
    params, field = None, None
    if varied is not None:
        field = varied.task_field(run, run + 1)
        params = varied_params(field, loaded.data, frozen_data(loaded.data))
    model = CrisisModel(loaded, replications=np.array([run]), seed=seed, log_events=True,
                        params=params)
    model.run()
    columns = collect_rows(model, loaded)
    if field is not None:
        columns.update(varied_columns(field))
    row = {name: _plain(values[0]) for name, values in columns.items()}
    matches = None
    if out_dir is not None:
        matches = _compare_with_ensemble(out_dir, loaded, seed, run, columns, varied)
        folder = out_dir / f"replay-{run}"
        folder.mkdir(parents=True, exist_ok=True)
        table = paths_table(model.series_names, np.array([run]), model.trajectory,
                            loaded.spec.run.start)
        write_parquet(folder / "trajectory.parquet", table)
        pyarrow.csv.write_csv(table, folder / "trajectory.csv")
        start = loaded.spec.run.start
        lines = [f"day {d:>3}  {text}" for d, text in model.log]
        (folder / "events.txt").write_text(
            f"# Replay of run {run}, seed {seed}, from {start} "
            f"to {start + dt.timedelta(days=model.days)}\n" + "\n".join(lines) + "\n")
        write_json(folder / "row.json", {"run": run, "seed": seed, "row": row,
                                         "matches_ensemble": matches})
        release_folder(out_dir)
    return Replay(run=run, row=row, log=model.log, model=model, matches_ensemble=matches)


def _compare_with_ensemble(out_dir: Path, loaded: LoadedScenario, seed: int, run: int,
                           columns: dict[str, np.ndarray], varied=None) -> bool | None:
    runs_file, manifest_file = out_dir / "runs.parquet", out_dir / "manifest.json"
    if not (runs_file.exists() and manifest_file.exists()):
        return None
    manifest = read_json(manifest_file)
    if not isinstance(manifest, dict) or manifest.get("scenario_sha256") != loaded.digest() \
            or manifest.get("seed") != seed:
        return None
    # an ensemble of other values (point against drawn, another posterior) is not this run's
    mode = varied.mode if varied is not None else "point"
    pooled = varied.pooled if varied is not None else None
    if manifest.get("mode", "point") != mode or manifest.get("pooled_posterior") != pooled \
            or (varied is not None and manifest.get("varied") != varied.describe):
        return None
    try:
        table = read_runs(runs_file)
        where = np.flatnonzero(table["run"] == run)
    except (OSError, KeyError, pa.ArrowException):
        raise UsageError(f"{runs_file} is damaged; run the ensemble again into a new "
                         "--out") from None
    if where.size != 1 or set(columns) - set(table):
        return None
    i = int(where[0])
    for name, values in columns.items():
        a, b = np.asarray(table[name][i], dtype=float), np.asarray(values[0], dtype=float)
        if not (a == b or (np.isnan(a) and np.isnan(b))):
            return False
    return True


def _plain(x) -> float | bool | int | None:
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    x = float(x)
    return None if np.isnan(x) else x
