"""Issue #23, item 3: flight from who controls the ground.

A district is handed over by deal (no fighting anywhere) from Ostra to Vell. Its people either
fear Vell (``regard: -1``) or trust it (``+1``); nothing else differs, so the two ensembles
share their random numbers and every decision (the deal is signed on the same day in the same
runs). Handed to a feared actor the district empties within weeks; to a trusted one, next to
nobody leaves; people are conserved every day. Each assertion fails under the rule before
issue #23 (flight from fighting only: the handover moves no one either way).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.model import CrisisModel
from sim.scenario.loader import load_data

from .conftest import paired_effect

RUNS, SEED, DAYS = 200, 23, 35
TOWN = 0  # the district's town is the first node

HANDOVER = {
    "name": "District for aid (fictional)",
    "run": {"start": "2033-03-01", "days": DAYS, "runs": RUNS, "seed": SEED,
            "sample_paths": 0},
    "actors": {
        "ostra": {"name": "Ostra", "interests": {"territory": 0.5, "ties": 0.5},
                  "rationality": 30.0,
                  "actions": [{"verb": "hold"}, {"verb": "negotiate", "deal": "district"}]},
        "vell": {"name": "Vell", "interests": {"territory": 0.5, "ties": 0.5},
                 "rationality": 30.0,
                 "actions": [{"verb": "hold"}, {"verb": "negotiate", "deal": "district"}]},
    },
    "relations": {"ostra~vell": {"affinity": 0.2, "rung": "calm", "contact": False}},
    "ladder": {"rungs": {"calm": {"name": "Calm"},
                         "fighting": {"name": "Fighting", "intensity": 0.5, "severity": 0.5}},
               "armed_from": "fighting", "war_from": "fighting"},
    "theatre": {"objectives": {"district": {
        "name": "The district", "value": {"ostra": 0.0, "vell": 1.0},
        "control": {"ostra": 1.0}}}},
    "refugees": {
        "nodes": {
            "town": {"name": "District town", "population": 100_000, "capacity": 200_000,
                     "conflict": True, "objective": "district", "host": "ostra"},
            "camp": {"name": "Camp beyond", "population": 0, "capacity": 1_000_000,
                     "host": "ostra"},
        },
        "edges": [{"from": "town", "to": "camp", "rate": 1.0, "return_rate": 0.05}],
    },
    "deals": {"district": {
        "name": "The district for aid", "parties": ["ostra", "vell"],
        "transfer": {"district": {"vell": 1.0}}, "rung_cap": "calm",
        "payments": {"vell": {"ostra": 0.5}}}},
    "bargaining": {"noise": 0.1},
    "outcomes": {"handed_over": {"description": "The district is handed over",
                                 "when": {"indicator": "day.agreement.district",
                                          "op": "happened"}}},
}


def _variant(regard: float | None, share: float = 1.0) -> dict:
    """The handover with the town's regard for Vell (None: the key left out) and Vell's share."""
    data = copy.deepcopy(HANDOVER)
    if regard is not None:
        data["refugees"]["nodes"]["town"]["regard"] = {"vell": regard}
    if share < 1.0:
        data["deals"]["district"]["transfer"]["district"] = {"vell": share,
                                                             "ostra": 1.0 - share}
    return data


def _follow(data: dict) -> dict:
    """Run the ensemble day by day: the town's people, the deal, conservation every day."""
    model = CrisisModel(load_data(data), replications=RUNS, seed=SEED, record_paths=False)
    s = model.state
    total = s.people.sum(axis=1) + s.dead
    town, agreement = [], []
    while model.running:
        model.step()
        assert np.array_equal(s.people.sum(axis=1) + s.dead, total)  # conserved, every day
        assert (s.people >= 0).all()
        assert ((s.displaced_at >= 0) & (s.displaced_at <= s.people)).all()
        town.append(s.people[:, TOWN].copy())
        agreement.append(s.agreement[:, 0].copy())
    return {"town": np.stack(town, axis=1), "agreement": np.stack(agreement, axis=1)}


@pytest.fixture(scope="module")
def runs() -> dict:
    return {"feared": _follow(_variant(-1.0)), "trusted": _follow(_variant(1.0)),
            "unsaid": _follow(_variant(None))}


def test_a_district_handed_to_a_feared_actor_empties_within_weeks(runs):
    """Four weeks after the deal's first possible day most of the district's people have
    left when they fear Vell (the default flight rate 0.1 a day: about 1 - 0.9^24 ~ 92%), and
    next to none when they trust it; the deal is the same in both (paired runs)."""
    feared, trusted = runs["feared"], runs["trusted"]
    assert np.array_equal(feared["agreement"], trusted["agreement"])  # the same decisions
    signed = feared["agreement"][:, 7]
    assert signed.mean() > 0.9  # the deal is signed within the first week in most runs
    day = 27  # four weeks
    gone_feared = 1.0 - feared["town"][signed, day] / 100_000
    gone_trusted = 1.0 - trusted["town"][signed, day] / 100_000
    mean, low, high = paired_effect(gone_trusted, gone_feared)
    assert low > 0.6, (mean, low, high)  # most of them leave
    assert gone_feared.mean() > 0.75
    assert gone_trusted.max() < 0.03  # next to none: the base rate's ~0.05% a day only


def test_regard_left_unsaid_or_trust_leaves_the_rule_as_it_was(runs):
    """The documented default (regard 0) and trust move exactly the same people: the flight
    rule adds nothing unless the people fear the actor that took their ground."""
    assert np.array_equal(runs["trusted"]["town"], runs["unsaid"]["town"])


def test_a_partial_handover_empties_only_the_share_handed_over():
    """Vell takes 40% of the district (no returns, so the count is clean): the 40% leave at
    0.1 a day, about 0.4 (1 - 0.9^30) ~ 38% in the month after the deal, and no more: the
    people on the ground Ostra keeps stay."""
    data = _variant(-1.0, share=0.4)
    data["refugees"]["edges"][0]["return_rate"] = 0.0
    part = _follow(data)
    signed = part["agreement"][:, 7]
    gone = 1.0 - part["town"][signed, -1] / 100_000
    assert gone.mean() == pytest.approx(0.38, abs=0.03), gone.mean()
    assert gone.max() < 0.41


def test_regard_needs_an_objective_and_known_actors():
    data = _variant(-1.0)
    data["refugees"]["nodes"]["camp"]["regard"] = {"vell": -0.5}
    with pytest.raises(ScenarioError, match="has no objective"):
        load_data(data)
    data = _variant(-1.0)
    data["refugees"]["nodes"]["town"]["regard"] = {"vel": -1.0}
    with pytest.raises(ScenarioError, match="unknown actor 'vel'"):
        load_data(data)
    data = _variant(-1.5)
    with pytest.raises(ScenarioError):
        load_data(data)
