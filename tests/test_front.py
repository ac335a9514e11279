"""A front's advance (issue #22, docs/ODD.md M4, ``fighting.advance``).

An attack takes ground at a pace set by the forces and the fighting's intensity, as a share
of the objective, until the holder's ground runs out (``front``); model v2 took that pace as
a share of the holder's remaining ground (``holdings``), so the last of a holding was never
taken. The rule is checked exactly on the compiled step and the look-ahead's factor, and as
a pattern: a side that keeps losing is driven out within the run under ``front``, never
under ``holdings``, on the same runs (common random numbers).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sim.mechanisms.fighting import shift_control, within_reach
from sim.scenario.loader import load_data

from .conftest import ensemble, paired_effect


def _step(held: float, front: float) -> np.ndarray:
    """One day of b (index 1) attacking a (index 0), who holds ``held`` of one objective."""
    control = np.array([[[held, 1.0 - held]]])
    intensity = np.zeros((1, 2, 2))
    intensity[0, 1, 0] = 1.0
    attack = np.zeros((1, 2, 2))
    attack[0, 1, 0] = 1.0
    win = np.full((1, 2, 2), 0.5)
    win[0, 1, 0] = 0.75
    out = np.empty_like(control)
    shift_control(control, intensity, attack, win, np.array([[0.05]]),
                  np.ones((1, 1, 2)), np.array([1.0]), np.array([front]),
                  np.ones((1, 2, 2)), np.zeros((3, 2)), out)
    return out[0, 0]


# pace: intensity 1 / (1 + 2 boost) x 2 win x speed = 1/3 x 1.5 x 0.05 = 0.025 a day
PACE = 1.0 / 3.0 * 2.0 * 0.75 * 0.05


@pytest.mark.parametrize("held", [0.9, 0.4, 0.1, 0.03])
def test_a_front_takes_its_pace_of_the_objective_whatever_the_holder_has_left(held):
    a, b = _step(held, front=1.0)
    assert a == pytest.approx(held - PACE, abs=1e-15)
    assert b == pytest.approx(1.0 - held + PACE, abs=1e-15)


@pytest.mark.parametrize("held", [0.9, 0.4, 0.1, 0.03])
def test_holdings_take_the_pace_as_a_share_of_what_is_held(held):
    a, b = _step(held, front=0.0)
    assert a == pytest.approx(held * (1.0 - PACE), abs=1e-15)
    assert b == pytest.approx(1.0 - held * (1.0 - PACE), abs=1e-15)


def test_a_front_takes_no_more_than_the_holder_holds():
    a, b = _step(0.01, front=1.0)  # less than a day's pace left
    assert (a, b) == (0.0, 1.0)
    days, held = 0, 0.31
    while held > 0.0:  # driven out in finite time: 12 days of 0.025, then the last 0.01
        held = _step(held, front=1.0)[0]
        days += 1
    assert days == 13
    held = 0.31
    for _ in range(1000):  # holdings: never
        held = _step(held, front=0.0)[0]
    assert held > 0.0


def test_the_look_ahead_counts_the_pace_until_the_ground_runs_out():
    # 0.4 held, pace 0.02 over 7 days: 0.14 within reach, the full pace every day
    assert within_reach(0.4, 0.02, 7.0, 1.0) == 1.0
    # 0.07 held: half of the look-ahead's reach, so half the pace on average
    assert within_reach(0.07, 0.02, 7.0, 1.0) == pytest.approx(0.5, abs=1e-15)
    assert within_reach(0.0, 0.02, 7.0, 1.0) == 0.0
    assert within_reach(0.3, 0.0, 7.0, 1.0) == 1.0  # no pace: the factor is moot
    # holdings: the share held is the factor (model v2)
    assert within_reach(0.07, 0.02, 7.0, 0.0) == 0.07


def _rout(fictional, advance: str) -> dict:
    """Borduria, much stronger, at war with Arcadia, which can only hold: no deals."""
    data = copy.deepcopy(fictional.data)
    data["actors"]["borduria"]["capabilities"]["ground"] = 6.0
    data["actors"]["arcadia"]["actions"] = [{"verb": "hold"}]
    data["actors"]["borduria"]["actions"] = [{"verb": "hold"},
                                             {"verb": "attack", "target": "arcadia"}]
    data["actors"]["corvalia"]["actions"] = [{"verb": "hold"}]
    data["relations"]["arcadia~borduria"]["rung"] = "war"
    data.pop("deals", None)
    data["outcomes"].pop("split", None)  # names the deal
    data.setdefault("fighting", {})["advance"] = advance
    return data


def test_a_side_that_keeps_losing_is_driven_out_within_the_run(fictional):
    """Pattern: under ``front`` Arcadia ends holding (almost) nothing of the valley in most
    runs; under ``holdings``, on the same runs, never, though it loses ground every day."""
    runs = 200
    front = ensemble(load_data(_rout(fictional, "front")), runs, seed=5)
    share = ensemble(load_data(_rout(fictional, "holdings")), runs, seed=5)
    held_front = front["control.valley.arcadia.final"]
    held_share = share["control.valley.arcadia.final"]
    assert np.mean(held_front <= 0.05) > 0.5, np.mean(held_front <= 0.05)
    assert np.mean(held_share <= 0.05) == 0.0, np.mean(held_share <= 0.05)
    assert held_share.max() < 0.6  # ... though it lost ground in every run
    mean, low, high = paired_effect(held_share <= 0.05, held_front <= 0.05)
    assert low > 0.4, (mean, low, high)
