"""Counter-based random numbers keyed by (seed, replication, day, stream).

Why counter-based: in a lockstep ensemble the replications of one batch share every numpy
call, so a sequential generator would hand replication 7 different numbers depending on which
batch it landed in. Here every number is a pure function of its coordinates, the idea of
Salmon et al. (2011), "Parallel random numbers: as easy as 1, 2, 3" (Random123), with the
SplitMix64 finaliser (Steele, Lea & Flood 2014) as the mixing function. Consequences:

* results do not depend on the number of workers or the batch size;
* any replication can be replayed alone (R = 1) bit for bit;
* two scenarios run with one seed share common random numbers, stream by stream.

A *stream* is a small integer naming one use of randomness in the model (see ``Stream``), so
adding a draw to one mechanism never shifts the numbers another mechanism sees.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 2.0**-53
_MASK64 = (1 << 64) - 1


class Stream(IntEnum):
    """Named random streams: one per use of randomness in the daily step."""

    DECISION = 1
    ESCALATION = 2
    LOSSES = 3
    CONTROL = 4
    BARGAINING = 5
    BREAKDOWN = 6
    REFUGEES = 7
    ALLIANCES = 8
    DEATHS = 9


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic, no warnings for arrays)."""
    x = x ^ (x >> _S30)
    x = x * _MUL1
    x = x ^ (x >> _S27)
    x = x * _MUL2
    return x ^ (x >> _S31)


class CounterRNG:
    """Vectorised counter-based generator for a fixed set of replications.

    Args:
        seed: The ensemble seed (any non-negative integer below 2**64).
        replications: Global replication indices of the rows this generator serves, so a
            batch covering runs 500..749 passes ``np.arange(500, 750)``.
    """

    def __init__(self, seed: int, replications: np.ndarray) -> None:
        self.seed = int(seed)
        self.replications = np.asarray(replications, dtype=np.uint64).reshape(-1)
        seed_key = _mix(np.array([(self.seed & _MASK64)], dtype=np.uint64) ^ _GOLDEN)
        # One key per replication; everything below depends only on this key.
        self._rep_keys = _mix(seed_key + _mix(self.replications * _GOLDEN + _GOLDEN))

    @property
    def size(self) -> int:
        """Number of replications (rows) served."""
        return int(self.replications.size)

    def uniform(self, day: int, stream: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        """Uniform numbers in the open interval (0, 1).

        Args:
            day: Simulation day (the counter's time coordinate).
            stream: A ``Stream`` member (or another small integer).
            shape: Trailing shape of draws per replication.

        Returns:
            Array of shape ``(R, *shape)``; element ``[r, ...]`` depends only on
            (seed, replication index, day, stream, position in ``shape``).
        """
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        day_stream = np.uint64(((int(day) & 0xFFFFFFFF) << 16) | (int(stream) & 0xFFFF))
        base = _mix(self._rep_keys ^ _mix(np.array([day_stream], dtype=np.uint64) * _GOLDEN))
        counters = (np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN)[None, :]
        bits = _mix(_mix(base[:, None] + counters))
        out = ((bits >> _S11).astype(np.float64) + 0.5) * _TWO_M53
        return out.reshape((self.size, *shape))

    def normal(self, day: int, stream: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        """Standard normal numbers by the Box-Muller transform of two uniform blocks."""
        u = self.uniform(day, stream, (2, *shape))
        return np.sqrt(-2.0 * np.log(u[:, 0])) * np.cos(2.0 * np.pi * u[:, 1])

    def poisson(self, day: int, stream: int, lam: np.ndarray) -> np.ndarray:
        """Poisson counts with means ``lam`` (shape ``(R, ...)``) by inversion.

        Inversion of the CDF with one uniform per count keeps the draw a pure function of its
        coordinates. Rates in this model are small (a few per day), so the loop runs a handful
        of times; means above 50 use the normal approximation, rounded and clipped at zero.
        """
        lam = np.asarray(lam, dtype=np.float64)
        u = self.uniform(day, stream, lam.shape[1:])
        small = lam <= 50.0
        lam_small = np.where(small, lam, 0.0)
        k = np.zeros(lam.shape, dtype=np.int64)
        p = np.exp(-lam_small)
        cdf = p.copy()
        active = u > cdf
        step = 0
        while active.any() and step < 200:
            step += 1
            p = p * lam_small / step
            cdf = cdf + p
            k = k + active
            active = active & (u > cdf)
        # Normal approximation for large means, from the same uniform (probit of u).
        if not small.all():
            z = _probit(u)
            big = np.maximum(np.rint(lam + np.sqrt(np.maximum(lam, 0.0)) * z), 0.0)
            k = np.where(small, k, big.astype(np.int64))
        return k


def _probit(u: np.ndarray) -> np.ndarray:
    """Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    a = (-39.69683028665376, 220.9460984245205, -275.9285104469687,
         138.3577518672690, -30.66479806614716, 2.506628277459239)
    b = (-54.47609879822406, 161.5858368580409, -155.6989798598866,
         66.80131188771972, -13.28068155288572)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838,
         -2.549732539343734, 4.374664141464968, 2.938163982698783)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996, 3.754408661907416)
    q = np.minimum(u, 1.0 - u)
    t = np.sqrt(-2.0 * np.log(q))
    tail = (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) / (
        (((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1.0
    )
    r = u - 0.5
    s = r * r
    central = (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (
        ((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1.0
    )
    tail_signed = np.where(u < 0.5, tail, -tail)
    return np.where(q < 0.02425, tail_signed, central)
