"""Issue #23, items 1, 1b and 5: gates valued over the network, surges at an opened gate, and
sanctions as states.

Paired comparisons use common random numbers (the same seed, so the same replication keys) and
report the effect with its 95% interval; each fails if its mechanism is removed (the one-hop
gate value, the daily share of movers only, the daily sanction).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.model import CrisisModel
from sim.scenario.loader import load_data, load_scenario

from .conftest import paired_effect

ROOT = Path(__file__).resolve().parents[1]
LEVERAGE = ROOT / "scenarios" / "leverage.yaml"
THREE = ROOT / "scenarios" / "three_states.yaml"


def _data(path: Path) -> dict:
    return copy.deepcopy(load_scenario(path).data)


def _through_crossing(data: dict) -> dict:
    """The leverage scenario with the gate's route ending at a transit node Ostra hosts (a
    crossing area people pass through, dwell 3.3 days), from which one route goes on to Vell:
    one hop out of the gate nobody but Ostra hosts anything."""
    data = copy.deepcopy(data)
    ref = data["refugees"]
    ref["nodes"]["crossing"] = {"name": "Crossing area in Ostra", "population": 0,
                                "capacity": 20_000, "host": "ostra", "dwell": 3.3}
    ref["edges"] = [{"from": "camps", "to": "crossing", "rate": 0.5, "gate": "west_gate"},
                    {"from": "crossing", "to": "west", "rate": 1.0}]
    return data


def _reach(data: dict, runs: int = 4) -> tuple[np.ndarray, CrisisModel]:
    """``refugees.gate_reach`` on the first morning, ``(2, R, G, A)``, and the model."""
    model = CrisisModel(load_data(data), replications=runs, seed=3, record_paths=False)
    model.step()
    return model.workspace.reach.copy(), model


def _follow(data: dict, runs: int = 300, seed: int = 5) -> dict:
    model = CrisisModel(load_data(data), replications=runs, seed=seed, record_paths=False)
    gate_open, agreement = [], []
    while model.running:
        model.step()
        gate_open.append(model.state.gate_open.copy())
        agreement.append(model.state.agreement.copy())
    return {"model": model, "gate_open": np.stack(gate_open, axis=1),
            "agreement": np.stack(agreement, axis=1)}


def _opened_by(run: dict, day: int) -> np.ndarray:
    return run["gate_open"][:, : day + 1, 0].any(axis=1).astype(float)


# --------------------------------------------------------------------------- item 1


def test_a_gate_through_the_owners_transit_node_is_worth_what_reaches_the_neighbour():
    """One hop out the gate's route ends on Ostra's own ground, so the one-hop value was 0 to
    both; over the network the flow passes the crossing and stops in Vell: to Vell the gate is
    worth what reaches it (most of the direct network's flow), to Ostra the same, negated."""
    direct, model = _reach(_data(LEVERAGE))
    crossing, _ = _reach(_through_crossing(_data(LEVERAGE)))
    ostra, vell = model.layout.actors.index("ostra"), model.layout.actors.index("vell")
    for horizon in range(2):  # the decision horizon (7 days) and the bargaining one (30)
        d, c = direct[horizon, :, 0], crossing[horizon, :, 0]
        assert (d[:, vell] > 1_000).all() and np.allclose(d[:, ostra], -d[:, vell])
        # a share 1 - 0.7^(h/2) of a steady inflow moves on from the crossing within h days
        share = 1.0 - (1.0 - 1.0 / 3.3) ** (0.5 * (7, 30)[horizon])
        assert c[:, vell] == pytest.approx(share * d[:, vell], rel=0.02)
        # what does not reach Vell stops at the crossing, on Ostra's ground
        assert c[:, ostra] == pytest.approx(-c[:, vell], rel=1e-9)


def test_leverage_through_a_gate_works_in_a_network_with_transit_nodes():
    """The #11 leverage pattern with the crossing: Ostra opens the gate far more often in the
    first week when the deal on the table holds it closed than when the deal leaves it out."""
    data = _through_crossing(_data(LEVERAGE))
    with_term = _follow(data)
    without = copy.deepcopy(data)
    del without["deals"]["aid_for_the_gate"]["gates"]
    b = _follow(without)
    mean, low, high = paired_effect(_opened_by(b, 7), _opened_by(with_term, 7))
    assert low > 0.5, f"gate opened in the first week: effect {mean:.3f} [{low:.3f}, {high:.3f}]"
    assert with_term["agreement"].any(axis=(1, 2)).mean() > 0.9


# --------------------------------------------------------------------------- item 1b


def _waiting_at_a_border(release: float | None) -> dict:
    """A crowd gathers at a border camp in Ostra (no dwell: people settle there) while the gate
    west is closed; a dated event opens it on day 20. Nobody decides about the gate."""
    data = _data(LEVERAGE)
    data["deals"] = {}
    del data["outcomes"]["paid"]
    for actor in data["actors"].values():
        actor["actions"] = [{"verb": "hold"}]
    ref = data["refugees"]
    ref["nodes"]["border"] = {"name": "Border camp", "population": 0, "capacity": 200_000,
                              "host": "ostra"}
    ref["edges"] = [{"from": "camps", "to": "border", "rate": 1.0},
                    {"from": "border", "to": "west", "rate": 1.0, "gate": "west_gate"}]
    ref["gates"]["west_gate"]["leakage"] = 0.0
    if release is not None:
        ref["gates"]["west_gate"]["release"] = release
    data["timeline"] = [{"date": "2033-03-21", "name": "the gate opens", "kind": "gate",
                         "gate": "west_gate", "open": True}]
    data["run"]["days"] = 25
    return data


def test_opening_a_gate_with_people_waiting_at_it_moves_most_of_them_within_days():
    """The displaced gathered at the border camp (about 20 days of arrivals) cross within a
    few days of the opening at the default release (0.3 a day): more than half their number
    reach Vell in three days; at release 0 only the camp's daily movers (its settle rate)
    cross. People are conserved every day."""
    crossed = {}
    for release in (None, 0.0):
        model = CrisisModel(load_data(_waiting_at_a_border(release)), replications=100, seed=7,
                            record_paths=False)
        total = model.state.people.sum(axis=1).copy()
        border, west = model.layout.nodes.index("border"), model.layout.nodes.index("west")
        while model.running:
            model.step()
            assert np.array_equal(model.state.people.sum(axis=1) + model.state.dead, total)
            if model.steps == 20:  # the morning of the opening: the crowd at the border
                waiting = model.state.displaced_at[:, border].copy()
                before = model.state.people[:, west].copy()
            if model.steps == 23:  # three days later
                crossed[release] = (model.state.people[:, west] - before) / waiting
        assert waiting.min() > 5_000, "no crowd gathered at the border"
    assert np.median(crossed[None]) > 0.5, np.median(crossed[None])
    assert np.median(crossed[0.0]) < 0.2, np.median(crossed[0.0])
    mean, low, high = paired_effect(crossed[0.0], crossed[None])
    assert low > 0.3, (mean, low, high)


# --------------------------------------------------------------------------- item 5


def _three(sanctions: list[str] | None = None, **corvalia) -> dict:
    data = _data(THREE)
    if sanctions is not None:
        data["relations"]["borduria~corvalia"]["sanctions"] = sanctions
    data["actors"]["corvalia"].update(corvalia)
    return data


def _sanction_spells(data: dict, runs: int = 200, seed: int = 2) -> dict:
    model = CrisisModel(load_data(data), replications=runs, seed=seed, record_paths=False)
    lay = model.layout
    c, b = lay.actors.index("corvalia"), lay.actors.index("borduria")
    days = []
    while model.running:
        model.step()
        days.append(model.state.sanction_prev[:, c, b] > 0)
    return {"on": np.stack(days, axis=1), "model": model}


def _spells(on: np.ndarray) -> np.ndarray:
    """Lengths of every completed or running spell in effect, over all runs."""
    out = []
    for row in on:
        length = 0
        for x in row:
            if x:
                length += 1
            elif length:
                out.append(length)
                length = 0
        if length:
            out.append(length)
    return np.asarray(out)


def test_a_sanction_starts_in_force_where_the_scenario_says():
    run = _sanction_spells(_three(["corvalia"]), runs=100)
    on = run["on"]
    # in force on day 0 in every run, unless lifted at a review on day 0
    assert on[:, 0].mean() > 0.85
    none = _sanction_spells(_three(), runs=100)["on"]
    assert not none[:, 0].all()


def test_once_imposed_a_sanction_lasts_until_lifted():
    """A sanction is a state: with lifting worth nothing to Corvalia (it weighs only refugees,
    which sanctions do not move), the median spell is over a week; under the daily rule a
    sanction lasted as long as it was chosen again each day (spells of a day or two)."""
    indifferent = {"interests": {"refugees": 1.0}}
    run = _sanction_spells(_three(**indifferent))
    spells = _spells(run["on"])
    assert spells.size > 50, "too few sanctions imposed"
    assert np.median(spells) > 7, np.median(spells)
    # lifting is a decision of its own: reviewed every day, half the spells end in two days
    daily = _three(**indifferent)
    daily["decisions"] = {"sanction_review": 1.0}
    quick = _spells(_sanction_spells(daily)["on"])
    assert np.median(quick) < np.median(spells)


def test_a_sanction_in_force_by_a_name_outside_the_pair_is_an_error():
    data = _three(["arcadia"])
    with pytest.raises(ScenarioError, match=r"relations\.borduria~corvalia\.sanctions"):
        load_data(data)
