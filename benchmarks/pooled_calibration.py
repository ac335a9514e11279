"""Wall time of ``sim calibrate --library``: >= 1e5 simulations over the library (goal: < 10 min).

Run: ``.venv/bin/python benchmarks/pooled_calibration.py [--simulations N] [--workers W]
[--out DIR] [--profile-runs R]``

Fits the library's generic constants (``scenarios/library/pooled_priors.yml``) on all its
crises at once, exactly as ``sim calibrate --library`` does (``sim.api.calibrate_library``),
on the local process pool (one worker per core by default), and prints the wall time, the
generations, the posterior against the prior, and the machine's load average before and after
(the machine is shared: wall time depends on what else runs).

Where the time goes: ``--profile-runs R`` (default 200) first simulates R runs of every crisis
in this process, one lockstep batch each, at the point values, and prints each crisis's CPU
time per run and its share of a pooled particle (every crisis once): the simulation cost the
pooled fit pays per particle, whatever the executor. Goal (issue 24): >= 1e5 simulations over
>= 15 crises in under 10 minutes on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "scenarios" / "library"


def profile(runs: int) -> float:
    """CPU seconds per run of each crisis (one batch of ``runs`` at the point values)."""
    from sim.model import CrisisModel
    from sim.outcomes import indicators
    from sim.validation.calibrate import build_target
    from sim.validation.observations import crisis_name, library_files, load_observations
    from sim.validation.pooled import crisis_distance
    from sim.world import compile_scenario

    rows = []
    for path in library_files(LIBRARY):
        target = build_target(load_observations(path))
        world = compile_scenario(target.scenario.spec)
        for n in (20, runs):  # the first batch loads the compiled code
            cpu = time.process_time()
            model = CrisisModel(target.scenario, world=world, replications=np.arange(n),
                                seed=1, record_paths=False)
            model.run()
            crisis_distance(target, indicators(model))
            cpu = time.process_time() - cpu
        rows.append((crisis_name(path), target.scenario.spec.run.days, cpu / runs))
    total = sum(r[2] for r in rows)
    print(f"simulation cost per run (CPU, {runs} runs a batch, one process):")
    print(f"{'crisis':<24} {'days':>5} {'ms/run':>7} {'share':>6}")
    for name, days, per in sorted(rows, key=lambda r: -r[2]):
        print(f"{name:<24} {days:>5} {1e3 * per:>7.2f} {per / total:>6.1%}")
    print(f"{'a pooled particle':<24} {'':>5} {1e3 * total:>7.1f}  (mean "
          f"{1e3 * total / len(rows):.2f} ms a run)\n")
    return total / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=100_000)
    parser.add_argument("--population", type=int, default=300)
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="keep the calibration folder here")
    parser.add_argument("--profile-runs", type=int, default=200)
    args = parser.parse_args()
    from sim.api import calibrate_library

    per_run = profile(args.profile_runs) if args.profile_runs else None
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "pooled"
        started = time.perf_counter()
        cal = calibrate_library(LIBRARY, out=out, simulations=args.simulations,
                                population=args.population, generations=args.generations,
                                seed=args.seed, workers=args.workers, progress=False)
        wall = time.perf_counter() - started
    load_after = os.getloadavg()
    d = cal.diagnostics
    print(f"{d['simulations']} simulations ({d['particles']} particles x {len(d['crises'])} "
          f"crises) in {wall:.1f} s wall on {d['executor']} ({d['simulations'] / wall:.0f} "
          f"runs/s); stopped: {d['stopped']}; load average before "
          f"{load_before[0]:.1f}/{load_before[1]:.1f}, after {load_after[0]:.1f}/"
          f"{load_after[1]:.1f} (1/5 min) on {os.cpu_count()} cores")
    if per_run:
        print(f"CPU the simulations need at {1e3 * per_run:.2f} ms a run: "
              f"{d['simulations'] * per_run:.0f} s (on an idle 2-core machine about half that "
              "in wall time)")
    print("generation  tolerance  particles  accepted  ESS  kernel  seconds")
    for g in d["generations"]:
        eps = "inf" if g["epsilon"] is None else f"{g['epsilon']:.4g}"
        print(f"{g['t']:>10}  {eps:>9}  {g['simulations']:>9}  {g['accepted']:>8}  "
              f"{g['effective_sample_size']:>5.0f}  {g['kernel']:>6}  {g['seconds']:>7.1f}")
    print("constant            prior 90%            posterior median [90%]")
    from sim.execution.variation import prior_ppf
    from sim.scenario.schema import Prior

    for name, q in d["posterior"].items():
        lo, hi = prior_ppf(Prior(**d["priors"][name]), np.array([0.05, 0.95]))
        print(f"{name:<19} [{lo:.2f}, {hi:.2f}]   {q['median']:.2f} [{q['q05']:.2f}, "
              f"{q['q95']:.2f}]")


if __name__ == "__main__":
    main()
