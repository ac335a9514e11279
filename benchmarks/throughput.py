"""Throughput of the baseline: one replication at a time vs lockstep batches, side by side.

Run: ``.venv/bin/python benchmarks/throughput.py [--runs N] [--batch B]``

"One at a time" steps the same model with R = 1 per run, as ``mesa.batch_run`` would (one
model per run). "Lockstep" steps R replications at once. Both run in this process, one after
the other, on the same scenario and seeds, and the ratio of their runs per second is printed.
Issue #2's goal: lockstep at least 30 times faster.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "idlib_2020.yaml")
    parser.add_argument("--single-runs", type=int, default=40)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=250)
    args = parser.parse_args()
    loaded = load_scenario(args.scenario)
    world = compile_scenario(loaded.spec)
    lockstep(loaded, world, args.batch, args.batch, 1)  # warm-up (imports, caches)
    single = one_at_a_time(loaded, world, args.single_runs, 1)
    batched = lockstep(loaded, world, args.runs, args.batch, 1)
    print(f"scenario: {loaded.spec.name} ({loaded.spec.run.days} days)")
    print(f"one replication at a time (R = 1): {single:8.1f} runs/s  ({args.single_runs} runs)")
    print(f"lockstep batches of {args.batch:<5}:     {batched:8.1f} runs/s  ({args.runs} runs)")
    print(f"ratio lockstep / one-at-a-time:    {batched / single:8.1f}x  (goal: >= 30x)")


if __name__ == "__main__":
    main()
