"""Streaming summaries of daily trajectories: bounded memory, independent of batching.

Keeping every run's daily path would cost ``runs x days x series`` numbers (27 GB for a
million runs of the baseline). Instead each series gets a histogram per day with bins fixed
in advance from the scenario (integers exactly for rungs and small loss counts; fine linear
bins on [-1, 1] or [0, 1] for affinities, alignment, pressure and control; geometric bins for
people and large losses; two bins, 0 and 1, for whether a deal is in force or a gate open),
plus a fixed-point sum for the mean. Counts and sums are integers,
so the result is the same whatever the batch size, worker count or order of completion, and
it can be saved and resumed.

Quantiles are exact for integer-valued bins and within half a bin otherwise: 0.00125 for
shares and affinities, about 0.6% of the value for counts of people (a few million in all),
1.8% for losses above 2,048.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.analysis import QUANTILES as LEVELS
from sim.jit import kernel

_SCALE = 2.0**16  # fixed-point resolution of the mean's running sum
#: kinds of daily series whose values are levels (a rung; a deal in force or a gate open: 0/1),
#: whose histograms count each level exactly and are saved as shares (``level_shares``)
LEVEL_KINDS = ("rung", "deal", "gate")
CATEGORICAL = ("deal", "gate")


def series_edges(series: list[str], n_rungs: int, max_people: float) -> list[np.ndarray]:
    """Bin edges for each daily series (see the module docstring)."""
    edges = []
    people = np.concatenate([[-0.5, 0.5], np.geomspace(1.0, max(max_people, 2.0) * 1.01, 1200)])
    losses = np.concatenate([np.arange(-0.5, 2048.5), np.geomspace(2048.5, 1e8, 300)[1:]])
    signed = np.linspace(-1.0, 1.0, 801)
    share = np.linspace(0.0, 1.0, 401)
    for name in series:
        kind = name.split(".", 1)[0]
        if kind == "rung":
            edges.append(np.arange(-0.5, n_rungs + 0.5))
        elif kind in CATEGORICAL:  # 0 or 1
            edges.append(np.array([-0.5, 0.5, 1.5]))
        elif kind == "losses":
            edges.append(losses)
        elif kind == "people":
            edges.append(people)
        elif kind in ("affinity", "alignment"):
            edges.append(signed)
        else:  # pressure, control
            edges.append(share)
    return edges


def ensemble_edges(spec, layout) -> list[np.ndarray]:
    """The bin edges of a scenario's daily series (rung count, total people from the spec)."""
    from sim.world import series_names

    people = float(sum(node.population for node in spec.refugees.nodes.values()))
    return series_edges(series_names(layout), len(layout.rungs), people)


class Binning:
    """Which bin each daily value falls in, and a batch's counts per bin.

    Counting is done where a batch runs, so only the bins a batch filled (a few hundred
    thousand small integers, not millions of floats) travel back to the process that keeps
    the histogram, which adds them. Evenly spaced edges (rungs, shares, affinities) are
    indexed by arithmetic, others (people, losses) by binary search.

    Args:
        edges: Bin edges of each series (``series_edges``).
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

    @property
    def size(self) -> int:
        """Number of counters in the flat histogram (every bin of every day and series)."""
        return int(self.offsets[-1])

    def count(self, trajectory: np.ndarray) -> BatchCounts:
        """A batch's ``(days, runs, S)`` daily values as counts per bin, and sums."""
        flat = np.zeros(self.size, dtype=np.uint32)
        sums = _count_values(np.asarray(trajectory, dtype=np.float32), self._edges_flat,
                             self._edge_offsets, self._even, self._steps, self.offsets,
                             self.widths, flat)
        filled = np.flatnonzero(flat)
        return BatchCounts(filled, flat[filled], sums, int(trajectory.shape[1]))


@dataclass
class BatchCounts:
    """One batch's part of the trajectory histogram: what a worker sends back.

    Attributes:
        bins: Indices of the filled counters in the flat histogram (``Binning.offsets``).
        counts: How many values fell in each.
        sums: ``(days, S)`` fixed-point sums of the values (for the means).
        runs: Replications in the batch.
    """

    bins: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    runs: int


class TrajectoryHistogram:
    """Per day and series: a histogram and a fixed-point sum, added to batch by batch."""

    def __init__(self, series: list[str], days: int, edges: list[np.ndarray]) -> None:
        self.series = list(series)
        self.days = days
        self.edges = edges
        self.binning = Binning(edges, days)
        # every series' (days, bins) counts are views into one flat array batches add to
        offsets = self.binning.offsets
        self._flat = np.zeros(self.binning.size, dtype=np.int64)
        self.counts = [self._flat[offsets[s]:offsets[s + 1]].reshape(days, -1)
                       for s in range(len(edges))]
        self.sums = np.zeros((days, len(series)), dtype=np.int64)
        self.n = 0

    def add(self, trajectory: np.ndarray) -> None:
        """Add ``(days, runs, S)`` daily values of a batch."""
        self.add_counts(self.binning.count(trajectory))

    def add_counts(self, batch: BatchCounts) -> None:
        """Add a batch counted by ``Binning.count`` (with the same edges and days)."""
        self._flat[batch.bins] += batch.counts
        self.sums += batch.sums
        self.n += batch.runs

    def quantiles(self, levels=LEVELS) -> np.ndarray:
        """``(len(levels), days, S)`` quantiles across runs: the midpoint of the bin holding each.

        The bin is the one that holds the exact (inverted-CDF) quantile, the value of rank
        ``ceil(level * runs)``; its midpoint is within half the bin's width of that value,
        which is the accuracy promised (README, ODD). In a bin one unit wide (a rung, a small
        count of losses) the midpoint is the integer itself, so those are exact. (Interpolating
        linearly inside the bin, as before, is off by up to a whole bin when the runs in it
        are not spread evenly, e.g. people piling up just above a bin's lower edge.)
        """
        out = np.zeros((len(levels), self.days, len(self.series)))
        for s, (edges, counts) in enumerate(zip(self.edges, self.counts, strict=True)):
            cum = np.cumsum(counts, axis=1)
            middles = (edges[:-1] + edges[1:]) / 2
            for q, level in enumerate(levels):
                target = level * cum[:, -1]
                b = np.minimum((cum < target[:, None]).sum(axis=1), counts.shape[1] - 1)
                out[q, :, s] = middles[b]
        return out

    def level_shares(self) -> list[tuple[int, np.ndarray]]:
        """``(series index, (days, levels) shares of runs)`` for every series of levels.

        Rungs, deals and gates are binned one level to a bin, so these shares are exact:
        a rung that 10% of runs reach on some day shows as 0.10 there, which quantiles
        (5/25/50/75/95%) cannot say.
        """
        out = []
        for s, (name, counts) in enumerate(zip(self.series, self.counts, strict=True)):
            if name.split(".", 1)[0] in LEVEL_KINDS:
                out.append((s, counts / max(self.n, 1)))
        return out

    def means(self) -> np.ndarray:
        """``(days, S)`` means across runs."""
        return self.sums / _SCALE / max(self.n, 1)

    def save(self, path: Path) -> None:
        """Checkpoint the state (written to a temporary name, then renamed)."""
        import os

        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
        try:
            np.savez(tmp, sums=self.sums, n=self.n,
                     **{f"counts{s}": c for s, c in enumerate(self.counts)})
        except BaseException:  # a full disk: give the partial file's space back
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        """Restore a checkpoint written by ``save``.

        Raises:
            ValueError: The checkpoint holds other series or days (one written by a version
                with other daily series): the caller starts the summary afresh.
        """
        data = np.load(path)
        saved = [data[f"counts{s}"].shape if f"counts{s}" in data else None
                 for s in range(len(self.counts))]
        if (data["sums"].shape != self.sums.shape or f"counts{len(self.counts)}" in data
                or saved != [c.shape for c in self.counts]):
            raise ValueError(f"{path} summarises other daily series")
        self.sums[...] = data["sums"]
        self.n = int(data["n"])
        for s, counts in enumerate(self.counts):
            counts[...] = data[f"counts{s}"]


@kernel
def _count_values(values, edges, edge_offsets, even, steps, offsets, widths, counts):
    """Add one to ``counts`` for each value's bin; return fixed-point sums per day and series.

    A value's bin b satisfies ``edges[b] <= x < edges[b + 1]``, clipped to the outer bins;
    with evenly spaced edges it is found by arithmetic, which is exact for the integer rungs
    and may differ from a search only for a value within rounding of an edge, the same way in
    every batch. (``counts`` is an output argument, the flat histogram of ``Binning``.)
    """
    days, runs, n_series = values.shape
    sums = np.zeros((days, n_series), dtype=np.int64)
    for d in range(days):
        for s in range(n_series):  # one day's counters of one series at a time: in cache
            for r in range(runs):
                x = np.float64(values[d, r, s])
                sums[d, s] += np.int64(np.rint(x * _SCALE))
                lo, hi = edge_offsets[s], edge_offsets[s + 1]
                if even[s]:
                    b = np.int64(np.floor((x - edges[lo]) / steps[s]))
                elif x != x:  # NaN: the last bin, as numpy's searchsorted would have it
                    b = hi - lo - 1
                else:  # the first edge above x, by bisection (no array slice in the loop)
                    below, above = lo, hi
                    while below < above:
                        middle = (below + above) // 2
                        if edges[middle] <= x:
                            below = middle + 1
                        else:
                            above = middle
                    b = below - lo - 1
                b = min(max(b, 0), hi - lo - 2)
                counts[offsets[s] + d * widths[s] + b] += 1
    return sums
