"""Streaming summaries of daily trajectories: bounded memory, independent of batching.

Keeping every run's daily path would cost ``runs x days x series`` numbers (27 GB for a
million runs of the baseline). Instead each series gets a histogram per day with bins fixed
in advance from the scenario (integers exactly for rungs and small loss counts; fine linear
bins on [-1, 1] or [0, 1] for affinities, alignment, pressure and control; geometric bins for
people and large losses), plus a fixed-point sum for the mean. Counts and sums are integers,
so the result is the same whatever the batch size, worker count or order of completion, and
it can be saved and resumed.

Quantiles are exact for integer-valued bins and within half a bin otherwise (0.0025 for
shares and affinities, about 1% for counts of people).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.analysis import QUANTILES as LEVELS
from sim.jit import kernel

_SCALE = 2.0**16  # fixed-point resolution of the mean's running sum


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
    from sim.model import series_names

    people = float(sum(node.population for node in spec.refugees.nodes.values()))
    return series_edges(series_names(layout), len(layout.rungs), people)


class Binning:
    """Which bin each daily value falls in, for ``TrajectoryHistogram``.

    Binning is done where a batch runs, so only small integers (not floats) travel back to
    the process that keeps the histogram, which just counts them. Evenly spaced edges (rungs,
    shares, affinities) are indexed by arithmetic, others (people, losses) by binary search.
    """

    def __init__(self, edges: list[np.ndarray]) -> None:
        widths = np.array([e.size - 1 for e in edges], dtype=np.int64)
        self.widths = widths
        steps = np.array([(e[-1] - e[0]) / (e.size - 1) for e in edges])
        self._even = np.array([np.allclose(np.diff(e), h, rtol=1e-9, atol=0.0)
                               for e, h in zip(edges, steps, strict=True)], dtype=bool)
        self._steps = steps
        self._edges_flat = np.concatenate(edges) if edges else np.zeros(0)
        self._edge_offsets = np.concatenate([[0], np.cumsum(widths + 1)]).astype(np.int64)
        self.dtype = np.uint16 if widths.max(initial=0) <= np.iinfo(np.uint16).max else np.uint32

    def bin(self, trajectory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(days, runs, S)`` bin of every value, and ``(days, S)`` fixed-point sums."""
        bins = np.empty(trajectory.shape, dtype=self.dtype)
        sums = _bin_values(np.asarray(trajectory, dtype=np.float32), self._edges_flat,
                           self._edge_offsets, self._even, self._steps, bins)
        return bins, sums


class TrajectoryHistogram:
    """Per day and series: a histogram and a fixed-point sum, added to batch by batch."""

    def __init__(self, series: list[str], days: int, edges: list[np.ndarray]) -> None:
        self.series = list(series)
        self.days = days
        self.edges = edges
        self.binning = Binning(edges)
        # every series' (days, bins) counts are views into one flat array the kernel adds to
        self._offsets = np.concatenate([[0], np.cumsum(self.binning.widths * days)]).astype(
            np.int64)
        self._flat = np.zeros(int(self._offsets[-1]), dtype=np.int64)
        self.counts = [self._flat[self._offsets[s]:self._offsets[s + 1]].reshape(days, -1)
                       for s in range(len(edges))]
        self.sums = np.zeros((days, len(series)), dtype=np.int64)
        self.n = 0

    def add(self, trajectory: np.ndarray) -> None:
        """Add ``(days, runs, S)`` daily values of a batch."""
        self.add_binned(*self.binning.bin(trajectory))

    def add_binned(self, bins: np.ndarray, sums: np.ndarray) -> None:
        """Add a batch already binned by ``Binning.bin`` (with the same edges)."""
        _count(bins, self._flat, self._offsets, self.binning.widths)
        self.sums += sums
        self.n += bins.shape[1]

    def quantiles(self, levels=LEVELS) -> np.ndarray:
        """``(len(levels), days, S)`` quantiles across runs.

        In a bin one unit wide (a rung, a small count) the quantile is that integer; in wider
        bins it is interpolated linearly within the bin.
        """
        out = np.zeros((len(levels), self.days, len(self.series)))
        days = np.arange(self.days)
        for s, (edges, counts) in enumerate(zip(self.edges, self.counts, strict=True)):
            cum = np.cumsum(counts, axis=1)
            for q, level in enumerate(levels):
                target = level * cum[:, -1]
                b = np.minimum((cum < target[:, None]).sum(axis=1), counts.shape[1] - 1)
                lo, hi = edges[b], edges[b + 1]
                before = np.where(b > 0, cum[days, b - 1], 0)
                inside = counts[days, b]
                frac = np.divide(target - before, inside, out=np.full(self.days, 0.5),
                                 where=inside > 0)
                interpolated = lo + np.clip(frac, 0.0, 1.0) * (hi - lo)
                out[q, :, s] = np.where(np.isclose(hi - lo, 1.0), (lo + hi) / 2, interpolated)
        return out

    def means(self) -> np.ndarray:
        """``(days, S)`` means across runs."""
        return self.sums / _SCALE / max(self.n, 1)

    def save(self, path: Path) -> None:
        """Checkpoint the state (written to a temporary name, then renamed)."""
        import os

        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
        np.savez(tmp, sums=self.sums, n=self.n,
                 **{f"counts{s}": c for s, c in enumerate(self.counts)})
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        """Restore a checkpoint written by ``save``."""
        data = np.load(path)
        self.sums[...] = data["sums"]
        self.n = int(data["n"])
        for s, counts in enumerate(self.counts):
            counts[...] = data[f"counts{s}"]


@kernel
def _bin_values(values, edges, edge_offsets, even, steps, bins):
    """Fill ``bins`` with each value's bin and return the fixed-point sums per day and series.

    A value's bin b satisfies ``edges[b] <= x < edges[b + 1]``, clipped to the outer bins;
    with evenly spaced edges it is found by arithmetic, which is exact for the integer rungs
    and may differ from a search only for a value within rounding of an edge, the same way in
    every batch. (``bins`` is an output argument: the caller chooses its integer type.)
    """
    days, runs, n_series = values.shape
    sums = np.zeros((days, n_series), dtype=np.int64)
    for d in range(days):
        for r in range(runs):
            for s in range(n_series):
                x = np.float64(values[d, r, s])
                sums[d, s] += np.int64(np.rint(x * _SCALE))
                lo, hi = edge_offsets[s], edge_offsets[s + 1]
                if even[s]:
                    b = np.int64(np.floor((x - edges[lo]) / steps[s]))
                else:
                    b = np.searchsorted(edges[lo:hi], x, side="right") - 1
                bins[d, r, s] = min(max(b, 0), hi - lo - 2)
    return sums


@kernel
def _count(bins, flat, offsets, widths):
    """Add one to the count of each binned value, in place (``flat`` is the accumulator)."""
    days, runs, n_series = bins.shape
    for d in range(days):
        for r in range(runs):
            for s in range(n_series):
                flat[offsets[s] + d * widths[s] + bins[d, r, s]] += 1
