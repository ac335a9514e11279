"""The streaming trajectory summary: counts per bin, added batch by batch, and its quantiles."""

from __future__ import annotations

import numpy as np

from sim.execution.batches import BatchTask, run_batch
from sim.execution.trajectories import TrajectoryHistogram, ensemble_edges
from sim.model import CrisisModel, series_names
from sim.world import compile_scenario


def _reference_counts(trajectory: np.ndarray, edges: list[np.ndarray]) -> list[np.ndarray]:
    """Counts per (day, bin) of each series, by numpy: arithmetic for evenly spaced edges,
    numpy's searchsorted for the others (the definition in ``_count_values``)."""
    out = []
    for s, e in enumerate(edges):
        values = trajectory[:, :, s].astype(np.float64)
        step = (e[-1] - e[0]) / (e.size - 1)
        if np.allclose(np.diff(e), step, rtol=1e-9, atol=0.0):
            bins = np.floor((values - e[0]) / step).astype(np.int64)
        else:
            bins = np.searchsorted(e, values, side="right") - 1
        bins = np.clip(bins, 0, e.size - 2)
        counts = np.zeros((trajectory.shape[0], e.size - 1), dtype=np.int64)
        for d in range(trajectory.shape[0]):
            counts[d] = np.bincount(bins[d], minlength=e.size - 1)
        out.append(counts)
    return out


def test_counts_match_numpys_bins_and_do_not_depend_on_batching(baseline):
    layout = compile_scenario(baseline.spec).layout
    edges = ensemble_edges(baseline.spec, layout)
    model = CrisisModel(baseline, replications=300, seed=11).run()
    whole = TrajectoryHistogram(series_names(layout), layout.days + 1, edges)
    whole.add(model.trajectory)
    for counts, expected in zip(whole.counts, _reference_counts(model.trajectory, edges),
                                strict=True):
        assert np.array_equal(counts, expected)
    parts = TrajectoryHistogram(series_names(layout), layout.days + 1, edges)
    for first in range(0, 300, 70):
        parts.add(model.trajectory[:, first:first + 70])
    assert parts.n == whole.n == 300
    assert np.array_equal(parts.sums, whole.sums)
    assert all(np.array_equal(a, b) for a, b in zip(parts.counts, whole.counts, strict=True))


def test_quantiles_are_exact_for_rungs_and_within_half_a_bin_otherwise(baseline):
    layout = compile_scenario(baseline.spec).layout
    names = series_names(layout)
    edges = ensemble_edges(baseline.spec, layout)
    model = CrisisModel(baseline, replications=400, seed=3).run()
    histogram = TrajectoryHistogram(names, layout.days + 1, edges)
    histogram.add(model.trajectory)
    levels = (0.05, 0.5, 0.95)
    approx = histogram.quantiles(levels)
    exact = np.quantile(model.trajectory.astype(np.float64), levels, axis=1,
                        method="inverted_cdf")
    for s, name in enumerate(names):
        width = np.diff(edges[s]).max() if not name.startswith("people") else None
        if name.startswith("rung"):
            assert np.array_equal(approx[:, :, s], exact[:, :, s]), name
        elif width is not None and width < 0.01:  # shares, affinities, alignment: fine bins
            assert np.abs(approx[:, :, s] - exact[:, :, s]).max() <= width, name
    assert np.allclose(histogram.means(), model.trajectory.astype(np.float64).mean(axis=1),
                       rtol=1e-7, atol=1e-4)


def test_a_binned_batch_sends_the_counts_of_its_own_trajectory(baseline):
    task = BatchTask(scenario=baseline.data, digest=baseline.digest(), seed=5, start=40,
                     stop=90, sample_paths=45)
    plain = run_batch(task)
    layout = compile_scenario(baseline.spec).layout

    def histogram() -> TrajectoryHistogram:
        return TrajectoryHistogram(series_names(layout), layout.days + 1,
                                   ensemble_edges(baseline.spec, layout))

    expected = histogram()
    expected.add(plain.trajectory)
    for _ in range(2):  # the second batch reuses the first one's trajectory buffer
        binned = run_batch(BatchTask(**{**task.__dict__, "binned": True}))
        assert binned.trajectory is None and binned.counts.runs == 50
        received = histogram()
        received.add_counts(binned.counts)
        assert np.array_equal(received.sums, expected.sums)
        assert all(np.array_equal(a, b) for a, b in zip(received.counts, expected.counts,
                                                        strict=True))
        # the sample paths are copies, not views of the reused buffer
        assert np.array_equal(binned.paths, plain.paths)
        assert binned.paths_runs.tolist() == [40, 41, 42, 43, 44]


def test_a_checkpoint_of_other_series_is_refused_not_misread(tmp_path):
    """A checkpoint written before deals and gates became daily series does not load."""
    import pytest

    from sim.execution.trajectories import series_edges

    names = ["rung.a~b", "affinity.a~b"]
    older = TrajectoryHistogram(names, 3, series_edges(names, 4, 10.0))
    older.add(np.zeros((3, 5, 2), dtype=np.float32))
    older.save(tmp_path / "trajectory.npz")
    newer_names = [*names, "deal.d"]
    newer = TrajectoryHistogram(newer_names, 3, series_edges(newer_names, 4, 10.0))
    with pytest.raises(ValueError, match="other daily series"):
        newer.load(tmp_path / "trajectory.npz")
    assert newer.n == 0 and not newer.sums.any()
    same = TrajectoryHistogram(names, 3, series_edges(names, 4, 10.0))
    same.load(tmp_path / "trajectory.npz")
    assert same.n == 5 and same.counts[0][:, 0].tolist() == [5, 5, 5]
