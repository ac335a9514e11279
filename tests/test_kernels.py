"""The compiled kernels (sim/jit.py): one compilation each, found again by other processes."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np

from sim.mechanisms.decisions import PackedSituation
from sim.model import CrisisModel
from sim.world import PackedParams

from .conftest import BASELINE, FICTIONAL, ROOT

# Runs scenarios of different shapes, R = 1 and R = 7, with shared and per-replication
# parameters, then prints how many signatures each kernel has compiled.
_COUNT_SIGNATURES = """
import json, sys
import numpy as np
from sim.model import CrisisModel
from sim.scenario.loader import load_scenario
from sim.world import Params, compile_scenario
import sim.jit, sim.rng, sim.model, sim.day, sim.execution.trajectories
from sim.mechanisms import (alliances, bargaining, decisions, escalation, fighting, pressure,
                            refugees)

for path in sys.argv[1:]:
    for r in (1, 7):
        CrisisModel(path, replications=r, seed=3).run()
    loaded = load_scenario(path)
    worlds = [compile_scenario(loaded.spec), compile_scenario(load_scenario(
        path, ["fighting.loss_rate=0.33"]).spec)]
    CrisisModel(loaded, world=worlds[0], replications=6, seed=3,
                params=Params.stack([w.params for w in worlds], [3, 3])).run()
counts = {}
for module in (sim.jit, sim.rng, sim.model, sim.day, sim.execution.trajectories, alliances,
               bargaining, decisions, escalation, fighting, pressure, refugees):
    for name, obj in vars(module).items():
        # entry points called from Python (helpers are compiled into them)
        compiled = getattr(obj, "compiled", None)
        if hasattr(compiled, "signatures") and compiled.py_func.__module__ == module.__name__:
            counts[f"{module.__name__}.{name}"] = len(compiled.signatures)
print(json.dumps(counts))
"""


def test_each_kernel_compiles_once_whatever_the_scenario_batch_or_parameters():
    out = subprocess.run([sys.executable, "-c", _COUNT_SIGNATURES, str(BASELINE), str(FICTIONAL)],
                         cwd=ROOT, capture_output=True, text=True, check=True, timeout=600)
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    # a function compiled per memory layout or per process-local type would show 2 or more
    assert counts["sim.mechanisms.decisions._score_menu"] == 1
    assert counts["sim.day.resolve"] == counts["sim.day.observe"] == 1
    # the daily series are written into float32 trajectories and, at R = 1, float64 values
    assert counts.pop("sim.model._series_values") == 2
    assert len(counts) >= 10 and all(n <= 1 for n in counts.values()), counts


def test_packed_tuple_types_are_found_again_by_name():
    # numba's disk cache keys compiled code by argument types: a worker process must rebuild
    # the same type from its name, or it compiles everything again
    assert pickle.loads(pickle.dumps(PackedParams)) is PackedParams
    assert pickle.loads(pickle.dumps(PackedSituation)) is PackedSituation


def test_the_ladder_never_moves_an_actor_against_itself():
    model = CrisisModel(FICTIONAL, replications=20, seed=5,
                        overrides=["ladder.base_drift=0.8"])
    before = np.diagonal(model.state.rung, axis1=1, axis2=2).copy()
    moved_up = False
    for _ in range(30):
        model.step()
        assert np.array_equal(np.diagonal(model.state.rung, axis1=1, axis2=2), before)
        moved_up |= bool((model.state.rung > model.params.rung0).any())
    assert moved_up  # the positive drift does move the real dyads


def test_the_workers_warm_up_scenario_is_valid_and_runs():
    # the forkserver imports sim.execution.warmup; a scenario the schema no longer accepts
    # would silently cost every worker its warm start
    from sim.execution import warmup

    assert warmup.warm()


def test_the_compiled_code_cache_depends_on_the_sources_compiled_code_reads():
    from sim.jit import _PACKAGE, compiled_sources

    files = {path.relative_to(_PACKAGE).as_posix() for path in compiled_sources()}
    assert {"day.py", "jit.py", "rng.py", "mechanisms/fighting.py", "world.py",
            "scenario/schema.py", "execution/binning.py"} <= files
    # the histogram's bookkeeping imports the counting kernel, not the other way round
    assert not {"cli.py", "plots.py", "app/page.py", "execution/ensemble.py",
                "execution/trajectories.py"} & files


def test_a_cold_cache_is_told_apart_from_a_warm_one(tmp_path):
    # sim says "compiling the model..." before a run that will compile for a minute
    code = "from sim.jit import compiled_code_cached; print(compiled_code_cached())"
    cold = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True, env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    assert cold.stdout.strip() == "False"
    warm = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert warm.stdout.strip() == "True"  # this session's runs compiled it already
