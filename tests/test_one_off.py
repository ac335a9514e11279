"""Issue #23, item 7: one-off acts (``actions[].once``) and the withdrawal of one's forces.

A menu entry may be a single act instead of a posture held day after day: a retaliatory
salvo, a one-day sanction, a withdrawal of one's own forces. On the fictional three-state
crisis (``scenarios/three_states.yaml``, edited in memory):

- the schema accepts ``once`` with attack, sanction, threaten, deescalate and air_support, and
  refuses it elsewhere with one line naming the key (exit 2 on the command line);
- a one-off attack happens on at most one day of a run, and with the ladder frozen at a rung
  without fighting its losses fall on that day only, exactly;
- struck by a dated raid, an actor answers with one salvo the morning the raid is known
  (limited retaliation: Schelling 1966), rarely unstruck, and the answer is spent;
- with common random numbers, the same attack as a one-off salvo yields fewer days of fighting
  than as a held posture (a paired difference with its interval);
- a withdrawal ends its author's attacks on the target for the rest of the run, and nobody
  loses soldiers in that dyad afterwards (out of contact).
- runs with every kind of one-off act are deterministic and replay alone; a one-day sanction
  is in force on one day and lifted the next morning.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.execution.batches import collect_rows
from sim.model import CrisisModel
from sim.outcomes import indicators
from sim.scenario.loader import load_data

from .test_model_v3 import _quiet

ROOT = Path(__file__).resolve().parents[1]
RUNS, SEED = 300, 5


def _with_menus(fictional, menus: dict, **ladder) -> dict:
    """The fictional crisis with only these menus (everyone else holds), no deals."""
    data = _quiet(fictional.data)
    for actor, actions in menus.items():
        data["actors"][actor]["actions"] = copy.deepcopy(actions)
    data["ladder"].update(ladder)
    return data


def _daily(data: dict, runs: int = RUNS, seed: int = SEED) -> dict:
    """Step a model day by day; each day's cumulative attack days, losses and rungs."""
    model = CrisisModel(load_data(data), replications=runs, seed=seed, record_paths=False)
    s = model.state
    out = {"attacks": [s.attack_days.copy()], "losses": [s.losses_by.copy()],
           "rung": [s.rung.copy()], "incidents": [s.incidents.copy()]}
    while model.running:
        model.step()
        out["attacks"].append(s.attack_days.copy())
        out["losses"].append(s.losses_by.copy())
        out["rung"].append(s.rung.copy())
        out["incidents"].append(s.incidents.copy())
    out = {k: np.stack(v) for k, v in out.items()}  # (days + 1, R, A, A)
    out["model"] = model
    out["indicators"] = indicators(model)
    return out


# --------------------------------------------------------------------------- the schema

@pytest.mark.parametrize("act", [
    {"verb": "attack", "target": "borduria", "once": True},
    {"verb": "sanction", "target": "borduria", "once": True},
    {"verb": "threaten", "target": "borduria", "once": True},
    {"verb": "deescalate", "target": "borduria", "once": True},
    {"verb": "air_support", "client": "corvalia", "target": "borduria", "once": True},
    {"verb": "withdraw", "target": "borduria"},
    {"verb": "withdraw", "target": "borduria", "once": True},
])
def test_the_schema_accepts_one_off_acts(fictional, act):
    data = copy.deepcopy(fictional.data)
    data["actors"]["arcadia"]["actions"].append(act)
    loaded = load_data(data)
    menu = loaded.spec.actors["arcadia"].actions
    assert menu[-1].once_per_run
    assert not any(a.once_per_run for a in menu[:-1])


def test_a_one_off_attack_may_sit_beside_the_held_one_but_not_twice(fictional):
    data = copy.deepcopy(fictional.data)
    data["actors"]["arcadia"]["actions"].append(
        {"verb": "attack", "target": "borduria", "once": True})
    labels = [a.label() for a in load_data(data).spec.actors["arcadia"].actions]
    assert "attack:borduria" in labels and "attack_once:borduria" in labels
    data["actors"]["arcadia"]["actions"].append(
        {"verb": "attack", "target": "borduria", "once": True})
    with pytest.raises(ScenarioError, match=r"actions\[6\].*already action \[5\]"):
        load_data(data)


@pytest.mark.parametrize("act, message", [
    ({"verb": "grant_support", "asset": "shield", "target": "arcadia", "once": True},
     "its effect lasts once done"),
    ({"verb": "open_gate", "gate": "north_pass", "once": True}, "its effect lasts once done"),
    ({"verb": "negotiate", "deal": "valley_split", "once": True}, "a proposal or request"),
    ({"verb": "hold", "once": True}, "holding is doing nothing"),
    ({"verb": "withdraw"}, "verb 'withdraw' needs target"),
    ({"verb": "attack", "target": "borduria", "once": "sometimes"}, "once"),
])
def test_the_schema_refuses_once_where_it_means_nothing(fictional, act, message):
    data = copy.deepcopy(fictional.data)
    owner = "borduria" if act["verb"] in ("open_gate",) else "corvalia"
    data["actors"][owner]["actions"].append(act)
    with pytest.raises(ScenarioError, match=message) as info:
        load_data(data)
    assert f"actors.{owner}.actions[" in str(info.value)


def test_the_command_line_says_where_in_one_line_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {ROOT / 'scenarios' / 'three_states.yaml'}\n"
                   "actors:\n  corvalia:\n    actions:\n      - {verb: hold}\n"
                   "      - {verb: grant_support, asset: shield, target: arcadia, once: true}\n")
    out = subprocess.run([sys.executable, "-m", "sim", "check", str(bad)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    where = [line for line in out.stderr.splitlines() if "once" in line]
    assert len(where) == 1
    assert f"{bad}:6:" in where[0] and "actors.corvalia.actions[1]" in where[0]
    assert "remove 'once'" in where[0]


# --------------------------------------------------------------------------- one day, once

def _salvo(fictional) -> dict:
    """Arcadia may strike Borduria once; the ladder frozen at threats (no fighting without an
    attack, nothing moves the rung), Borduria holds: any loss is the salvo's."""
    data = _with_menus(fictional, {"arcadia": [
        {"verb": "hold"}, {"verb": "attack", "target": "borduria", "once": True}]},
        rate_up=0.0, rate_down=0.0, incident_rate=0.0)
    data["relations"]["arcadia~borduria"]["rung"] = "threats"
    data["actors"]["arcadia"]["interests"] = {"territory": 0.9, "losses": 0.1}
    data["actors"]["arcadia"]["war_cost"] = 0.0
    return data


@pytest.fixture(scope="module")
def salvo(fictional) -> dict:
    return _daily(_salvo(fictional))


def test_a_one_off_attack_happens_on_at_most_one_day_and_its_losses_that_day_only(salvo):
    a, b = 0, 1  # arcadia, borduria (the scenario's order)
    attacks = salvo["attacks"][:, :, a, b]  # cumulative attack days, (days + 1, R)
    assert attacks[-1].max() == 1  # never twice
    struck = attacks[-1] == 1
    assert 0.2 < struck.mean() < 1.0, struck.mean()  # taken in some runs, not in all
    day = salvo["indicators"]["day.once.arcadia.attack.borduria"]
    assert np.array_equal(np.isnan(day), ~struck)
    # the day it was taken is the day the attack counts (steps are days 0, 1, ...)
    assert np.array_equal(np.argmax(attacks[:, struck] > 0, axis=0) - 1, day[struck])
    losses = salvo["losses"].sum(axis=3)  # (days + 1, R, A): cumulative losses per actor
    daily = np.diff(losses, axis=0)  # (days, R, A)
    on_the_day = np.zeros(daily.shape[:2], dtype=bool)
    rows = np.flatnonzero(struck)
    on_the_day[day[rows].astype(int), rows] = True
    assert daily[~on_the_day].sum() == 0  # no loss on any other day, in any run
    assert daily[on_the_day].sum() > 0  # and the salvo did strike
    assert losses[-1][~struck].sum() == 0
    assert np.array_equal(losses[-1][struck], daily[day[rows].astype(int), rows])


def test_the_salvo_is_exactly_reproducible(fictional, salvo):
    again = _daily(_salvo(fictional))
    assert np.array_equal(again["losses"], salvo["losses"])
    assert np.array_equal(again["attacks"], salvo["attacks"])


def _reprisal(fictional, struck: bool) -> dict:
    """Arcadia may strike Borduria once; on day 10 Borduria kills five of its soldiers (a
    dated ``casualties`` event) or not. The ladder frozen at threats, Borduria holds."""
    data = _salvo(fictional)
    data["actors"]["arcadia"].update(
        interests={"standing": 0.5, "losses": 0.3, "territory": 0.2}, war_cost=0.1,
        rationality=30.0)
    data["decisions"] = {**data.get("decisions", {}), "private_value": 0.1}
    if struck:
        data["timeline"] = [{"date": "2031-05-11", "name": "a raid", "kind": "casualties",
                             "between": ["arcadia", "borduria"], "amount": 5}]
    return data


def test_a_one_off_salvo_answers_a_strike_and_spends_the_answer(fictional):
    """Limited retaliation (Schelling 1966): struck, Arcadia answers with one salvo, the morning
    the strike is known, in most runs; unstruck, it rarely fires at all (paired by run)."""
    calm, raid = _daily(_reprisal(fictional, False)), _daily(_reprisal(fictional, True))
    fired = {k: ~np.isnan(v["indicators"]["day.once.arcadia.attack.borduria"])
             for k, v in (("calm", calm), ("raid", raid))}
    day = raid["indicators"]["day.once.arcadia.attack.borduria"]
    assert fired["calm"].mean() < 0.2, fired["calm"].mean()
    assert fired["raid"].mean() > 0.8, fired["raid"].mean()
    answered = fired["raid"] & ~fired["calm"]  # runs that fired only when struck
    assert answered.mean() > 0.6
    assert (day[answered] == 10).mean() > 0.9, np.unique(day[answered], return_counts=True)
    assert raid["attacks"][-1, :, 0, 1].max() == 1  # one salvo, never a campaign
    # the answer is spent by the salvo (M5, "Answers": reset the day Arcadia strikes)
    assert (raid["model"].state.provoked[answered, 0, 1] == 0).all()
    # Borduria's losses from Arcadia fall on the day of the salvo only
    lost = np.diff(raid["losses"][:, :, 1, 0], axis=0)  # (days, R)
    rows = np.flatnonzero(fired["raid"])
    assert lost[day[rows].astype(int), rows].sum() == lost.sum() > 0


def test_a_one_off_salvo_fights_fewer_days_than_the_same_attack_held(fictional):
    """Paired by replication (common random numbers): the days at an armed rung or with an
    attack, over the run, with the same attack one-off or held. Borduria may answer."""
    def case(once: bool) -> np.ndarray:
        attack = {"verb": "attack", "target": "borduria"}
        if once:
            attack["once"] = True
        data = _with_menus(fictional, {
            "arcadia": [{"verb": "hold"}, attack, {"verb": "deescalate", "target": "borduria"}],
            "borduria": [{"verb": "hold"}, {"verb": "attack", "target": "arcadia"},
                         {"verb": "deescalate", "target": "arcadia"}]})
        data["relations"]["arcadia~borduria"]["rung"] = "threats"
        daily = _daily(data)
        armed = daily["rung"][1:, :, 0, 1] >= 2  # skirmishes and up, after each day
        attacked = np.diff(daily["attacks"][:, :, 0, 1] + daily["attacks"][:, :, 1, 0],
                           axis=0) > 0
        return (armed | attacked).sum(axis=0)

    held, salvo = case(False), case(True)
    diff = (salvo - held).astype(float)
    mean, se = diff.mean(), diff.std(ddof=1) / np.sqrt(diff.size)
    low, high = mean - 1.96 * se, mean + 1.96 * se
    assert high < 0, (mean, low, high, held.mean(), salvo.mean())
    assert held.mean() > 0 and salvo.mean() >= 0


# --------------------------------------------------------------------------- withdrawal

@pytest.fixture(scope="module")
def withdrawal(fictional) -> dict:
    """Arcadia and Borduria at war; Arcadia may fight on or withdraw its forces."""
    data = _with_menus(fictional, {
        "arcadia": [{"verb": "hold"}, {"verb": "attack", "target": "borduria"},
                    {"verb": "withdraw", "target": "borduria"}],
        "borduria": [{"verb": "hold"}, {"verb": "attack", "target": "arcadia"}]},
        incident_rate=0.05)
    data["relations"]["arcadia~borduria"]["rung"] = "war"
    data["actors"]["arcadia"]["interests"] = {"territory": 0.2, "losses": 0.8}
    return _daily(data)


def test_a_withdrawal_ends_the_attacks_on_the_target_for_the_rest_of_the_run(withdrawal):
    day = withdrawal["indicators"]["day.withdrew.arcadia.borduria"]
    left = ~np.isnan(day)
    assert 0.1 < left.mean() < 1.0, left.mean()
    rows = np.flatnonzero(left)
    attacks, losses = withdrawal["attacks"], withdrawal["losses"]
    model = withdrawal["model"]
    assert model.state.withdrawn[rows, 0, 1].all() and not model.state.withdrawn[~left].any()
    for r in rows:
        t = int(day[r])  # the day it withdrew: state after it is index t + 1
        # no attack of Arcadia on Borduria from that day on
        assert attacks[-1, r, 0, 1] == attacks[t, r, 0, 1]
        # out of contact: nobody loses soldiers in the dyad from that day on, nor has an
        # incident, though Borduria may still attack (and take ground)
        assert losses[-1, r, 0, 1] == losses[t, r, 0, 1]
        assert losses[-1, r, 1, 0] == losses[t, r, 1, 0]
        assert withdrawal["incidents"][-1, r, 0, 1] == withdrawal["incidents"][t, r, 0, 1]
    # runs that stayed kept fighting and losing soldiers
    stayed = ~left
    assert (attacks[-1, stayed, 0, 1] + attacks[-1, stayed, 1, 0]).mean() > 10
    assert losses[-1, stayed, 0, 1].mean() > 0


# --------------------------------------------------------------------------- determinism

def test_one_off_acts_are_deterministic_and_replay_alone(fictional):
    """With every kind of one-off act in the menus (and the deal, gate and grant of the
    scenario as written, but Corvalia's sanction made one-day), a run is the same twice, and
    any replication run alone is the same as in its batch: what a run has taken is its own
    state."""
    data = copy.deepcopy(fictional.data)
    data["actors"]["arcadia"]["actions"] += [
        {"verb": "attack", "target": "borduria", "once": True},
        {"verb": "threaten", "target": "borduria", "once": True},
        {"verb": "withdraw", "target": "borduria"}]
    data["actors"]["borduria"]["actions"] += [
        {"verb": "attack", "target": "arcadia", "once": True},
        {"verb": "deescalate", "target": "arcadia", "once": True}]
    corvalia = data["actors"]["corvalia"]  # its held sanction becomes a one-day one
    corvalia["actions"] = [a for a in corvalia["actions"] if a["verb"] != "sanction"] + [
        {"verb": "sanction", "target": "borduria", "once": True},
        {"verb": "air_support", "client": "arcadia", "target": "borduria", "once": True}]
    loaded = load_data(data)
    seed, runs = 13, 24

    def rows(replications) -> dict:
        return collect_rows(CrisisModel(loaded, replications=replications, seed=seed,
                                        record_paths=False).run(), loaded)

    a, b = rows(runs), rows(runs)
    assert any(np.isfinite(a[f"day.{e}"]).any() for e in (
        "once.arcadia.attack.borduria", "withdrew.arcadia.borduria",
        "once.corvalia.sanction.borduria"))
    for k in (0, 7, runs - 1):
        alone = rows(np.array([k]))
        for name in a:
            kind = a[name].dtype.kind == "f"
            assert np.array_equal(a[name], b[name], equal_nan=kind), name
            assert np.array_equal(a[name][k:k + 1], alone[name], equal_nan=kind), (name, k)
    # a one-day sanction is in force on the days it is imposed, and lifted the next morning
    days = a["sanctions.corvalia.borduria.days"]
    imposed = np.isfinite(a["day.once.corvalia.sanction.borduria"])
    assert imposed.any() and np.array_equal(days > 0, imposed) and days.max() <= 1
    assert (a["day.lifted.corvalia.borduria"][imposed]
            == a["day.once.corvalia.sanction.borduria"][imposed] + 1).all()
