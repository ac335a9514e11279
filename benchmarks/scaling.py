"""Parallel efficiency of the local process pool: 1 worker vs 2 workers, side by side.

Run: ``.venv/bin/python benchmarks/scaling.py [--runs N]``

Both runs go through ``run_ensemble`` (the same path as ``sim run``) with an output folder,
so they include writing parts and assembling the tables. The server the local workers fork
from (it imports the model and loads its compiled code) is started once per process; its
start-up is timed first and printed on its own, since ``sim run`` overlaps it with its own
start-up. Efficiency = speed-up / workers. Goal (issue #4): 80% or more on this 2-core
machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.execution.ensemble import run_ensemble
from sim.execution.executors import start_local_server
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
    parser.add_argument("--runs", type=int, nargs="+", default=[16000, 64000])
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    loaded = load_scenario(ROOT / "scenarios" / "idlib_2020.yaml")
    timed(loaded, 10, 1, 10)  # load (or compile) the compiled code before timing anything
    started = time.perf_counter()
    start_local_server()
    timed(loaded, 4, 2, 2)  # the first pool waits for the server
    print(f"starting the workers' server and a first pool: {time.perf_counter() - started:.1f} s")
    for runs in args.runs:
        one = timed(loaded, runs, 1, args.batch)
        two = timed(loaded, runs, 2, args.batch)
        print(f"{runs} runs of the baseline, batches of {args.batch}")
        print(f"  1 worker:  {one:6.1f} s  {runs / one:7.1f} runs/s")
        print(f"  2 workers: {two:6.1f} s  {runs / two:7.1f} runs/s")
        print(f"  speed-up {one / two:.2f}x, parallel efficiency {one / two / 2:.0%} "
              "(goal: >= 80%)")


if __name__ == "__main__":
    main()
