"""Bargaining and agreements (mechanism 6).

Each party compares the deal's terms with its expected value of fighting on over the
bargaining horizon. Fighting on means war across the deal's ceasefire dyads (every side
attacking), so the party weighs the territory it expects to hold (today's control plus that
war's expected drift, from the contest function), the losses and escalation risk it would
avoid under the ceasefire, the war costs it would save, and the standing lost by conceding
ground when domestic pressure is high. A deal forms when a party proposes it and every
party's surplus plus private-information noise is positive (Fearon 1995: war's costs open a
bargaining range; uncertainty can close it). The noise is each side's private resolve: drawn
once per run and deal, so a deal that one side rejects today is accepted only when the
fighting has changed its prospects.

An agreement re-divides the objectives its terms name, caps the rung of the dyads its
ceasefire covers and bars attacks across them. It breaks down with a daily hazard that grows
with residual hostility: negative affinity in the ceasefire dyads and the parties' pressure.

References:
    Fearon, J. D. (1995). Rationalist explanations for war. International Organization 49(3).
    Powell, R. (2006). War as a commitment problem. International Organization 60(1).
"""

from __future__ import annotations

import numpy as np

from sim.jit import helper, kernel, row
from sim.world import OBJ, sc


def surplus(
    *, control: np.ndarray, war_drift: np.ndarray, war_losses: np.ndarray, rung: np.ndarray,
    pressure: np.ndarray, affinity: np.ndarray, layout, params,
) -> np.ndarray:
    """Each party's gain from each deal over fighting on, ``(R, D, 2)``, in utility units.

    Args:
        control: ``(R, O, A)`` control today.
        war_drift: ``(R, D, O, A)`` expected daily change of control if the deal's ceasefire
            dyads fight all out.
        war_losses: ``(R, D, A, A)`` expected daily losses of i caused by j in that war.
        rung: ``(R, A, A)``.
        pressure: ``(R, A)``.
        affinity: ``(R, A, A)``.
        layout: ``Layout``.
        params: ``Params``.
    """
    return _surplus(control, war_drift, war_losses, rung, pressure, affinity,
                    layout.deal_ceasefire, layout.deal_transfers, layout.deal_parties,
                    params.packed)


@helper
def _territory_of(a, control, value, affinity):
    """Value-weighted control of actor a in one replication, counting what friends hold.

    ``sum_o value[o, a] * sum_b control[o, b] * max(affinity[a, b], 0)`` with affinity 1 to
    oneself: a patron gains from ground its client takes, in proportion to how close they are.
    """
    total = 0.0
    for o in range(control.shape[0]):
        held = 0.0
        for b in range(control.shape[1]):
            held += control[o, b] * max(affinity[a, b], 0.0)
        total += held * value[o, a]
    return total


_TERRITORY, _LOSSES = OBJ["territory"], OBJ["losses"]
_ESCALATION, _STANDING = OBJ["escalation"], OBJ["standing"]


@kernel
def _surplus(control, war_drift, war_losses, rung, pressure, affinity, ceasefire, transfers,
             parties, p):
    r_count, o_count, n = control.shape
    d_count = ceasefire.shape[0]
    out = np.zeros((r_count, d_count, 2))
    fight = np.empty((o_count, n))
    deal = np.empty((o_count, n))
    for r in range(r_count):
        horizon = row(p.bargaining_horizon, r)
        w = row(p.interests, r)
        risk = 1.0 - row(p.risk_attitude, r)
        severity = row(p.rung_severity, r)
        values = row(p.value, r)
        terms = row(p.deal_control, r)
        caps = row(p.deal_cap, r)
        costs = row(p.war_cost, r)
        t_unit = row(p.territory_unit, r)
        l_unit = row(p.loss_unit, r)
        yield_ = row(p.concession, r)
        for d in range(d_count):
            for o in range(o_count):
                for b in range(n):
                    held = min(max(control[r, o, b] + war_drift[r, d, o, b] * horizon, 0.0), 1.0)
                    fight[o, b] = held
                    deal[o, b] = terms[d, o, b] if transfers[d, o] else held
            cap = severity[caps[d]]
            for side in range(2):
                a = parties[d, side]
                now = _territory_of(a, control[r], values, affinity[r])
                with_deal = _territory_of(a, deal, values, affinity[r])
                fighting_on = _territory_of(a, fight, values, affinity[r])
                avoided, sev_now, in_fight = 0.0, 0.0, 0.0
                for j in range(n):
                    if ceasefire[d, a, j]:
                        avoided += war_losses[r, d, a, j]
                        sev_now = max(sev_now, severity[rung[r, a, j]])
                        in_fight = 1.0
                conceded = 1.0 if with_deal < now - 1e-9 else 0.0
                out[r, d, side] = (
                    w[a, _TERRITORY] * (with_deal - fighting_on) / t_unit
                    + w[a, _LOSSES] * avoided * horizon / l_unit
                    + w[a, _ESCALATION] * risk[a] * (sev_now - min(sev_now, cap))
                    + costs[a] * horizon * in_fight
                    - w[a, _STANDING] * yield_ * pressure[r, a] * conceded
                )
    return out


def form(proposed: np.ndarray, active: np.ndarray, gains: np.ndarray, noise: np.ndarray,
         params) -> np.ndarray:
    """Deals that form today, ``(R, D)`` bool.

    Args:
        proposed: ``(R, D)`` True where a party proposed the deal today.
        active: ``(R, D)`` agreements in force (not re-formed).
        gains: ``(R, D, 2)`` surpluses.
        noise: ``(R, D, 2)`` standard normals (private information).
        params: ``Params``.
    """
    accepts = gains + sc(params.bargaining_noise, 3) * noise > 0.0
    return proposed & ~active & accepts.all(axis=2)


def breakdown_hazard(affinity: np.ndarray, pressure: np.ndarray, layout, params) -> np.ndarray:
    """Daily chance each agreement breaks down, ``(R, D)``.

    Residual hostility is the worst enmity across the ceasefire's dyads plus the parties' mean
    domestic pressure.
    """
    return _breakdown_hazard(affinity, pressure, layout.deal_ceasefire, layout.deal_parties,
                             params.breakdown_base, params.breakdown_hostility)


@kernel
def _breakdown_hazard(affinity, pressure, ceasefire, parties, base, per_hostility):
    r_count, n = affinity.shape[0], affinity.shape[1]
    out = np.empty((r_count, ceasefire.shape[0]))
    for r in range(r_count):
        for d in range(ceasefire.shape[0]):
            worst = 0.0
            for i in range(n):
                for j in range(n):
                    if ceasefire[d, i, j]:
                        worst = max(worst, -affinity[r, i, j])
            mean_pressure = 0.0
            for side in range(parties.shape[1]):
                mean_pressure += pressure[r, parties[d, side]]
            hostility = worst + mean_pressure / parties.shape[1]
            hazard = row(base, r)[d] + row(per_hostility, r)[d] * hostility
            out[r, d] = min(max(hazard, 0.0), 1.0)
    return out
