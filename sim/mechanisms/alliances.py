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

from sim.mechanisms.common import zero_diagonal
from sim.world import sc


def step(affinity: np.ndarray, acts_delta: np.ndarray, noise: np.ndarray, params) -> np.ndarray:
    """Next day's affinity ``(R, A, A)``.

    Args:
        affinity: ``(R, A, A)`` symmetric, diagonal 1.
        acts_delta: ``(R, A, A)`` symmetric change from today's acts.
        noise: ``(R, A, A)`` symmetric standard normals.
        params: ``Params``.
    """
    n = affinity.shape[-1]
    off = zero_diagonal(affinity)
    triad = np.matmul(off, off) / max(n - 2, 1)  # mean over k of A_ik A_kj
    delta = (
        acts_delta
        + params.anchor_strength * (params.anchor - affinity)
        + sc(params.baseline_pull, 3) * (params.affinity0 - affinity)
        + sc(params.trade_pull, 3) * params.trade * (1.0 - affinity)
        + sc(params.balance, 3) * triad
        + sc(params.aff_noise, 3) * noise
    )
    new = np.clip(affinity + zero_diagonal(delta), -1.0, 1.0)
    idx = np.arange(n)
    new[:, idx, idx] = 1.0
    return new


def alignment(affinity: np.ndarray, bloc_sign: np.ndarray) -> np.ndarray:
    """Alignment ``(R, A)`` in [-1, 1]: lean toward the first bloc (+) or the second (-)."""
    first = (bloc_sign > 0).astype(float)
    second = (bloc_sign < 0).astype(float)
    off = zero_diagonal(affinity)
    n = affinity.shape[-1]
    eye = np.eye(n, dtype=bool)
    n_first = np.where(eye, 0.0, first[None, :]).sum(axis=1)  # members other than self
    n_second = np.where(eye, 0.0, second[None, :]).sum(axis=1)
    mean_first = (off * first).sum(axis=2) / np.maximum(n_first, 1.0)
    mean_second = (off * second).sum(axis=2) / np.maximum(n_second, 1.0)
    return 0.5 * (mean_first - mean_second)


def realigned(align: np.ndarray, align0: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """``(R, A)`` True where alignment has crossed past the threshold to the other side."""
    side = np.sign(align0)
    return (side != 0) & (align * side < -sc(threshold, 2))
