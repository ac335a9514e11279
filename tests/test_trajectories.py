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


def _half_bin_of(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Half the width of the bin each value falls in (the accuracy the README promises)."""
    b = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.size - 2)
    return (edges[b + 1] - edges[b]) / 2


def test_every_series_quantile_is_within_half_its_bin_people_and_losses_included(baseline):
    """README: "exact for rungs and small counts, within half a bin otherwise", every series."""
    layout = compile_scenario(baseline.spec).layout
    names = series_names(layout)
    edges = ensemble_edges(baseline.spec, layout)
    model = CrisisModel(baseline, replications=400, seed=3).run()
    histogram = TrajectoryHistogram(names, layout.days + 1, edges)
    histogram.add(model.trajectory)
    levels = (0.05, 0.25, 0.5, 0.75, 0.95)
    approx = histogram.quantiles(levels)
    values = model.trajectory.astype(np.float64)
    exact = np.quantile(values, levels, axis=1, method="inverted_cdf")
    kinds = set()
    for s, name in enumerate(names):
        half = _half_bin_of(exact[:, :, s], edges[s])
        # float32 storage can move a value on an edge to the next bin: a few ulps of slack
        slack = 4 * np.finfo(np.float32).eps * np.abs(exact[:, :, s])
        error = np.abs(approx[:, :, s] - exact[:, :, s])
        worst = (error - half - slack).max()
        assert worst <= 0, f"{name}: off by {error.max():.6g}, more than half a bin"
        if name.startswith(("rung", "losses")):
            small = exact[:, :, s] < 2048
            assert np.array_equal(approx[:, :, s][small], exact[:, :, s][small]), name
        kinds.add(name.split(".")[0])
    assert {"people", "losses", "rung", "affinity", "control", "pressure"} <= kinds
    people = [s for s, n in enumerate(names) if n.startswith("people")]
    assert exact[:, :, people].max() > 1000  # the geometric bins were exercised
    assert np.allclose(histogram.means(), values.mean(axis=1), rtol=1e-7, atol=1e-4)


def test_quantiles_of_runs_piled_at_a_bins_edge_are_within_half_the_bin():
    """Interpolating inside a bin is off by nearly a whole bin here; the midpoint is not."""
    edges = [np.array([0.0, 100.0, 200.0])]
    histogram = TrajectoryHistogram(["people.x"], 1, edges)
    values = np.full((1, 10, 1), 100.0)  # every run at the lower edge of the second bin
    histogram.add(values)
    high = histogram.quantiles((0.95,))[0, 0, 0]
    assert np.quantile(values[0, :, 0], 0.95, method="inverted_cdf") == 100.0
    assert abs(high - 100.0) <= 50.0, high  # interpolation said 195


def test_a_sparse_checkpoint_restores_every_counter_and_an_earlier_dense_one_still_loads(
        tmp_path):
    """sim run checkpoints only the filled counters; a folder checkpointed whole resumes."""
    import pytest

    from sim.execution.trajectories import series_edges

    names = ["rung.a~b", "losses.a", "people.x"]
    edges = series_edges(names, 4, 5e6)

    def fresh() -> TrajectoryHistogram:
        return TrajectoryHistogram(names, 3, edges)

    rng = np.random.default_rng(3)
    values = np.stack([rng.integers(0, 4, (3, 40)), rng.integers(0, 5000, (3, 40)),
                       rng.uniform(0, 5e6, (3, 40))], axis=-1).astype(np.float32)
    whole = fresh()
    whole.add(values)
    for sparse in (True, False):  # False: the file an earlier version left in parts/
        whole.save(tmp_path / "trajectory.npz", sparse=sparse)
        back = fresh()
        back.counts[1][0, -1] = 7  # (a bin no value reached) the file's counts, no other
        back.load(tmp_path / "trajectory.npz")
        assert back.n == 40 and np.array_equal(back.sums, whole.sums)
        assert all(np.array_equal(a, b) for a, b in zip(back.counts, whole.counts, strict=True))
    whole.save(tmp_path / "sparse.npz", sparse=True)
    assert (tmp_path / "sparse.npz").stat().st_size < (tmp_path / "trajectory.npz").stat().st_size
    other = TrajectoryHistogram(names[:2], 3, edges[:2])
    with pytest.raises(ValueError, match="other daily series"):
        other.load(tmp_path / "sparse.npz")
    data = dict(np.load(tmp_path / "sparse.npz"))
    data["bins"] = data["bins"] + np.int32(whole.binning.size)  # past the histogram's end
    np.savez(tmp_path / "damaged.npz", **data)
    with pytest.raises(ValueError, match="damaged"):
        fresh().load(tmp_path / "damaged.npz")
