"""Wall time of ``sim calibrate`` on the calibration example: 1e5 simulations (goal: < 10 min).

Run: ``.venv/bin/python benchmarks/calibration.py [--simulations N] [--population P]``

Calibrates ``scenarios/calibration/idlib_2020_early.yaml`` on its observations (the loss rate
and the ladder's step-up rate, fitted on the three weeks to the article's date) exactly as
``sim calibrate`` does, in a temporary folder, and prints the wall time, the part of it spent
simulating, the generations and the posterior. One process, one core for the simulations.

The compiled code is loaded and the scenario's parameter probes made by a small warm-up
calibration first (as they are once per ``sim calibrate`` command), so that the timed run
measures the calibration, not numba's start-up. CPU time is printed beside wall time: on a
shared machine the wall time depends on the other processes. Goal (issue #13): a calibration
of at least 1e5 simulated runs in under 10 minutes on this 2-core machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.scenario.loader import load_scenario
from sim.validation.calibrate import calibrate
from sim.validation.observations import load_observations

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "calibration" / "idlib_2020_early.yaml"
OBSERVATIONS = ROOT / "scenarios" / "calibration" / "idlib_2020_early.observations.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=100_000)
    parser.add_argument("--population", type=int, default=1000)
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    obs = load_observations(OBSERVATIONS, load_scenario(SCENARIO))
    with tempfile.TemporaryDirectory() as tmp:
        calibrate(obs, out_dir=Path(tmp) / "warm", simulations=300, population=100,
                  generations=2, seed=args.seed)
        started, cpu = time.perf_counter(), time.process_time()
        d = calibrate(obs, out_dir=Path(tmp) / "cal", simulations=args.simulations,
                      population=args.population, generations=args.generations,
                      seed=args.seed)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    print(f"scenario: {d['scenario_name']} (simulated {d['simulated_days']} days, to the "
          f"cutoff {d['cutoff']}); fitted on {d['fitted']}")
    print(f"{d['simulations']} simulations in {wall:.1f} s wall "
          f"({d['simulations'] / wall:.0f} runs/s), of which simulating "
          f"{d['simulation_seconds']:.1f} s; {cpu:.1f} s of CPU time (wall above CPU: other "
          f"processes on the machine); stopped: {d['stopped']}")
    print("generation  tolerance  simulations  accepted  ESS  kernel  seconds")
    for g in d["generations"]:
        eps = "inf" if g["epsilon"] is None else f"{g['epsilon']:.4g}"
        print(f"{g['t']:>10}  {eps:>9}  {g['simulations']:>11}  {g['accepted']:>8}  "
              f"{g['effective_sample_size']:>5.0f}  {g['kernel']:>6}  {g['seconds']:>7.1f}")
    for path, q in d["posterior"].items():
        print(f"{path}: median {q['median']:.4g}, 90% [{q['q05']:.4g}, {q['q95']:.4g}]")
    print(f"goal: 1e5 simulations in under 600 s: {'met' if wall < 600 else 'NOT met'} "
          f"({wall:.0f} s for {d['simulations']})")


if __name__ == "__main__":
    main()
