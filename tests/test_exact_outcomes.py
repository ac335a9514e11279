"""`{state: ..., held: N}` means N days in a row, not N days in all (issue 28).

A state in effect 5 days in all, in spells of 3 and 2, has held 3: it satisfies ``held: 3``
and not ``held: 4`` or ``held: 5``. Checked on both paths that count spells: the compiled
kernel the model calls each day (``outcomes._note``) and ``Holdings.update``.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.outcomes import Holdings, _note, evaluate
from sim.scenario.schema import Condition
from sim.world import compile_scenario

#: one replication's agreement per day: spells of 3 and 2, then a lone day (6 days in all)
AGREEMENT = [1, 1, 1, 0, 1, 1, 0, 0, 1, 0]
#: the other replication: at war days 2-6 (5 in a row), never in an agreement
WAR = [0, 0, 1, 1, 1, 1, 1, 0, 0, 0]


def _kernel_holdings():
    """Run ``_note`` over the days with two actors, one deal, no assets, gates or sanctions."""
    r, n = 2, 2
    x = 1 + 1 + n * (n - 1) // 2  # agreement (any), agreement.<deal>, war.<dyad>
    days, spell, held = (np.zeros((r, x), np.int64) for _ in range(3))
    now, flags = np.zeros((r, x), bool), np.zeros((r, x), bool)
    first_on, first_off = np.full((r, x), np.nan), np.full((r, x), np.nan)
    for day, (agreed, war) in enumerate(zip(AGREEMENT, WAR, strict=True)):
        agreement = np.array([[bool(agreed)], [False]])
        rung = np.zeros((r, n, n), np.int64)
        rung[1, 0, 1] = rung[1, 1, 0] = 5 if war else 1
        _note(agreement, np.zeros((r, 0), bool), np.zeros((r, 0), bool),
              np.zeros((r, n, n)), np.zeros((0, 2), np.int64), rung, 4, day, flags, days,
              spell, held, now, first_on, first_off)
    return days, held, now, first_on, first_off


def test_the_daily_kernel_counts_days_in_a_row():
    days, held, now, first_on, first_off = _kernel_holdings()
    # columns: agreement, agreement.<deal>, war.<dyad>
    assert days.tolist() == [[6, 6, 0], [0, 0, 5]]
    assert held.tolist() == [[3, 3, 0], [0, 0, 5]]
    assert now.tolist() == [[False, False, False], [False, False, False]]
    assert first_on[0, :2].tolist() == [0.0, 0.0] and first_off[0, :2].tolist() == [3.0, 3.0]
    assert first_on[1, 2] == 2.0 and first_off[1, 2] == 7.0


def test_holdings_update_counts_days_in_a_row(fictional):
    """The Python path (``Holdings.update``) gives the kernel's numbers."""
    layout = compile_scenario(fictional.spec).layout
    h = Holdings(layout, 1)
    k = h.names.index("agreement")
    for day, agreed in enumerate(AGREEMENT):
        flags = np.zeros((1, len(h.names)), bool)
        flags[0, k] = bool(agreed)
        h.update(flags, day)
    values = h.values()
    assert values["agreement.days"].tolist() == [6.0]
    assert values["agreement.held"].tolist() == [3.0]
    assert values["agreement.final"].tolist() == [0.0]


@pytest.mark.parametrize("n, holds", [(1, True), (3, True), (4, False), (6, False)])
def test_held_n_needs_n_days_in_a_row(n, holds):
    """6 days in effect in all, at most 3 in a row: ``held: 4`` (or 6) is not satisfied."""
    days, held, now, _, _ = _kernel_holdings()
    values = {"agreement.days": days[:1, 0].astype(float),
              "agreement.held": held[:1, 0].astype(float),
              "agreement.final": now[:1, 0].astype(float)}
    got = evaluate(Condition(state="agreement", held=n), values, [])
    assert got.tolist() == [holds]
    # in effect at any time: yes; at the end: no
    assert evaluate(Condition(state="agreement", at="any"), values, []).tolist() == [True]
    assert evaluate(Condition(state="agreement", at="end"), values, []).tolist() == [False]


# --------------------------------------------------------------------------- the whole module
# Exact checks of sim.outcomes against independent computations (mutation survivors, issue 28):
# the states in effect, the indicators read off the model's state, the conditions' operators
# and the problems reported for conditions on unknown indicators.

#: between them every kind of state is on in some runs and days, off in others
STEPPED = ("idlib_2020.yaml", "counterfactuals/s400_early.yaml",
           "counterfactuals/gate_open.yaml")


@pytest.fixture(scope="module")
def stepped_all():
    """Each scenario of STEPPED (deals, assets, gates, sanctions, air support, contact) run
    to its end, with a shadow ``Holdings`` fed each day by the Python path (``in_effect`` +
    ``update``): ``{file: (model, shadow, flags of each day)}``."""
    from sim.model import CrisisModel
    from sim.outcomes import in_effect

    from .conftest import SCENARIOS

    out = {}
    for name in STEPPED:
        # 60 of the baseline's 120 days: enough for every kind of state to come and go, and
        # quick enough to be run again for each mutant of the module (scripts/mutation.py)
        model = CrisisModel(SCENARIOS / name, replications=24, seed=5, record_paths=False,
                            overrides=["run.days=60"])
        shadow = Holdings(model.layout, 24)
        flags_seen = []
        while model.running:
            model.step()
            day = model.steps - 1  # the day step() just simulated
            flags = in_effect(model)
            flags_seen.append(flags.copy())
            shadow.update(flags, day)
            # the compiled daily pass says the same about today
            assert np.array_equal(model.holdings.now, flags), day
        out[name] = (model, shadow, np.array(flags_seen))
    return out


@pytest.fixture(params=STEPPED)
def stepped(request, stepped_all):
    return stepped_all[request.param]


def test_the_python_and_compiled_paths_of_holdings_agree_on_every_state(stepped):
    model, shadow, flags = stepped
    names = model.holdings.names
    ours, theirs = shadow.values(), model.holdings.values()
    assert list(ours) == list(theirs)
    for key in ours:
        assert np.array_equal(ours[key], theirs[key], equal_nan=True), key
    # and both are what the daily flags say, counted here independently
    for x, name in enumerate(names):
        on = flags[:, :, x]  # (days, R)
        assert theirs[f"{name}.days"].tolist() == on.sum(axis=0).astype(float).tolist()
        assert theirs[f"{name}.final"].tolist() == on[-1].astype(float).tolist()
        longest = []
        for r in range(on.shape[1]):
            best = run = 0
            for v in on[:, r]:
                run = run + 1 if v else 0
                best = max(best, run)
            longest.append(float(best))
        assert theirs[f"{name}.held"].tolist() == longest, name
    for x, name in enumerate(names):
        if not name.startswith("sanctions."):
            continue
        pair = name.removeprefix("sanctions.")
        on = flags[:, :, x]
        first = [float(np.argmax(on[:, r])) if on[:, r].any() else np.nan
                 for r in range(on.shape[1])]
        lifted = []
        for r in range(on.shape[1]):
            days_on = np.flatnonzero(on[:, r])
            after = np.flatnonzero(~on[:, r])
            after = after[after > days_on[0]] if days_on.size else after[:0]
            lifted.append(float(after[0]) if after.size else np.nan)
        assert np.array_equal(theirs[f"day.sanctioned.{pair}"], first, equal_nan=True)
        assert np.array_equal(theirs[f"day.lifted.{pair}"], lifted, equal_nan=True)


def test_the_scenarios_above_put_every_kind_of_state_on_and_off(stepped_all):
    """Not vacuous: each kind of state is on in some run and day and off in another."""
    for prefix in ("agreement", "asset.", "gate.", "sanctions.", "war."):
        on = off = False
        for model, _, flags in stepped_all.values():
            cols = [x for x, name in enumerate(model.holdings.names) if name.startswith(prefix)]
            on |= bool(flags[:, :, cols].any())
            off |= not flags[:, :, cols].all()
        assert on and off, prefix


def test_every_indicator_is_read_off_the_state_its_name_says(stepped):
    """Each indicator column against the model's state arrays, read here independently."""
    from sim.mechanisms.alliances import alignment
    from sim.outcomes import indicator_names, indicators

    model, _, _ = stepped
    lay, s = model.layout, model.state
    got = indicators(model)
    assert list(got) == indicator_names(lay)  # every column the layout names, in its order
    assert all(v.dtype == np.float64 and v.shape == (24,) for v in got.values())

    def same(name, expected):
        assert np.array_equal(got[name], np.asarray(expected, float), equal_nan=True), name

    actors, n = lay.actors, lay.n_actors
    for i, a in enumerate(actors):
        same(f"losses.{a}", s.losses_by[:, i, :].sum(axis=1))
        same(f"alignment.{a}.final", alignment(s.affinity, lay.bloc_sign)[:, i])
        same(f"pressure.{a}.max", s.pressure_max[:, i])
        same(f"pressure.{a}.final", s.pressure[:, i])
        same(f"sanction_cost.{a}.final", s.sanction_cost[:, :, i].sum(axis=1))
        for j, b in enumerate(actors):
            if i != j:
                same(f"losses.{a}.by.{b}", s.losses_by[:, i, j])
    assert any(got[f"losses.{a}"].any() for a in actors)
    for k, node in enumerate(lay.nodes):
        same(f"people.{node}.peak", s.people_peak[:, k])
        same(f"people.{node}.final", s.people[:, k])
    same("displaced.total", s.displaced)
    same("dead.total", s.dead)
    for i in range(n):
        for j in range(i + 1, n):
            d = f"{actors[i]}~{actors[j]}"
            same(f"rung.{d}.max", s.rung_max[:, i, j])
            same(f"rung.{d}.final", s.rung[:, i, j])
            same(f"affinity.{d}.final", s.affinity[:, i, j])
            if lay.contact[i, j]:
                same(f"incidents.{d}", s.incidents[:, i, j])
            else:
                assert f"incidents.{d}" not in got
    menu = lay.menu
    for verb in ("attack", "air_support"):
        for e in menu.entries(verb):
            i, j = menu.actor[e], menu.target[e]
            a, b = actors[i], actors[j]
            if verb == "attack":
                same(f"attacks.{a}.{b}", s.attack_days[:, i, j])
            else:
                same(f"air_support.{a}.{b}.days", s.support_days[:, i, j])
                same(f"air_losses.{b}.by.{a}", s.air_losses[:, j, i])
    for o, objective in enumerate(lay.objectives):
        for i, a in enumerate(actors):
            same(f"control.{objective}.{a}.final", s.control[:, o, i])
    held = model.holdings.values()
    for d, deal in enumerate(lay.deals):
        same(f"agreement.{deal}.final", s.agreement[:, d])
        same(f"agreement.{deal}.days", held[f"agreement.{deal}.days"])
        # how close the deal came: the running best the model keeps of its parties' surplus
        same(f"reach.{deal}", model.deal_margin[:, d])
        for side, a in enumerate(lay.deal_sides[d]):
            if lay.deal_signs[d, side]:
                same(f"reach.{deal}.{actors[a]}", model.deal_best[:, d, side])
        signed = ~np.isnan(got[f"day.agreement.{deal}"])
        assert (got[f"reach.{deal}"][signed] > 0).all(), deal  # signing needs every party
    for name in model.holdings.names:
        for part in ("days", "held", "final"):
            same(f"{name}.{part}", held[f"{name}.{part}"])
    for event, first in model.trackers.first_day.items():
        same(f"day.{event}", first)
    for name in held:
        if name.startswith("day."):
            same(name, held[name])


#: one indicator over four runs: never happened (NaN), then 1, 2 and 3
X = {"x": np.array([np.nan, 1.0, 2.0, 3.0])}


@pytest.mark.parametrize("op, expected", [
    (">=", [False, False, True, True]), (">", [False, False, False, True]),
    ("<=", [False, True, True, False]), ("<", [False, True, False, False]),
    ("==", [False, False, True, False]),
    ("!=", [False, True, False, True]),  # a day that never came differs from nothing
    ("happened", [False, True, True, True]), ("never", [True, False, False, False]),
])
def test_each_comparison_of_an_indicator_with_a_value(op, expected):
    value = None if op in ("happened", "never") else 2.0
    got = evaluate(Condition(indicator="x", op=op, value=value), X, [])
    assert got.dtype == bool and got.tolist() == expected


def test_a_rung_compares_by_its_position_on_the_ladder():
    rungs = ["calm", "threats", "skirmishes", "war"]
    got = evaluate(Condition(indicator="x", op=">=", rung="skirmishes"), X, rungs)
    assert got.tolist() == [False, False, True, True]  # skirmishes is rung 2
    got = evaluate(Condition(indicator="x", op="==", rung="threats"), X, rungs)
    assert got.tolist() == [False, True, False, False]


def test_all_any_and_not_combine_conditions_run_by_run():
    ge2 = {"indicator": "x", "op": ">=", "value": 2.0}
    le2 = {"indicator": "x", "op": "<=", "value": 2.0}
    one = {"indicator": "x", "op": "==", "value": 1.0}
    three = {"indicator": "x", "op": "==", "value": 3.0}
    cond = Condition.model_validate
    assert evaluate(cond({"all": [ge2, le2]}), X, []).tolist() == [False, False, True, False]
    assert evaluate(cond({"all": [ge2]}), X, []).tolist() == [False, False, True, True]
    assert evaluate(cond({"any": [one, three]}), X, []).tolist() == [False, True, False, True]
    assert evaluate(cond({"any": [three]}), X, []).tolist() == [False, False, False, True]
    assert evaluate(cond({"not": ge2}), X, []).tolist() == [True, True, False, False]
    nested = cond({"any": [{"not": ge2}, {"all": [three]}]})
    assert evaluate(nested, X, []).tolist() == [True, True, False, True]


def test_a_state_at_any_time_at_the_end_or_held():
    values = {"s.days": np.array([0.0, 2.0, 5.0]), "s.held": np.array([0.0, 1.0, 3.0]),
              "s.final": np.array([0.0, 1.0, 0.0])}
    state = Condition.model_validate
    assert evaluate(state({"state": "s", "at": "any"}), values, []).tolist() == [
        False, True, True]
    assert evaluate(state({"state": "s", "at": "end"}), values, []).tolist() == [
        False, True, False]
    assert evaluate(state({"state": "s", "held": 1}), values, []).tolist() == [
        False, True, True]
    assert evaluate(state({"state": "s", "held": 3}), values, []).tolist() == [
        False, False, True]


def test_the_names_of_states_events_and_indicators_of_the_three_states(fictional):
    """Written out from the module's table for three_states.yaml: three actors (arcadia,
    borduria, corvalia), nodes valley, borduria_camps and corvalia, objective valley, deal
    valley_split, asset shield, gate north_pass, Corvalia's sanction on Borduria, attacks
    both ways between Arcadia and Borduria, forces in contact there."""
    from sim.outcomes import event_names, indicator_names, state_names

    lay = compile_scenario(fictional.spec).layout
    actors = ["arcadia", "borduria", "corvalia"]
    dyads = ["arcadia~borduria", "arcadia~corvalia", "borduria~corvalia"]
    states = (["agreement", "agreement.valley_split", "asset.shield", "gate.north_pass",
               "sanctions.corvalia.borduria"] + [f"war.{d}" for d in dyads])
    assert state_names(lay) == states
    events = (["agreement", "agreement.valley_split", "breakdown.valley_split",
               "granted.shield", "activated.shield", "requested.shield", "opened.north_pass",
               "closed.north_pass"] + [f"realigned.{a}" for a in actors]
              + [f"war.{d}" for d in dyads])
    assert event_names(lay) == events
    expected = [f"losses.{a}" for a in actors]
    expected += [f"losses.{a}.by.{b}" for a in actors for b in actors if a != b]
    for node in ("valley", "borduria_camps", "corvalia"):
        expected += [f"people.{node}.peak", f"people.{node}.final"]
    expected += ["displaced.total", "dead.total"]
    for d in dyads:
        expected += [f"rung.{d}.max", f"rung.{d}.final"]
    expected += [f"affinity.{d}.final" for d in dyads]
    expected += [f"alignment.{a}.final" for a in actors]
    for a in actors:
        expected += [f"pressure.{a}.max", f"pressure.{a}.final"]
    expected += [f"sanction_cost.{a}.final" for a in actors]
    expected += ["attacks.arcadia.borduria", "attacks.borduria.arcadia",
                 "incidents.arcadia~borduria"]
    expected += [f"control.valley.{a}.final" for a in actors]
    expected += ["agreement.valley_split.final"]
    expected += ["reach.valley_split", "reach.valley_split.arcadia",
                 "reach.valley_split.borduria"]
    for x in states:  # a deal's .final is the agreement.<deal>.final above
        expected += [f"{x}.days", f"{x}.held"] + (
            [] if x == "agreement.valley_split" else [f"{x}.final"])
    expected += [f"day.{e}" for e in events]
    expected += ["day.sanctioned.corvalia.borduria", "day.lifted.corvalia.borduria"]
    assert indicator_names(lay) == expected


def test_conditions_on_unknown_states_or_indicators_are_reported_exactly(fictional):
    """Every kind of problem, where it is (nested in all, any, not) and its hint."""
    import copy

    from sim.outcomes import outcome_problems
    from sim.scenario.schema import Scenario

    data = copy.deepcopy(fictional.data)

    def when(condition):
        return {"description": "d", "when": condition}

    data["outcomes"] = {
        "a": when({"state": "agreemnt", "at": "any"}),
        "b": when({"state": "zzzzzz", "held": 2}),
        "c": when({"indicator": "rung.borduria~arcadia.max", "op": ">=", "value": 1}),
        "d": when({"all": [{"indicator": "losses.arcadiaa", "op": ">", "value": 1},
                           {"any": [{"indicator": "qqqqqqqq", "op": ">", "value": 1}]}]}),
        "e": when({"not": {"indicator": "losses.arcadia", "op": "happened"}}),
        "f": when({"indicator": "losses.arcadia", "op": ">=", "rung": "war"}),
        "g": when({"indicator": "day.agreement", "op": "never"}),  # fine
        "h": when({"indicator": "rung.arcadia~borduria.max", "op": ">=", "rung": "war"}),  # fine
        "i": when({"indicator": "rung.arcadia~borduria.final", "op": "never"}),
        # as close as a hint needs (difflib's ratio 2 * 3 / (3 + 9) = 0.5; 2 * 4 / 14 = 0.57)
        "j": when({"state": "agr", "at": "end"}),
        "k": when({"indicator": "dead", "op": ">", "value": 0}),
    }
    docs = " (see docs/ODD.md, Outcomes, for the indicator names)"
    known = ("['agreement', 'agreement.valley_split', 'asset.shield', 'gate.north_pass', "
             "'sanctions.corvalia.borduria', 'war.arcadia~borduria', 'war.arcadia~corvalia', "
             "'war.borduria~corvalia']")
    always = ("applies to day.* indicators (a first day, empty if never); '{}' always has a "
              "value: compare it with op and value instead")
    assert outcome_problems(Scenario.model_validate(data)) == [
        ("outcomes.a.when.state", "unknown state 'agreemnt'; did you mean 'agreement'?"),
        ("outcomes.b.when.state", f"unknown state 'zzzzzz'; known: {known}"),
        ("outcomes.c.when.indicator", "unknown indicator 'rung.borduria~arcadia.max'; did you "
         "mean 'rung.arcadia~borduria.max'? (a dyad is written in the order its actors are "
         "listed under 'actors')" + docs),
        ("outcomes.d.when.all[0].indicator", "unknown indicator 'losses.arcadiaa'; did you mean "
         "'losses.arcadia'?" + docs),
        ("outcomes.d.when.all[1].any[0].indicator", "unknown indicator 'qqqqqqqq'" + docs),
        ("outcomes.e.when.not.op", "'happened' " + always.format("losses.arcadia")),
        ("outcomes.f.when.rung", "'losses.arcadia' is not a rung; compare a rung only with a "
         "rung.* indicator, or give a value"),
        ("outcomes.i.when.op", "'never' " + always.format("rung.arcadia~borduria.final")),
        ("outcomes.j.when.state", "unknown state 'agr'; did you mean 'agreement'?"),
        ("outcomes.k.when.indicator", "unknown indicator 'dead'; did you mean 'dead.total'?"
         + docs),
    ]


@pytest.mark.parametrize("edit, granted, activated, opened", [
    ({}, False, False, False),
    ({"assets.shield.deployed_at_start": "arcadia"}, True, False, False),  # held by another
    ({"assets.shield.holder": "corvalia", "assets.shield.active_at_start": True},
     False, True, False),  # its owner holds and activates it: activated, not granted
    ({"refugees.gates.north_pass.open": True}, False, False, True),
])
def test_what_is_in_place_on_day_0_counts_as_happened_on_day_0(fictional, edit, granted,
                                                               activated, opened):
    import copy

    from sim.model import CrisisModel
    from sim.outcomes import in_effect_at_start
    from sim.scenario.loader import load_data

    data = copy.deepcopy(fictional.data)
    for path, value in edit.items():
        *parents, key = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[key] = value
    model = CrisisModel(load_data(data), replications=3, seed=1, record_paths=False)
    got = in_effect_at_start(model.layout, model.state)
    assert list(got) == ["granted.shield", "activated.shield", "opened.north_pass"]
    assert got["granted.shield"].tolist() == [granted] * 3
    assert got["activated.shield"].tolist() == [activated] * 3
    assert got["opened.north_pass"].tolist() == [opened] * 3
    assert all(v.dtype == bool for v in got.values())
    # and the model's first days say so: day 0 where in place, else not before it happened
    first = model.trackers.first_day
    for name, expected in (("granted.shield", granted), ("activated.shield", activated),
                           ("opened.north_pass", opened)):
        assert (first[name] == 0).all() == expected, name


def test_a_sanction_in_force_on_day_0_is_a_state_outside_any_menu(fictional):
    """relations.<dyad>.sanctions puts a sanction in force on day 0: Arcadia's on Borduria
    (no sanction in Arcadia's menu) is a state, in effect from day 0, on both paths."""
    import copy

    from sim.model import CrisisModel
    from sim.outcomes import in_effect, state_names
    from sim.scenario.loader import load_data

    data = copy.deepcopy(fictional.data)
    data["relations"]["arcadia~borduria"]["sanctions"] = ["arcadia"]
    model = CrisisModel(load_data(data), replications=4, seed=2, record_paths=False,
                        overrides=["run.days=5"])
    names = state_names(model.layout)
    assert names[4:6] == ["sanctions.corvalia.borduria", "sanctions.arcadia.borduria"]
    shadow = Holdings(model.layout, 4)
    while model.running:
        model.step()
        shadow.update(in_effect(model), model.steps - 1)
    x = names.index("sanctions.arcadia.borduria")
    ours, theirs = shadow.values(), model.holdings.values()
    assert theirs["day.sanctioned.arcadia.borduria"].tolist() == [0.0] * 4
    assert theirs["sanctions.arcadia.borduria.days"].tolist() == (
        model.holdings.days[:, x].astype(float).tolist())
    assert theirs["sanctions.arcadia.borduria.days"].min() >= 1
    for key in theirs:
        assert np.array_equal(ours[key], theirs[key], equal_nan=True), key


def test_a_deal_named_agreement_keeps_the_any_deal_state_final(tmp_path):
    """A deal's own ``.final`` is ``agreement.<deal>.final``; the any-deal state
    ``agreement`` keeps its ``agreement.final`` even when a deal is called 'agreement'."""
    from sim.outcomes import indicator_names
    from sim.scenario.loader import load_scenario

    from .conftest import FICTIONAL

    path = tmp_path / "renamed.yaml"
    path.write_text(FICTIONAL.read_text().replace("valley_split", "agreement"))
    names = indicator_names(compile_scenario(load_scenario(path).spec).layout)
    assert "agreement.final" in names and "agreement.agreement.final" in names
    assert names.count("agreement.agreement.final") == 1  # from the deals, not the state


def test_nested_rung_comparisons_and_a_single_day_in_effect():
    rungs = ["calm", "threats", "skirmishes", "war"]
    at_skirmishes = {"indicator": "x", "op": ">=", "rung": "skirmishes"}
    cond = Condition.model_validate
    assert evaluate(cond({"all": [at_skirmishes]}), X, rungs).tolist() == [
        False, False, True, True]
    assert evaluate(cond({"any": [at_skirmishes]}), X, rungs).tolist() == [
        False, False, True, True]
    assert evaluate(cond({"not": at_skirmishes}), X, rungs).tolist() == [
        True, True, False, False]
    one_day = {"s.days": np.array([1.0]), "s.held": np.array([1.0]), "s.final": np.array([0.0])}
    assert evaluate(cond({"state": "s", "at": "any"}), one_day, []).tolist() == [True]
