"""The seven stylized facts (docs/ODD.md, section 1), as ensemble comparisons with common seeds.

Each test runs two ensembles of one scenario that differ in one lever, with the same seed (so
run k of both shares its random numbers), and asserts the direction of the effect with a 95%
interval of the paired difference that excludes zero. Run counts are fixed; tolerances are
never loosened to make a test pass.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.scenario.loader import load_data, load_scenario

from .conftest import (
    BASELINE,
    COUNTERFACTUALS,
    FICTIONAL,
    ensemble,
    paired_effect,
    shared_ensemble,
)

RUNS = 1000
SEED = 11
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    """Ensembles by (scenario, overrides), computed once per module."""
    cache: dict = {}

    def get(scenario=BASELINE, *overrides: str, n: int = RUNS):
        if hasattr(scenario, "suffix"):  # a file: shared with the counterfactuals' tests
            return shared_ensemble(scenario, n, seed=SEED, overrides=overrides)
        key = (str(scenario), overrides, n)
        if key not in cache:
            cache[key] = ensemble(scenario, n, seed=SEED)
        return cache[key]

    return get


def increases(a, b, column: str) -> float:
    """Assert that ``column`` is higher in b than in a (paired 95% interval above zero)."""
    mean, low, high = paired_effect(a[column], b[column])
    assert low > 0, f"{column}: effect {mean:.4g} [{low:.4g}, {high:.4g}] should be > 0"
    return mean


def decreases(a, b, column: str) -> float:
    mean, low, high = paired_effect(a[column], b[column])
    assert high < 0, f"{column}: effect {mean:.4g} [{low:.4g}, {high:.4g}] should be < 0"
    return mean


@pytest.fixture(scope="module")
def struck(baseline):
    """The baseline with a mass-casualty strike (33 soldiers, day 6) by the regime on Turkish
    forces (the Balyun strike of 27 February 2020, a week after the start date)."""
    data = copy.deepcopy(baseline.data)
    data["timeline"].append({"date": "2020-02-27", "name": "mass-casualty strike",
                             "kind": "casualties", "between": ["turkey", "syria"],
                             "amount": 33})
    return load_data(data)


STRIKE_DAY = 6


def _attack_days_after(loaded, first: int, last: int) -> np.ndarray:
    """Days of ``first``..``last`` on which Turkey attacked Syria, per run (RUNS, SEED)."""
    from sim.model import CrisisModel

    model = CrisisModel(loaded, replications=RUNS, seed=SEED, record_paths=False)
    actors = model.layout.actors
    turkey, syria = actors.index("turkey"), actors.index("syria")
    days = np.zeros(RUNS)
    for day in range(last + 1):
        model.step()
        if day >= first:
            days += model.state.attack_prev[:, turkey, syria] > 0
    return days


def test_fact1_losses_raise_pressure_and_the_answer_against_the_causer(runs, baseline, struck):
    """A mass-casualty strike (33 soldiers, day 6) by the regime on Turkish forces raises
    Turkey's losses and pressure, and its attacks on the causer in the week after the strike
    (+0.37 [0.30, 0.45] attack days at 1,000 runs, seed 11, on d2fa7cd). What the fact also
    asks, a higher probability of escalation against the causer beyond that answer, does not
    hold today: the two strict xfails below."""
    base, hit = runs(), runs(struck)
    increases(base, hit, "losses.turkey.by.syria")
    increases(base, hit, "pressure.turkey.max")
    increases({"d": _attack_days_after(baseline, STRIKE_DAY + 1, STRIKE_DAY + 7)},
              {"d": _attack_days_after(struck, STRIKE_DAY + 1, STRIKE_DAY + 7)}, "d")


@pytest.mark.xfail(strict=True, reason="model v3 (issue 22): over the whole horizon Turkey's "
                   "attack days on the causer do not rise (-0.44 [-0.89, +0.01] days, seed 11, "
                   "1,000 runs, on 1424add): +0.38 in the week after the strike and +0.12 in the "
                   "two weeks after that, then -0.36 on days 30-60 and -0.59 on days 60-120, as "
                   "the strike's losses add to war weariness (fact 6); pricing the barred "
                   "retaliation into the deal (branch grief22) gave +0.32 [-0.13, +0.77]: "
                   "scenarios/library/notes_ablation.md")
def test_fact1_attack_days_over_the_whole_horizon(runs, struck):
    increases(runs(), runs(struck), "attacks.turkey.syria")


@pytest.mark.xfail(strict=True, reason="model v3 (issue 22): among the runs not at war with the "
                   "regime by the strike (309 of 1,000, seed 11, on d2fa7cd) the strike lowers "
                   "the chance of war later, 0.754 -> 0.712 (-0.042 [-0.078, -0.006]): its losses "
                   "add to Turkey's war weariness and bring the deal sooner. (The runs that had "
                   "also signed a ceasefire before it, which this fact's test used to read, are 36 "
                   "since talks "
                   "take time, too few: no effect, 0.056 both.) The strike also brings the deal "
                   "sooner in 17.8% of the calm runs, later in 9.1% (14.0% and 11.4% with "
                   "Turkey's war_weariness 0); lagging the ladder's weariness (branch rally22) "
                   "gave -0.036 [-0.071, -0.000]")
def test_fact1_losses_raise_the_probability_of_war_against_the_causer(runs, struck):
    """A massacre can turn a standoff or a ceasefire into war (Fortna 2004): in the runs where
    the two ensembles' paths are still identical and not at war on the strike's day, war
    against the causer should become more likely."""
    base, hit = runs(), runs(struck)
    calm = ~(base["day.war.turkey~syria"] <= STRIKE_DAY)
    assert calm.sum() >= 100, calm.sum()
    later = {x: (ens["day.war.turkey~syria"] > STRIKE_DAY)[calm].astype(float)
             for x, ens in (("base", base), ("struck", hit))}
    increases({"w": later["base"]}, {"w": later["struck"]}, "w")


def test_fact2_granted_air_defence_cuts_air_losses_and_the_air_campaign(runs):
    base, patriots = runs(), runs(COUNTERFACTUALS / "patriots_day0.yaml")
    decreases(base, patriots, "losses.turkey.by.russia")  # the air power's strikes
    decreases(base, patriots, "control.highways.syria.final")
    decreases(base, patriots, "outcome.highways_taken")
    decreases(base, patriots, "affinity.russia~us.final")  # supplier vs attacker's patron


def test_fact3_activating_the_rival_system_costs_the_objecting_ally(runs):
    base, s400 = runs(), runs(COUNTERFACTUALS / "s400_early.yaml")
    decreases(base, s400, "affinity.turkey~us.final")
    decreases(base, s400, "outcome.patriots_deployed")


def test_fact4_offensive_displaces_and_gates_redirect_the_flow(runs):
    base = runs()
    # a regime more bent on the offensive displaces more people
    increases(base, runs(BASELINE, "actors.syria.interests.territory=1.2"), "displaced.total")
    # with the border gate closed (baseline) people pile up in the border camps
    opened_border = runs(BASELINE, "refugees.gates.syria_turkey_border.policy=open")
    increases(opened_border, base, "people.idlib_north.peak")
    # opening the gate toward the EU: arrivals, EU pressure, EU support for the gate's owner
    eu_gate = runs(COUNTERFACTUALS / "gate_open.yaml")
    increases(base, eu_gate, "people.eu_border.peak")
    increases(base, eu_gate, "pressure.eu.max")
    increases(base, eu_gate, "outcome.eu_support_granted")


def test_fact5_economic_ties_lower_the_chance_of_war(runs):
    no_trade = runs(FICTIONAL, "relations.arcadia~borduria.trade=0.0")
    trade = runs(FICTIONAL, "relations.arcadia~borduria.trade=0.8")
    decreases(no_trade, trade, "outcome.war")
    decreases(no_trade, trade, "rung.arcadia~borduria.max")


def _fact6(runs, n: int = RUNS):
    base = runs(BASELINE, n=n)
    costly = runs(BASELINE, "actors.turkey.war_cost=0.06", "actors.russia.war_cost=0.03", n=n)
    return base, costly


def test_fact6_costlier_fighting_brings_agreement_sooner(runs):
    """Speed, and the probability within the first month (day 30)."""
    base, costly = _fact6(runs)
    # sooner: never-agreed runs count as the horizon
    horizon = float(base["day.agreement"].size and 120)
    a = base["day.agreement"].copy()
    b = costly["day.agreement"].copy()
    a[a != a] = horizon
    b[b != b] = horizon
    decreases({"d": a}, {"d": b}, "d")
    increases({"p": a < 30}, {"p": b < 30}, "p")


#: runs for fact 6 over the whole horizon: the baseline signs an agreement in about 96% of
#: runs, so the effect is bounded by 4 points and 1,000 paired runs cannot resolve it
FACT6_HORIZON_RUNS = 4000


def test_fact6_costlier_fighting_raises_the_probability_of_agreement_over_the_horizon(runs):
    """At the ceiling: 96.1% -> 97.4%, +0.014 [0.007, 0.021] at 4,000 runs, seed 11, on
    bcee556 (at 1,000 runs +0.009 [-0.005, 0.023], too few for an effect this size). The run
    count was set by a rule written before the one measurement: 4,000 runs, the test's seed,
    kept if the interval excludes 0, else a strict xfail with those numbers."""
    base, costly = _fact6(runs, FACT6_HORIZON_RUNS)
    increases(base, costly, "outcome.agreement")


def test_fact7_hostility_with_a_partner_of_a_third_lowers_ties_with_the_third(runs):
    """Turkey (A) hostile to Syria (B), Syria allied to Russia (C)."""
    hostile = runs()
    less_hostile = runs(BASELINE, "relations.turkey~syria.affinity=0.0")
    increases(hostile, less_hostile, "affinity.turkey~russia.final")
    # unless offset by A-C ties: with the same hostility, trade keeps A-C affinity higher
    no_ties = runs(BASELINE, "relations.turkey~russia.trade=0.0")
    increases(no_ties, hostile, "affinity.turkey~russia.final")


def test_war_weariness_brings_the_ladder_down(runs):
    """Richardson's fatigue: losses so far pull a dyad's drive down (ODD, mechanism 3).

    Measured (200 runs, seed 11, weariness 0 against 0.02 per soldier lost): the fighting
    dyad's final rung falls by 2.44 [2.30, 2.58] rungs and Arcadia's losses by 38 [35, 40]
    soldiers. With the sign flipped, losses would push the ladder up instead.
    """
    # the ladder's own fatigue, isolated from bargaining: without deals the war cannot end by
    # one, which since model v2 would cap the final rung in both ensembles alike
    data = load_scenario(FICTIONAL).data
    data = copy.deepcopy(data)
    data["deals"] = {}
    data["outcomes"] = {k: v for k, v in data["outcomes"].items() if "agreement" not in str(v)}
    for actor in data["actors"].values():
        actor["actions"] = [a for a in actor["actions"] if a.get("verb") != "negotiate"]
    fresh = runs(load_data(_set(data, "ladder", "weariness", 0.0)), n=200)
    weary = runs(load_data(_set(data, "ladder", "weariness", 0.02)), n=200)
    mean = decreases(fresh, weary, "rung.arcadia~borduria.final")
    assert mean < -1.0, mean  # more than a rung on average, not a nudge
    decreases(fresh, weary, "losses.arcadia")


def _set(data: dict, section: str, key: str, value) -> dict:
    """A copy of scenario data with one value replaced."""
    out = copy.deepcopy(data)
    out[section][key] = value
    return out
