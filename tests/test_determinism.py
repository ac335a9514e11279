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


def test_a_run_drawn_from_priors_replays_exactly(baseline, tmp_path):
    """Any run replays alone, also one that drew its own values of the scenario's priors (sim
    run's default): its draws depend only on the seed and its index, so drawing the runs up
    to it gives the values it had (the ensemble's size and batch do not matter). A replay of
    the point values is not compared with that folder (another experiment)."""
    from sim.execution.variation import uncertain_set

    drawn = uncertain_set(baseline, 12, 30)
    run_ensemble(baseline, runs=30, seed=12, batch_size=10, workers=1, progress=False,
                 out_dir=tmp_path, varied=drawn)
    table = pq.read_table(tmp_path / "runs.parquet").to_pandas()
    for k in (3, 29):
        again = replay(baseline, 12, k, tmp_path, varied=uncertain_set(baseline, 12, k + 1))
        assert again.matches_ensemble is True, k
        assert again.row["param.actors.turkey.war_cost"] == table["param.actors.turkey.war_cost"][k]
    point = replay(baseline, 12, 3, tmp_path)
    assert point.matches_ensemble is None


def test_compare_runs_a_change_the_model_never_reads_on_the_very_same_draws(fictional):
    """Common random numbers: an override the model never reads leaves every run unchanged.

    ``description`` is text for people; with one seed for every scenario, compare must
    give the same row for run k of both. (Seeding each scenario differently fails this at
    once: most runs' indicators differ.)
    """
    from sim.execution.compare import compare
    from sim.scenario.loader import load_scenario

    from .conftest import FICTIONAL

    unread = load_scenario(FICTIONAL, ["description=the same crisis, described otherwise"])
    assert unread.digest() != fictional.digest()  # another scenario, as compare sees it
    kwargs = {"runs": 60, "seed": 4, "workers": 1, "progress": False}
    result = compare([fictional, unread], **kwargs)
    for row in result.rows:
        if "difference" in row:
            assert row["difference"] == 0.0 and row["paired_half_width"] == 0.0, row
    a = run_ensemble(fictional, **{**kwargs, "runs": 60})
    b = run_ensemble(unread, **{**kwargs, "runs": 60})
    _same(a.columns, b.columns)
    assert np.array_equal(a.trajectory, b.trajectory)


# Measured (200 runs of the baseline, Turkey-Russia trade 0.3 instead of its value): paired
# intervals 1.9x narrower than independent ones at seed 5 (median over outcomes; 2.1, 3.0, 2.4
# at seeds 6, 7, 8); with a seed per scenario the ratio is 1.0 (0.98-1.0). (With ground taken as
# a share of the holder's, model v2, it was 4.1, 9.3, 7.1 and 6.2: under a front's advance,
# docs/ODD.md M4, a run whose course the nudge changes ends with a different holder sooner, so
# paired runs part more often; the threshold stays well above the 1.0 of independent seeds.)
MIN_NARROWING = 1.5


def test_paired_intervals_are_clearly_narrower_than_independent_ones(baseline):
    """Compare's paired differences gain from common random numbers, by a measured margin."""
    from sim.execution.compare import compare
    from sim.scenario.loader import load_scenario

    from .conftest import BASELINE

    nudged = load_scenario(BASELINE, ["relations.turkey~russia.trade=0.3"])
    result = compare([baseline, nudged], runs=200, seed=5, workers=1, progress=False)
    ratios = [r["independent_half_width"] / r["paired_half_width"] for r in result.rows
              if r.get("paired_half_width")]
    assert len(ratios) >= 4, result.rows
    assert result.narrowing >= MIN_NARROWING, (result.narrowing, ratios)
