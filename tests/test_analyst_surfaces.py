"""What an analyst sees (issue 26): the EMA Workbench's shape, per-run daily series, a sweep's
progress and resumed rate, a calibration's bar and its warning of a prior too narrow.

Small ensembles of the fictional three-state scenario, in this process (workers=1) except
where the worker count is what is tested.
"""

from __future__ import annotations

import itertools
import json
from concurrent.futures import Executor, Future

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

import sim.api as sa
from sim.cli import main
from sim.design import make_design, parse_parameter
from sim.errors import RunInterruptedError, UsageError
from sim.execution.budget import check_daily_size, select_daily
from sim.execution.ensemble import run_ensemble
from sim.execution.sweep import RAMP_DIVISOR, run_sweep, sweep_batches
from sim.model import series_names
from sim.scenario.schema import Prior
from sim.validation.calibrate import piled_against_bounds
from sim.world import compile_scenario

from .conftest import FICTIONAL

PARAMS = ["actors.arcadia.war_cost=0:0.1", "fighting.loss_rate=0.1:0.5"]


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """An LHS sweep of 16 points x 6 replications, saved (the EMA tests read it)."""
    out = tmp_path_factory.mktemp("sweep") / "sw"
    loaded = sa.load(FICTIONAL)
    return sa.sweep(loaded, PARAMS, design="lhs", points=16, reps=6, seed=5, workers=1,
                    out=out, progress=False)


@pytest.fixture(scope="module")
def daily_run(tmp_path_factory):
    """A saved run of 30 runs keeping two kinds of daily series (batches of 7)."""
    out = tmp_path_factory.mktemp("run") / "run"
    ens = sa.run(FICTIONAL, runs=30, seed=3, batch_size=7, workers=1, out=out,
                 progress=False, daily="rung.*,losses.arcadia")
    return ens


# ----------------------------------------------------------------------------- EMA Workbench


def test_to_ema_of_a_sweep_is_perform_experiments_shape_and_feeds_prim(small_sweep):
    pytest.importorskip("ema_workbench")
    from ema_workbench.analysis import feature_scoring, prim

    experiments, outcomes = sa.to_ema(small_sweep)
    runs = small_sweep.runs
    assert list(experiments.columns) == ["actors_arcadia_war_cost", "fighting_loss_rate",
                                         "scenario", "policy", "model"]
    assert len(experiments) == len(runs) == 96
    for name in ("scenario", "policy", "model"):
        assert isinstance(experiments[name].dtype, pd.CategoricalDtype)
    # replications of a design point share its scenario (its draw of the inputs)
    assert np.array_equal(experiments["scenario"].astype(int), runs["point"])
    assert set(experiments["policy"]) == {"None"} and set(experiments["model"]) == \
        {"three_states"}
    assert np.array_equal(experiments["fighting_loss_rate"], runs["param.fighting.loss_rate"])
    # every outcome flag and indicator, one value per experiment; no bookkeeping columns
    assert outcomes["outcome_war"].dtype == bool
    assert all(v.shape == (96,) for v in outcomes.values())
    assert not {"run", "point", "rep"} & outcomes.keys()
    assert not any(k.startswith("param") for k in outcomes)
    assert all(k.isidentifier() for k in [*outcomes, *experiments.columns])  # EMA 3's names
    assert experiments.attrs["sim_names"]["rung_arcadia_borduria_final"] == \
        "rung.arcadia~borduria.final"
    assert np.array_equal(outcomes["losses_arcadia"], runs["losses.arcadia"])
    # the Workbench's own analyses take them as they are
    x = experiments.drop(columns=["scenario", "policy", "model"])
    y = outcomes["losses_arcadia"] > np.median(outcomes["losses_arcadia"])
    box = prim.Prim(x, y.astype(int), mass_min=0.05).find_box()
    assert box.coverage > 0 and 0 < box.density <= 1
    scores = feature_scoring.get_feature_scores_all(
        experiments, {k: outcomes[k] for k in ("losses_arcadia", "losses_borduria")})
    assert set(scores.index) == {"actors_arcadia_war_cost", "fighting_loss_rate"}
    assert np.allclose(scores.sum(), 1.0)  # extra-trees importances, per outcome


def test_to_ema_of_a_folder_equals_that_of_the_result(small_sweep):
    a_exp, a_out = sa.to_ema(small_sweep)
    b_exp, b_out = sa.to_ema(small_sweep.out_dir)
    pd.testing.assert_frame_equal(a_exp, b_exp)
    assert a_out.keys() == b_out.keys()
    for k in a_out:
        assert np.array_equal(a_out[k], b_out[k], equal_nan=a_out[k].dtype.kind == "f"), k


def test_to_ema_of_a_run_gives_daily_series_as_runs_by_days(daily_run):
    experiments, outcomes = sa.to_ema(daily_run)
    assert list(experiments.columns) == ["scenario", "policy", "model"]
    assert np.array_equal(experiments["scenario"].astype(int), np.arange(30))
    rung = outcomes["daily_rung_arcadia_borduria"]
    days = compile_scenario(sa.load(FICTIONAL).spec).layout.days
    assert rung.shape == (30, days + 1)
    # the last day's rung is the indicator of the final rung, run by run
    assert np.array_equal(rung[:, -1], daily_run.runs["rung.arcadia~borduria.final"])
    assert "daily_losses_arcadia" in outcomes and "daily_losses_borduria" not in outcomes
    _, without = sa.to_ema(daily_run, daily=False)
    assert not any(k.startswith("daily_") for k in without)


def test_write_ema_is_what_ema_load_results_reads(daily_run, tmp_path, capsys):
    pytest.importorskip("ema_workbench")
    from ema_workbench import load_results

    experiments, outcomes = sa.to_ema(daily_run)
    archive = tmp_path / "run.tar.gz"
    assert main(["export", str(daily_run.out_dir), "--ema", str(archive)]) == 0
    assert "load_results" in capsys.readouterr().out
    got_exp, got_out = load_results(str(archive))
    # (EMA's own archive reads its policy "None" back as missing: pandas' CSV reader)
    assert list(got_exp.columns) == list(experiments.columns)
    for name in ("scenario", "model"):
        assert isinstance(got_exp[name].dtype, pd.CategoricalDtype)
        assert got_exp[name].astype(str).tolist() == experiments[name].astype(str).tolist()
    assert got_out.keys() == outcomes.keys()
    for k, v in outcomes.items():
        assert got_out[k].shape == v.shape, k
        assert np.allclose(got_out[k].astype(float), v.astype(float), equal_nan=True), k
    # never overwritten: the second export is refused and the file stays as it was
    before = archive.read_bytes()
    assert main(["export", str(daily_run.out_dir), "--ema", str(archive)]) == 2
    assert "never overwrites" in capsys.readouterr().err
    assert archive.read_bytes() == before
    with pytest.raises(UsageError, match="never overwrites"):
        sa.write_ema(daily_run, archive)


def test_to_ema_of_an_uncertain_run_lists_each_runs_draws(tmp_path):
    from sim.execution.variation import uncertain_set

    data = yaml.safe_load(FICTIONAL.read_text())
    data["fighting"] = {"loss_rate": {"value": 0.2, "range": [0.05, 0.4],
                                      "assumption": "test"}}
    path = tmp_path / "u.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    loaded = sa.load(path)
    ens = sa.run(loaded, runs=12, seed=4, workers=1, progress=False,
                 varied=uncertain_set(loaded, 4, 12))
    experiments, outcomes = sa.to_ema(ens)
    drawn = experiments["fighting_loss_rate"].to_numpy()
    assert np.array_equal(drawn, ens.runs["param.fighting.loss_rate"])
    assert np.unique(drawn).size == 12 and ((drawn >= 0.05) & (drawn <= 0.4)).all()
    assert not any(k.startswith("param") for k in outcomes)


def test_to_ema_of_a_comparison_makes_each_scenario_a_policy(tmp_path):
    base = sa.load(FICTIONAL)
    other = sa.load(FICTIONAL, {"fighting.loss_rate": 0.4})
    versus = sa.compare([base, other], runs=10, seed=2, workers=1, out=tmp_path / "cmp",
                        progress=False)
    experiments, outcomes = sa.to_ema(versus)
    assert len(experiments) == 20 and list(experiments.columns) == ["scenario", "policy",
                                                                    "model"]
    # run k of each scenario shares its random numbers: the same EMA scenario, two policies
    assert experiments["scenario"].astype(int).tolist() == list(range(10)) * 2
    assert list(experiments["policy"].cat.categories) == ["three_states", "three_states-2"]
    assert experiments["policy"].astype(str).tolist() == ["three_states"] * 10 + [
        "three_states-2"] * 10
    assert set(experiments["model"]) == {"three_states"}
    runs = sa.open_results(tmp_path / "cmp").runs
    assert np.array_equal(outcomes["losses_arcadia"], runs["losses.arcadia"])
    with pytest.raises(UsageError, match="out=FOLDER"):
        sa.to_ema(sa.Versus(result=versus.result, out_dir=None, runs_per_scenario=10, seed=2))


def test_to_ema_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(UsageError, match="to_ema takes"):
        sa.to_ema(42)
    with pytest.raises(UsageError, match="holds no results"):
        sa.to_ema(tmp_path)


# ----------------------------------------------------------------------------- daily series


def test_daily_series_do_not_depend_on_workers_or_batches(daily_run, tmp_path):
    loaded = sa.load(FICTIONAL)
    other = run_ensemble(loaded, runs=30, seed=3, batch_size=16, workers=2,
                         out_dir=tmp_path / "w2", progress=False,
                         daily=["rung.*", "losses.arcadia"])
    a = pq.read_table(daily_run.out_dir / "daily.parquet")
    b = pq.read_table(tmp_path / "w2" / "daily.parquet")
    assert a.equals(b)
    # in memory: the same table, and exactly the model's daily trajectory of those series
    memory = run_ensemble(loaded, runs=30, seed=3, batch_size=30, workers=1, progress=False,
                          daily=["rung.*", "losses.arcadia"])
    assert memory.daily.equals(a) and other.daily.equals(a)
    names = memory.series
    chosen = memory.daily_series
    assert chosen == [n for n in names if n.startswith("rung.")] + ["losses.arcadia"]
    index = [names.index(n) for n in chosen]
    expect = np.transpose(memory.trajectory[:, :, index], (1, 0, 2)).reshape(-1, len(index))
    got = np.column_stack([a.column(n).to_numpy() for n in chosen])
    assert np.array_equal(got, expect)
    assert a.column("run").to_pylist()[:3] == [0, 0, 0] and a.column("day").to_pylist()[:3] \
        == [0, 1, 2]


def test_default_runs_keep_no_daily_series_and_are_unchanged(daily_run, tmp_path):
    loaded = sa.load(FICTIONAL)
    plain = sa.run(loaded, runs=30, seed=3, batch_size=7, workers=1, out=tmp_path / "p",
                   progress=False)
    assert plain.daily is None and not (tmp_path / "p" / "daily.parquet").exists()
    assert pq.read_table(tmp_path / "p" / "runs.parquet").equals(
        pq.read_table(daily_run.out_dir / "runs.parquet"))
    assert "daily" not in json.loads((tmp_path / "p" / ".identity.json").read_text())
    assert "daily" not in plain.manifest
    assert daily_run.manifest["daily"] == ["rung.arcadia~borduria", "rung.arcadia~corvalia",
                                           "rung.borduria~corvalia", "losses.arcadia"]
    # the same folder run again with --daily gains the table; and without, loses it
    again = sa.run(loaded, runs=30, seed=3, batch_size=7, workers=1, out=tmp_path / "p",
                   progress=False, daily="losses.*")
    assert list(again.daily.columns)[3:] == ["losses.arcadia", "losses.borduria",
                                             "losses.corvalia"]
    sa.run(loaded, runs=30, seed=3, batch_size=7, workers=1, out=tmp_path / "p",
           progress=False)
    assert not (tmp_path / "p" / "daily.parquet").exists()
    assert sa.open_results(tmp_path / "p").daily is None
    assert sa.open_results(daily_run.out_dir).daily.shape[0] == len(
        pq.read_table(daily_run.out_dir / "daily.parquet"))


def test_daily_series_are_chosen_by_name_or_pattern_and_refused_when_too_big(monkeypatch):
    layout = compile_scenario(sa.load(FICTIONAL).spec).layout
    names = series_names(layout)
    assert select_daily(names, "losses.arcadia, rung.arcadia~*") == [
        "rung.arcadia~borduria", "rung.arcadia~corvalia", "losses.arcadia"]
    with pytest.raises(UsageError, match=r"--daily 'loss\.\*' matches no daily series.*"
                                         r"losses\.\*"):
        select_daily(names, ["loss.*"])
    with pytest.raises(UsageError, match="names no series"):
        select_daily(names, " , ")
    # 1000 runs x 61 days x 2 series = 8 x 1000 x 61 x 5 = 2.44 MB: refused under a 1 MB
    # budget, with the most runs that fit (1e6 // (8 x 61 x 5) = 409)
    with pytest.raises(UsageError, match=r"1000 runs x 61 days x 2 series.*--runs 409 or "
                                         r"fewer"):
        check_daily_size(1000, 61, 2, 1_000_000)
    check_daily_size(409, 61, 2, 1_000_000)
    import sim.execution.storage as storage

    monkeypatch.setattr(storage, "_table_budget", lambda: 10_000)
    with pytest.raises(UsageError, match="choose fewer series"):
        run_ensemble(sa.load(FICTIONAL), runs=100, workers=1, progress=False,
                     daily="rung.*")


def test_sim_run_daily_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["run", str(FICTIONAL), "--runs", "8", "--workers", "1", "--out", str(out),
                 "--no-progress", "--daily", "rung.*"]) == 0
    assert "daily.parquet (3 series per run and day)" in capsys.readouterr().out
    table = pq.read_table(out / "daily.parquet")
    assert table.column_names[:3] == ["run", "day", "date"] and table.num_rows % 8 == 0
    assert main(["run", str(FICTIONAL), "--runs", "8", "--workers", "1", "--out",
                 str(tmp_path / "bad"), "--no-progress", "--daily", "nothing.*"]) == 2
    assert "matches no daily series" in capsys.readouterr().err


# ----------------------------------------------------------------------------- sweeps


def test_a_sweeps_first_batches_are_small_and_cover_every_run_once():
    plan = sweep_batches(2000, 500)
    assert plan[:2] == [(0, 63), (63, 126)] and -(-500 // RAMP_DIVISOR) == 63
    assert plan[2] == (126, 626) and plan[-1][1] == 2000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(plan))
    assert sweep_batches(100, 500) == [(0, 100)]  # one batch stays one


class _StopAfter(Executor):
    """Runs batches in this process, then is interrupted (Ctrl-C) at the n+1-th submit."""

    def __init__(self, n: int) -> None:
        self.n = n

    def submit(self, fn, /, *args, **kwargs):
        if self.n == 0:
            raise KeyboardInterrupt
        self.n -= 1
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_a_resumed_sweep_counts_only_the_runs_it_ran(tmp_path, capsys):
    loaded = sa.load(FICTIONAL)
    design, reps, seed = sa.make_sweep_design(loaded, PARAMS, design="lhs", points=10,
                                              reps=4, seed=2)
    out = tmp_path / "sw"
    batch = 8
    with pytest.raises(RunInterruptedError):
        run_sweep(loaded, design, reps=reps, seed=seed, batch_size=batch, out_dir=out,
                  executor=_StopAfter(4), workers=1, progress=False)
    saved = sum(b - a for a, b in sweep_batches(40, batch)[:4])
    assert saved == 1 + 1 + 8 + 8
    assert main(["sweep", str(FICTIONAL), "--points", "10", "--reps", "4", "--seed", "2",
                 "--param", PARAMS[0], "--param", PARAMS[1], "--batch-size", str(batch),
                 "--workers", "1", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"{saved} runs of 4 batches resumed from an earlier sweep and not counted" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_batches"] == 4 and manifest["resumed_runs"] == saved
    # the runs it simulated over its wall time, both as the manifest rounds them (the wall to
    # a millisecond, the rate to a tenth): the rate lies within what the wall's rounding allows
    wall, ran = manifest["wall_seconds"], 40 - saved
    assert ran / (wall + 0.0005) - 0.05 <= manifest["runs_per_second"] <= \
        ran / max(wall - 0.0005, 1e-9) + 0.05
    whole = run_sweep(loaded, design, reps=reps, seed=seed, batch_size=40, workers=1,
                      progress=False).columns
    resumed = pq.read_table(out / "sweep.parquet").to_pydict()
    for key in whole:
        assert np.array_equal(np.asarray(resumed[key], float), np.asarray(whole[key], float),
                              equal_nan=True), key


def test_a_sweep_says_it_is_checking_its_points(monkeypatch):
    """The points are validated before the runs' bar: a bar counts them (no silent wait)."""
    import tqdm.auto

    seen = []

    class Recording(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False
            super().__init__(*args, **kwargs)
            seen.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    loaded = sa.load(FICTIONAL)
    design = make_design("lhs", [parse_parameter(p) for p in PARAMS], 5, 1)
    run_sweep(loaded, design, reps=2, workers=1, progress=True)
    checking = [b for b in seen if b.desc == "checking points"]
    assert len(checking) == 1 and checking[0].total == 5 and checking[0].n == 5


# ----------------------------------------------------------------------------- calibration


def test_a_posterior_piled_against_a_bound_is_named():
    rng = np.random.default_rng(1)
    uniform = Prior(dist="uniform", low=0.0, high=1.0)
    lognormal = Prior(dist="lognormal", median=1.0, sigma=0.5)
    cut = Prior(dist="normal", mean=0.0, sd=1.0, low=-1.0)
    n = 2000
    samples = np.column_stack([
        rng.uniform(0.9, 1.0, n),           # piled at the upper bound of [0, 1]
        rng.uniform(0.01, 0.2, n),          # near 0 under a lognormal: no declared bound
        rng.uniform(-1.0, -0.9, n),         # piled at the normal's low cut
    ])
    weights = np.ones(n)
    found = piled_against_bounds(["a", "b", "c"], [uniform, lognormal, cut], samples, weights)
    assert [(f["parameter"], f["bound"]) for f in found] == [("a", "upper"), ("c", "lower")]
    assert found[0]["share"] == pytest.approx(1.0 * (samples[:, 0] >= 0.95).mean())
    assert found[0]["message"].endswith("the prior may be too narrow")
    assert "bound 1 " in found[0]["message"]
    # a posterior inside its prior is not named, nor one with little weight at the edge
    spread = np.column_stack([rng.uniform(0.2, 0.8, n), rng.uniform(0.5, 2, n),
                              rng.normal(0, 0.5, n)])
    assert piled_against_bounds(["a", "b", "c"], [uniform, lognormal, cut], spread,
                                weights) == []
    edge = rng.uniform(0, 1, n)  # 5% at each edge, as the prior
    assert piled_against_bounds(["a"], [uniform], edge[:, None], weights) == []


def test_sim_calibrate_shows_a_bar_and_warns_of_a_prior_too_narrow(tmp_path, capsys,
                                                                   monkeypatch):
    from tests.test_validation_calibrate import _observations, _scenario, _synthetic

    path = _scenario(tmp_path)
    obs_path = _observations(tmp_path, _synthetic(path, 0.45, 10**6))
    data = yaml.safe_load(path.read_text())
    data["fighting"]["loss_rate"]["range"] = [0.02, 0.1]  # the truth, 0.45, lies above it
    data["fighting"]["loss_rate"]["value"] = 0.05
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    import tqdm.auto

    bars = []

    class Recording(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False  # (off the terminal tqdm counts nothing)
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    assert main(["calibrate", str(path), str(obs_path), "--simulations", "1500",
                 "--population", "100", "--batch", "300", "--generations", "4",
                 "--out", str(tmp_path / "cal")]) == 0
    printed = capsys.readouterr().out
    assert ("warning: the posterior of fighting.loss_rate is piled against its prior's upper "
            "bound 0.1") in printed and "the prior may be too narrow" in printed
    d = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert d["piled_against_bounds"][0]["bound"] == "upper"
    assert d["piled_against_bounds"][0]["share"] >= 0.15
    assert len(bars) == 1 and bars[0].total == 1500 and bars[0].unit == "sim"
    assert bars[0].n == min(d["simulations"], 1500)
    assert f"generation {len(d['generations']) - 1}, tolerance" in str(bars[0].postfix)


def test_the_pooled_fit_prints_the_same_warning():
    from sim.validation.pooled import format_pooled

    samples = np.random.default_rng(2).uniform(1.8, 2.0, (500, 1))
    prior = Prior(dist="lognormal", median=1.0, sigma=0.3, low=0.5, high=2.0)
    piled = piled_against_bounds(["loss_scale"], [prior], samples, np.ones(500))
    assert [p["bound"] for p in piled] == ["upper"]
    d = {"crises": ["a", "b"], "held_out": None, "simulations": 10, "particles": 5,
         "wall_seconds": 1.0, "executor": "local", "runs_per_second": 10.0,
         "generations": [{}], "stopped": "budget", "final_epsilon": 0.5,
         "effective_sample_size": 4.0,
         "posterior": {"loss_scale": {"median": 1.9, "q05": 1.81, "q95": 1.99}},
         "priors": {"loss_scale": prior.model_dump(exclude_none=True)},
         "piled_against_bounds": piled}
    last = format_pooled(d).splitlines()[-1]
    assert last.startswith("warning: the posterior of loss_scale is piled against its "
                           "prior's upper bound 2 ") and last.endswith("may be too narrow")
    assert "warning" not in format_pooled({**d, "piled_against_bounds": []})
