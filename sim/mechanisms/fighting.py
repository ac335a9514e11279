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

from sim.jit import kernel, row
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

    Args:
        rung: ``(R, A, A)`` int.
        rung_intensity: ``(P, L)`` intensity of each rung.
        armed_from: First rung with armed fighting.
        attack: ``(R or 1, A, A)`` attacks of i on j (1 = attacking).
        attack_boost: ``(P,)``.
    """
    return _intensity(rung, rung_intensity, armed_from, attack, attack_boost)


@kernel
def _intensity(rung, rung_intensity, armed_from, attack, attack_boost):
    r_count, n = rung.shape[0], rung.shape[1]
    out = np.zeros((r_count, n, n))
    for r in range(r_count):
        table = row(rung_intensity, r)
        acts = row(attack, r)
        boost = row(attack_boost, r)
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                base = table[rung[r, i, j]]
                attacks = acts[i, j] + acts[j, i]
                if attacks > 0:
                    base = max(base, table[armed_from])
                out[r, i, j] = base * (1.0 + boost * attacks)
    return out


def loss_rates(intensity_: np.ndarray, fire: np.ndarray, exposure: np.ndarray,
               loss_rate: np.ndarray) -> np.ndarray:
    """Expected daily losses of i caused by j, ``(R, A, A)``."""
    return sc(loss_rate, 3) * intensity_ * fire * exposure[:, :, None]


def contest_power(ground: np.ndarray, air: np.ndarray, cover: np.ndarray, affinity: np.ndarray,
                  armed: np.ndarray) -> np.ndarray:
    """``power[r, i, j]``: i's power when contesting ground held by j.

    Own ground forces plus own air power and the air power of every third party k that is
    friendly to i (positive affinity) and itself fighting j; air counts net of j's cover:
    ``ground_i + (air_i + sum_k max(aff_ki, 0) armed_kj air_k) (1 - cover_j)``.

    Args:
        ground: ``(P, A)``.
        air: ``(P, A)``.
        cover: ``(R, A)`` air-defence cover.
        affinity: ``(R, A, A)``.
        armed: ``(R, A, A)`` bool: k is fighting j.
    """
    return _contest_power(ground, air, cover, affinity, armed)


@kernel
def _contest_power(ground, air, cover, affinity, armed):
    r_count, n = affinity.shape[0], affinity.shape[1]
    out = np.empty((r_count, n, n))
    friend = np.empty((n, n))  # friend[k, i]: k's support for i
    air_on = np.empty((n, n))  # air_on[k, j]: k's air power in its fight with j
    for r in range(r_count):
        g, a = row(ground, r), row(air, r)
        for k in range(n):
            for i in range(n):
                friend[k, i] = max(affinity[r, k, i], 0.0) if k != i else 0.0
                air_on[k, i] = a[k] if armed[r, k, i] else 0.0
        for i in range(n):
            for j in range(n):
                coalition = 0.0
                for k in range(n):
                    coalition += friend[k, i] * air_on[k, j]
                out[r, i, j] = g[i] + (a[i] + coalition) * (1.0 - cover[r, j])
    return out


def win_share(power: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """Tullock contest success ``p[i, j] = P_ij^m / (P_ij^m + P_ji^m)`` (0.5 if both are 0)."""
    return _win_share(power, exponent)


@kernel
def _win_share(power, exponent):
    r_count, n = power.shape[0], power.shape[1]
    out = np.empty_like(power)
    for r in range(r_count):
        m = row(exponent, r)
        for i in range(n):
            for j in range(n):
                mine, theirs = power[r, i, j] ** m, power[r, j, i] ** m
                total = mine + theirs
                out[r, i, j] = mine / total if total > 0 else 0.5
    return out


def shift_control(
    control: np.ndarray, intensity_: np.ndarray, attack: np.ndarray, win: np.ndarray,
    speed: np.ndarray, can_hold: np.ndarray, boost: np.ndarray, noise: np.ndarray | None = None,
) -> np.ndarray:
    """New control ``(R, O, A)`` after a day's transfers between attackers and holders.

    Attacker i takes from holder j the daily share ``speed_o * normalised intensity_ij * 2
    p_ij`` of objective o (so equal forces trade at ``speed``), times a noise factor of mean
    1, where i can hold o. Only an attack moves ground. A holder's column is scaled so it
    never loses more than it holds, and shares stay summing to 1.

    Args:
        control: ``(R, O, A)``.
        intensity_: ``(R, A, A)`` fighting intensity.
        attack: ``(R or 1, A, A)`` attacks of i on j.
        win: ``(R, A, A)`` contest shares.
        speed: ``(P, O)``.
        can_hold: ``(P, O, A)``.
        boost: ``(P,)`` attack boost (normalises intensity).
        noise: ``(R, A, A)`` factors of mean 1, or None.
    """
    if noise is None:
        noise = np.ones((1, *intensity_.shape[1:]))
    return _shift_control(control, intensity_, attack, win, speed, can_hold, boost, noise)


@kernel
def _shift_control(control, intensity_, attack, win, speed, can_hold, boost, noise):
    r_count, o_count, n = control.shape
    out = np.empty_like(control)
    # the attacking pairs of a replication (usually few): attacker, holder, base rate
    attacker = np.empty(n * n, dtype=np.int64)
    holder = np.empty(n * n, dtype=np.int64)
    base = np.empty(n * n)
    rate = np.empty(n * n)
    taken, gained, lost = np.empty(n), np.empty(n), np.empty(n)
    for r in range(r_count):
        acts, shake = row(attack, r), row(noise, r)
        norm = 1.0 + 2.0 * row(boost, r)
        speeds, holds = row(speed, r), row(can_hold, r)
        pairs = 0
        for i in range(n):
            for j in range(n):
                if acts[i, j] != 0.0:
                    attacker[pairs], holder[pairs] = i, j
                    base[pairs] = intensity_[r, i, j] / norm * acts[i, j] * 2.0 * win[r, i, j]
                    pairs += 1
        for o in range(o_count):
            taken[:] = 0.0
            gained[:] = 0.0
            lost[:] = 0.0
            for m in range(pairs):
                i, j = attacker[m], holder[m]
                rate[m] = base[m] * speeds[o] * holds[o, i] * shake[i, j]
                taken[j] += rate[m]
            for m in range(pairs):
                j = holder[m]
                if taken[j] > 1.0:
                    rate[m] = rate[m] / taken[j]
                gained[attacker[m]] += rate[m] * control[r, o, j]
                lost[j] += rate[m] * control[r, o, j]
            for i in range(n):
                out[r, o, i] = min(max(control[r, o, i] + gained[i] - lost[i], 0.0), 1.0)
    return out
