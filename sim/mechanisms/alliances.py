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

from sim.jit import helper, kernel, pick
from sim.rng import normal_at, stream_key


@helper
def step(affinity, acts_delta, keys, day, stream, strength, target, memory, pull, ties,
         trade_rate, heider, sigma, work):
    """Next day's affinity ``(R, A, A)``, in place.

    Args:
        affinity: ``(R, A, A)`` symmetric, diagonal 1; updated in place.
        acts_delta: ``(R, A, A)`` symmetric change from today's acts.
        keys: ``(R,)`` replication keys. The noise of dyad i < j is standard normal
            ``i * A + j`` of a block of ``A * A`` of the day's stream (``sim.rng.normal_at``).
        day: Today.
        stream: The alliances' random stream.
        strength: ``(P, A, A)`` institutional springs' strength.
        target: ``(P, A, A)`` institutional anchors (the affinity a spring pulls toward).
        memory: ``(P, A, A)`` day-0 affinity (structural memory pulls back toward it).
        pull: ``(P,)`` strength of the pull toward day-0 affinity.
        ties: ``(P, A, A)`` trade interdependence.
        trade_rate: ``(P,)`` pull of trade toward +1.
        heider: ``(P,)`` strength of structural balance.
        sigma: ``(P,)`` scale of the daily noise.
        work: ``(A, A)`` scratch.
    """
    n = affinity.shape[1]
    for r in range(affinity.shape[0]):
        q = pick(pull.shape[0], r)
        key = stream_key(keys[r], day, stream)
        for i in range(n):
            work[i, i] = 1.0
            for j in range(i + 1, n):
                shock = sigma[q] * normal_at(key, i * n + j, n * n)
                for x, y in ((i, j), (j, i)):
                    triad = 0.0  # mean over third parties k of A_xk A_ky
                    for k in range(n):
                        if k != x and k != y:
                            triad += affinity[r, x, k] * affinity[r, k, y]
                    triad /= max(n - 2, 1)
                    work[x, y] = _moved(affinity[r, x, y], acts_delta[r, x, y],
                                        strength[q, x, y], target[q, x, y], pull[q],
                                        memory[q, x, y], trade_rate[q], ties[q, x, y],
                                        heider[q], triad, shock)
        for i in range(n):
            for j in range(n):
                affinity[r, i, j] = work[i, j]


@helper
def _moved(a, acts, strength, target, pull, memory, trade_rate, ties, heider, triad, shock):
    """An affinity after a day: acts, spring, memory, trade, structural balance, noise."""
    delta = (acts + strength * (target - a) + pull * (memory - a) + trade_rate * ties * (1.0 - a)
             + heider * triad + shock)
    return min(max(a + delta, -1.0), 1.0)


@helper
def alignment_of(affinity, bloc_sign, out):
    """Alignment ``(R, A)`` in [-1, 1]: lean toward the first bloc (+) or the second (-)."""
    n = affinity.shape[1]
    for r in range(out.shape[0]):
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


@kernel
def alignment(affinity: np.ndarray, bloc_sign: np.ndarray) -> np.ndarray:
    """Alignment ``(R, A)`` of every replication, as a new array (``alignment_of``)."""
    out = np.empty(affinity.shape[:2])
    alignment_of(affinity, bloc_sign, out)
    return out


@helper
def realigned(align, align0, threshold):
    """Whether an actor's alignment has crossed past the threshold to the other side."""
    side = np.sign(align0)
    return side != 0 and align * side < -threshold
