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

from sim.jit import helper, pick
from sim.world import OBJ


@helper
def surplus(control, war_drift, war_losses, rung, pressure, affinity, ceasefire, transfers,
            parties, horizon, interests, risk_attitude, severity, value, terms, caps, war_cost,
            territory_unit, loss_unit, concession, work, out):
    """Each party's gain from each deal over fighting on, ``(R, D, 2)``, in utility units.

    Args:
        control: ``(R, O, A)`` control today.
        war_drift: ``(D, R, O, A)`` expected daily change of control if the deal's ceasefire
            dyads fight all out.
        war_losses: ``(D, R, A, A)`` expected daily losses of i caused by j in that war.
        rung: ``(R, A, A)``.
        pressure: ``(R, A)``.
        affinity: ``(R, A, A)``.
        ceasefire: ``(D, A, A)`` bool: the dyads each deal's ceasefire covers.
        transfers: ``(D, O)`` bool: the objectives each deal re-divides.
        parties: ``(D, 2)`` the two parties of each deal.
        horizon: ``(P,)`` days of fighting on that a party weighs.
        interests: ``(P, A, n_objectives)`` interest weights.
        risk_attitude: ``(P, A)``.
        severity: ``(P, L)`` severity of each rung.
        value: ``(P, O, A)`` value of each objective to each actor.
        terms: ``(P, D, O, A)`` control each deal gives.
        caps: ``(P, D)`` highest rung each deal allows.
        war_cost: ``(P, A)`` daily cost of fighting.
        territory_unit: ``(P,)`` territory value per unit of utility.
        loss_unit: ``(P,)`` losses per unit of utility.
        concession: ``(P,)`` standing lost per unit of pressure by conceding ground.
        work: ``(3, O, A)`` scratch: control now, after fighting on, under the deal.
        out: ``(R, D, 2)`` result.
    """
    o_count, n = control.shape[1], control.shape[2]
    for r in range(out.shape[0]):
        q = pick(horizon.shape[0], r)
        w = interests
        for o in range(o_count):
            for b in range(n):
                work[0, o, b] = control[r, o, b]
        for d in range(ceasefire.shape[0]):
            for o in range(o_count):
                for b in range(n):
                    held = min(max(control[r, o, b] + war_drift[d, r, o, b] * horizon[q], 0.0),
                               1.0)
                    work[1, o, b] = held
                    work[2, o, b] = terms[q, d, o, b] if transfers[d, o] else held
            cap = severity[q, caps[q, d]]
            for side in range(2):
                a = parties[d, side]
                # value-weighted ground a holds now, after fighting on and under the deal,
                # counting what friends hold: sum_o value[o, a] sum_b held[o, b] max(A_ab, 0)
                # (affinity 1 to oneself): a patron gains from ground its client takes
                now, fighting_on, with_deal = 0.0, 0.0, 0.0
                for o in range(o_count):
                    held_now, held_fighting, held_deal = 0.0, 0.0, 0.0
                    for b in range(n):
                        friend = max(affinity[r, a, b], 0.0)
                        held_now += work[0, o, b] * friend
                        held_fighting += work[1, o, b] * friend
                        held_deal += work[2, o, b] * friend
                    now += held_now * value[q, o, a]
                    fighting_on += held_fighting * value[q, o, a]
                    with_deal += held_deal * value[q, o, a]
                avoided, sev_now, in_fight = 0.0, 0.0, 0.0
                for j in range(n):
                    if ceasefire[d, a, j]:
                        avoided += war_losses[d, r, a, j]
                        sev_now = max(sev_now, severity[q, rung[r, a, j]])
                        in_fight = 1.0
                conceded = 1.0 if with_deal < now - 1e-9 else 0.0
                out[r, d, side] = (
                    w[q, a, _TERRITORY] * (with_deal - fighting_on) / territory_unit[q]
                    + w[q, a, _LOSSES] * avoided * horizon[q] / loss_unit[q]
                    + w[q, a, _ESCALATION] * (1.0 - risk_attitude[q, a])
                    * (sev_now - min(sev_now, cap))
                    + war_cost[q, a] * horizon[q] * in_fight
                    - w[q, a, _STANDING] * concession[q] * pressure[r, a] * conceded
                )


_TERRITORY, _LOSSES = OBJ["territory"], OBJ["losses"]
_ESCALATION, _STANDING = OBJ["escalation"], OBJ["standing"]


@helper
def forms(proposed, in_force, gain, their_gain, resolve, their_resolve, noise_scale):
    """Whether a deal forms today: proposed, not yet in force, and both sides accept.

    A side accepts when its surplus (``gain``) plus its private-information noise (its
    ``resolve``, a standard normal, times ``noise_scale``) is positive.
    """
    return (proposed and not in_force and gain + noise_scale * resolve > 0.0
            and their_gain + noise_scale * their_resolve > 0.0)


@helper
def breakdown_hazard(affinity, pressure, ceasefire, parties, base, per_hostility, out):
    """Daily chance each agreement breaks down, ``(R, D)``.

    Residual hostility is the worst enmity across the ceasefire's dyads plus the parties' mean
    domestic pressure.
    """
    n = affinity.shape[1]
    for r in range(out.shape[0]):
        q = pick(base.shape[0], r)
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
            hazard = base[q, d] + per_hostility[q, d] * hostility
            out[r, d] = min(max(hazard, 0.0), 1.0)
