"""Sweeps: designs, lockstep execution with per-replication parameters, sensitivity, compare."""

from __future__ import annotations

import numpy as np
import pytest

from sim.design import make_design, parse_parameter
from sim.errors import ScenarioError, UsageError
from sim.execution.compare import compare
from sim.execution.storage import read_runs
from sim.execution.sweep import run_sweep
from sim.scenario.loader import load_scenario

from .conftest import BASELINE, COUNTERFACTUALS, FICTIONAL, paired_effect

P = parse_parameter


def test_design_sizes_and_bounds():
    params = [P("a.b=0:1"), P("c.d=10:20"), P("e.f=1,2,3")]
    grid = make_design("grid", params, 4, 1)
    assert grid.size == 4 * 4 * 3
    assert set(np.unique(grid.points[:, 2])) == {1.0, 2.0, 3.0}
    lhs = make_design("lhs", params, 50, 1)
    assert lhs.size == 50
    assert (lhs.points[:, 0] >= 0).all() and (lhs.points[:, 0] <= 1).all()
    assert (lhs.points[:, 1] >= 10).all() and (lhs.points[:, 1] <= 20).all()
    assert set(np.unique(lhs.points[:, 2])) <= {1.0, 2.0, 3.0}  # levels are snapped
    # Latin hypercube: one point in each of the 50 strata of each range
    strata = np.floor(lhs.points[:, 0] * 50).astype(int)
    assert sorted(strata) == list(range(50))
    assert make_design("sobol", params, 16, 1).size == 16 * (3 + 2)
    assert make_design("morris", params, 10, 1).size == 10 * (3 + 1)
    again = make_design("lhs", params, 50, 1)
    assert np.array_equal(lhs.points, again.points)


def test_design_errors_are_usage_errors():
    with pytest.raises(UsageError, match="power of 2"):
        make_design("sobol", [P("a.b=0:1")], 10, 1)
    with pytest.raises(UsageError, match="LOW must be below HIGH"):
        P("a.b=2:1")
    with pytest.raises(UsageError, match="unknown design"):
        make_design("random", [P("a.b=0:1")], 10, 1)


def test_swept_paths_are_checked(fictional):
    for text, message in (("actors.arcadia.rationalty=1:5", "did you mean 'rationality'"),
                          ("actors.arcadia.name=1:2", "not a number"),
                          ("run.days=10:20", "run settings cannot be swept")):
        design = make_design("lhs", [P(text)], 4, 1)
        with pytest.raises(UsageError, match=message):
            run_sweep(fictional, design, reps=2, workers=1, progress=False)


def test_values_outside_the_schema_bounds_are_rejected_before_running(fictional):
    design = make_design("grid", [P("actors.arcadia.risk_attitude=-2,0")], 2, 1)
    with pytest.raises(ScenarioError, match="risk_attitude"):
        run_sweep(fictional, design, reps=2, workers=1, progress=False)


def test_structural_values_cannot_be_swept(baseline):
    design = make_design("grid", [P("timeline[0].days=1,3")], 2, 1)
    with pytest.raises(UsageError, match="structure"):
        run_sweep(baseline, design, reps=2, workers=1, progress=False)


def test_sweep_rows_do_not_depend_on_batching(fictional):
    params = [P("actors.arcadia.war_cost=0:0.1"), P("fighting.loss_rate=0.1:0.5")]
    design = make_design("lhs", params, 7, 3)
    a = run_sweep(fictional, design, reps=9, batch_size=63, workers=1, progress=False).columns
    b = run_sweep(fictional, design, reps=9, batch_size=5, workers=1, progress=False).columns
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key], equal_nan=a[key].dtype.kind == "f"), key
    assert a["run"].size == 63 and np.array_equal(np.unique(a["point"]), np.arange(7))


def test_a_point_reproduces_the_ensemble_with_its_values(fictional):
    """Point k's replication r is the ensemble run r of the scenario with k's values."""
    from sim.execution.ensemble import run_ensemble

    design = make_design("grid", [P("fighting.loss_rate=0.2,0.45")], 2, 1)
    sweep = run_sweep(fictional, design, reps=12, seed=4, workers=1, progress=False).columns
    plain = run_ensemble(load_scenario(FICTIONAL, ["fighting.loss_rate=0.45"]), runs=12, seed=4,
                         workers=1, progress=False).columns
    rows = sweep["point"] == 1
    for key in plain:
        if key == "run":
            continue
        assert np.array_equal(sweep[key][rows], plain[key], equal_nan=plain[key].dtype.kind == "f")


@pytest.mark.slow
def test_a_parameter_with_a_known_effect_shows_it(baseline):
    """Costlier war for Turkey brings agreement sooner (stylized fact 6), point by point.

    (Since model v2 the baseline's compromise lies inside both sides' bargaining range and
    about 95% of runs sign it either way: the day is what the cost of war moves.)
    """
    design = make_design("grid", [P("actors.turkey.war_cost=0.0,0.1")], 2, 1)
    cols = run_sweep(baseline, design, reps=300, workers=1, progress=False).columns
    first = np.where(np.isnan(cols["day.agreement"]), 120.0, cols["day.agreement"])
    low, high = first[cols["point"] == 0], first[cols["point"] == 1]
    mean, lo, hi = paired_effect(low, high)  # replication r of both points shares draws
    assert hi < 0, (mean, lo, hi)


@pytest.mark.slow
def test_an_unread_parameter_gets_sobol_indices_near_zero(baseline):
    design = make_design("sobol", [P("actors.turkey.war_cost=0:0.1"),
                                   P("actors.us.capabilities.exposure=0:2")], 16, 1)
    result = run_sweep(baseline, design, reps=20, workers=1, progress=False)
    # (war between Turkey and Syria: since opening fire is decided with intent the baseline
    # signs its agreement in every run of this small design, a constant with no indices)
    res = result.sensitivity["results"]["outcome.war_turkey_syria"]
    assert res["ST"][1] < 0.01 and abs(res["S1"][1]) < 0.01  # the US never fights here
    assert res["ST"][0] > 0.5


@pytest.mark.slow
def test_morris_screening_ranks_the_influential_parameter_first(baseline):
    """Morris screening gives the parameter the model reads a clear mu* and the unread one 0.

    Screened on the war between Turkey and Syria, as the Sobol test above: since model v3 the
    baseline signs an agreement in about 97% of runs whatever Turkey's war cost (mu* of
    outcome.agreement 0.0375 on this design), a ceiling that says nothing about the screening;
    that fact 6 does not rise over the horizon is its own strict xfail
    (tests/test_stylized_facts.py). Measured on 097a167: mu* 0.375 and 0.
    """
    design = make_design("morris", [P("actors.turkey.war_cost=0:0.1"),
                                    P("actors.us.capabilities.exposure=0:2")], 8, 1)
    result = run_sweep(baseline, design, reps=20, workers=1, progress=False)
    mu = result.sensitivity["results"]["outcome.war_turkey_syria"]["mu_star"]
    assert mu[0] > 0.1 and mu[1] == 0.0


@pytest.mark.slow
def test_compare_recovers_a_counterfactuals_direction(tmp_path):
    scenarios = [load_scenario(BASELINE), load_scenario(COUNTERFACTUALS / "gate_open.yaml")]
    result = compare(scenarios, runs=400, seed=3, workers=1, out_dir=tmp_path, progress=False)
    row = next(r for r in result.rows if r["outcome"] == "eu_support_granted"
               and r["scenario"] == "gate_open")
    assert row["difference_low"] > 0
    assert result.narrowing >= 1.0
    assert (tmp_path / "comparison.json").exists() and (tmp_path / "idlib_2020" /
                                                        "runs.parquet").exists()


def test_compare_on_disk_gives_the_in_memory_comparison_and_one_runs_table(tmp_path, fictional):
    other = load_scenario(FICTIONAL, ["fighting.loss_rate=0.45"])
    kwargs = {"runs": 30, "seed": 2, "workers": 1, "batch_size": 7, "progress": False}
    on_disk = compare([fictional, other], out_dir=tmp_path, **kwargs)
    in_memory = compare([fictional, other], **kwargs)
    assert on_disk.rows == in_memory.rows
    runs = read_runs(tmp_path / "runs.parquet")
    assert runs["scenario"].tolist() == [on_disk.names[0]] * 30 + [on_disk.names[1]] * 30
    assert runs["run"].tolist() == list(range(30)) * 2
    first = read_runs(tmp_path / on_disk.names[0] / "runs.parquet")
    assert all(np.array_equal(runs[k][:30], v, equal_nan=v.dtype.kind == "f")
               for k, v in first.items())
