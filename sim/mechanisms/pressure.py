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
    load = (params.pressure_per_loss * new_losses
            + params.pressure_per_refugees * np.maximum(new_refugees, 0) / 100_000.0
            + params.pressure_per_ground * np.maximum(lost_ground, 0.0))
    raised = pressure + (1.0 - pressure) * (1.0 - np.exp(-load))
    return np.clip(raised * (1.0 - params.pressure_decay) + shock, 0.0, 1.0)


def grievance_step(grievance: np.ndarray, losses_today: np.ndarray, memory: float = 0.9
                   ) -> np.ndarray:
    """Recent losses of i caused by j, exponentially fading (the actor's memory)."""
    return grievance * memory + losses_today
