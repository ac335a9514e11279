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

from sim.world import OBJ, sc


def territory(control: np.ndarray, value: np.ndarray, affinity: np.ndarray) -> np.ndarray:
    """Value-weighted control per actor, counting what friends hold, ``(R, A)``.

    ``sum_o value[o, a] * sum_b control[o, b] * max(affinity[a, b], 0)`` with affinity 1 to
    oneself: a patron gains from ground its client takes, in proportion to how close they are.
    """
    friend = np.maximum(affinity, 0.0)
    held = np.matmul(control, np.swapaxes(friend, 1, 2))  # [r, o, a] = sum_b c_ob f_ab
    return (held * value).sum(axis=1)


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
    from sim.mechanisms.common import lookup

    horizon = sc(params.bargaining_horizon, 3)  # (P,1,1)
    w = params.interests  # (P, A, K)
    risk = 1.0 - params.risk_attitude
    severity = lookup(params.rung_severity, rung)  # (R, A, A)
    d_count = len(layout.deals)
    out = np.zeros((control.shape[0], d_count, 2))
    terr_now = territory(control, params.value, affinity)
    for d in range(d_count):
        cease = layout.deal_ceasefire[d]  # (A, A)
        fight_control = np.clip(control + war_drift[:, d] * horizon[:, :, :1], 0.0, 1.0)
        deal_control = np.where(layout.deal_transfers[d][None, :, None],
                                params.deal_control[:, d], fight_control)
        terr_fight = territory(fight_control, params.value, affinity)
        terr_deal = territory(deal_control, params.value, affinity)
        avoided_losses = (war_losses[:, d] * cease).sum(axis=2) * horizon[:, :, 0]
        cap = lookup(params.rung_severity, np.broadcast_to(params.deal_cap[:, d:d + 1],
                                                          (params.deal_cap.shape[0], 1)))
        sev_now = (severity * cease).max(axis=2)
        sev_deal = np.minimum(sev_now, cap)
        in_fight = cease.any(axis=1)[None, :]
        conceded = terr_deal < terr_now - 1e-9
        for side in range(2):
            a = layout.deal_parties[d, side]
            gain = (
                w[:, a, OBJ["territory"]] * (terr_deal[:, a] - terr_fight[:, a])
                / params.territory_unit
                + w[:, a, OBJ["losses"]] * avoided_losses[:, a] / params.loss_unit
                + w[:, a, OBJ["escalation"]] * risk[:, a] * (sev_now[:, a] - sev_deal[:, a])
                + params.war_cost[:, a] * horizon[:, 0, 0] * in_fight[:, a]
                - w[:, a, OBJ["standing"]] * params.concession * pressure[:, a] * conceded[:, a]
            )
            out[:, d, side] = gain
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
    """Daily chance each agreement breaks down, ``(R, D)``."""
    hostility = np.zeros((affinity.shape[0], len(layout.deals)))
    for d in range(len(layout.deals)):
        cease = layout.deal_ceasefire[d]
        worst = (np.maximum(-affinity, 0.0) * cease).max(axis=(1, 2))
        parties = layout.deal_parties[d]
        hostility[:, d] = worst + pressure[:, parties].mean(axis=1)
    return np.clip(params.breakdown_base + params.breakdown_hostility * hostility, 0.0, 1.0)


def acceptance_probability(gains: np.ndarray, params) -> np.ndarray:
    """Chance the other party's noisy surplus is positive (logistic approximation of Phi)."""
    z = gains / sc(params.bargaining_noise, gains.ndim)
    return 1.0 / (1.0 + np.exp(-1.702 * np.clip(z, -30, 30)))
