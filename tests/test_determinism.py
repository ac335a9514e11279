"""Reproducibility: a run's numbers depend only on (seed, replication), never on batching."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from sim.execution.ensemble import run_ensemble
from sim.execution.replay import replay


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert x.shape == y.shape, name
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert np.array_equal(x, y), name


def test_same_seed_twice_gives_identical_runs(baseline):
    a = run_ensemble(baseline, runs=40, seed=5, workers=1, progress=False)
    b = run_ensemble(baseline, runs=40, seed=5, workers=1, progress=False)
    _same(a.columns, b.columns)
    assert np.array_equal(a.trajectory, b.trajectory)


def test_different_seeds_give_different_runs(baseline):
    a = run_ensemble(baseline, runs=40, seed=5, workers=1, progress=False).columns
    b = run_ensemble(baseline, runs=40, seed=6, workers=1, progress=False).columns
    assert not np.array_equal(a["losses.turkey"], b["losses.turkey"])


def test_batch_size_does_not_change_any_run(baseline):
    a = run_ensemble(baseline, runs=60, seed=8, batch_size=60, workers=1, progress=False)
    b = run_ensemble(baseline, runs=60, seed=8, batch_size=7, workers=1, progress=False)
    _same(a.columns, b.columns)
    assert np.array_equal(a.trajectory, b.trajectory)


def test_one_or_two_worker_processes_give_identical_runs(baseline):
    a = run_ensemble(baseline, runs=48, seed=9, batch_size=12, workers=1, progress=False)
    b = run_ensemble(baseline, runs=48, seed=9, batch_size=12, workers=2, progress=False)
    _same(a.columns, b.columns)


def test_replay_reproduces_the_ensemble_row_exactly(baseline, tmp_path):
    result = run_ensemble(baseline, runs=30, seed=12, batch_size=10, workers=1,
                          progress=False, out_dir=tmp_path)
    in_memory = run_ensemble(baseline, runs=30, seed=12, batch_size=7, workers=1,
                             progress=False)
    paths = pq.read_table(tmp_path / "paths.parquet").to_pandas()
    for k in (0, 17, 29):
        again = replay(baseline, 12, k, tmp_path)
        assert again.matches_ensemble is True
        for name, values in result.columns.items():
            x = values[k]
            y = again.row[name]
            if isinstance(x, float | np.floating) and np.isnan(x):
                assert y is None, name
            else:
                assert x == y, name
        assert (tmp_path / f"replay-{k}" / "events.txt").read_text().count("\n") > 1
        # the replayed trajectory is the ensemble's trajectory of that run
        assert np.array_equal(again.model.trajectory[:, 0], in_memory.trajectory[:, k])
        if k < baseline.spec.run.sample_paths:
            saved = paths[paths["run"] == k].drop(columns=["run", "day", "date"]).to_numpy()
            assert np.array_equal(saved, again.model.trajectory[:, 0])


def test_scenarios_run_with_one_seed_share_common_random_numbers(baseline):
    """A change that does not touch a stream leaves the runs' draws on it unchanged."""
    from sim.rng import CounterRNG, Stream

    reps = np.arange(10)
    a = CounterRNG(3, reps).uniform(5, Stream.ESCALATION, (4, 4))
    b = CounterRNG(3, reps).uniform(5, Stream.ESCALATION, (4, 4))
    assert np.array_equal(a, b)
