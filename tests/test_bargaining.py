"""Patterns of bargaining and war termination (issue #11; docs/ODD.md, M6).

Each pattern is measured on ensembles of the baseline (and, where it says so, another
scenario) with a fixed seed; comparisons are paired run by run (common random numbers) and
report the effect with its 95% interval. Thresholds are the issue's, never loosened.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.model import CrisisModel
from sim.scenario.loader import load_data

from .conftest import BASELINE, lasting_war, paired_effect

RUNS = 600
SEED = 11
pytestmark = pytest.mark.slow


def unfold(scenario, runs: int = RUNS, seed: int = SEED) -> dict:
    """Step an ensemble and keep what the patterns need, per run.

    Returns first agreement day (NaN: never), deals formed and broken as (run, deal, day),
    days each run spent with some dyad at or above the war rung, whether it was still at war
    at the end, and the most deals in force at once.
    """
    model = CrisisModel(scenario, replications=runs, seed=seed, record_paths=False)
    lay, st = model.layout, model.structure
    formed, broke = [], []
    war_days = np.zeros(runs, dtype=np.int64)
    most_in_force = 0
    while model.running:
        day = model.steps
        model.step()
        events = model.trackers.events
        for d in range(len(lay.deals)):
            formed += [(r, d, day) for r in np.flatnonzero(events[:, st.ev_deal + d])]
            broke += [(r, d, day) for r in np.flatnonzero(events[:, st.ev_breakdown + d])]
        war_days += (model.state.rung >= lay.war_from).any(axis=(1, 2))
        most_in_force = max(most_in_force, int(model.state.agreement.sum(axis=1).max()))
    first = model.trackers.first[:, model.trackers.names.index("agreement")]
    at_war_end = (model.state.rung >= lay.war_from).any(axis=(1, 2))
    return {"first": first, "formed": formed, "broke": broke, "war_days": war_days,
            "at_war_end": at_war_end, "most_in_force": most_in_force}


@pytest.fixture(scope="module")
def base():
    return unfold(BASELINE)


def test_no_pile_up_of_agreements_at_the_start(base):
    """Parties far apart at the start (the article: "It is out of the question for us to
    withdraw from there unless they stop the oppression") rarely sign on day 0, and the day of
    the first agreement is spread."""
    first = base["first"]
    assert np.mean(first == 0) < 0.10, f"{np.mean(first == 0):.1%} agree on day 0"
    agreed = first[~np.isnan(first)]
    assert agreed.size >= 0.1 * RUNS, f"only {agreed.size} runs agree at all"
    q25, q75 = np.quantile(agreed, [0.25, 0.75])
    assert q75 - q25 >= 7, f"first agreement days piled up: quartiles {q25}, {q75}"


def test_wars_end_within_the_horizon_and_last_spread_durations(base):
    warred = base["war_days"] > 0
    assert warred.sum() >= 30, f"only {warred.sum()} runs reach war"
    ended = np.mean(~base["at_war_end"][warred])
    assert ended >= 0.25, f"only {ended:.1%} of wars end within the horizon"
    lengths = base["war_days"][warred]  # days at war of each run that fought
    horizon = 120
    assert np.mean(lengths >= horizon - 1) < 0.5, "war durations piled at the horizon"
    q25, q75 = np.quantile(lengths, [0.25, 0.75])
    assert q75 - q25 >= 10, f"war durations not spread: quartiles {q25}, {q75}"


def test_no_flicker_and_no_contradictory_deals(base):
    formed = {(r, d): [] for r, d, _ in base["formed"]}
    for r, d, day in base["formed"]:
        formed[(r, d)].append(day)
    broke = base["broke"]
    reformed = sum(any(day < t <= day + 7 for t in formed.get((r, d), [])) for r, d, day in broke)
    assert not broke or reformed / len(broke) < 0.05, f"{reformed} of {len(broke)} re-formed"
    assert base["most_in_force"] <= 1, "two deals between the same parties were in force"


def _agreed_by(first: np.ndarray, day: int) -> np.ndarray:
    return (~np.isnan(first) & (first <= day)).astype(float)


def _first_day(first: np.ndarray, horizon: int = 120) -> np.ndarray:
    """The first agreement's day, with runs that never agree counted at the horizon."""
    return np.where(np.isnan(first), horizon, first)


def test_costlier_fighting_brings_agreement_sooner(baseline, base):
    """Learning and weariness: doubling the loss rate brings the first agreement sooner (the
    baseline's compromise lies inside both sides' bargaining range, so nearly every run
    agrees by day 60 either way: the day is what costlier fighting moves)."""
    data = copy.deepcopy(baseline.data)
    data["fighting"]["loss_rate"] = _number(data["fighting"]["loss_rate"]) * 2
    a, b = base, unfold(load_data(data))
    mean, low, high = paired_effect(_first_day(a["first"]), _first_day(b["first"]))
    assert high < 0, f"first agreement day: effect {mean:.2f} [{low:.2f}, {high:.2f}]"


def _with_mediator(data: dict, mediator: str, deals: tuple[str, ...], incentive: float) -> dict:
    """A copy of a scenario's data where ``mediator`` may propose ``deals`` and, on signing,
    pays each party ``incentive`` (utility units): a mediator with leverage."""
    data = copy.deepcopy(data)
    for key in deals:
        deal = data["deals"][key]
        deal["mediators"] = [mediator]
        if incentive:
            deal["payments"] = {mediator: {party: incentive for party in deal["parties"]}}
        data["actors"][mediator]["actions"].append({"verb": "negotiate", "deal": key})
    return data


def test_a_mediator_with_leverage_raises_the_chance_of_agreement(baseline, base):
    """Mediation acts on bargaining (issue #11 item 5). A mediator that only carries
    information adds little (measured by the diagnosis of the earlier xfail: a two-week
    mediation moves agreement by day 21 by +0.005 [-0.009, 0.019]; Fey & Ramsey 2010: a
    mediator with no information of its own cannot help much), nor does one that only puts the
    terms on the table: the parties propose them often enough. A mediator with leverage
    (Touval & Zartman 1985; Beardsley 2011) changes the parties' payoffs: here the EU may
    propose either deal and pays each party 0.2 utility on signing (what the EU's own gain from
    a ceasefire, about 0.5-1 while the fighting lasts, can cover). Measured: +0.037 [0.022,
    0.052] by day 21 against +0.002 [-0.002, 0.005] for the same mediator without leverage
    (a mediator's side draws no private resolve, so the arms stay paired run by run)."""
    data = _with_mediator(baseline.data, "eu", ("sochi", "highway_compromise"), 0.2)
    b = unfold(load_data(data))
    # by day 21 as before (three weeks; nearly every run agrees later anyway)
    mean, low, high = paired_effect(_agreed_by(base["first"], 21), _agreed_by(b["first"], 21))
    assert low > 0, f"agreement by day 21: effect {mean:.3f} [{low:.3f}, {high:.3f}]"
    # and the same mediator proposing without leverage does not (the parties propose anyway)
    c = unfold(load_data(_with_mediator(baseline.data, "eu", ("sochi", "highway_compromise"),
                                        0.0)))
    mean_c, low_c, high_c = paired_effect(_agreed_by(c["first"], 21), _agreed_by(b["first"], 21))
    assert low_c > 0, f"leverage over proposing alone: {mean_c:.3f} [{low_c:.3f}, {high_c:.3f}]"


def test_a_mediator_with_leverage_raises_agreement_in_a_second_scenario(fictional):
    """The same pattern on the fictional three-state crisis: Corvalia mediates the valley
    split and pays each side 0.2; agreement by the run's midpoint (day 30 of 60) rises
    (measured +0.122 [0.095, 0.148])."""
    lasting = lasting_war(copy.deepcopy(fictional.data))
    a = unfold(load_data(lasting))
    b = unfold(load_data(_with_mediator(lasting, "corvalia", ("valley_split",), 0.2)))
    mean, low, high = paired_effect(_agreed_by(a["first"], 30), _agreed_by(b["first"], 30))
    assert low > 0, f"agreement by day 30: effect {mean:.3f} [{low:.3f}, {high:.3f}]"


def _number(value):
    return value["value"] if isinstance(value, dict) else value
