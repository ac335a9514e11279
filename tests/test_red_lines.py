"""Red lines (issue #22, item 2): a commitment stated in advance costs its author when crossed.

Fictional scenario; each pattern is an ensemble statistic with a fixed seed, paired with the
same runs without the declaration (common random numbers), plus exact checks of the
bookkeeping: what crosses a line, what answers it, what a line nobody crosses changes.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import CrisisModel
from sim.outcomes import indicators
from sim.scenario.loader import load_data

from .conftest import paired_effect
from .test_model_v3 import answers_in_a_week, force_arcadia, harmless_standoff


def _crisis(fictional, line: dict | None, reciprocity: float = 0.0) -> dict:
    """The harmless standoff of test_model_v3 (reciprocity off by default, so only a
    declaration calls for an answer), with ``line`` as its one red line."""
    data = harmless_standoff(fictional, reciprocity)
    if line is not None:
        data["red_lines"] = {"no_strike": line}
    return data


LINE = {"author": "borduria", "offender": "arcadia", "attacks": "borduria", "stakes": 1.0}


def test_a_crossed_red_line_is_answered_more_often_than_without_the_declaration(fictional):
    """Audience costs: the same strike (it kills no one; reciprocity off, so only the
    declaration can call for an answer) is struck back within a week more often by a side
    that declared it a red line than by the same side, same runs, without the declaration."""
    _, plain = answers_in_a_week(_crisis(fictional, None), strike=True)
    model, declared = answers_in_a_week(_crisis(fictional, LINE), strike=True)
    assert model.state.losses_by.sum() == 0  # the crossing cost the author nothing
    effect, low, high = paired_effect(plain > 0, declared > 0)
    assert low > 0, (effect, low, high)
    # the larger the stakes, the likelier the answer (dose-response)
    _, high_stakes = answers_in_a_week(_crisis(fictional, {**LINE, "stakes": 3.0}), strike=True)
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
    a, b = force_arcadia(model, True, later=-1)  # one strike, on day 0 only
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


def test_a_one_off_sortie_against_the_offender_answers_the_line(fictional):
    """A one-off air sortie (``once``) by the author against the offender answers its line,
    as a sortie held day after day does (ODD M5: flying air support spends the stake). The
    red lines are read before the day's one-off acts end; read after, a sortie flown today
    was already cleared (measured before the fix: 0 of the runs whose sortie struck answered).
    A sortie over a dyad with no fighting that day strikes nothing and answers nothing."""
    data = harmless_standoff(fictional, 0.0)
    data["red_lines"] = {"no_strike": {"author": "corvalia", "offender": "arcadia",
                                       "attacks": "borduria", "stakes": 2.0}}
    data["actors"]["corvalia"]["actions"].append(
        {"verb": "air_support", "client": "borduria", "target": "arcadia", "once": True})
    model = CrisisModel(load_data(data), replications=300, seed=3, record_paths=False)
    force_arcadia(model, True, later=-1)  # crosses the line on day 0 in every run
    for _ in range(30):
        model.step()
    got = indicators(model)
    sortie = model.one_off_days()["once.corvalia.air_support.arcadia"]
    answered = got["day.answered.no_strike"]
    np.testing.assert_array_equal(got["day.crossed.no_strike"], 0.0)
    # Corvalia has no attack: a sortie is its only answer, on the day it is flown
    assert np.isfinite(answered).sum() >= 20, np.isfinite(answered).sum()
    done = np.isfinite(answered)
    np.testing.assert_array_equal(answered[done], sortie[done])


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
