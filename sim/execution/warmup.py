"""Load the compiled code once, in the process that forks the local workers.

The local pool's workers fork from a server process that imports this module first
(``executors._context``): importing it runs ``warm``, a two-day batch of a tiny built-in
scenario, so numba's compiled kernels are loaded from the disk cache (or compiled) there,
once, and every worker, including those of a renewed pool, starts with them in memory (about
a third of a second per worker otherwise). A warm-up that fails is only logged: workers then
load the code themselves, as they would without it.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: Two generic actors with one of every kind of thing a day can touch: a contested
#: objective, a refugee route through a gate, an asset, a deal.
WARMUP_SCENARIO: dict = {
    "name": "warm-up",
    "run": {"start": "2000-01-01", "days": 2, "runs": 2, "seed": 1, "batch_size": 2,
            "sample_paths": 1},
    "actors": {
        side: {
            "name": side.upper(),
            "capabilities": {"ground": 1.0, "air": 1.0, "air_defence": 0.1, "exposure": 1.0},
            "interests": {"territory": 0.5, "losses": 0.5},
            "rationality": 5.0,
            "actions": actions,
        }
        for side, actions in {
            "a": [{"verb": "hold"}, {"verb": "attack", "target": "b"},
                  {"verb": "negotiate", "deal": "split"},
                  {"verb": "request_support", "asset": "shield"}],
            "b": [{"verb": "hold"}, {"verb": "attack", "target": "a"},
                  {"verb": "sanction", "target": "a"}, {"verb": "deescalate", "target": "a"},
                  {"verb": "negotiate", "deal": "split"},
                  {"verb": "grant_support", "asset": "shield", "target": "a"},
                  {"verb": "open_gate", "gate": "pass"}, {"verb": "close_gate", "gate": "pass"}],
        }.items()
    },
    "relations": {"a~b": {"affinity": -0.5, "trade": 0.1, "rung": "armed"}},
    "blocs": {"first": ["a"], "second": ["b"]},
    "ladder": {
        "rungs": {"calm": {"name": "Calm", "intensity": 0.0, "severity": 0.0},
                  "armed": {"name": "Armed", "intensity": 0.5, "severity": 0.5},
                  "war": {"name": "War", "intensity": 1.0, "severity": 1.0}},
        "armed_from": "armed", "war_from": "war"},
    "assets": {"shield": {"name": "Shield", "owner": "b",
                          "effects": {"air_defence": 0.3}}},
    "theatre": {"objectives": {"field": {
        "name": "Field", "speed": 0.05,
        "value": {"a": 1.0, "b": 1.0}, "control": {"a": 0.5, "b": 0.5}}}},
    "refugees": {
        "nodes": {
            "field": {"name": "Field", "population": 1000,
                      "capacity": 1000, "conflict": True,
                      "objective": "field"},
            "camp": {"name": "Camp", "population": 0,
                     "capacity": 1000, "host": "b"},
        },
        "edges": [{"from": "field", "to": "camp", "rate": 0.5, "gate": "pass"}],
        "gates": {"pass": {"name": "Pass", "owner": "b", "open": True,
                           "leakage": 0.1}},
    },
    "deals": {"split": {"name": "Split", "parties": ["a", "b"],
                        "transfer": {"field": {"a": 0.5, "b": 0.5}},
                        "rung_cap": "calm"}},
    "outcomes": {"war": {"description": "war",
                         "when": {"indicator": "rung.a~b.max", "op": ">=", "rung": "war"}}},
}


def warm() -> bool:
    """Run the warm-up batch; True if it ran (False, logged, if it failed)."""
    try:
        from sim.execution.batches import BatchTask, run_batch
        from sim.scenario.loader import load_data

        loaded = load_data(WARMUP_SCENARIO)
        run_batch(BatchTask(scenario=loaded.data, digest=loaded.digest(), seed=1, start=0,
                            stop=2, sample_paths=1, binned=True))
    except Exception:  # an optimisation only: never stop a pool from starting
        log.debug("warm-up of the compiled code failed", exc_info=True)
        return False
    return True


warm()
