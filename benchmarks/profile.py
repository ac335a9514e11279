"""Where the daily step spends its time: a pyinstrument profile of lockstep batches.

Run: ``.venv/bin/python benchmarks/profile.py [--batch 4000] [--batches 2]``

Samples the baseline's daily step (after a warm-up that loads the compiled kernels) and prints
the call tree, heaviest first. Numbers under a ``call`` node in ``sim/jit.py`` are time inside
a compiled kernel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sim.model import CrisisModel
from sim.scenario.loader import load_scenario
from sim.world import compile_scenario

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "idlib_2020.yaml")
    parser.add_argument("--batch", type=int, default=4000)
    parser.add_argument("--batches", type=int, default=2)
    args = parser.parse_args()
    try:
        from pyinstrument import Profiler
    except ImportError as err:
        raise SystemExit("pyinstrument is not installed: .venv/bin/pip install -e '.[test]'"
                         ) from err
    loaded = load_scenario(args.scenario)
    world = compile_scenario(loaded.spec)
    CrisisModel(loaded, world=world, replications=np.arange(50), seed=1).run()  # warm-up
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for k in range(args.batches):
        reps = np.arange(k * args.batch, (k + 1) * args.batch)
        CrisisModel(loaded, world=world, replications=reps, seed=1).run()
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
