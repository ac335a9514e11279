"""Counting a batch's daily values into the trajectory histogram's bins (compiled).

Where a batch runs, its ``(days, runs, S)`` daily values become counts per bin (only the bins
it filled) and fixed-point sums, which travel back to the process that keeps the histogram
(``sim.execution.trajectories.TrajectoryHistogram``). This module is apart from the histogram
so that the compiled kernel and the histogram's bookkeeping (checkpoints, quantiles) can be
edited without recompiling each other (``sim.jit`` recompiles what a compiled module's file
holds).

A value's bin ``b`` is the one with ``edges[b] <= x < edges[b + 1]``, clipped to the outer
bins; a NaN falls in the last bin (as numpy's ``searchsorted`` has it). Evenly spaced edges
(rungs, shares, affinities) are indexed by arithmetic, which is exact for the integer rungs and
may differ from a search only for a value within rounding of an edge, the same way in every
batch. Other edges (people, losses) are searched; see ``_count_values`` for how the search is
shortened without changing its answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from sim.jit import inlined, kernel

_SCALE = 2.0**16  # fixed-point resolution of the mean's running sum
#: each thread's zeroed counters, kept from batch to batch (a Dask worker runs several threads)
_buffers = threading.local()


class Binning:
    """Which bin each daily value falls in, and a batch's counts per bin.

    Counting is done where a batch runs, so only the bins a batch filled (a few hundred
    thousand small integers, not millions of floats) travel back to the process that keeps
    the histogram, which adds them.

    Args:
        edges: Bin edges of each series (``trajectories.series_edges``).
        days: Days of each series (``days + 1`` of a run, with day 0).
    """

    def __init__(self, edges: list[np.ndarray], days: int) -> None:
        widths = np.array([e.size - 1 for e in edges], dtype=np.int64)
        self.widths = widths
        self.days = days
        steps = np.array([(e[-1] - e[0]) / (e.size - 1) for e in edges])
        self._even = np.array([np.allclose(np.diff(e), h, rtol=1e-9, atol=0.0)
                               for e, h in zip(edges, steps, strict=True)], dtype=bool)
        self._steps = steps
        self._edges_flat = np.concatenate(edges) if edges else np.zeros(0)
        self._edge_offsets = np.concatenate([[0], np.cumsum(widths + 1)]).astype(np.int64)
        #: where each series' ``(days, bins)`` counts start in the flat histogram
        self.offsets = np.concatenate([[0], np.cumsum(widths * days)]).astype(np.int64)
        self._runs, self._ratios = _guides(edges)

    @property
    def size(self) -> int:
        """Number of counters in the flat histogram (every bin of every day and series)."""
        return int(self.offsets[-1])

    def count(self, trajectory: np.ndarray) -> BatchCounts:
        """A batch's ``(days, runs, S)`` daily values as counts per bin, and sums.

        The counters are a zeroed buffer kept from batch to batch (a fresh one, 17 MB for the
        baseline, cost its page faults every batch); the kernel lists each counter the first
        time it counts in it, and only those are read back and zeroed again. The filled bins
        come in no particular order, each once.
        """
        values = np.asarray(trajectory, dtype=np.float32)
        flat = getattr(_buffers, "counters", None)
        if flat is None or flat.size != self.size:
            flat = np.zeros(self.size, dtype=np.uint32)
        _buffers.counters = None  # not reused if counting fails halfway (left dirty)
        filled = np.empty(min(values.size, self.size), dtype=np.int64)
        sums, k = _count_values(values, self._edges_flat, self._edge_offsets, self._even,
                                self._steps, self.offsets, self.widths, self._runs,
                                self._ratios, flat, filled)
        bins = filled[:k].copy()
        counts = flat[bins]
        flat[bins] = 0
        _buffers.counters = flat
        return BatchCounts(bins, counts, sums, int(values.shape[1]))


@dataclass
class BatchCounts:
    """One batch's part of the trajectory histogram: what a worker sends back.

    Attributes:
        bins: Indices of the filled counters in the flat histogram (``Binning.offsets``),
            each once, in no particular order.
        counts: How many values fell in each.
        sums: ``(days, S)`` fixed-point sums of the values (for the means).
        runs: Replications in the batch.
    """

    bins: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    runs: int


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """``(start, length)`` of the longest run of True in ``mask`` ((0, 0) if none)."""
    if not mask.any():
        return 0, 0
    padded = np.concatenate([[False], mask, [False]])
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    starts, stops = changes[::2], changes[1::2]
    longest = int(np.argmax(stops - starts))
    return int(starts[longest]), int(stops[longest] - starts[longest])


def _guides(edges: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Where each series' edges are one apart, and where they grow geometrically.

    Returns ``runs`` ``(S, 4)``: the first edge and number of edges of the longest stretch
    spaced exactly 1 apart (losses: -0.5, 0.5, ..., 2047.5), then of the longest geometric
    stretch (people, large losses); ``ratios`` ``(S, 2)``: the log of that stretch's first
    edge and one over the log of its ratio. They only tell ``_count_values`` where to start
    looking: its answer does not depend on them.
    """
    runs = np.zeros((len(edges), 4), dtype=np.int64)
    ratios = np.zeros((len(edges), 2))
    for s, e in enumerate(edges):
        if e.size < 3:
            continue
        start, length = _longest_run(np.diff(e) == 1.0)
        if length:
            runs[s, 0:2] = start, length + 1
        positive = np.flatnonzero(e > 0)
        if positive.size > 2 and np.all(np.diff(positive) == 1):
            steps = np.diff(np.log(e[positive]))
            start, length = _longest_run(np.abs(np.diff(steps)) <= 1e-9 * np.abs(steps[1:]))
            if length and steps[start] > 0:
                first = int(positive[start])
                runs[s, 2:4] = first, length + 2
                ratios[s] = np.log(e[first]), 1.0 / steps[start]
    return runs, ratios


@inlined
def _add_run(counts, filled, k, i, same):
    """Add a run of ``same`` values to counter ``i``; the new count ``k`` of filled ones.

    A counter is noted among the filled ones the first time it is filled.
    """
    if counts[i] == 0:
        filled[k] = i
        k += 1
    counts[i] += same
    return k


@kernel
def _count_values(values, edges, edge_offsets, even, steps, offsets, widths, runs, ratios,
                  counts, filled):
    """Count each value in its bin; return ``(sums, k)``: fixed-point sums, filled counters.

    ``sums`` is per day and series; the indices of the counters filled are ``filled[:k]``.
    A value's bin is defined by a search (the first edge above it), so the guides only
    shorten that search, never change its answer: inside a stretch of edges one apart
    (``runs[s, 0:2]``) the bin is guessed as ``floor(x - first edge)``, inside a geometric
    stretch (``runs[s, 2:4]``, ``ratios[s]``) from ``log(x)``, and the guess is then moved
    edge by edge until ``edges[b] <= x < edges[b + 1]`` holds, which only the true bin
    satisfies (edges increase); elsewhere it is found by bisection. A value equal to the
    previous run's is in the same bin, and a run of values in one bin is added at once.
    ``counts`` (zero where not listed in ``filled``) and ``filled`` are output arguments.
    """
    days, n_runs, n_series = values.shape
    sums = np.zeros((days, n_series), dtype=np.int64)
    k = 0
    for d in range(days):
        for r in range(n_runs):  # in memory order
            for s in range(n_series):
                sums[d, s] += np.int64(np.rint(np.float64(values[d, r, s]) * _SCALE))
        for s in range(n_series):  # one day's counters of one series at a time: in cache
            lo, hi = edge_offsets[s], edge_offsets[s + 1]
            unit_first, unit_count = lo + runs[s, 0], runs[s, 1]
            geo_first, geo_count = lo + runs[s, 2], runs[s, 3]
            log_first, per_log = ratios[s, 0], ratios[s, 1]
            base = offsets[s] + d * widths[s]
            last_x, last_b, same = np.nan, np.int64(-1), np.int64(0)
            for r in range(n_runs):
                x = np.float64(values[d, r, s])
                if x == last_x:
                    b = last_b
                elif even[s]:
                    b = np.int64(np.floor((x - edges[lo]) / steps[s]))
                    b = min(max(b, 0), hi - lo - 2)
                elif x != x:  # NaN: the last bin, as numpy's searchsorted would have it
                    b = hi - lo - 2
                elif unit_count > 1 and edges[unit_first] <= x < edges[unit_first
                                                                        + unit_count - 1]:
                    e = unit_first + min(np.int64(np.floor(x - edges[unit_first])),
                                         unit_count - 2)
                    while edges[e] > x:
                        e -= 1
                    while edges[e + 1] <= x:
                        e += 1
                    b = min(max(e - lo, 0), hi - lo - 2)
                elif geo_count > 1 and edges[geo_first] <= x < edges[geo_first
                                                                     + geo_count - 1]:
                    guess = np.int64(np.floor((np.log(x) - log_first) * per_log))
                    e = geo_first + min(max(guess, 0), geo_count - 2)
                    while edges[e] > x:
                        e -= 1
                    while edges[e + 1] <= x:
                        e += 1
                    b = min(max(e - lo, 0), hi - lo - 2)
                else:  # the first edge above x, by bisection (no array slice in the loop)
                    below, above = lo, hi
                    while below < above:
                        middle = (below + above) // 2
                        if edges[middle] <= x:
                            below = middle + 1
                        else:
                            above = middle
                    b = min(max(below - lo - 1, 0), hi - lo - 2)
                last_x = x
                if b == last_b:
                    same += 1
                    continue
                if same:
                    k = _add_run(counts, filled, k, base + last_b, same)
                last_b, same = b, np.int64(1)
            if same:
                k = _add_run(counts, filled, k, base + last_b, same)
    return sums, k
