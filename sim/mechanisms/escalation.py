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

from sim.world import sc


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
    both = lambda x: x + np.swapaxes(x, 1, 2)  # noqa: E731 - acts of either side
    return (
        sc(params.base_drift, 3)
        + sc(params.hostility, 3) * both(attack)
        + sc(params.sanction_drive, 3) * both(sanction)
        + sc(params.provocation, 3) * casualties
        - sc(params.conciliation, 3) * both(deescalate)
        - sc(params.weariness, 3) * weariness_losses
        - sc(params.trade_damping, 3) * trade
        - sc(params.mediation, 3) * mediation
    )


def step_probabilities(drive_: np.ndarray, params) -> tuple[np.ndarray, np.ndarray]:
    """Chances of one step up and one step down, each ``(R, A, A)``."""
    up = sc(params.rate_up, 3) * np.tanh(np.maximum(drive_, 0.0))
    down = sc(params.rate_down, 3) * np.tanh(np.maximum(-drive_, 0.0))
    return up, down


def step(rung: np.ndarray, drive_: np.ndarray, u: np.ndarray, cap: np.ndarray,
         n_rungs: int, params) -> np.ndarray:
    """Move each dyad's rung one step by its drive, then apply agreement caps.

    Args:
        rung: ``(R, A, A)`` int rungs (symmetric).
        drive_: ``(R, A, A)`` drive.
        u: ``(R, A, A)`` symmetric uniforms, one per dyad.
        cap: ``(R, A, A)`` highest rung allowed (``n_rungs - 1`` where uncapped).
        n_rungs: Length of the ladder.
        params: ``Params``.
    """
    up, down = step_probabilities(drive_, params)
    move = (u < up).astype(np.int64) - (u > 1.0 - down).astype(np.int64)
    new = np.clip(rung + move, 0, n_rungs - 1)
    return np.minimum(new, cap)
