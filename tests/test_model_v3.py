"""Model v3 (issue #22): incidents nobody chose, answers to attacks, intent for one-off acts.

Each pattern is an ensemble statistic with a fixed seed, compared with what the rule says
(an exact rate with its sampling error) or with the same runs without the mechanism (common
random numbers); each fails if the mechanism is removed.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.model import CrisisModel
from sim.scenario.loader import load_data
from sim.world import VERB

from .conftest import ensemble, lasting_war, paired_effect


def _quiet(data: dict) -> dict:
    """Every actor can only hold; no timeline: only the ladder and chance move the rungs."""
    data = copy.deepcopy(data)
    for actor in data["actors"].values():
        actor["actions"] = [{"verb": "hold"}]
    data["timeline"] = []
    data.pop("deals", None)
    data["outcomes"].pop("split", None)  # names the deal
    return data


def _standoff(fictional, rate: float, rung: str = "threats", contact=None) -> dict:
    """Arcadia and Borduria face to face at ``rung`` with a ladder that only incidents move."""
    data = _quiet(fictional.data)
    data["ladder"].update(rate_up=0.0, rate_down=0.0, incident_rate=rate)
    data["relations"]["arcadia~borduria"]["rung"] = rung
    if contact is not None:
        data["relations"]["arcadia~borduria"]["contact"] = contact
    return data


def test_incidents_happen_at_the_documented_rate_between_forces_in_contact(fictional):
    """At a standoff (the rung below the first armed one) with forces in contact, the first
    incident comes after a geometric wait: P(by day T) = 1 - (1 - rate)^T exactly."""
    rate, runs = 0.02, 2000
    cols = ensemble(load_data(_standoff(fictional, rate)), runs, seed=3)
    days = fictional.spec.run.days
    incidents = cols["incidents.arcadia~borduria"]
    expected = 1 - (1 - rate) ** days
    seen = np.mean(incidents > 0)
    se = np.sqrt(expected * (1 - expected) / runs)
    assert abs(seen - expected) < 4 * se, (seen, expected)
    # with the ladder frozen, an incident leaves the dyad on the first armed rung: one each
    assert incidents.max() == 1
    armed = list(fictional.data["ladder"]["rungs"]).index("skirmishes")
    assert np.array_equal(incidents > 0, cols["rung.arcadia~borduria.max"] == armed)


def test_no_incidents_at_peace_or_without_contact(fictional):
    """Below the incident rung, or where the scenario says the forces are not in contact,
    nothing happens by chance; Corvalia (no ground forces) has no incident indicator."""
    calm = ensemble(load_data(_standoff(fictional, 0.05, rung="calm")), 300, seed=3)
    assert calm["incidents.arcadia~borduria"].max() == 0
    apart = ensemble(load_data(_standoff(fictional, 0.05, contact=False)), 300, seed=3)
    assert "incidents.arcadia~borduria" not in apart
    assert apart["rung.arcadia~borduria.max"].max() == 1  # still at threats
    assert "incidents.arcadia~corvalia" not in calm


def harmless_standoff(fictional, reciprocity: float | None = None) -> dict:
    """Arcadia and Borduria at 'threats' with no deals, no losses and no incidents; Borduria
    cares for its standing (the fictional scenario gives it none: what an answer restores)
    and, left alone, seldom attacks (its attack costs 1)."""
    data = copy.deepcopy(fictional.data)
    data["timeline"] = []
    data.pop("deals", None)
    data["outcomes"].pop("split", None)
    for actor in data["actors"].values():
        actor["actions"] = [a for a in actor["actions"] if a["verb"] != "negotiate"]
    data["relations"]["arcadia~borduria"]["rung"] = "threats"
    data["fighting"] = {**data.get("fighting", {}), "loss_rate": 0.0}
    data["ladder"]["incident_rate"] = 0.0
    data["actors"]["borduria"]["interests"] = {"territory": 0.4, "losses": 0.2,
                                               "escalation": 0.1, "ties": 0.1, "standing": 0.2}
    for act in data["actors"]["borduria"]["actions"]:
        if act["verb"] == "attack":
            act["cost"] = 1.0
    if reciprocity is not None:
        data.setdefault("decisions", {})["reciprocity"] = reciprocity
    return data


def force_arcadia(model, strike: bool, later: int | None = None) -> tuple[int, int]:
    """Fix Arcadia's posture on day 0 (an attack on Borduria, or nothing) and, with ``later``
    (-1: nothing), on every later day; returns the indices of Arcadia and Borduria."""
    lay = model.layout
    a, b = lay.actors.index("arcadia"), lay.actors.index("borduria")
    arcadia = model.actors[a]
    attack = next(e for e in range(arcadia.menu.start, arcadia.menu.stop)
                  if lay.menu.verb[e] == VERB["attack"] and lay.menu.target[e] == b)
    decide = arcadia.decide

    def forced(utility, u):
        picks = decide(utility, u)
        if model.steps == 1:
            picks[:, 0] = attack if strike else -1
        elif later is not None:
            picks[:, 0] = later
        return picks

    arcadia.decide = forced
    return a, b


def answers_in_a_week(data: dict, strike: bool, runs: int = 600) -> tuple[CrisisModel,
                                                                         np.ndarray]:
    """The model after 8 days with Arcadia's day-0 posture forced, and the days after day 0
    on which Borduria attacked Arcadia, per run (seed 8)."""
    model = CrisisModel(load_data(data), replications=runs, seed=8, record_paths=False)
    a, b = force_arcadia(model, strike)
    answered = np.zeros(model.replications.size)
    for _ in range(8):
        model.step()
        if model.steps > 1:
            answered += model.workspace.attack[:, b, a]
    return model, answered


def _struck_once(fictional, strike: bool, reciprocity: float | None = None) -> np.ndarray:
    """Days in the week after day 0 on which Borduria attacks Arcadia, per run, when Arcadia
    strikes (or not) on day 0 without causing any loss."""
    model, answered = answers_in_a_week(harmless_standoff(fictional, reciprocity), strike)
    assert model.state.losses_by.sum() == 0  # the strike killed no one
    return answered


def test_a_strike_that_kills_no_one_is_answered_within_a_week(fictional):
    """Reciprocity: being struck raises the target's chance of striking back within 7 days,
    against the same runs without the strike, and the rise is the mechanism's (it is smaller
    with reciprocity 0, where only the ladder's reaction to the act remains)."""
    struck, spared = _struck_once(fictional, True), _struck_once(fictional, False)
    effect, low, high = paired_effect(spared > 0, struck > 0)
    assert low > 0, (effect, low, high)
    plain = _struck_once(fictional, True, reciprocity=0.0)
    extra, low, _ = paired_effect(plain > 0, struck > 0)
    assert low > 0, f"reciprocity adds {extra:.3f} [{low:.3f}, ...] to the chance of answering"


def _grant_ever(fictional, disposition: bool, private: float | None = None,
                cost: float = 0.22) -> np.ndarray:
    """Per run, whether Corvalia grants its shield, with the grant worth a little less than
    nothing (``cost``); ``private``: decisions.private_value."""
    data = _quiet(fictional.data)
    data["actors"]["corvalia"]["actions"] = [
        {"verb": "hold"},
        {"verb": "grant_support", "asset": "shield", "target": "arcadia", "cost": cost}]
    if private is not None:
        data.setdefault("decisions", {})["private_value"] = private
    model = CrisisModel(load_data(data), replications=1000, seed=6, record_paths=False)
    if not disposition:
        model.one_off = model.one_off[:0]  # every day a fresh lottery
        model.disposition = model.disposition[:, :0]
    while model.running:
        model.step()
    return model.state.asset_on[:, 0] > 0


def test_a_one_off_act_is_not_made_certain_by_a_daily_lottery(fictional):
    """Intent: a grant the patron slightly dislikes is made in about as many runs as its daily
    resolve (well under half), where a fresh logit draw every day makes it near certain over
    the horizon by accumulation alone."""
    with_intent = _grant_ever(fictional, True).mean()
    lottery = _grant_ever(fictional, False).mean()
    assert lottery > 0.8, lottery
    assert with_intent < 0.5, with_intent
    assert with_intent > 0.05, with_intent  # still possible: not switched off


def test_an_act_of_negative_public_value_is_taken_more_often_the_wider_its_private_value(
        fictional):
    """The private value of a one-off act (decisions.private_value, in units of the bargaining
    noise): a grant that costs its patron more than it is publicly worth is made in more runs
    the wider the spread of what the patron privately makes of it (dose-response, paired by
    run: the same uniforms), never near certainty; with no private spread, only the logit's
    own error (1 / rationality) makes it and it is rare."""
    shares = {}
    for private in (0.0, 0.5, 1.5):
        shares[private] = _grant_ever(fictional, True, private, cost=0.6)
    assert shares[0.0].mean() < 0.02, shares[0.0].mean()
    for low, high in ((0.0, 0.5), (0.5, 1.5)):
        effect, lo, hi = paired_effect(shares[low], shares[high])
        assert lo > 0, (low, high, effect, lo, hi)
        # the same uniforms: a run that grants at the narrower spread grants at the wider one
        assert not np.any(shares[low] & ~shares[high])
    assert shares[1.5].mean() < 0.6, shares[1.5].mean()


#: Borduria's attack cost in the harmless standoff at which a daily lottery fires in 97% of
#: runs (seed 6) and intent in 37%: an attack slightly disliked, not one nobody would choose.
#: (0.5 gave 90% and 35% when ground was taken as a share of the holder's, model v2; a front's
#: advance, M4, makes the valley's ground worth more to the attacker, so the cost that makes
#: the attack slightly disliked is higher.)
OPENING_COST = 0.8


def _fire_ever(fictional, opening: bool, cost: float) -> np.ndarray:
    """Per run (seed 6, 1000 runs), whether Borduria ever attacks Arcadia in the harmless
    standoff, Arcadia only holding, Borduria's attack costing ``cost``; ``opening``:
    decisions.opening_fire."""
    data = harmless_standoff(fictional)
    data["actors"]["arcadia"]["actions"] = [{"verb": "hold"}]
    for act in data["actors"]["borduria"]["actions"]:
        if act["verb"] == "attack":
            act["cost"] = cost
    data.setdefault("decisions", {})["opening_fire"] = opening
    model = CrisisModel(load_data(data), replications=1000, seed=6, record_paths=False)
    a, b = model.layout.actors.index("arcadia"), model.layout.actors.index("borduria")
    fired = np.zeros(1000, dtype=bool)
    while model.running:
        model.step()
        fired |= model.workspace.attack[:, b, a] > 0
    return fired


def test_opening_fire_is_not_made_certain_by_a_daily_lottery(fictional):
    """Opening fire with intent (decisions.opening_fire): an attack its author slightly
    dislikes starts a fight in well under half of the runs, where a fresh logit draw every
    day starts one in nearly every run over the horizon by accumulation alone."""
    with_intent = _fire_ever(fictional, True, OPENING_COST).mean()
    lottery = _fire_ever(fictional, False, OPENING_COST).mean()
    assert lottery > 0.8, lottery
    assert 0.02 < with_intent < 0.5, with_intent


def test_only_opening_fire_is_decided_with_intent():
    """Exact rule: an attack entry not yet under way is on the menu when U + shift > 0 and
    then scored by it; one already under way (the actor attacked its target yesterday) keeps
    its public value whatever the run's private value, so how long to fight is decided day by
    day."""
    from sim.mechanisms.decisions import apply_private_values

    utility = np.array([[0.3, 0.3, -0.2, -0.2]])
    shift = np.array([[-0.5, 0.4, -0.5, 0.4]])
    values = (shift, shift > 0)
    entries = np.arange(4)
    fighting = np.array([[True, False, True, False]])
    apply_private_values(utility, entries, values, np.array([1.0]), fighting=fighting)
    np.testing.assert_array_equal(utility, [[0.3, 0.7, -0.2, 0.2]])
    utility = np.array([[0.3, 0.3, -0.2, -0.2]])
    apply_private_values(utility, entries, values, np.array([1.0]),
                         fighting=np.zeros((1, 4), dtype=bool))
    np.testing.assert_array_equal(utility, [[-np.inf, 0.7, -np.inf, 0.2]])


def test_the_private_value_puts_an_act_on_the_menu_as_its_logistic_chance_says():
    """Exact rule (ODD M1, intent): an act of public value U is on the menu when U + s eps > 0,
    eps = logit(1 - u) standard logistic, s = sqrt(1 / beta^2 + (sigma / 1.702)^2), so in a
    share 1 / (1 + exp(-U / s)) of runs; it is chosen by that private value; sigma = 0 keeps
    exactly the runs the logit's own resolve kept (u < 1 / (1 + exp(-beta U)))."""
    from sim.mechanisms.decisions import intent

    u = (np.arange(20000) + 0.5) / 20000  # evenly spread uniforms
    disposition = np.stack([u, u], axis=1)
    beta, sigma, public = 20.0, 0.6, np.array([-0.3, 0.1])
    utility = np.tile(public, (u.size, 1))
    intent(utility, np.array([0, 1]), disposition, np.array([[beta, beta]]), np.array([1.0]),
           np.array([sigma]))
    s = np.sqrt(1 / beta ** 2 + (sigma / 1.702) ** 2)
    on = np.isfinite(utility)
    np.testing.assert_allclose(on.mean(axis=0), 1 / (1 + np.exp(-public / s)), atol=1e-4)
    expected = public + s * np.log((1 - u[:, None]) / u[:, None])
    np.testing.assert_allclose(utility[on], expected[on])
    assert (utility[on] > 0).all()
    plain = np.tile(public, (u.size, 1))
    intent(plain, np.array([0, 1]), disposition, np.array([[beta, beta]]), np.array([1.0]),
           np.array([0.0]))
    np.testing.assert_array_equal(np.isfinite(plain),
                                  disposition < 1 / (1 + np.exp(-beta * public)))


def test_an_offensive_reaches_its_rung_the_day_it_is_launched(fictional):
    """An attack with ``to_rung`` puts the dyad on that rung the day it is chosen (the ladder
    alone climbs a rung at a time), and only where it was chosen."""
    data = copy.deepcopy(fictional.data)
    data["timeline"] = []
    data["relations"]["arcadia~borduria"]["rung"] = "threats"
    data["ladder"]["incident_rate"] = 0.0
    for act in data["actors"]["arcadia"]["actions"]:
        if act["verb"] == "attack":
            act["to_rung"] = "war"
    model = CrisisModel(load_data(data), replications=400, seed=2, record_paths=False)
    lay = model.layout
    a, b = lay.actors.index("arcadia"), lay.actors.index("borduria")
    war = list(data["ladder"]["rungs"]).index("war")
    launched = np.full(model.replications.size, -1)
    reached = np.full(model.replications.size, -1)
    while model.running:
        day = model.steps
        before = model.state.rung[:, a, b].copy()
        model.step()
        first = (launched < 0) & (model.workspace.attack[:, a, b] > 0) & (before < war)
        launched[first] = day
        now = (reached < 0) & (model.state.rung[:, a, b] >= war)
        reached[now] = day
    chose = launched >= 0
    assert chose.sum() > 20, "the test needs runs with an offensive"
    assert np.all(reached[chose] >= 0) and np.all(reached[chose] - launched[chose] <= 1)


def _coercion(fictional, **decisions) -> tuple[dict, dict]:
    """The fictional scenario without timeline or incidents (``decisions`` values set), and
    the same without its deal (nor the negotiate entries: the moves track; the posture draws
    are their own)."""
    data = copy.deepcopy(fictional.data)
    data["timeline"] = []
    data["ladder"]["incident_rate"] = 0.0
    if decisions:
        data.setdefault("decisions", {}).update(decisions)
    without = copy.deepcopy(data)
    without.pop("deals")
    without["outcomes"].pop("split")
    for actor in without["actors"].values():
        actor["actions"] = [a for a in actor["actions"] if a["verb"] != "negotiate"]
    return data, without


def _day0_attacks(data: dict, runs: int) -> np.ndarray:
    """Arcadia's attacks on Borduria on day 0, per run (seed 4)."""
    model = CrisisModel(load_data(data), replications=runs, seed=4, record_paths=False)
    a, b = model.layout.actors.index("arcadia"), model.layout.actors.index("borduria")
    model.step()
    return model.workspace.attack[:, a, b].copy()


def test_a_deal_to_obtain_makes_force_worth_more_and_force_stops_when_it_is_signed(fictional):
    """Compellence: on day 0 (the same state in both), Arcadia attacks Borduria more often when
    a deal it can propose would give it the valley share it wants; without the deal the
    effect is gone; once the deal is signed its ceasefire ends the attacks."""
    data, without = _coercion(fictional)
    effect, low, high = paired_effect(_day0_attacks(without, 2000), _day0_attacks(data, 2000))
    assert low > 0, (effect, low, high)

    model = CrisisModel(load_data(data), replications=300, seed=4, record_paths=False)
    lay = model.layout
    a, b = lay.actors.index("arcadia"), lay.actors.index("borduria")
    signed = np.zeros(300, dtype=bool)
    while model.running:
        model.step()
        in_force = model.state.agreement[:, 0]
        assert not np.any(model.workspace.attack[in_force, a, b])  # the ceasefire holds them
        signed |= in_force
    assert signed.mean() > 0.2


def test_an_attack_that_cannot_hurt_the_target_earns_no_compellence(fictional):
    """A coercer is paid by the target's acceptance, not by the peace its own attack would
    make worth buying: when the target weighs neither its losses nor ground, the deal on the
    table adds nothing to the attack, and Arcadia's day-0 attacks are the same runs, bit for
    bit, with the deal and without it (the self-credit the ablation found,
    scenarios/library/notes_ablation.md, made them differ)."""
    data, without = _coercion(fictional)
    for d in (data, without):
        d["actors"]["borduria"]["interests"] = {"ties": 1.0}
    with_deal = _day0_attacks(data, 500)
    assert 0.0 < with_deal.mean() < 1.0
    np.testing.assert_array_equal(with_deal, _day0_attacks(without, 500))


def test_a_side_about_to_gain_by_fighting_signs_less_often(fictional, monkeypatch):
    """The commitment problem: the same runs with each party's best attack priced into its
    view of the ceasefire (a side that expects to gain by fighting) reach the deal less often
    in the first weeks than when the deal is weighed against yesterday's postures only."""
    import sim.model

    data = lasting_war(copy.deepcopy(fictional.data))
    data["timeline"] = []
    data["ladder"]["incident_rate"] = 0.0
    loaded = load_data(data)
    priced = ensemble(loaded, 600, seed=9)["day.agreement.valley_split"]
    monkeypatch.setattr(sim.model, "commitment", lambda *args: None)
    plain = ensemble(loaded, 600, seed=9)["day.agreement.valley_split"]
    by_day = 20
    early = lambda x: np.nan_to_num(x, nan=1e9) <= by_day  # noqa: E731
    effect, low, high = paired_effect(early(plain), early(priced))
    assert high < 0, (effect, low, high)


def test_a_patrons_grant_falls_with_its_entrapment_risk(fictional):
    """Dose-response: the more a patron weighs being drawn into its client's war, the fewer
    runs in which it grants the client its shield. The client's war has no deal to end it
    (with the valley's deal the war ends within days in most runs, under a front's advance,
    and the patron then grants in peace: entrapment delays the grant, it does not prevent it)."""
    shares = []
    for entrapment in (0.0, 1.0, 4.0):
        data = copy.deepcopy(fictional.data)
        data["timeline"] = []
        data["relations"]["arcadia~borduria"]["rung"] = "war"
        data["deals"] = {}
        for actor in data["actors"].values():
            actor["actions"] = [act for act in actor["actions"] if act["verb"] != "negotiate"]
        data["outcomes"].pop("split")  # names the deal
        data.setdefault("decisions", {})["entrapment"] = entrapment
        shares.append(ensemble(load_data(data), 600, seed=5)["asset.shield.days"].__gt__(0).mean())
    assert shares[0] > shares[1] > shares[2], shares
    assert shares[0] - shares[2] > 0.1, shares


def test_a_worthless_entry_does_not_crowd_out_a_valuable_one():
    """Nested logit: adding an entry worth 0 beside one worth 0.3 (against doing nothing, 0)
    moves the valuable entry's choice probability by less than 2 points; under the plain
    multinomial logit (nesting 1) it takes many more."""
    from sim.mechanisms.decisions import quantal_choice

    runs = 200_000
    u = (np.arange(runs) + 0.5) / runs  # an even grid of uniforms: exact shares
    beta = np.array([8.0])

    def share(values, nesting):
        utility = np.tile(np.asarray(values, float), (runs, 1))
        picks = quantal_choice(utility, beta, u, 0, np.array([nesting]))
        return np.mean(picks == 1)

    nested = share([0.0, 0.3], 0.5), share([0.0, 0.3, 0.0], 0.5)
    plain = share([0.0, 0.3], 1.0), share([0.0, 0.3, 0.0], 1.0)
    assert abs(nested[0] - nested[1]) < 0.02, nested
    assert plain[0] - plain[1] > 0.05, plain
    assert plain[0] == pytest.approx(1 / (1 + np.exp(-8 * 0.3)), abs=1e-4)


def test_no_deal_is_signed_before_its_talks_have_run(fictional):
    """Talks take time: no agreement before day ``bargaining.talks``; with no talks at all a
    deal within reach is signed on day 0 in some runs."""
    data = lasting_war(copy.deepcopy(fictional.data))
    data["timeline"] = []
    data["relations"]["arcadia~borduria"]["rung"] = "war"  # a costly war: the deal is in reach
    for name in ("arcadia", "borduria"):
        data["actors"][name]["war_cost"] = 0.2
    data.setdefault("bargaining", {})["talks"] = 4
    days = ensemble(load_data(data), 400, seed=2)["day.agreement"]
    assert np.nanmin(days) >= 4 and np.isfinite(days).mean() > 0.2
    data["bargaining"]["talks"] = 0
    days = ensemble(load_data(data), 400, seed=2)["day.agreement"]
    assert np.mean(days == 0) > 0.05, np.nanmin(days)


def test_a_costly_standoff_ends_by_a_deal_more_often(fictional):
    """Upkeep: with mobilisation costly, a standoff at a hostile rung without fighting reaches
    the deal that lowers the rung more often than when standing costs nothing."""
    data = _quiet(fictional.data)
    data["deals"] = copy.deepcopy(fictional.data["deals"])
    for name in ("arcadia", "borduria"):
        data["actors"][name]["actions"].append({"verb": "negotiate", "deal": "valley_split"})
        data["actors"][name]["war_cost"] = 0.05
    data["relations"]["arcadia~borduria"].update(rung="threats", resting_rung="threats")
    data["ladder"]["incident_rate"] = 0.0
    data["deals"]["valley_split"]["rung_cap"] = "calm"
    costly = ensemble(load_data(data), 600, seed=3)["day.agreement"]
    data["ladder"]["upkeep"] = 0.0
    free = ensemble(load_data(data), 600, seed=3)["day.agreement"]
    effect, low, high = paired_effect(np.isfinite(free), np.isfinite(costly))
    assert low > 0, (effect, low, high)


def test_each_v3_rule_without_a_scenario_switch_now_has_one(fictional):
    """decisions.compellence 0 removes the deal's pull on Arcadia's day-0 attacks (the same
    runs, bit for bit, as with no deal on the table); decisions.intent false puts one-off acts
    back on every day's menu; decisions.commitment 0 leaves the perceived surplus as the
    status quo path has it."""
    from sim.mechanisms.decisions import intent

    data, without = _coercion(fictional, compellence=0.0)
    np.testing.assert_array_equal(_day0_attacks(data, 500), _day0_attacks(without, 500))

    utility = np.array([[0.5, -1.0], [0.5, -1.0]])
    disposition = np.array([[0.99, 0.99], [0.99, 0.99]])
    kept = utility.copy()
    intent(kept, np.array([0, 1]), disposition, np.array([[2.0, 2.0]]), np.array([0.0]))
    np.testing.assert_array_equal(kept, utility)  # off: the lottery's menu is untouched
    intent(kept, np.array([0, 1]), disposition, np.array([[2.0, 2.0]]), np.array([1.0]))
    assert np.isneginf(kept).all()  # on: a reluctance of 0.99 keeps both acts off today

    from sim.mechanisms.decisions import commitment

    for weight, unchanged in ((0.0, True), (1.0, False)):
        model = CrisisModel(load_data(fictional.data, [f"decisions.commitment={weight}"]),
                            replications=200, seed=4, record_paths=False)
        model.step()
        before = model.workspace.perceived.copy()
        after = before.copy()
        commitment(after, model._direct, model.state.attack_prev, model.layout, model.params)
        assert np.array_equal(after, before) == unchanged
