"""Deals over actions, with more parties and mediators (issue #11, items 3, 4 and 5).

The leverage pattern is measured on ``scenarios/leverage.yaml`` (fictional, made for it) and
the binding of each kind of term on ``scenarios/three_states.yaml`` with a deal added. Paired
comparisons use common random numbers (same seed, same replications) and report the effect
with its 95% interval.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from sim.model import CrisisModel
from sim.scenario.loader import load_data, load_scenario

from .conftest import paired_effect

ROOT = Path(__file__).resolve().parents[1]
LEVERAGE = ROOT / "scenarios" / "leverage.yaml"
THREE = ROOT / "scenarios" / "three_states.yaml"
RUNS = 300
SEED = 5


def _data(path: Path) -> dict:
    """The scenario's values as a plain mapping (provenance notes taken off)."""
    return copy.deepcopy(load_scenario(path).data)


def _follow(data: dict, runs: int = RUNS, seed: int = SEED, days: int | None = None) -> dict:
    """Step an ensemble of a scenario (as a dict) and keep, per run and day, what tests read."""
    if days is not None:
        data = copy.deepcopy(data)
        data["run"]["days"] = days
    model = CrisisModel(load_data(data), replications=runs, seed=seed, record_paths=False)
    gate_open, agreement, holder, on, sanction = [], [], [], [], []
    while model.running:
        model.step()
        s = model.state
        gate_open.append(s.gate_open.copy())
        agreement.append(s.agreement.copy())
        holder.append(s.asset_holder.copy())
        on.append(s.asset_on.copy())
        sanction.append(s.sanction_prev.copy())
    return {"model": model, "gate_open": np.stack(gate_open, axis=1),
            "agreement": np.stack(agreement, axis=1), "holder": np.stack(holder, axis=1),
            "on": np.stack(on, axis=1), "sanction": np.stack(sanction, axis=1)}


def _opened_by(run: dict, day: int) -> np.ndarray:
    """1.0 where the (only) gate was open on some day up to ``day``, per run."""
    return run["gate_open"][:, : day + 1, 0].any(axis=1).astype(float)


# --------------------------------------------------------------------------- leverage


@pytest.fixture(scope="module")
def leverage():
    return _data(LEVERAGE)


@pytest.fixture(scope="module")
def with_term(leverage):
    return _follow(leverage)


def test_an_actor_opens_a_gate_to_obtain_a_deal_that_closes_it(leverage, with_term):
    """Leverage (Greenhill 2010): Ostra owns the gate and wants Vell's aid; Vell values the gate
    closed. Ostra opens the gate far more often when the deal on the table includes the gate,
    and removing the gate term from the deal removes the effect."""
    without = copy.deepcopy(leverage)
    del without["deals"]["aid_for_the_gate"]["gates"]
    b = _follow(without)
    mean, low, high = paired_effect(_opened_by(b, 7), _opened_by(with_term, 7))
    assert low > 0.5, f"gate opened in the first week: effect {mean:.3f} [{low:.3f}, {high:.3f}]"
    # without the gate term Vell has nothing to gain from the deal: it is (almost) never signed
    assert b["agreement"].any(axis=(1, 2)).mean() < 0.05
    assert with_term["agreement"].any(axis=(1, 2)).mean() > 0.9


def test_the_gate_is_opened_more_when_the_other_side_values_it_closed(leverage, with_term):
    indifferent = copy.deepcopy(leverage)
    weights = indifferent["actors"]["vell"]["interests"]
    # Vell no longer minds the arrivals
    weights["territory"] = weights.get("territory", 0.0) + weights.pop("refugees")
    b = _follow(indifferent)
    mean, low, high = paired_effect(_opened_by(b, 7), _opened_by(with_term, 7))
    assert low > 0.2, f"gate opened in the first week: effect {mean:.3f} [{low:.3f}, {high:.3f}]"


def test_a_deal_that_includes_the_gate_closes_it_and_holds_it_closed(with_term):
    gate_open, agreement = with_term["gate_open"][:, :, 0], with_term["agreement"][:, :, 0]
    assert agreement.any(), "the deal never formed: nothing to check"
    # on every day a deal is in force (including the day it is signed) the gate is closed
    assert not (gate_open & agreement).any()
    # and the gate had been opened before the deal in most runs that signed it (coercion)
    signed = agreement.any(axis=1)
    first = agreement.argmax(axis=1)
    opened_before = np.array([gate_open[r, : first[r]].any() for r in np.flatnonzero(signed)])
    assert opened_before.mean() > 0.9


def test_a_broken_deal_frees_the_gate(with_term):
    """A breakdown releases the acts the deal bound: the owner may open the gate again."""
    gate_open, agreement = with_term["gate_open"][:, :, 0], with_term["agreement"][:, :, 0]
    ended = agreement[:, :-1] & ~agreement[:, 1:]  # in force one day, not the next
    runs, days = np.nonzero(ended)
    assert runs.size > 10, "too few breakdowns to see"
    reopened = [gate_open[r, d + 1:].any() for r, d in zip(runs, days, strict=True)]
    assert np.mean(reopened) > 0.5


# --------------------------------------------------------------------------- more parties


def _three_with(deal: dict, actions: dict | None = None, days: int = 40,
                data: dict | None = None) -> dict:
    """three_states (or ``data``) with its deal replaced and extra menu entries."""
    data = _data(THREE) if data is None else data
    data["deals"] = {"pact": {"name": "Pact", "rung_cap": "threats", **deal}}
    del data["outcomes"]["split"]  # it names the deal replaced here
    for actor in data["actors"].values():
        actor["actions"] = [a for a in actor["actions"] if a.get("verb") != "negotiate"]
    for actor, extra in (actions or {}).items():
        data["actors"][actor]["actions"] += extra
    data["run"]["days"] = days
    return data


NEGOTIATE = {"verb": "negotiate", "deal": "pact"}


def test_every_party_must_accept_a_deal_with_three_parties():
    """A deal with three signatories forms only when all three accept: a payment that costs
    Corvalia more than the deal is worth to it stops the deal, the same deal without it forms."""
    parties = ["arcadia", "borduria", "corvalia"]
    menus = {a: [NEGOTIATE] for a in parties}
    deal = {"parties": parties, "ceasefire": ["arcadia~borduria"]}
    free = _follow(_three_with(deal, menus), runs=200)
    costly = _follow(_three_with({**deal, "payments": {"corvalia": {"arcadia": 5.0}}}, menus),
                     runs=200)
    assert free["agreement"].any(axis=(1, 2)).mean() > 0.3
    assert costly["agreement"].any(axis=(1, 2)).mean() == 0.0


def test_a_mediator_can_propose_a_deal_its_parties_never_propose():
    """A mediator proposing terms (item 5): Corvalia, not a party, is the only one that
    proposes the pact; it forms when both parties accept, and it binds the parties."""
    deal = {"parties": ["arcadia", "borduria"], "mediators": ["corvalia"],
            "lift_sanctions": ["borduria~arcadia"]}
    run = _follow(_three_with(deal, {"corvalia": [NEGOTIATE]}), runs=200)
    assert run["agreement"].any(axis=(1, 2)).mean() > 0.2
    silent = _follow(_three_with(deal), runs=200)  # nobody proposes it
    assert not silent["agreement"].any()


def test_a_lifted_sanction_is_not_imposed_while_the_deal_holds():
    # Corvalia sanctions Borduria in three_states; here it signs a pact lifting sanctions
    deal = {"parties": ["corvalia", "borduria"], "lift_sanctions": ["corvalia~borduria"],
            "payments": {"borduria": {"corvalia": 0.5}}}
    menus = {"corvalia": [NEGOTIATE], "borduria": [NEGOTIATE]}
    run = _follow(_three_with(deal, menus), runs=200)
    agreement = run["agreement"][:, :, 0]
    lay = run["model"].layout
    c, b = lay.actors.index("corvalia"), lay.actors.index("borduria")
    sanctions = run["sanction"][:, :, c, b] > 0
    assert agreement.any(), "the pact never formed: nothing to check"
    assert sanctions[~agreement].any(), "no sanctions at all: nothing is lifted"
    assert not (sanctions & agreement).any()


def test_a_granted_asset_is_granted_on_signing_and_a_withheld_one_never():
    data = _data(THREE)
    owner = data["assets"]["shield"]["owner"]
    granted = _follow(_three_with(
        {"parties": ["arcadia", owner], "grants": {"shield": "arcadia"}},
        {"arcadia": [NEGOTIATE], owner: [NEGOTIATE]}), runs=200)
    lay = granted["model"].layout
    k, arcadia = lay.assets.index("shield"), lay.actors.index("arcadia")
    agreement = granted["agreement"][:, :, 0]
    assert agreement.any(), "the grant deal never formed"
    first = agreement.argmax(axis=1)
    signed = np.flatnonzero(agreement.any(axis=1))
    on_day = granted["on"][signed, first[signed], k] & (
        granted["holder"][signed, first[signed], k] == arcadia)
    assert on_day.all(), "the shield was not in Arcadia's hands on the day the deal was signed"

    withheld = _follow(_three_with(
        {"parties": ["arcadia", owner], "withhold": ["shield"],
         "payments": {"arcadia": {owner: 0.3}}},
        {"arcadia": [NEGOTIATE], owner: [NEGOTIATE]}), runs=200)
    agreement = withheld["agreement"][:, :, 0]
    on = withheld["on"][:, :, k]
    newly = on[:, 1:] & ~on[:, :-1]  # granted that day
    # deals in force before the shield was ever granted: there the grant waits
    waiting = agreement & ~on
    assert waiting[:, :-1].sum() > 100, "too few days with the deal in force before a grant"
    assert newly[~agreement[:, 1:]].any(), "the shield is never granted: nothing is withheld"
    assert not (newly & agreement[:, 1:]).any()


def test_sanctions_imposed_to_be_traded_for_a_deal_that_lifts_them():
    """Leverage through sanctions (the look-ahead of M1 for a sanction): Corvalia sanctions
    Borduria more often in the first week when Borduria is offered a deal in which it pays
    to have them lifted, than when the same payment buys nothing Borduria values (the deal
    without the lifting term)."""
    deal = {"parties": ["corvalia", "borduria"], "lift_sanctions": ["corvalia~borduria"],
            "payments": {"borduria": {"corvalia": 0.15}}}
    menus = {"corvalia": [NEGOTIATE], "borduria": [NEGOTIATE]}
    lifting = _follow(_three_with(deal, menus), runs=RUNS)
    plain = {k: v for k, v in deal.items() if k != "lift_sanctions"}
    buying_nothing = _follow(_three_with(plain, menus), runs=RUNS)
    lay = lifting["model"].layout
    c, b = lay.actors.index("corvalia"), lay.actors.index("borduria")

    def sanctioned_by(run: dict, day: int) -> np.ndarray:
        return (run["sanction"][:, : day + 1, c, b] > 0).any(axis=1).astype(float)

    mean, low, high = paired_effect(sanctioned_by(buying_nothing, 7), sanctioned_by(lifting, 7))
    assert low > 0, f"sanctioned in the first week: effect {mean:.3f} [{low:.3f}, {high:.3f}]"
    assert lifting["agreement"].any(axis=(1, 2)).mean() > \
        buying_nothing["agreement"].any(axis=(1, 2)).mean()


def test_deals_over_actions_are_reproducible_for_any_batch_and_worker_count(tmp_path):
    """Gate terms and leverage (scenarios/leverage.yaml), and a deal with three parties, a
    mediator and terms over actions (three_states): identical runs for any batch size and
    worker count, and a replay matches its ensemble row."""
    from sim.execution.ensemble import run_ensemble
    from sim.execution.replay import replay

    data = _data(THREE)
    data["actors"]["dravia"] = copy.deepcopy(data["actors"]["corvalia"])  # a mediator
    data["actors"]["dravia"]["name"] = "Dravia"
    data["actors"]["dravia"]["actions"] = [{"verb": "hold"}, NEGOTIATE]
    for other in ("arcadia", "borduria", "corvalia"):
        data["relations"][f"{other}~dravia"] = {"affinity": 0.2}
    many = _three_with({"parties": ["arcadia", "borduria", "corvalia"],
                        "mediators": ["dravia"], "ceasefire": ["arcadia~borduria"],
                        "lift_sanctions": ["corvalia~borduria"],
                        "payments": {"corvalia": {"arcadia": 0.1, "borduria": 0.1},
                                     "dravia": {"borduria": 0.1}}},
                       {a: [NEGOTIATE] for a in ("arcadia", "borduria", "corvalia")},
                       data=data)
    for loaded in (load_scenario(LEVERAGE), load_data(many)):
        a = run_ensemble(loaded, runs=40, seed=4, batch_size=40, workers=1, progress=False,
                         out_dir=tmp_path / loaded.digest()[:8])
        b = run_ensemble(loaded, runs=40, seed=4, batch_size=7, workers=2, progress=False)
        assert a.columns.keys() == b.columns.keys()
        for name in a.columns:
            np.testing.assert_array_equal(np.asarray(a.columns[name]),
                                          np.asarray(b.columns[name]), err_msg=name)
        again = replay(loaded, 4, 13, tmp_path / loaded.digest()[:8])
        assert again.matches_ensemble is True


def test_a_deal_that_grants_an_asset_decides_where_it_goes():
    """While a deal that grants the shield to Borduria holds, Corvalia's own grant of it to
    Arcadia is void (the deal decides), and it goes to Borduria. The shield's window opens on
    day 10, so deals signed before then compete with Corvalia's own grant."""
    data = _data(THREE)
    owner = data["assets"]["shield"]["owner"]
    assert owner == "corvalia"
    data["assets"]["shield"].setdefault("conditions", {})["available_from"] = "2031-05-11"
    deal = {"parties": ["borduria", "corvalia"], "grants": {"shield": "borduria"},
            "payments": {"borduria": {"corvalia": 0.2}}}
    run = _follow(_three_with(deal, {"borduria": [NEGOTIATE], "corvalia": [NEGOTIATE]},
                              data=data), runs=200)
    lay = run["model"].layout
    k, arcadia = lay.assets.index("shield"), lay.actors.index("arcadia")
    agreement = run["agreement"][:, :, 0]
    on, holder = run["on"][:, :, k], run["holder"][:, :, k]
    newly = on[:, 1:] & ~on[:, :-1]
    assert (newly & ~agreement[:, 1:]).any(), "Corvalia never grants the shield itself"
    assert (agreement[:, 1:] & ~on[:, :-1]).sum() > 50, "too few days with the deal first"
    assert not (newly & agreement[:, 1:] & (holder[:, 1:] == arcadia)).any()


def test_deals_that_bind_an_act_differently_cannot_be_in_force_together():
    data = _data(LEVERAGE)
    data["deals"]["open_for_calm"] = {
        "name": "Gate open for calm", "parties": ["ostra", "vell"],
        "ceasefire": [], "gates": {"west_gate": "open"}, "rung_cap": "threats"}
    data["deals"]["aid_for_the_gate"]["ceasefire"] = []
    model = CrisisModel(load_data(data), replications=2, seed=1, record_paths=False)
    assert model.structure.deal_rival.all(where=~np.eye(2, dtype=bool))


def test_a_dated_gate_event_breaks_a_deal_that_holds_the_gate(leverage):
    data = copy.deepcopy(leverage)
    data["timeline"] = [{"date": "2033-03-21", "name": "the gate is forced open",
                         "kind": "gate", "gate": "west_gate", "open": True}]  # day 20
    run = _follow(data)
    agreement = run["agreement"][:, :, 0]
    held = agreement[:, 19]
    assert held.sum() > 50, "too few runs with the deal in force on the eve of the event"
    assert not agreement[held, 20].any()  # broken that day
    assert run["gate_open"][held, 20, 0].all()  # and the gate is open
    broke = run["model"].trackers.first[:, run["model"].trackers.names.index(
        "breakdown.aid_for_the_gate")]
    assert (broke[held] <= 20).all()


def test_a_grant_that_cannot_be_made_yet_is_worth_nothing_yet():
    data = _three_with({"parties": ["arcadia", "corvalia"], "grants": {"shield": "arcadia"}},
                       {"arcadia": [NEGOTIATE], "corvalia": [NEGOTIATE]})
    data["assets"]["shield"].setdefault("conditions", {})["available_from"] = "2099-01-01"
    model = CrisisModel(load_data(data), replications=50, seed=2, record_paths=False)
    side = list(model.layout.deal_sides[0]).index(model.layout.actors.index("arcadia"))
    for _ in range(10):
        model.step()
        assert not model.workspace.acts[:, 0, side].any()
