"""Where the daily step spends its time: each compiled pass of a day, timed over whole runs.

Run: ``.venv/bin/python benchmarks/profile.py [--batch 2000] [--batches 2] [--cpu]``
(``--pyinstrument``: the Python call tree instead; ``--helpers``: each rule inside the two
passes).

The day is three compiled passes and a few small calls (``sim/model.py``: ``CrisisModel.step``);
a sampling profiler sees only their names, so this script times each of them around the real
model's calls and prints microseconds per replication-day. ``--pyinstrument`` prints the
Python call tree instead (what is left of Python in a day), with pyinstrument. ``--helpers``
times each rule (compiled helper) that ``observe`` and ``resolve`` call: it runs the two
passes' Python source, which calls the same compiled helpers one by one from Python with a
timer around each (so the numbers add Python's cost of a call, some microseconds, spread over
the batch; their sum is more than the compiled passes take).
"""

from __future__ import annotations

import argparse
import importlib
import time
import types
from collections import Counter
from pathlib import Path

import numpy as np

import sim.model
from sim import day
from sim.mechanisms.red_lines import RedLines
from sim.model import CrisisModel, Trackers
from sim.outcomes import Holdings
from sim.scenario.loader import load_scenario
from sim.world import compile_scenario

ROOT = Path(__file__).resolve().parents[1]

#: what is timed: (label, module or class, attribute)
PASSES = [
    ("observe (sim/day.py)", day, "observe"),
    ("score menus (decisions.score_menu)", sim.model, "score_menu"),
    ("commitment (decisions.commitment)", sim.model, "commitment"),
    ("intent (apply_private_values)", sim.model, "apply_private_values"),
    ("choose (sim.actors.choose)", sim.model, "choose"),
    ("resolve (sim/day.py)", day, "resolve"),
    ("record the day (series_values)", sim.model, "series_values"),
    ("note events (Trackers.mark)", Trackers, "mark"),
    ("red lines (RedLines.step)", RedLines, "step"),
    ("states in effect (Holdings.note)", Holdings, "note"),
]


def timed_passes(loaded, world, batch: int, batches: int,
                 clock=time.perf_counter) -> tuple[Counter, float]:
    spent: Counter = Counter()

    def timer(label, function):
        def call(*args, **kwargs):
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += clock() - started
        return call

    originals = [(owner, name, getattr(owner, name)) for _, owner, name in PASSES]
    for (label, owner, name), (_, _, function) in zip(PASSES, originals, strict=True):
        setattr(owner, name, timer(label, function))
    try:
        started = clock()
        for k in range(batches):
            reps = np.arange(k * batch, (k + 1) * batch)
            CrisisModel(loaded, world=world, replications=reps, seed=1).run()
        total = clock() - started
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)
    return spent, total


def timed_helpers(loaded, world, batch: int, clock=time.process_time) -> tuple[Counter, int]:
    """Time of each compiled helper ``observe`` and ``resolve`` call, over one run of ``batch``.

    The passes' Python bodies run with a copy of ``sim.day``'s globals in which every compiled
    helper (of ``sim.day`` and of the mechanisms' modules) is wrapped in a timer. Returns the
    seconds per helper and the number of days.
    """
    from numba.core.registry import CPUDispatcher

    spent: Counter = Counter()

    def timer(label, function):
        def call(*args):
            started = clock()
            try:
                return function(*args)
            finally:
                spent[label] += clock() - started
        return call

    names = ("fighting", "refugees", "terms", "bargaining", "air_support", "escalation",
             "alliances", "pressure")
    scope = dict(day.observe.__wrapped__.__globals__)
    for name in names:
        module = importlib.import_module(f"sim.mechanisms.{name}")
        scope[name] = types.SimpleNamespace(**{
            key: timer(f"{name}.{key}", value) if isinstance(value, CPUDispatcher) else value
            for key, value in vars(module).items()})
    for key, value in vars(day).items():
        if isinstance(value, CPUDispatcher) and key not in ("pick", "_flows"):
            scope[key] = timer(f"day.{key}", value)
    passes = {name: types.FunctionType(getattr(day, name).__wrapped__.__code__, scope)
              for name in ("observe", "resolve")}
    originals = {name: getattr(day, name) for name in passes}
    try:
        for name, function in passes.items():
            setattr(day, name, function)
        # the first run loads each helper's entry point for calls from Python
        CrisisModel(loaded, world=world, replications=np.arange(batch), seed=1).run()
        spent.clear()
        CrisisModel(loaded, world=world, replications=np.arange(batch, 2 * batch), seed=1).run()
    finally:
        for name, function in originals.items():
            setattr(day, name, function)
    return spent, loaded.spec.run.days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "idlib_2020.yaml")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--cpu", action="store_true",
                        help="time in CPU seconds of this process (time.process_time), not "
                        "wall time: on a machine shared with other work")
    parser.add_argument("--pyinstrument", action="store_true",
                        help="print pyinstrument's call tree instead")
    parser.add_argument("--helpers", action="store_true",
                        help="time each compiled rule of observe and resolve instead (one run "
                        "of --batch replications, CPU time)")
    args = parser.parse_args()
    loaded = load_scenario(args.scenario)
    world = compile_scenario(loaded.spec)
    CrisisModel(loaded, world=world, replications=np.arange(50), seed=1).run()  # warm-up
    if args.pyinstrument:
        try:
            from pyinstrument import Profiler
        except ImportError as err:
            raise SystemExit("pyinstrument is not installed: .venv/bin/pip install -e '.[test]'"
                             ) from err
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for k in range(args.batches):
            reps = np.arange(k * args.batch, (k + 1) * args.batch)
            CrisisModel(loaded, world=world, replications=reps, seed=1).run()
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
        return
    if args.helpers:
        spent, days = timed_helpers(loaded, world, args.batch)
        per = 1e6 / (args.batch * days)
        print(f"{'rule (compiled helper)':36s} {'us per replication-day':>22s}")
        for label, seconds in spent.most_common():
            print(f"{label:36s} {seconds * per:22.3f}")
        return
    spent, total = timed_passes(loaded, world, args.batch, args.batches,
                                time.process_time if args.cpu else time.perf_counter)
    per = 1e6 / (args.batch * args.batches * loaded.spec.run.days)
    print(f"{args.batches} batches of {args.batch} replications, {loaded.spec.run.days} days: "
          f"{total:.2f} s{' of CPU' if args.cpu else ''}, "
          f"{args.batch * args.batches / total:.0f} runs/s on one core")
    print(f"{'part of a day':36s} {'us per replication-day':>22s} {'share':>6s}")
    for label, _, _ in PASSES:
        print(f"{label:36s} {spent[label] * per:22.2f} {spent[label] / total:6.0%}")
    rest = total - sum(spent.values())
    print(f"{'the rest (Python, Mesa, set-up)':36s} {rest * per:22.2f} {rest / total:6.0%}")


if __name__ == "__main__":
    main()
