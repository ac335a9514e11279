"""Why a forecast sits at 0 or 1: the deals' surpluses and the menu's utilities over a run.

Why: an event no run reaches may be impossible by construction (``sim.reachability`` says so
when the scenario's structure forbids it) or held there by the values and rules: a deal that
one party never finds worth signing, an act worth less than doing nothing every day. This
script steps a small ensemble of one crisis and prints, without changing anything in the
model:

* for each deal and side: its public gain (the surplus before private resolve) averaged over
  the run and at its best day, the best perceived surplus of any run, and the share of
  replication-days on which every signatory's perceived surplus was positive (a deal can form
  only then, ODD M6);
* for the menu entries named: the share of replication-days on the menu, the mean utility, on
  day 0 and at its best day, and for attacks the part of the utility their compellence
  look-ahead adds (the utility less the attack's direct value).

Usage (from the repository root)::

    PYTHONPATH=$PWD python scripts/why_extreme.py scenarios/library/kosovo_1999.observations.yaml
    PYTHONPATH=$PWD python scripts/why_extreme.py Q --entries "quartet:attack;us:grant" --runs 40

with ``Q`` the path of ``scenarios/library/qatar_2017.observations.yaml``.

The utilities are read as the model computes them each morning, before a one-off act's
private value (``decisions.intent``, ``apply_private_values``) takes it off the menu;
the spy is installed in this process only.
"""

from __future__ import annotations

import argparse

import numpy as np


def main(argv: list[str] | None = None) -> int:
    """Print the deals' surpluses and the named entries' utilities for one crisis."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("observations", help="a crisis's *.observations.yaml (or a scenario)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--entries", default="", help="';'-separated parts of menu labels "
                        "('actor:verb' or 'verb:target'), e.g. 'quartet:attack;open_gate'")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="PATH=VALUE overrides, as sim run --set")
    args = parser.parse_args(argv)

    import sim.model as model_module
    from sim.model import CrisisModel
    from sim.scenario.loader import load_scenario

    path = args.observations
    if path.endswith(".observations.yaml"):
        from sim.validation.observations import load_observations

        scenario = load_observations(path).scenario
        if args.overrides:
            scenario = load_scenario(scenario.path, args.overrides)
    else:
        scenario = load_scenario(path, args.overrides)
    seen: dict = {}
    intent = model_module.apply_private_values

    def spy(utility, *rest, **kw):
        seen["u"] = utility.copy()
        return intent(utility, *rest, **kw)

    model_module.apply_private_values = spy
    model = CrisisModel(scenario, replications=args.runs, seed=args.seed)
    lay = model.layout
    names = [f"{lay.actors[a]}:{label}" for a, label in zip(lay.menu.actor, lay.menu.labels,
                                                            strict=True)]
    wanted = [x for x in args.entries.split(";") if x]
    entries = [i for i, n in enumerate(names) if any(w in n for w in wanted)]
    attack = {i: names[i].split(":")[1] == "attack" for i in entries}
    days = scenario.spec.run.days
    n_deals, width = len(lay.deals), lay.deal_sides.shape[1]
    gain_sum = np.zeros((n_deals, width))
    gain_best = np.full((n_deals, width), -np.inf)
    perceived_best = np.full((n_deals, width), -np.inf)
    open_days = np.zeros(n_deals)
    utilities = {i: np.full((days, args.runs), np.nan) for i in entries}
    coercion = {i: np.full((days, args.runs), np.nan) for i in entries}
    for day in range(days):
        model.step()
        w = model.workspace
        gain_sum += w.gains.mean(axis=0)
        gain_best = np.maximum(gain_best, w.gains.mean(axis=0))
        perceived_best = np.maximum(perceived_best, w.perceived.max(axis=0))
        for d in range(n_deals):
            signs = [s for s in range(width)
                     if lay.deal_sides[d, s] >= 0 and lay.deal_signs[d, s]]
            open_days[d] += np.all(w.perceived[:, d, signs] > 0, axis=1).mean()
        for i in entries:
            u = seen["u"][:, i]
            utilities[i][day] = np.where(np.isfinite(u), u, np.nan)
            if attack[i]:  # the model keeps each attack's direct value (``commitment``)
                direct = model._direct[:, i]
                ok = np.isfinite(u) & np.isfinite(direct)
                coercion[i][day, ok] = u[ok] - direct[ok]
    print(f"{scenario.spec.name}: {args.runs} runs of {days} days, seed {args.seed}")
    for d, deal in enumerate(lay.deals):
        print(f"\ndeal {deal}: every signatory's perceived surplus > 0 on "
              f"{open_days[d] / days:.1%} of replication-days")
        for s in range(width):
            a = lay.deal_sides[d, s]
            if a < 0:
                continue
            role = "signs" if lay.deal_signs[d, s] else "mediates"
            print(f"  {lay.actors[a]:16s} {role:8s} public gain: mean "
                  f"{gain_sum[d, s] / days:+.3f}, best day {gain_best[d, s]:+.3f}; "
                  f"best perceived in any run {perceived_best[d, s]:+.3f}")
    if entries:
        print()
    with np.errstate(all="ignore"):
        for i in entries:
            x = utilities[i]
            on = np.isfinite(x)
            by_day = np.nanmean(x, axis=1)
            line = (f"{names[i]:44s} on the menu {on.mean():.0%} of replication-days; utility "
                    f"mean {np.nanmean(x):+.3f}, day 0 {by_day[0]:+.3f}, best day "
                    f"{np.nanmax(by_day):+.3f}")
            if attack[i] and np.isfinite(coercion[i]).any():
                line += f"; compellence mean {np.nanmean(coercion[i]):+.3f}"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
