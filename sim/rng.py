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

from sim.jit import helper, kernel

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
    PARAMETERS = 10  # a run's draws of uncertain values (sim run --uncertain / --posterior)
    AIR = 11  # losses from air support's strikes (sim.mechanisms.air_support)
    INCIDENTS = 12  # incidents between forces in contact (sim.mechanisms.escalation)
    DISPOSITION = 13  # each run's disposition toward one-off acts (sim.model, drawn on day 0)
    SANCTION_REVIEW = 14  # the sanctions in force that come up for review (decisions)
    STRIKES = 15  # mass-casualty strikes (sim.mechanisms.fighting.mass_strikes), forces declared
    THIRD_PARTY = 16  # losses of third parties present where a dyad fights (fighting.third_party)


@helper
def _mix(x):
    """SplitMix64 finaliser of one uint64 (wrapping arithmetic)."""
    x = x ^ (x >> _S30)
    x = x * _MUL1
    x = x ^ (x >> _S27)
    x = x * _MUL2
    return x ^ (x >> _S31)


@kernel
def _replication_keys(seed: np.uint64, replications: np.ndarray) -> np.ndarray:
    """One key per replication: everything a replication draws depends only on its key."""
    seed_key = _mix(seed ^ _GOLDEN)
    keys = np.empty(replications.size, dtype=np.uint64)
    for r in range(replications.size):
        keys[r] = _mix(seed_key + _mix(replications[r] * _GOLDEN + _GOLDEN))
    return keys


@helper
def stream_key(rep_key: np.uint64, day: int, stream: int) -> np.uint64:
    """The key of one replication's draws on one day from one stream."""
    day_stream = np.uint64(((day & 0xFFFFFFFF) << 16) | (stream & 0xFFFF))
    return _mix(rep_key ^ _mix(day_stream * _GOLDEN))


@helper
def uniform_at(key: np.uint64, counter: int) -> float:
    """Uniform number ``counter`` (0, 1, ...) of a stream key, in the open interval (0, 1).

    Drawing one number costs the same whichever counter it is, so compiled code draws only
    the numbers it uses (the upper triangle of a symmetric draw, say).
    """
    bits = _mix(_mix(key + np.uint64(counter + 1) * _GOLDEN))
    return (np.float64(bits >> _S11) + 0.5) * _TWO_M53


@helper
def normal_at(key: np.uint64, counter: int, count: int) -> float:
    """Standard normal ``counter`` of a block of ``count`` by Box & Muller (1958).

    It combines uniforms ``counter`` and ``count + counter``: the layout of
    ``CounterRNG.normal``, which draws the two uniform blocks one after the other.
    """
    u1, u2 = uniform_at(key, counter), uniform_at(key, count + counter)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@helper
def poisson_at(key: np.uint64, counter: int, lam: float) -> int:
    """Poisson count with mean ``lam`` by inversion of uniform ``counter`` (see ``poisson``).

    A zero mean draws nothing (its count is 0 whatever the uniform): most dyads are calm.
    """
    if lam == 0.0:
        return 0
    return _poisson_one(lam, uniform_at(key, counter))


#: uniforms a ``gamma_at`` draw may use from its first counter (see there)
GAMMA_BLOCK = 16
_GAMMA_TRIES = 5


@helper
def gamma_at(key: np.uint64, counter: int, shape: float) -> float:
    """Gamma variate of shape ``shape`` and scale 1 from uniforms ``counter`` onward.

    Marsaglia & Tsang (2000), "A simple method for generating gamma variables": a squeeze
    and rejection over a normal, accepted more than 95% of the time for shape >= 1; a shape
    below 1 is boosted, ``G(a) = G(a + 1) U^(1/a)``. The draw reads at most ``GAMMA_BLOCK``
    uniforms, ``counter`` to ``counter + GAMMA_BLOCK - 1`` (three per try, ``_GAMMA_TRIES``
    tries, then one for the boost), so callers give each draw a block of its own and the
    numbers stay a pure function of their coordinates. After five rejections in a row (a
    chance below 1e-6) it returns the mean, ``shape``.
    """
    if shape <= 0.0:
        return 0.0
    a = shape if shape >= 1.0 else shape + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    out = a
    for t in range(_GAMMA_TRIES):
        u1 = uniform_at(key, counter + 3 * t)
        u2 = uniform_at(key, counter + 3 * t + 1)
        z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform_at(key, counter + 3 * t + 2)
        if u < 1.0 - 0.0331 * z ** 4 or np.log(u) < 0.5 * z * z + d * (1.0 - v + np.log(v)):
            out = d * v
            break
    if shape < 1.0:
        out *= uniform_at(key, counter + GAMMA_BLOCK - 1) ** (1.0 / shape)
    return out


@kernel
def _uniforms(rep_keys: np.ndarray, day: int, stream: int, count: int) -> np.ndarray:
    """``(R, count)`` uniforms in (0, 1): counter c of replication r is mixed from its key."""
    out = np.empty((rep_keys.size, count))
    for r in range(rep_keys.size):
        key = stream_key(rep_keys[r], day, stream)
        for c in range(count):
            out[r, c] = uniform_at(key, c)
    return out


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
        self._rep_keys = _replication_keys(np.uint64(self.seed & _MASK64), self.replications)

    @property
    def keys(self) -> np.ndarray:
        """``(R,)`` uint64 replication keys, for compiled code drawing with ``stream_key``."""
        return self._rep_keys

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
        return _uniforms(self._rep_keys, int(day), int(stream), count).reshape(
            (self.size, *shape))

    def uniform_at(self, day: int, stream: int, counters: np.ndarray) -> np.ndarray:
        """``(R, C)`` uniforms at the given counters of (day, stream), not 0..C-1.

        For draws named by something stable (a hash of a menu entry's label) rather than
        by position, so adding an entry to a menu changes no other entry's number.
        """
        counters = np.ascontiguousarray(counters, dtype=np.int64)
        return _uniforms_at(self._rep_keys, int(day), int(stream), counters)

    def normal(self, day: int, stream: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        """Standard normal numbers by the Box-Muller transform of two uniform blocks.

        The same numbers compiled code draws with ``normal_at``.
        """
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        return _normals(self._rep_keys, int(day), int(stream), count).reshape(
            (self.size, *shape))

    def poisson(self, day: int, stream: int, lam: np.ndarray) -> np.ndarray:
        """Poisson counts with means ``lam`` (shape ``(R, ...)``) by inversion.

        Inversion of the CDF with one uniform per count keeps the draw a pure function of its
        coordinates. Rates in this model are small (a few per day), so the loop runs a handful
        of times; means above 50 use the normal approximation, rounded and clipped at zero.
        The same counts compiled code draws with ``poisson_at``.
        """
        lam = np.asarray(lam, dtype=np.float64)
        flat = np.ascontiguousarray(lam.reshape(lam.shape[0], -1))
        return _poissons(self._rep_keys, int(day), int(stream), flat).reshape(lam.shape)


@kernel
def _uniforms_at(rep_keys: np.ndarray, day: int, stream: int, counters: np.ndarray) -> np.ndarray:
    """``(R, C)`` uniforms at the given counters (``uniform_at``)."""
    out = np.empty((rep_keys.size, counters.size))
    for r in range(rep_keys.size):
        key = stream_key(rep_keys[r], day, stream)
        for c in range(counters.size):
            out[r, c] = uniform_at(key, counters[c])
    return out


@kernel
def _normals(rep_keys: np.ndarray, day: int, stream: int, count: int) -> np.ndarray:
    """``(R, count)`` standard normals (``normal_at``)."""
    out = np.empty((rep_keys.size, count))
    for r in range(rep_keys.size):
        key = stream_key(rep_keys[r], day, stream)
        for c in range(count):
            out[r, c] = normal_at(key, c, count)
    return out


@kernel
def _poissons(rep_keys: np.ndarray, day: int, stream: int, lam: np.ndarray) -> np.ndarray:
    """``(R, count)`` Poisson counts with means ``lam`` (``poisson_at``)."""
    out = np.empty(lam.shape, dtype=np.int64)
    for r in range(rep_keys.size):
        key = stream_key(rep_keys[r], day, stream)
        for c in range(lam.shape[1]):
            out[r, c] = poisson_at(key, c, lam[r, c])
    return out


@helper
def _poisson_one(lam: float, u: float) -> int:
    """Inversion of the Poisson CDF at ``u``; means above 50 by the normal approximation."""
    if lam <= 50.0:
        p = np.exp(-lam)
        cdf = p
        k = 0
        while u > cdf and k < 200:
            k += 1
            p = p * lam / k
            cdf = cdf + p
        return k
    return int(max(np.rint(lam + np.sqrt(lam) * _probit(u)), 0.0))


@helper
def _probit(u: float) -> float:
    """Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    a = (-39.69683028665376, 220.9460984245205, -275.9285104469687,
         138.3577518672690, -30.66479806614716, 2.506628277459239)
    b = (-54.47609879822406, 161.5858368580409, -155.6989798598866,
         66.80131188771972, -13.28068155288572)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838,
         -2.549732539343734, 4.374664141464968, 2.938163982698783)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996, 3.754408661907416)
    q = min(u, 1.0 - u)
    t = np.sqrt(-2.0 * np.log(q))
    tail = (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) / (
        (((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1.0
    )
    r = u - 0.5
    s = r * r
    central = (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (
        ((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1.0
    )
    if q >= 0.02425:
        return central
    return tail if u < 0.5 else -tail
