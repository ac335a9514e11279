"""Parallel efficiency of the local process pool: 1 worker vs 2 workers, side by side.

Run: ``.venv/bin/python benchmarks/scaling.py [--runs N]``

Both runs go through ``run_ensemble`` (the same path as ``sim run``) with an output folder,
so they include writing parts and assembling the tables. Efficiency = speed-up / workers.
Goal (issue #4): 80% or more on this 2-core machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.execution.ensemble import run_ensemble
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def timed(loaded, runs: int, workers: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run_ensemble(loaded, runs=runs, seed=1, workers=workers, batch_size=batch,
                     out_dir=Path(tmp) / "out", progress=False)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    loaded = load_scenario(ROOT / "scenarios" / "idlib_2020.yaml")
    one = timed(loaded, args.runs, 1, args.batch)
    two = timed(loaded, args.runs, 2, args.batch)
    print(f"{args.runs} runs of the baseline, batches of {args.batch}")
    print(f"1 worker:  {one:6.1f} s  {args.runs / one:7.1f} runs/s")
    print(f"2 workers: {two:6.1f} s  {args.runs / two:7.1f} runs/s")
    print(f"speed-up {one / two:.2f}x, parallel efficiency {one / two / 2:.0%} (goal: >= 80%)")


if __name__ == "__main__":
    main()
