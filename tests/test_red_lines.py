"""Red lines (issue #22, item 2): a commitment stated in advance costs its author when crossed.

Fictional scenario; each pattern is an ensemble statistic with a fixed seed, paired with the
same runs without the declaration (common random numbers), plus exact checks of the
bookkeeping: what crosses a line, what answers it, what a line nobody crosses changes.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.model import CrisisModel
from sim.outcomes import indicators
from sim.scenario.loader import load_data
from sim.world import VERB

from .conftest import paired_effect


def _crisis(fictional, line: dict | None, reciprocity: float = 0.0) -> dict:
    """Arcadia at 'threats' with Borduria; no deals, no losses, no incidents; Borduria (the
    author) cares for its standing and, left alone, seldom attacks."""
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
    data.setdefault("decisions", {})["reciprocity"] = reciprocity
    if line is not None:
        data["red_lines"] = {"no_strike": line}
    return data


def _run(data: dict, strike: bool, days: int = 8, runs: int = 600):
    """Step ``days`` days with Arcadia's day-0 posture forced (an attack on Borduria or
    nothing); returns the model and the days on which Borduria attacked Arcadia after day 0."""
    model = CrisisModel(load_data(data), replications=runs, seed=8, record_paths=False)
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
        return picks

    arcadia.decide = forced
    answered = np.zeros(model.replications.size)
    for _ in range(days):
        model.step()
        if model.steps > 1:
            answered += model.workspace.attack[:, b, a]
    return model, answered


LINE = {"author": "borduria", "offender": "arcadia", "attacks": "borduria", "stakes": 1.0}


def test_a_crossed_red_line_is_answered_more_often_than_without_the_declaration(fictional):
    """Audience costs: the same strike (it kills no one; reciprocity off, so only the
    declaration can call for an answer) is struck back within a week more often by a side
    that declared it a red line than by the same side, same runs, without the declaration."""
    _, plain = _run(_crisis(fictional, None), strike=True)
    model, declared = _run(_crisis(fictional, LINE), strike=True)
    assert model.state.losses_by.sum() == 0  # the crossing cost the author nothing
    effect, low, high = paired_effect(plain > 0, declared > 0)
    assert low > 0, (effect, low, high)
    # the larger the stakes, the likelier the answer (dose-response)
    _, high_stakes = _run(_crisis(fictional, {**LINE, "stakes": 3.0}), strike=True)
    more, low, _ = paired_effect(declared > 0, high_stakes > 0)
    assert low > 0, (more, low)


def test_a_red_line_nobody_crosses_changes_nothing(fictional):
    """Until it is crossed a red line is words: when the offender cannot attack (no attack
    on its menu), every run is identical with and without the line (same seed), and no
    crossing or answer is recorded."""

    def unarmed(line):
        data = _crisis(fictional, line)
        data["actors"]["arcadia"]["actions"] = [
            a for a in data["actors"]["arcadia"]["actions"] if a["verb"] != "attack"]
        return CrisisModel(load_data(data), replications=200, seed=8, record_paths=False)

    plain, lined = unarmed(None), unarmed(LINE)
    for _ in range(10):
        plain.step()
        lined.step()
    got, base = indicators(lined), indicators(plain)
    assert np.isnan(got["day.crossed.no_strike"]).all()
    assert np.isnan(got["day.answered.no_strike"]).all()
    for name, values in base.items():
        np.testing.assert_array_equal(values, got[name], err_msg=name)
    assert (lined.state.pledged == 0).all()


def test_crossing_and_answer_are_recorded_and_the_answer_spends_the_stake(fictional):
    """Exact bookkeeping: the forced strike on day 0 crosses the line on day 0 in every run;
    the stake is set the evening it is crossed, fades by audience_memory a day while
    unanswered, and is 0 after the author strikes; answered.<line> is the first such day."""
    data = _crisis(fictional, {**LINE, "stakes": 2.0})
    data["decisions"]["audience_memory"] = 0.5
    model = CrisisModel(load_data(data), replications=300, seed=3, record_paths=False)
    lay = model.layout
    a, b = lay.actors.index("arcadia"), lay.actors.index("borduria")
    arcadia = model.actors[a]
    attack = next(e for e in range(arcadia.menu.start, arcadia.menu.stop)
                  if lay.menu.verb[e] == VERB["attack"] and lay.menu.target[e] == b)
    decide = arcadia.decide

    def forced(utility, u):
        picks = decide(utility, u)
        picks[:, 0] = attack if model.steps == 1 else -1  # one strike, on day 0 only
        return picks

    arcadia.decide = forced
    model.step()
    np.testing.assert_array_equal(model.state.pledged[:, b, a], 2.0)
    expected = np.full(300, 2.0)
    answered_day = np.full(300, np.nan)
    for day in range(1, 6):
        model.step()
        struck = model.workspace.attack[:, b, a] > 0
        expected = np.where(struck | (expected == 0.0), 0.0, expected * 0.5)
        answered_day[struck & np.isnan(answered_day)] = day
        np.testing.assert_allclose(model.state.pledged[:, b, a], expected)
    got = indicators(model)
    np.testing.assert_array_equal(got["day.crossed.no_strike"], 0.0)
    np.testing.assert_array_equal(got["day.answered.no_strike"], answered_day)
    assert 0 < np.isfinite(answered_day).sum() < 300


@pytest.mark.parametrize("line, message", [
    ({"author": "borduria", "offender": "arcadia"}, "exactly one of"),
    ({"author": "borduria", "offender": "arcadia", "attacks": "borduria", "takes": "x"},
     "exactly one of"),
    ({"author": "borduria", "offender": "arcadia", "reaches": "war"}, "go together"),
    ({"author": "borduria", "offender": "arcadia", "attacks": "bordurai"}, "did you mean"),
])
def test_a_malformed_red_line_is_refused_with_its_key(fictional, line, message):
    from sim.errors import ScenarioError

    data = _crisis(fictional, line)
    with pytest.raises(ScenarioError, match=message) as err:
        load_data(data)
    assert "red_lines.no_strike" in str(err.value)
