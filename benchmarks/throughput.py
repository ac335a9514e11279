"""Throughput of the baseline: lockstep batches vs one replication at a time vs mesa.batch_run.

Run: ``.venv/bin/python benchmarks/throughput.py``

All three step the same model on the same scenario in this process, one after the other:

* lockstep: ``CrisisModel`` with R replications at once (batches of ``--batch``);
* one at a time: the same model with R = 1 per run (a model per run, as ``mesa.batch_run``
  builds them), called directly;
* ``mesa.batch_run``: Mesa's own batch runner, one process, with its data collection.

The ratios are printed side by side. Goal (issues #2 and #4): lockstep >= 30x one at a time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import mesa
import numpy as np

from sim.model import CrisisModel
from sim.scenario.loader import load_scenario
from sim.world import compile_scenario

ROOT = Path(__file__).resolve().parents[1]


def one_at_a_time(loaded, world, runs: int, seed: int) -> float:
    started = time.perf_counter()
    for k in range(runs):
        CrisisModel(loaded, world=world, replications=np.array([k]), seed=seed,
                    record_paths=False).run()
    return runs / (time.perf_counter() - started)


def lockstep(loaded, world, runs: int, batch: int, seed: int) -> float:
    started = time.perf_counter()
    for start in range(0, runs, batch):
        reps = np.arange(start, min(start + batch, runs))
        CrisisModel(loaded, world=world, replications=reps, seed=seed).run()
    return runs / (time.perf_counter() - started)


def with_batch_run(path: Path, runs: int) -> float:
    started = time.perf_counter()
    mesa.batch_run(CrisisModel, parameters={"scenario": str(path)}, rng=list(range(runs)),
                   max_steps=10_000, number_processes=1, display_progress=False)
    return runs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "idlib_2020.yaml")
    parser.add_argument("--single-runs", type=int, default=30)
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    loaded = load_scenario(args.scenario)
    world = compile_scenario(loaded.spec)
    lockstep(loaded, world, 100, 100, 1)  # warm-up (imports, compiled code of both paths)
    one_at_a_time(loaded, world, 2, 1)
    single = one_at_a_time(loaded, world, args.single_runs, 1)
    batch_run = with_batch_run(args.scenario, args.single_runs)
    batched = lockstep(loaded, world, args.runs, args.batch, 1)
    print(f"scenario: {loaded.spec.name} ({loaded.spec.run.days} days), one core")
    print(f"mesa.batch_run (R = 1 per model):  {batch_run:8.1f} runs/s  ({args.single_runs} runs)")
    print(f"one replication at a time (R = 1): {single:8.1f} runs/s  ({args.single_runs} runs)")
    print(f"lockstep batches of {args.batch:<5}:     {batched:8.1f} runs/s  ({args.runs} runs)")
    print(f"ratio lockstep / one-at-a-time:    {batched / single:8.1f}x  (goal: >= 30x)")
    print(f"ratio lockstep / mesa.batch_run:   {batched / batch_run:8.1f}x")


if __name__ == "__main__":
    main()
