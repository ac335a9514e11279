"""Intervals: the Wilson score interval's known values, and every table reporting it.

Reference values are Newcombe (1998), "Two-sided confidence intervals for the single
proportion: comparison of seven methods", Statistics in Medicine 17, Table I (method 3, the
Wilson score interval without continuity correction), to the four decimals printed there.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.analysis import Z95, outcome_table, paired_difference, wilson_interval
from sim.design import make_design, parse_parameter
from sim.execution.compare import compare
from sim.execution.ensemble import run_ensemble
from sim.execution.sweep import run_sweep
from sim.scenario.loader import load_scenario

from .conftest import FICTIONAL


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (29, 29, 0.8830, 1.0000),
])
def test_wilson_interval_matches_newcombes_table(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_no_successes_in_many_runs_still_gives_an_upper_bound_above_zero():
    """The Wald interval's failure: 0/2000 gives [0, 0]; Wilson's upper bound is z2/(n+z2)."""
    lo, hi = wilson_interval(0, 2000)
    assert lo == 0.0
    assert hi == pytest.approx(Z95**2 / (2000 + Z95**2), rel=1e-12)  # 0.001917
    assert hi > 0.0019
    lo, hi = wilson_interval(2000, 2000)  # and the mirror image
    assert lo == pytest.approx(2000 / (2000 + Z95**2), rel=1e-12)
    assert hi == 1.0


def test_one_in_ten():
    lo, hi = wilson_interval(1, 10)
    assert lo == pytest.approx(0.017876, abs=1e-6)
    assert hi == pytest.approx(0.404150, abs=1e-6)


def test_the_interval_holds_the_estimate_and_stays_in_zero_one():
    for n in (1, 2, 3, 7, 10, 50, 263, 2000):
        for k in range(0, n + 1, max(1, n // 25)):
            lo, hi = wilson_interval(k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0, (k, n, lo, hi)
            assert hi - lo > 0.0, (k, n)
    assert wilson_interval(0, 0) == (0.0, 1.0)  # no runs: nothing is known


def test_paired_difference_is_the_mean_difference_with_its_normal_interval():
    a = np.array([0, 1, 1, 0, 1, 0, 0, 1], float)
    b = np.array([1, 1, 1, 0, 1, 1, 0, 1], float)
    mean, lo, hi = paired_difference(a, b)
    d = b - a
    half = Z95 * d.std(ddof=1) / np.sqrt(d.size)
    assert mean == pytest.approx(0.25)
    assert (lo, hi) == pytest.approx((0.25 - half, 0.25 + half))


def test_an_ensembles_outcome_bounds_are_the_interval_of_its_counts(tmp_path):
    result = run_ensemble(load_scenario(FICTIONAL), runs=60, seed=2, workers=1,
                          out_dir=tmp_path, progress=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["outcomes"]
    flags = result.columns
    for row in summary["outcomes"]:
        k = int(np.sum(flags[f"outcome.{row['outcome']}"]))
        assert (row["count"], row["runs"]) == (k, 60)
        assert row["probability"] == k / 60
        assert (row["low"], row["high"]) == wilson_interval(k, 60)
    assert outcome_table({"outcome.x": np.zeros(2000, bool)})[0]["high"] > 0.0019


def test_sweep_points_bounds_are_the_interval_of_their_counts(fictional):
    design = make_design("grid", [parse_parameter("fighting.loss_rate=0.1,0.45")], 2, 1)
    result = run_sweep(fictional, design, reps=25, seed=3, workers=1, progress=False)
    cols, points = result.columns, result.points
    names = [n for n in points if n.startswith("outcome.") and not n.endswith((".low", ".high"))]
    assert names
    for name in names:
        for k in range(design.size):
            flags = cols[name][cols["point"] == k]
            count = int(flags.sum())
            assert points[name][k] == count / 25
            assert (points[f"{name}.low"][k], points[f"{name}.high"][k]) == \
                wilson_interval(count, 25), (name, k)


def test_comparison_rows_bounds_are_the_intervals_of_their_counts(fictional):
    other = load_scenario(FICTIONAL, ["relations.arcadia~borduria.trade=0.8"])
    runs = 40
    result = compare([fictional, other], runs=runs, seed=2, workers=1, progress=False)
    columns = [run_ensemble(s, runs=runs, seed=2, workers=1, progress=False).columns
               for s in (fictional, other)]
    for row in result.rows:
        cols = columns[result.names.index(row["scenario"])]
        x = np.asarray(cols[f"outcome.{row['outcome']}"], float)
        assert row["probability"] == x.sum() / runs
        assert (row["low"], row["high"]) == wilson_interval(int(x.sum()), runs)
        if "difference" in row:
            base = np.asarray(columns[0][f"outcome.{row['outcome']}"], float)
            assert (row["difference"], row["difference_low"], row["difference_high"]) == \
                paired_difference(base, x)
