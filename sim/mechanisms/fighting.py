"""Fighting: intensity, losses and control of the theatre's objectives (mechanism 4).

Loss events are Poisson counts whose rate grows with the dyad's fighting intensity (set by the
escalation rung and by whether either side attacks today), the enemy's firepower and one's own
exposure; enemy air power is discounted by one's air-defence cover. Control of an objective
shifts by a Tullock (1980) contest between the attacker's and the holder's power, where power
includes the air power of third parties friendly to one side and fighting the other (how a
patron's air campaign backs a client's ground offensive). Rates are calibrated in the scenario
from the seed article's casualty figures.

References:
    Tullock, G. (1980). Efficient rent seeking.
    Lanchester, F. W. (1916). Aircraft in Warfare (attrition proportional to enemy fire).
"""

from __future__ import annotations

import numpy as np

from sim.mechanisms.common import lookup, zero_diagonal
from sim.world import sc


def air_cover(
    air_defence: np.ndarray, asset_air_defence: np.ndarray, asset_on: np.ndarray,
    asset_holder: np.ndarray, n_actors: int,
) -> np.ndarray:
    """Share of enemy air strikes each actor neutralises, ``(R, A)``.

    Independent layers combine as ``1 - prod(1 - c)``: own systems and every asset in effect
    that the actor holds.
    """
    held = (asset_holder[:, :, None] == np.arange(n_actors)) & asset_on[:, :, None]
    miss = np.prod(1.0 - asset_air_defence[:, :, None] * held, axis=1)
    return 1.0 - (1.0 - air_defence) * miss


def firepower(ground: np.ndarray, air: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """``fire[r, i, j]``: firepower that j brings to bear on i (j's air discounted by i's cover)."""
    return ground[:, None, :] + air[:, None, :] * (1.0 - cover[:, :, None])


def intensity(
    rung: np.ndarray, rung_intensity: np.ndarray, armed_from: int, attack: np.ndarray,
    attack_boost: np.ndarray,
) -> np.ndarray:
    """Fighting intensity per dyad, ``(R, A, A)``, symmetric.

    The rung sets a base intensity; an attack by either side at least starts fighting at the
    lowest armed rung and raises intensity by ``attack_boost`` per attacking side.
    """
    base = lookup(rung_intensity, rung)
    attacks = attack + np.swapaxes(attack, 1, 2)
    armed = lookup(rung_intensity, np.full_like(rung, armed_from))
    base = np.where(attacks > 0, np.maximum(base, armed), base)
    return zero_diagonal(base * (1.0 + sc(attack_boost, 3) * attacks))


def loss_rates(intensity_: np.ndarray, fire: np.ndarray, exposure: np.ndarray,
               loss_rate: np.ndarray) -> np.ndarray:
    """Expected daily losses of i caused by j, ``(R, A, A)``."""
    return sc(loss_rate, 3) * intensity_ * fire * exposure[:, :, None]


def contest_power(ground: np.ndarray, air: np.ndarray, cover: np.ndarray, affinity: np.ndarray,
                  armed: np.ndarray) -> np.ndarray:
    """``power[r, i, j]``: i's power when contesting ground held by j.

    Own ground forces plus own air power and the air power of every third party k that is
    friendly to i (positive affinity) and itself fighting j; air counts net of j's cover.
    """
    friend = zero_diagonal(np.maximum(affinity, 0.0))  # friend[k, i]
    air_k_on_j = armed * air[:, :, None]  # [k, j]
    coalition = np.matmul(np.swapaxes(friend, 1, 2), air_k_on_j)  # [i, j] = sum_k f_ki a_kj
    total_air = air[:, :, None] + coalition
    return ground[:, :, None] + total_air * (1.0 - cover[:, None, :])


def win_share(power: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """Tullock contest success ``p[i, j] = P_ij^m / (P_ij^m + P_ji^m)`` (0.5 if both are 0)."""
    pm = power ** sc(exponent, 3)
    total = pm + np.swapaxes(pm, 1, 2)
    return np.divide(pm, total, out=np.full_like(pm, 0.5), where=total > 0)


def transfer_rates(
    intensity_: np.ndarray, attack: np.ndarray, win: np.ndarray, speed: np.ndarray,
    can_hold: np.ndarray, boost: np.ndarray, noise: np.ndarray | None = None,
) -> np.ndarray:
    """Daily share of j's control of objective o taken by attacker i, ``(R, O, A_i, A_j)``.

    Only an attack moves ground; the rate is ``speed * normalised intensity * 2 p_ij`` (so equal
    forces trade at ``speed``), times a noise factor of mean 1. Rows are scaled so no holder
    loses more than all it holds.
    """
    norm = intensity_ / (1.0 + 2.0 * sc(boost, 3))
    rate = (norm * attack * 2.0 * win)[:, None, :, :] * speed[:, :, None, None]
    rate = rate * can_hold[:, :, :, None]
    if noise is not None:
        rate = rate * noise[:, None, :, :]
    out = rate.sum(axis=2, keepdims=True)
    return np.where(out > 1.0, rate / np.maximum(out, 1e-300), rate)


def apply_transfers(control: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """New control ``(R, O, A)`` after the transfers ``rates`` (shares stay summing to 1)."""
    flow = rates * control[:, :, None, :]  # [o, i, j]: from j to i
    gained = flow.sum(axis=3)
    lost = flow.sum(axis=2)
    return np.clip(control + gained - lost, 0.0, 1.0)
