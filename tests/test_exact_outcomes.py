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
