"""Run an ensemble: plan batches, submit them to an executor, store what comes back.

The flow is one way: a ``LoadedScenario`` and run settings go in; ``runs.parquet``,
trajectory tables, ``summary.json``, ``manifest.json`` and the resolved scenario come out.
Batch rows are written to ``parts/`` the moment each batch finishes, so an interruption
loses at most the batches still running.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

import sim
from sim.analysis import indicator_summary, outcome_table
from sim.errors import UsageError
from sim.execution.batches import BatchResult, BatchTask, plan_batches, run_batch
from sim.execution.executors import default_workers, local_executor
from sim.execution.storage import (
    columns_to_table,
    part_path,
    paths_table,
    trajectory_table,
    write_json,
    write_parquet,
)
from sim.scenario.loader import LoadedScenario

log = logging.getLogger(__name__)


@dataclass
class EnsembleResult:
    """What an ensemble produced (also written to ``out_dir``)."""

    columns: dict[str, np.ndarray]
    outcomes: list[dict]
    indicators: list[dict]
    manifest: dict
    out_dir: Path | None
    series: list[str] = field(default_factory=list)
    trajectory: np.ndarray | None = None


class RunInterruptedError(Exception):
    """The ensemble was stopped (Ctrl-C); finished batches are on disk."""

    def __init__(self, done: int, total: int, out_dir: Path | None) -> None:
        self.done, self.total, self.out_dir = done, total, out_dir
        super().__init__(f"interrupted after {done} of {total} batches")


def prepare_out_dir(out_dir: Path, identity: dict | None = None) -> None:
    """Create the output folder (and ``parts/``) or explain why it cannot be used.

    Args:
        out_dir: The folder.
        identity: What is about to be written there (kind, scenario digest, seed). A folder
            that already holds results of something else is refused, never mixed or
            silently overwritten; results of the same scenario and seed are replaced.
    """
    if identity is not None:
        claim = out_dir / ".identity.json"
        if claim.exists():
            try:
                held = json.loads(claim.read_text())
            except (OSError, ValueError):
                held = {}
            different = {k: (held.get(k), v) for k, v in identity.items() if held.get(k) != v}
            if different:
                what = ", ".join(f"{k} {a!r} (now {b!r})" for k, (a, b) in different.items())
                raise UsageError(f"{out_dir} holds results of another run: {what}; choose "
                                 "another --out, or delete that folder first")
    try:
        (out_dir / "parts").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    probe = out_dir / ".write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"output folder {out_dir} is not writable: {exc.strerror}") from None
    if identity is not None:
        write_json(out_dir / ".identity.json", identity)


def run_ensemble(
    loaded: LoadedScenario,
    *,
    runs: int | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    out_dir: Path | None = None,
    progress: bool = True,
) -> EnsembleResult:
    """Run ``runs`` replications of a scenario in lockstep batches.

    Args:
        loaded: The validated scenario (with overrides applied).
        runs: Number of replications (default: the scenario's ``run.runs``).
        seed: Ensemble seed (default: the scenario's ``run.seed``).
        batch_size: Replications per batch (default: the scenario's ``run.batch_size``).
        workers: Local worker processes (default: one per core); ignored with ``executor``.
        executor: Any ``concurrent.futures.Executor`` (a Dask client, say).
        out_dir: Where to write results; None keeps them in memory only.
        progress: Show a progress bar on a terminal.

    Returns:
        The rows, summaries and manifest.

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
    batches = plan_batches(runs, batch_size)
    digest = loaded.digest()
    if out_dir is not None:
        prepare_out_dir(out_dir, {"kind": "run", "scenario_sha256": digest, "seed": seed})
    tasks = [BatchTask(scenario=loaded.data, digest=digest, seed=seed, start=a, stop=b,
                       sample_paths=spec.run.sample_paths) for a, b in batches]
    started = time.perf_counter()
    results = execute(tasks, executor=executor, workers=workers, progress=progress,
                      total=runs, out_dir=out_dir)
    wall = time.perf_counter() - started
    workers_used = getattr(executor, "_max_workers", None) or (workers or default_workers())

    ordered = [results[a] for a, _ in batches]
    columns = {name: np.concatenate([r.columns[name] for r in ordered])
               for name in ordered[0].columns}
    series = ordered[0].series
    trajectory = np.concatenate([r.trajectory for r in ordered], axis=1)
    outcomes = outcome_table(columns)
    indicators = indicator_summary(columns)
    manifest = {
        "package": "crisis-sim", "version": sim.__version__,
        "scenario": str(loaded.path) if loaded.path else None, "scenario_name": spec.name,
        "scenario_sha256": digest, "overrides": loaded.overrides, "seed": seed, "runs": runs,
        "batch_size": batch_size, "batches": len(batches),
        "workers": workers_used, "wall_seconds": round(wall, 3),
        "runs_per_second": round(runs / wall, 1) if wall > 0 else None,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "numpy": np.__version__,
        "command": " ".join(sys.argv),
    }
    result = EnsembleResult(columns=columns, outcomes=outcomes, indicators=indicators,
                            manifest=manifest, out_dir=out_dir, series=series,
                            trajectory=trajectory)
    if out_dir is not None:
        write_results(result, loaded, ordered)
    return result


def execute(tasks: list[BatchTask], *, executor: Executor | None, workers: int | None,
            progress: bool, total: int, out_dir: Path | None) -> dict[int, BatchResult]:
    """Run batch tasks on an executor; save each batch's rows as it finishes.

    Returns:
        Results by batch start.

    Raises:
        RunInterruptedError: On Ctrl-C, after cancelling what had not started.
    """
    own_executor = executor is None
    # one batch gains nothing from a pool but pays for starting it
    executor = executor or local_executor(1 if len(tasks) == 1 else workers)
    results: dict[int, BatchResult] = {}
    bar = _progress_bar(total, progress)
    futures: dict[Future, BatchTask] = {}
    try:
        futures = {executor.submit(run_batch, task): task for task in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                results[result.start] = result
                if out_dir is not None:
                    write_parquet(part_path(out_dir, result.start, result.stop),
                                  columns_to_table(result.columns))
                bar.update(result.stop - result.start)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        if own_executor:
            executor.shutdown(wait=False, cancel_futures=True)
        raise RunInterruptedError(len(results), len(tasks), out_dir) from None
    finally:
        bar.close()
    if own_executor:
        executor.shutdown()
    return results


def write_results(result: EnsembleResult, loaded: LoadedScenario,
                  ordered: list[BatchResult]) -> None:
    """Write the assembled tables, summaries and the resolved scenario into ``out_dir``."""
    out = result.out_dir
    start = loaded.spec.run.start
    write_parquet(out / "runs.parquet", columns_to_table(result.columns))
    write_parquet(out / "trajectories.parquet",
                  trajectory_table(result.series, result.trajectory, start))
    runs = np.concatenate([r.paths_runs for r in ordered])
    paths = np.concatenate([r.paths for r in ordered], axis=1)
    if runs.size:
        write_parquet(out / "paths.parquet", paths_table(result.series, runs, paths, start))
    write_json(out / "summary.json", {"outcomes": result.outcomes,
                                      "indicators": result.indicators,
                                      "runs": result.manifest["runs"],
                                      "seed": result.manifest["seed"]})
    write_json(out / "manifest.json", result.manifest)
    write_json(out / "provenance.json", provenance_rows(loaded))
    resolved = json.loads(json.dumps(loaded.data, default=str))
    (out / "scenario.resolved.yaml").write_text(
        "# The scenario exactly as run (extends and --set overrides applied).\n"
        + yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    for part in (out / "parts").glob("runs-*.parquet"):
        part.unlink()


def provenance_rows(loaded: LoadedScenario) -> list[dict]:
    """Every value of the scenario with its source quote or assumption (for reports)."""
    return [{"path": path, "value": value, "kind": note.kind if note else None,
             "note": note.text if note else None} for path, value, note in loaded.provenance()]


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="run", desc="runs", disable=None if enabled else True,
                file=sys.stderr, smoothing=0.1)


__all__ = ["EnsembleResult", "RunInterruptedError", "run_ensemble"]
