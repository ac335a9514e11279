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

from pathlib import Path

import numpy as np

from sim.analysis import QUANTILES as LEVELS
from sim.execution.binning import _SCALE, BatchCounts, Binning

__all__ = ["BatchCounts", "Binning", "TrajectoryHistogram", "ensemble_edges", "series_edges"]
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

    def save(self, path: Path, sparse: bool = False) -> None:
        """Checkpoint the state (written to a temporary name, then renamed).

        Args:
            path: The ``.npz`` file.
            sparse: Keep only the filled counters (their indices and counts) and each series'
                shape, not every counter: what ``sim run`` writes every few seconds (the
                baseline's histogram has 4.3 million counters, 35 MB; after 20,000 runs
                about a million are filled, and they are kept in 32 bits). ``load`` reads
                either kind, so a folder checkpointed by an earlier version resumes.
        """
        import os

        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
        if sparse:
            bins = np.flatnonzero(self._flat)
            filled = self._flat[bins]
            arrays = {
                "shapes": np.array([c.shape for c in self.counts], dtype=np.int64).reshape(-1, 2),
                "bins": bins.astype(np.int32 if self._flat.size < 2**31 else np.int64),
                "filled": filled.astype(np.uint32 if filled.max(initial=0) < 2**32
                                        else np.int64)}
        else:
            arrays = {f"counts{s}": c for s, c in enumerate(self.counts)}
        try:
            np.savez(tmp, sums=self.sums, n=self.n, **arrays)
        except BaseException:  # a full disk: give the partial file's space back
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        """Restore a checkpoint written by ``save`` (sparse or not).

        Raises:
            ValueError: The checkpoint holds other series or days (one written by a version
                with other daily series), or filled counters outside the histogram: the
                caller starts the summary afresh.
        """
        data = np.load(path)
        if "bins" in data:
            saved = [tuple(int(x) for x in shape) for shape in data["shapes"]]
        else:
            saved = [data[f"counts{s}"].shape if f"counts{s}" in data else None
                     for s in range(len(self.counts))]
            if f"counts{len(self.counts)}" in data:
                saved.append(None)
        if data["sums"].shape != self.sums.shape or saved != [c.shape for c in self.counts]:
            raise ValueError(f"{path} summarises other daily series")
        if "bins" in data:
            bins, filled = data["bins"].astype(np.int64), data["filled"]
            if bins.shape != filled.shape or (bins.size and (
                    bins.min() < 0 or bins.max() >= self._flat.size)):
                raise ValueError(f"{path} is damaged: its counters are not this histogram's")
            self._flat[...] = 0
            self._flat[bins] = filled
        else:
            for s, counts in enumerate(self.counts):
                counts[...] = data[f"counts{s}"]
        self.sums[...] = data["sums"]
        self.n = int(data["n"])
