"""Red lines: commitments stated in advance, and the audience cost of not honouring them.

A red line (``red_lines:`` in a scenario) names its author, the offender it warns and what
crosses it: an attack on a named actor, the capture of an objective, or the offender's dyad
with a named actor reaching a rung. The first day it is crossed, the author's standing is at
stake against the offender (``State.pledged``, the line's ``stakes``): from the next day an
attack or air support against the offender is worth that much more to the author
(``decisions``: weighed by its ``standing`` interest, doubled at full domestic pressure), and
a deal that bars the answer costs it as much (``bargaining.surplus``). The stake is spent by
the answer and fades by ``decisions.audience_memory`` a day while unanswered: the moment to
act passes, and backing down has cost what it cost.

This is the audience cost of a public commitment (Fearon 1994): once a leader has said what
it will do, not doing it costs the leader at home and abroad, so punishment has value even
when the crossing cost the author nothing; it is also how a commitment makes a threat
credible (Schelling 1966, ch. 2). A line is crossed once per run; ``day.crossed.<line>`` and
``day.answered.<line>`` (first answer after the crossing) are its indicators.

References:
    Fearon, J. D. (1994). Domestic political audiences and the escalation of international
    disputes. American Political Science Review 88(3).
    Schelling, T. C. (1966). Arms and Influence, ch. 2 ("The art of commitment").
    Tomz, M. (2007). Domestic audience costs in international relations: an experimental
    approach. International Organization 61(4).
"""

from __future__ import annotations

import numpy as np

from sim.world import LINE_ATTACKS, LINE_TAKES

#: share of an objective the offender must hold for a ``takes`` line to be crossed
TAKEN = 0.5


class RedLines:
    """Which lines each replication has seen crossed and answered.

    Args:
        n_lines: Number of red lines.
        r: Number of replications.
    """

    def __init__(self, n_lines: int, r: int) -> None:
        self.crossed = np.zeros((r, n_lines), dtype=bool)
        self.answered = np.zeros((r, n_lines), dtype=bool)

    def step(self, model, attack: np.ndarray, day: int) -> np.ndarray:
        """After the day: answers to lines crossed before today, fading, then new crossings.

        Returns today's events, ``(R, 2 L)``: each line crossed today, then each answered
        today, in the order of ``sim.outcomes.red_line_events`` (the model's trackers keep
        their first days).

        Args:
            model: The model (its layout, parameters and state; ``state.pledged`` is
                updated in place).
            attack: ``(R, A, A)`` today's attacks, i on j.
            day: Today.
        """
        lay, p, s = model.layout, model.params, model.state
        author, offender = lay.line_author, lay.line_offender
        n_lines = author.size
        struck = attack[:, author, offender] > 0  # (R, L): the author struck the offender
        struck |= s.air_target[:, author] == offender[None, :]
        answer = self.crossed & ~self.answered & struck
        self.answered |= answer
        pledged = s.pledged
        for line in range(n_lines):  # striking back spends the stake (one per pair)
            a, o = author[line], offender[line]
            pledged[struck[:, line], a, o] = 0.0
        pledged *= p.audience_memory[:, None, None]  # (P,): 1 or R
        cross = np.zeros_like(self.crossed)
        for line in range(n_lines):
            if day < lay.line_from[line]:
                continue  # not declared yet
            o, x = offender[line], lay.line_subject[line]
            if lay.line_kind[line] == LINE_ATTACKS:
                happened = (attack[:, o, x] > 0) | (s.air_target[:, o] == x)
            elif lay.line_kind[line] == LINE_TAKES:
                happened = s.control[:, x, o] >= TAKEN
            else:
                happened = s.rung[:, o, x] >= lay.line_rung[line]
            cross[:, line] = happened & ~self.crossed[:, line]
        self.crossed |= cross
        stakes = np.broadcast_to(p.red_line_stakes, cross.shape)  # (P, L) to (R, L)
        for line in range(n_lines):
            rows = cross[:, line]
            pledged[rows, author[line], offender[line]] += stakes[rows, line]
        return np.concatenate([cross, answer], axis=1)


__all__ = ["TAKEN", "RedLines"]
