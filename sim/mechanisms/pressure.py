"""Domestic pressure (mechanism 5).

Losses, new refugees on one's soil and lost ground raise pressure; it fades at a constant rate.
Inputs saturate (``p += (1 - p) * (1 - exp(-input))``) so pressure stays in [0, 1]. Pressure
feeds back into decisions: it raises the value of retaliating against the actor that caused
recent losses and lowers the value of concessions: a leader pressed "to respond" as "the toll
of casualties mounts" (the baseline's seed article).

Reference: Putnam, R. (1988). Diplomacy and domestic politics: the logic of two-level games.
"""

from __future__ import annotations

import numpy as np

from sim.jit import kernel, row


def step(pressure: np.ndarray, new_losses: np.ndarray, new_refugees: np.ndarray,
         lost_ground: np.ndarray, shock: np.ndarray, params) -> np.ndarray:
    """Next day's pressure ``(R, A)``.

    Args:
        pressure: ``(R, A)`` in [0, 1].
        new_losses: ``(R, A)`` soldiers lost today.
        new_refugees: ``(R, A)`` net people arrived on the actor's soil today.
        lost_ground: ``(R, A)`` valued territory lost today.
        shock: ``(R, A)`` or ``(A,)`` pressure from timeline events (may be negative).
        params: ``Params``.
    """
    n = pressure.shape[1]
    shock = np.asarray(shock, dtype=np.float64)
    shock = shock if shock.ndim == 2 else np.broadcast_to(shock, (1, n))
    return _step(pressure, np.asarray(new_losses, dtype=np.float64),
                 np.asarray(new_refugees, dtype=np.float64), lost_ground, shock, params.packed)


@kernel
def _step(pressure, new_losses, new_refugees, lost_ground, shock, p):
    r_count, n = pressure.shape
    out = np.empty_like(pressure)
    for r in range(r_count):
        per_loss, per_refugees = row(p.pressure_per_loss, r), row(p.pressure_per_refugees, r)
        per_ground, decay = row(p.pressure_per_ground, r), row(p.pressure_decay, r)
        jolt = row(shock, r)
        for a in range(n):
            load = (per_loss[a] * new_losses[r, a]
                    + per_refugees[a] * max(new_refugees[r, a], 0.0) / 100_000.0
                    + per_ground[a] * max(lost_ground[r, a], 0.0))
            raised = pressure[r, a] + (1.0 - pressure[r, a]) * (1.0 - np.exp(-load))
            out[r, a] = min(max(raised * (1.0 - decay[a]) + jolt[a], 0.0), 1.0)
    return out


def grievance_step(grievance: np.ndarray, losses_today: np.ndarray, memory: float = 0.9
                   ) -> np.ndarray:
    """Recent losses of i caused by j, exponentially fading (the actor's memory)."""
    return grievance * memory + losses_today
