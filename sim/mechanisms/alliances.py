"""Affinities, alignment and realignment (mechanism 8).

The affinity matrix (in [-1, 1], symmetric) moves each day by:

* acts: attacks and sanctions push it down, grants of support and de-escalation up, asset
  effects (activating a rival's system) by their declared amounts, an open gate toward a
  neighbour's soil down;
* institutions as springs: members of an alliance are pulled toward its anchor affinity;
* structural memory: every pair is pulled back toward its day-0 affinity (old enmities and
  friendships outlast a few gestures);
* trade: interdependence pulls toward +1 (commercial liberalism);
* structural balance over triads, ``dA_ij = b * mean_k A_ik A_kj``, the continuous-time
  balance dynamics of Marvel, Kleinberg, Kleinberg & Strogatz (2011), PNAS 108:1771, after
  Heider (1946): the enemy of my friend becomes my enemy;
* small noise.

An actor's alignment is its mean affinity with the first bloc minus that with the second,
halved, in [-1, 1]. An actor realigns when its alignment crosses past the threshold to the
side opposite to where it started.
"""

from __future__ import annotations

import numpy as np

from sim.jit import kernel, row
from sim.world import sc


def step(affinity: np.ndarray, acts_delta: np.ndarray, noise: np.ndarray, params) -> np.ndarray:
    """Next day's affinity ``(R, A, A)``.

    Args:
        affinity: ``(R, A, A)`` symmetric, diagonal 1.
        acts_delta: ``(R, A, A)`` symmetric change from today's acts.
        noise: ``(R, A, A)`` symmetric standard normals.
        params: ``Params``.
    """
    return _step(affinity, acts_delta, noise, params.packed)


@kernel
def _step(affinity, acts_delta, noise, p):
    r_count, n = affinity.shape[0], affinity.shape[1]
    out = np.empty_like(affinity)
    for r in range(r_count):
        strength, target = row(p.anchor_strength, r), row(p.anchor, r)
        memory, pull = row(p.affinity0, r), row(p.baseline_pull, r)
        ties, trade_rate = row(p.trade, r), row(p.trade_pull, r)
        heider, sigma = row(p.balance, r), row(p.aff_noise, r)
        for i in range(n):
            out[r, i, i] = 1.0
            for j in range(n):
                if i == j:
                    continue
                a = affinity[r, i, j]
                triad = 0.0  # mean over third parties k of A_ik A_kj
                for k in range(n):
                    if k != i and k != j:
                        triad += affinity[r, i, k] * affinity[r, k, j]
                triad /= max(n - 2, 1)
                delta = (acts_delta[r, i, j] + strength[i, j] * (target[i, j] - a)
                         + pull * (memory[i, j] - a) + trade_rate * ties[i, j] * (1.0 - a)
                         + heider * triad + sigma * noise[r, i, j])
                out[r, i, j] = min(max(a + delta, -1.0), 1.0)
    return out


def alignment(affinity: np.ndarray, bloc_sign: np.ndarray) -> np.ndarray:
    """Alignment ``(R, A)`` in [-1, 1]: lean toward the first bloc (+) or the second (-)."""
    return _alignment(affinity, bloc_sign)


@kernel
def _alignment(affinity, bloc_sign):
    r_count, n = affinity.shape[0], affinity.shape[1]
    out = np.empty((r_count, n))
    for r in range(r_count):
        for i in range(n):
            first, second, n_first, n_second = 0.0, 0.0, 0, 0
            for j in range(n):
                if j == i:
                    continue
                if bloc_sign[j] > 0:
                    first += affinity[r, i, j]
                    n_first += 1
                elif bloc_sign[j] < 0:
                    second += affinity[r, i, j]
                    n_second += 1
            out[r, i] = 0.5 * (first / max(n_first, 1) - second / max(n_second, 1))
    return out


def realigned(align: np.ndarray, align0: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """``(R, A)`` True where alignment has crossed past the threshold to the other side."""
    side = np.sign(align0)
    return (side != 0) & (align * side < -sc(threshold, 2))
