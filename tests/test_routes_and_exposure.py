"""Issue #12, items 5 and 1: the refugee network's onward routes, push-backs and transit nodes,
and troop exposure as state that reinforcements raise.

Paired comparisons with common random numbers (the same seed, so the same replication keys)
and fixed seeds; each asserts an effect whose interval excludes 0, and fails if the mechanism
is removed (the earlier rule gives no effect, or the opposite).
"""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.mechanisms.refugees import step
from sim.model import CrisisModel
from sim.scenario.loader import load_data, load_scenario

from .conftest import SCENARIOS, ensemble, paired_effect

EVROS = SCENARIOS / "library" / "evros_2020.yaml"
KEYS = np.arange(1, 401, dtype=np.uint64) * np.uint64(7919)  # 400 replications


def _two_nodes(people, displaced, days, *, onward=0.0, push_back=0.0, gate_open=False,
               leakage=0.05, settle=0.003, release=0.0):
    """``days`` days of ``refugees.step`` on a two-node network, border -> host, for 400
    replications (the rows of ``people``); a closed or open gate on the one route (its
    ``release``: no surge unless given).

    Returns the people and displaced per day, ``(days, R, 2)`` each; checks conservation.
    """
    r = KEYS.size
    people = np.tile(np.asarray(people, np.int64), (r, 1))
    displaced = np.tile(np.asarray(displaced, np.int64), (r, 1))
    dead, left = np.zeros(r, np.int64), np.zeros(r, np.int64)
    total = people.sum(axis=1)
    src, dst, gate = (np.array([x], np.int64) for x in (0, 1, 0))
    flows = tuple(np.array([x]) for x in (0.0, 0.0, 0.0, settle, 0.1, 0.0))
    out_people, out_displaced = [], []
    for day in range(days):
        step(people, displaced, dead, left, np.array([False, False]), src, dst, gate,
             np.array([[20_000.0, 1e6]]), np.array([[onward, 0.0]]), np.array([[1.0]]),
             np.array([[0.0]]), np.array([[push_back]]), np.array([[leakage]]),
             np.array([[release]]), np.array([0.0]),
             flows, np.array([0.05]), np.zeros(r), np.zeros((r, 2)),
             np.full((r, 1), gate_open), np.zeros((r, 2)), np.zeros((r, 2)),
             np.zeros((1, 2), np.int64), KEYS, day, (9, 7),
             np.zeros((4, 2)), np.zeros(5, np.int64))
        assert np.array_equal(people.sum(axis=1), total)  # conserved, every day
        assert (people >= 0).all() and ((displaced >= 0) & (displaced <= people)).all()
        out_people.append(people.copy())
        out_displaced.append(displaced.copy())
    return np.array(out_people), np.array(out_displaced)


def test_a_transit_node_passes_people_on_faster_than_a_settle_node_below_capacity():
    """10,000 at a node that holds 20,000, an open route out: a dwell time of 3.3 days sends
    about 30% on a day (Flee's town rule), the settle rate 0.3%."""
    settle, _ = _two_nodes([10_000, 0], [10_000, 0], 5, gate_open=True)
    transit, _ = _two_nodes([10_000, 0], [10_000, 0], 5, gate_open=True, onward=1 / 3.3)
    mean, low, high = paired_effect(settle[0, :, 1], transit[0, :, 1])  # moved on, day 1
    assert low > 2_500 and high < 3_200, (mean, low, high)  # 10,000 (1/3.3 - 0.003) ~ 2,700
    assert settle[0, :, 1].mean() == pytest.approx(30, abs=5)
    # after five days about (1 - 0.3)^5 ~ 17% are left at the transit node
    assert transit[-1, :, 0].mean() == pytest.approx(10_000 * (1 - 1 / 3.3) ** 5, rel=0.05)


def test_an_opened_gate_releases_the_crowd_waiting_at_it_within_days():
    """Issue #23, item 1b: 10,000 displaced wait at a settle node (not a transit node); the
    gate is open. At release 0.3 about 1 - 0.7^3 = 66% cross in three days; without a release
    only the settle rate's 0.3% a day does (the earlier rule)."""
    surge, _ = _two_nodes([10_000, 0], [10_000, 0], 3, gate_open=True, release=0.3)
    daily, _ = _two_nodes([10_000, 0], [10_000, 0], 3, gate_open=True)
    assert surge[-1, :, 1].mean() == pytest.approx(10_000 * (1 - 0.7 ** 3), rel=0.03)
    assert daily[-1, :, 1].mean() < 150
    closed, _ = _two_nodes([10_000, 0], [10_000, 0], 3, release=0.3)  # closed: no surge
    assert closed[-1, :, 1].mean() < 10


def test_push_back_returns_the_displaced_while_the_gate_is_closed():
    """The host sends a share of the displaced across the route back to its source; people are
    conserved; with the gate open, nobody is pushed back (the same draws as no push-back)."""
    start, arrived = [10_000, 2_000], [10_000, 2_000]
    kept, kept_h = _two_nodes(start, arrived, 10)
    pushed, pushed_h = _two_nodes(start, arrived, 10, push_back=0.3)
    mean, low, high = paired_effect(kept[0, :, 1], pushed[0, :, 1])
    assert low > -650 and high < -550, (mean, low, high)  # 0.3 of 2,000 on day 1
    assert (pushed[-1, :, 1] < 400).all() and (kept[-1, :, 1] > 2_000).all()
    assert (pushed_h[:, :, 0] >= kept_h[:, :, 0]).all()  # the pushed back stay displaced
    opened, _ = _two_nodes(start, arrived, 10, gate_open=True)
    opened_pushing, _ = _two_nodes(start, arrived, 10, gate_open=True, push_back=0.3)
    assert np.array_equal(opened, opened_pushing)


def test_push_back_keeps_a_crowd_at_the_border_in_the_evros_scenario():
    """Greece's push-backs across the Evros (evros_2020) lower the land arrivals and raise the
    crowd on the Turkish side, against the same scenario without them (paired runs)."""
    data = load_scenario(EVROS).data
    assert data["refugees"]["edges"][2]["push_back"] > 0
    without = copy.deepcopy(data)
    without["refugees"]["edges"][2]["push_back"] = 0.0
    runs = 100
    pushing, free = ensemble(load_scenario(EVROS), runs, seed=8), ensemble(
        load_data(without), runs, seed=8)
    crossed = free["people.greece.final"] > 1_000
    assert crossed.mean() > 0.2, "the test needs runs with crossings"
    mean, low, high = paired_effect(free["people.greece.final"], pushing["people.greece.final"])
    assert high < 0, (mean, low, high)
    mean, low, high = paired_effect(free["people.border_zone.peak"],
                                    pushing["people.border_zone.peak"])
    assert low > 0, (mean, low, high)


def _sink(data: dict) -> dict:
    """The baseline's EU border as it was: no dwell time, no route back inland."""
    data = copy.deepcopy(data)
    data["refugees"]["nodes"]["eu_border"].pop("dwell")
    data["refugees"]["edges"] = [e for e in data["refugees"]["edges"]
                                 if not (e["from"] == "eu_border" and e["to"] == "turkey")]
    return data


def _gate_pulse(data: dict) -> dict:
    """Turkey's gate toward the EU open for the first 30 days, then closed (dated events, and
    no gate acts on the menu)."""
    data = copy.deepcopy(data)
    for actor in data["actors"].values():
        actor["actions"] = [a for a in actor["actions"] if a.get("gate") != "turkey_eu_border"]
    start = dt.date.fromisoformat(str(data["run"]["start"]))
    data["timeline"] += [
        {"date": str(start), "name": "opens", "kind": "gate", "gate": "turkey_eu_border",
         "open": True},
        {"date": str(start + dt.timedelta(days=30)), "name": "closes", "kind": "gate",
         "gate": "turkey_eu_border", "open": False}]
    return data


def test_onward_routes_let_the_border_node_follow_its_inflow_unlike_a_sink(baseline):
    """With a dwell time and a route back inland the baseline's EU border node is not a sink:
    its population differs from the sink's (paired runs), and after a month of an open gate it
    drains once the gate closes, where the sink keeps its crowd."""
    runs = 60
    column = "people.eu_border.final"
    onward = ensemble(baseline, runs, seed=21)
    sink = ensemble(load_data(_sink(baseline.data)), runs, seed=21)
    mean, low, high = paired_effect(sink[column], onward[column])
    assert high < 0, (mean, low, high)
    onward = ensemble(load_data(_gate_pulse(baseline.data)), runs, seed=21)
    sink = ensemble(load_data(_gate_pulse(_sink(baseline.data))), runs, seed=21)
    kept = onward[column] / onward["people.eu_border.peak"]
    kept_sink = sink[column] / sink["people.eu_border.peak"]
    assert onward["people.eu_border.peak"].min() > 10_000  # the open gate brought a crowd
    assert kept.max() < 0.4 and kept_sink.min() > 0.7, (kept.max(), kept_sink.min())


def _reinforced(data: dict, amount: float) -> dict:
    data = copy.deepcopy(data)
    data["timeline"].append({"date": data["run"]["start"], "name": "reinforcements",
                             "kind": "reinforcement", "actor": "turkey", "amount": amount})
    return data


def test_reinforcements_raise_the_losses_of_the_reinforced_side(baseline):
    """Exposure is state: a reinforcement event raises Turkey's exposure from its day on, and
    its losses with it (paired runs); without events it stays at the scenario's value."""
    model = CrisisModel(load_data(_reinforced(baseline.data, 1.0)), replications=4, seed=2,
                        record_paths=False)
    turkey = model.layout.actors.index("turkey")
    start = model.state.exposure.copy()
    model.step()
    assert np.allclose(model.state.exposure[:, turkey], start[:, turkey] + 1.0)
    others = np.arange(model.layout.n_actors) != turkey
    assert np.array_equal(model.state.exposure[:, others], start[:, others])
    runs = 200
    plain = ensemble(baseline, runs, seed=13)
    reinforced = ensemble(load_data(_reinforced(baseline.data, 1.0)), runs, seed=13)
    mean, low, high = paired_effect(plain["losses.turkey"], reinforced["losses.turkey"])
    assert low > 0, (mean, low, high)


def test_new_keys_are_checked(baseline):
    data = copy.deepcopy(baseline.data)
    data["refugees"]["nodes"]["idlib_front"]["dwell"] = 3.0
    with pytest.raises(ScenarioError, match="dwell"):
        load_data(data)
    data = _reinforced(baseline.data, 1.0)
    del data["timeline"][-1]["actor"]
    with pytest.raises(ScenarioError, match="actor"):
        load_data(data)
    data = copy.deepcopy(baseline.data)
    data["refugees"]["edges"][0]["push_back"] = 1.5
    with pytest.raises(ScenarioError, match="push_back"):
        load_data(data)
