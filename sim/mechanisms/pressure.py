"""Domestic pressure (mechanism 5).

Losses, new refugees on one's soil, lost ground and the economic cost of sanctions raise
pressure; it fades at a constant rate. Sanctions leave a lasting cost: a stock on the target
that grows by one unit per day of sanctions and fades by the target's ``sanction_recovery``,
so sanctions keep biting for a while after they are lifted (Hufbauer et al. 2007, Economic
Sanctions Reconsidered: costs build over months and outlast the measures).
Inputs saturate (``p += (1 - p) * (1 - exp(-input))``) so pressure stays in [0, 1]. Pressure
feeds back into decisions: it raises the value of retaliating against the actor that caused
recent losses and lowers the value of concessions: a leader pressed "to respond" as "the toll
of casualties mounts" (the baseline's seed article).

Attacks call for an answer whatever they cost (``provoked_step``): a memory of the strikes not
yet answered, spent by striking back; the standing an answer restores
(``bargaining.answer_value``) is part of an attack's value and of what a ceasefire costs the
side that has not yet answered.

References:
    Putnam, R. (1988). Diplomacy and domestic politics: the logic of two-level games.
    Sartori, A. (2005). Deterrence by Diplomacy (reputation for resolve).
    Weisiger, A. & Yarhi-Milo, K. (2015). Revisiting reputation: how past actions matter in
    international politics. International Organization 69(2).
"""

from __future__ import annotations

import numpy as np

from sim.jit import helper, pick


@helper
def step(pressure, new_losses, new_refugees, lost_ground, shock, per_loss, per_refugees,
         per_ground, decay, sanction_cost, per_sanction):
    """Next day's pressure ``(R, A)``, in place.

    ``p += (1 - p) * (1 - exp(-load))``, then a decay, then dated shocks, clipped to [0, 1].

    Args:
        pressure: ``(R, A)`` in [0, 1], updated in place.
        new_losses: ``(R, A, A)`` int losses of i caused by j today.
        new_refugees: ``(R, A)`` net people arrived on the actor's soil today.
        lost_ground: ``(R, A)`` valued territory lost today.
        shock: ``(A,)`` pressure from timeline events (may be negative).
        per_loss: ``(P, A)`` load per soldier lost.
        per_refugees: ``(P, A)`` load per 100,000 people arrived.
        per_ground: ``(P, A)`` load per unit of valued territory lost.
        decay: ``(P, A)`` share of pressure that fades each day.
        sanction_cost: ``(R, A, A)`` economic cost on j of i's sanctions (``sanction_step``).
        per_sanction: ``(P, A)`` load per unit of that cost, every day it lasts.
    """
    for r in range(pressure.shape[0]):
        q = pick(per_loss.shape[0], r)
        for a in range(pressure.shape[1]):
            lost = 0
            for j in range(new_losses.shape[2]):
                lost += new_losses[r, a, j]
            cost = 0.0
            for i in range(sanction_cost.shape[1]):
                cost += sanction_cost[r, i, a]
            load = (per_loss[q, a] * lost
                    + per_sanction[q, a] * cost
                    + per_refugees[q, a] * max(new_refugees[r, a], 0) / 100_000.0
                    + per_ground[q, a] * max(lost_ground[r, a], 0.0))
            raised = pressure[r, a] + (1.0 - pressure[r, a]) * (1.0 - np.exp(-load))
            pressure[r, a] = min(max(raised * (1.0 - decay[q, a]) + shock[a], 0.0), 1.0)


@helper
def grievance_step(grievance, losses_today, memory):
    """Recent losses of i caused by j, exponentially fading (the actor's memory), in place."""
    for r in range(grievance.shape[0]):
        for i in range(grievance.shape[1]):
            for j in range(grievance.shape[2]):
                grievance[r, i, j] = grievance[r, i, j] * memory + losses_today[r, i, j]


@helper
def provoked_step(provoked, hostile, memory):
    """Attacks of j on i that i has not answered, fading, in place ``(R, A, A)``.

    A day on which i strikes j answers them all (reset to 0); otherwise yesterday's count
    fades by ``memory`` and today's attacks of j on i (as i attributes them) add one each
    (a dated strike, a timeline ``casualties`` event, is added the morning it happens:
    ``sim.model.CrisisModel.step``). ``bargaining.answer_value`` reads it: reciprocity,
    Richardson's "grievance" with a memory of who has not been answered.
    """
    for r in range(provoked.shape[0]):
        for i in range(provoked.shape[1]):
            for j in range(provoked.shape[2]):
                if hostile[r, i, j] > 0.0:
                    provoked[r, i, j] = 0.0
                else:
                    provoked[r, i, j] = provoked[r, i, j] * memory + hostile[r, j, i]


@helper
def sanction_step(cost, sanction, recovery):
    """The economic cost on j of i's sanctions, in place: ``c = c (1 - recovery_j) + s_ij``.

    Args:
        cost: ``(R, A, A)`` the stock, updated in place.
        sanction: ``(R, A, A)`` 1 where i sanctions j today.
        recovery: ``(P, A)`` share of the target's cost that fades each day.
    """
    for r in range(cost.shape[0]):
        q = pick(recovery.shape[0], r)
        for i in range(cost.shape[1]):
            for j in range(cost.shape[2]):
                cost[r, i, j] = cost[r, i, j] * (1.0 - recovery[q, j]) + sanction[r, i, j]
