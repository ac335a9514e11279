"""Measure the bargaining patterns of issue #11 on a scenario (a development aid, not a test).

Prints: the share of runs agreeing on day 0, quantiles of the first agreement's day, the share
of runs reaching war (any dyad at or above the ladder's war rung) whose war ended by the
horizon, the share of breakdowns followed by the same deal within 7 days, the most deals in
force at once, and each outcome's probability.

    python scripts/bargaining_patterns.py scenarios/idlib_2020.yaml [--runs 1000] [--set P=V]
"""

from __future__ import annotations

import argparse

import numpy as np

from sim.model import CrisisModel
from sim.outcomes import evaluate_outcomes, indicators


def measure(path: str, runs: int, seed: int | None, overrides: list[str]) -> dict:
    """Step an ensemble of ``path`` and return the patterns the module docstring lists."""
    model = CrisisModel(path, replications=runs, seed=seed, overrides=overrides,
                        record_paths=False)
    lay, st = model.layout, model.structure
    d_count = len(lay.deals)
    formed_days = [[] for _ in range(runs)]
    broke = []  # (run, deal, day)
    max_in_force = 0
    at_war = np.zeros(runs, dtype=bool)
    while model.running:
        day = model.steps
        model.step()
        ev = model.trackers.events
        max_in_force = max(max_in_force, int(model.state.agreement.sum(axis=1).max(initial=0)))
        for d in range(d_count):
            for r in np.flatnonzero(ev[:, st.ev_deal + d]):
                formed_days[r].append((day, d))
            for r in np.flatnonzero(ev[:, st.ev_breakdown + d]):
                broke.append((r, d, day))
        at_war |= (model.state.rung >= lay.war_from).any(axis=(1, 2))
    first = np.array([min(x)[0] if x else np.nan for x in formed_days])
    reformed = sum(any(dd == d and day < t <= day + 7 for t, dd in formed_days[r])
                   for r, d, day in broke)
    war_end = ((model.state.rung >= lay.war_from).any(axis=(1, 2)))
    agreed = first[~np.isnan(first)]
    outcomes = evaluate_outcomes(model.loaded.spec, indicators(model))
    return {
        "runs": runs,
        "agree_day0": float(np.mean(first == 0)),
        "agree_ever": float(np.mean(~np.isnan(first))),
        "first_day_quantiles": (np.quantile(agreed, [0.1, 0.25, 0.5, 0.75, 0.9]).round(1).tolist()
                                if agreed.size else []),
        "war_share": float(at_war.mean()),
        "wars_ended": float(np.mean(~war_end[at_war])) if at_war.any() else float("nan"),
        "breakdowns": len(broke),
        "reformed_within_7": reformed / len(broke) if broke else 0.0,
        "max_deals_in_force": max_in_force,
        "outcomes": {k: round(float(np.mean(v)), 3) for k, v in outcomes.items()},
    }


def main() -> None:
    """Parse the command line and print each pattern on a line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    for key, value in measure(args.scenario, args.runs, args.seed, args.set).items():
        print(f"{key:22s} {value}")


if __name__ == "__main__":
    main()
