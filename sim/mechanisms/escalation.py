"""The escalation ladder: each dyad's rung moves up or down one step a day (mechanism 3).

A dyad's *drive* sums what pushes it up (hostile acts, sanctions, a day with casualties between
the two: provocation) and what pulls it down (de-escalation, war weariness from accumulated
losses, trade interdependence, mediation), on top of a base drift. The chance of a step up is
``rate_up * tanh(drive)`` for positive drive, of a step down ``rate_down * tanh(-drive)`` for
negative drive, one uniform draw per dyad and day. An agreement caps the rung of the dyads its
ceasefire covers.

References:
    Kahn, H. (1965). On Escalation: Metaphors and Scenarios (the ladder).
    Richardson, L. F. (1960). Arms and Insecurity (reaction to the other's hostility,
    fatigue, grievance).
"""

from __future__ import annotations

import numpy as np

from sim.jit import kernel, row


def drive(
    attack: np.ndarray, sanction: np.ndarray, deescalate: np.ndarray, casualties: np.ndarray,
    weariness_losses: np.ndarray, trade: np.ndarray, mediation: np.ndarray, params,
) -> np.ndarray:
    """Escalation drive per dyad, ``(R, A, A)``, symmetric.

    Args:
        attack: ``(R, A, A)`` 1 where i attacks j today.
        sanction: ``(R, A, A)`` 1 where i sanctions j today.
        deescalate: ``(R, A, A)`` 1 where i de-escalates toward j today.
        casualties: ``(R, A, A)`` 1 where either side lost soldiers to the other today.
        weariness_losses: ``(R, A, A)`` losses accumulated between the two sides.
        trade: ``(P, A, A)`` trade interdependence.
        mediation: ``(A, A)`` or ``(R, A, A)`` mediation effort today.
        params: ``Params`` (ladder fields).
    """
    mediation = mediation if mediation.ndim == 3 else mediation[None]
    return _drive(attack, sanction, deescalate, casualties, weariness_losses, trade, mediation,
                  params.packed)


@kernel
def _drive(attack, sanction, deescalate, casualties, weariness_losses, trade, mediation, p):
    r_count, n = attack.shape[0], attack.shape[1]
    out = np.empty((r_count, n, n))
    for r in range(r_count):
        ties, talks = row(trade, r), row(mediation, r)
        for i in range(n):
            for j in range(n):
                # acts of either side
                out[r, i, j] = (
                    row(p.base_drift, r)
                    + row(p.hostility, r) * (attack[r, i, j] + attack[r, j, i])
                    + row(p.sanction_drive, r) * (sanction[r, i, j] + sanction[r, j, i])
                    + row(p.provocation, r) * casualties[r, i, j]
                    - row(p.conciliation, r) * (deescalate[r, i, j] + deescalate[r, j, i])
                    - row(p.weariness, r) * weariness_losses[r, i, j]
                    - row(p.trade_damping, r) * ties[i, j]
                    - row(p.mediation, r) * talks[i, j]
                )
    return out


def step(rung: np.ndarray, drive_: np.ndarray, u: np.ndarray, cap: np.ndarray,
         n_rungs: int, params) -> np.ndarray:
    """Move each dyad's rung one step by its drive, then apply agreement caps.

    The inputs are symmetric, so each dyad is drawn once (i < j) and mirrored; the diagonal
    (an actor with itself) is not a dyad and keeps its rung.

    Args:
        rung: ``(R, A, A)`` int rungs (symmetric).
        drive_: ``(R, A, A)`` drive (symmetric).
        u: ``(R, A, A)`` symmetric uniforms, one per dyad.
        cap: ``(R, A, A)`` highest rung allowed (``n_rungs - 1`` where uncapped), symmetric.
        n_rungs: Length of the ladder.
        params: ``Params``.
    """
    return _step(rung, drive_, u, cap, n_rungs, params.rate_up, params.rate_down)


@kernel
def _step(rung, drive_, u, cap, n_rungs, rate_up, rate_down):
    out = rung.copy()
    r_count, n = rung.shape[0], rung.shape[1]
    for r in range(r_count):
        for i in range(n):
            for j in range(i + 1, n):
                # one step up with chance rate_up tanh(drive), down with rate_down tanh(-drive)
                d, move = drive_[r, i, j], 0
                if d > 0.0 and u[r, i, j] < row(rate_up, r) * np.tanh(d):
                    move = 1
                elif d < 0.0 and u[r, i, j] > 1.0 - row(rate_down, r) * np.tanh(-d):
                    move = -1
                new = min(min(max(rung[r, i, j] + move, 0), n_rungs - 1), cap[r, i, j])
                out[r, i, j] = new
                out[r, j, i] = new
    return out
