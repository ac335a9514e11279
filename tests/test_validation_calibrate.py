"""Calibration: the vectorised ABC-SMC matches rejection ABC on a problem with a known answer,
recovers known values of the model (simulation-based check), and is reproducible, batch-
independent and resumable."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from sim.cli import main
from sim.errors import UsageError
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Prior
from sim.validation.abc_smc import ABCSMC, Settings, prior_logpdf
from sim.validation.calibrate import calibrate, read_posterior
from sim.validation.observations import load_observations
from tests.conftest import FICTIONAL, SCENARIOS

RANGE = "loss_rate: {value: 0.2, range: [0.02, 0.6]}"
# The instrument is tested on an informative problem: losses one at a time, nearly Poisson
# (the scenario default's heavy-tailed tolls make two loss totals of one run carry too little
# information about the loss rate for a narrow posterior: that is the data, not the method).
NEAR_POISSON = "event_size: 1.0\n  dispersion: 1000.0"


def _scenario(tmp_path):
    """The fictional scenario with an uncertain, near-Poisson loss rate and no deals: since model
    v2 its war usually ends in a deal within days, and how soon depends on the losses too, so
    two loss totals would say little about the rate. Without deals the war runs its course."""
    data = yaml.safe_load(FICTIONAL.read_text())
    assert "fighting" not in data
    data["fighting"] = yaml.safe_load(f"{RANGE}\n{NEAR_POISSON.replace(chr(10) + '  ', chr(10))}")
    data["deals"] = {}
    for actor in data["actors"].values():
        actor["actions"] = [a for a in actor["actions"] if a.get("verb") != "negotiate"]
    data["outcomes"] = {k: v for k, v in data["outcomes"].items() if "agreement" not in str(v)}
    # and fire opened day by day: with opening fire decided once per run (model v3), a run
    # whose leaders never open fire has no losses, and its totals say nothing about the rate
    data.setdefault("decisions", {})["opening_fire"] = False
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _synthetic(path, truth: float, replication: int) -> dict[str, float]:
    """Indicators of one run of the model at a known value (a replication never calibrated)."""
    from sim.model import CrisisModel
    from sim.outcomes import indicators

    loaded = load_scenario(path, [f"fighting.loss_rate={truth}"])
    model = CrisisModel(loaded, replications=np.array([replication]), seed=99,
                        record_paths=False)
    model.run()
    return {k: float(v[0]) for k, v in indicators(model).items()}


def _observations(tmp_path, values: dict[str, float], name="s.observations.yaml"):
    lines = ["scenario: s.yaml", "description: synthetic", "quantities:"]
    for column in ("losses.arcadia", "losses.borduria"):
        lines += [f"  - indicator: {column}", f"    value: {values[column]}",
                  "    source: \"a run of the model at a known value\""]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_calibration_recovers_known_values(tmp_path):
    """Simulation-based calibration, small: the truth is inside the 90% interval in most
    repeats, and the posterior is narrower than the prior (it learnt something)."""
    path = _scenario(tmp_path)
    inside, widths = 0, []
    truths = (0.1, 0.3, 0.45)
    for k, truth in enumerate(truths):
        obs_path = _observations(tmp_path, _synthetic(path, truth, 10**6 + k), f"o{k}.yaml")
        obs = load_observations(obs_path)
        d = calibrate(obs, out_dir=tmp_path / f"cal{k}", simulations=2000, population=150,
                      batch=500, generations=6, seed=k)
        q = d["posterior"]["fighting.loss_rate"]
        inside += q["q05"] <= truth <= q["q95"]
        widths.append(q["q95"] - q["q05"])
        assert d["simulations"] >= 2000 and d["effective_sample_size"] > 20
    assert inside >= 2
    assert np.median(widths) < 0.7 * (0.6 - 0.02) * 0.9


def test_posterior_runs_and_is_reproducible(tmp_path, capsys):
    path = _scenario(tmp_path)
    obs_path = _observations(tmp_path, _synthetic(path, 0.3, 10**6))
    out = tmp_path / "cal"
    assert main(["calibrate", str(path), str(obs_path), "--simulations", "1000",
                 "--population", "100", "--batch", "500", "--generations", "3",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fighting.loss_rate: median" in printed
    post = read_posterior(out / "posterior.json")
    assert post["samples"].shape[1] == 1 and post["samples"].shape[0] >= 100
    assert post["weights"].sum() == pytest.approx(1)
    assert (out / "calibration.png").stat().st_size > 1000
    # the folder is never overwritten
    assert main(["calibrate", str(path), str(obs_path), "--simulations", "100",
                 "--out", str(out)]) == 2
    run = tmp_path / "run"
    assert main(["run", str(path), "--posterior", str(out / "posterior.json"), "--runs", "30",
                 "--workers", "1", "--out", str(run), "--no-progress"]) == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["mode"] == "posterior"
    import pyarrow.parquet as pq

    drawn = pq.read_table(run / "runs.parquet").column("param.fighting.loss_rate").to_numpy()
    assert set(np.round(drawn, 12)) <= set(np.round(post["samples"][:, 0], 12))


def test_bad_posterior_files_are_refused(tmp_path):
    bad = tmp_path / "p.json"
    for text in ("not json", '{"parameters": ["a"], "samples": [[1, 2]], "weights": [1]}',
                 '{"parameters": ["a"], "samples": [[1]], "weights": [-1]}'):
        bad.write_text(text)
        with pytest.raises(UsageError):
            read_posterior(bad)


def test_a_scenario_without_uncertain_values_is_refused(tmp_path):
    shutil.copy(FICTIONAL, tmp_path / "s.yaml")
    obs = load_observations(_observations(tmp_path, {"losses.arcadia": 1.0,
                                                     "losses.borduria": 2.0}))
    with pytest.raises(UsageError, match="no uncertain values"):
        calibrate(obs, out_dir=tmp_path / "c", simulations=10)


# --------------------------------------------------------------------------- the algorithm alone


class _Noisy:
    """A stand-in simulator: x = theta + 0.1 z, distance |x - 0.3|; simulation i's noise
    depends only on i (as the model's replications do)."""

    def __init__(self):
        self.simulations, self.seconds = 0, 0.0

    def run(self, values, progress=None):
        z = np.array([np.random.default_rng([7, self.simulations + i]).standard_normal()
                      for i in range(len(values))])
        self.simulations += len(values)
        return np.abs(values[:, 0] + 0.1 * z - 0.3)


def _run_abc(prior: Prior, settings: Settings):
    abc = ABCSMC([prior], _Noisy(), settings)
    gens = [abc.first()]
    while abc.stop_after(gens[-1]) is None:
        gens.append(abc.next(gens[-1]))
    return gens[-1] if gens[-1].complete else gens[-2]


def test_abc_smc_matches_rejection_abc_on_a_known_answer():
    """With prior N(0, 0.1) and x ~ N(theta, 0.1) observed at 0.3, the ABC posterior at
    tolerance eps is prior(theta) * P(|theta + 0.1 z - 0.3| <= eps), computed here on a grid:
    the weighted population must match its mean and spread (the weights, prior over kernel
    mixture, are what pulls the particles back toward the prior), and be much narrower than
    the prior."""
    from scipy import stats

    prior = Prior(dist="normal", mean=0.0, sd=0.1)
    final = _run_abc(prior, Settings(population=1000, simulations=30_000, generations=8,
                                     min_epsilon=0.0, min_acceptance=0.005, seed=4))
    eps = final.epsilon
    assert eps < 0.1 and final.ess > 300
    grid = np.linspace(-0.6, 0.8, 20_001)
    density = stats.norm(0, 0.1).pdf(grid) * (stats.norm(grid, 0.1).cdf(0.3 + eps)
                                              - stats.norm(grid, 0.1).cdf(0.3 - eps))
    density /= density.sum()
    mean = float(density @ grid)
    sd = float(np.sqrt(density @ (grid - mean) ** 2))
    x, w = final.samples[:, 0], final.weights
    got_mean = float(w @ x)
    got_sd = float(np.sqrt(w @ (x - got_mean) ** 2))
    se = sd / np.sqrt(final.ess)
    assert abs(got_mean - mean) < 4 * se
    assert abs(got_sd - sd) < 0.1 * sd
    assert 0.13 < mean < 0.16 and got_sd < 0.8 * 0.1  # the exact posterior: N(0.15, 0.071)


def test_prior_densities_are_scipys_inside_the_support_and_zero_outside():
    from scipy import stats

    x = np.linspace(-1, 3, 41)
    cases = [(Prior(dist="uniform", low=0.0, high=2.0), stats.uniform(0, 2)),
             (Prior(dist="beta", a=2.0, b=3.0, low=0.0, high=2.0), stats.beta(2, 3, 0, 2)),
             (Prior(dist="triangular", low=0.0, mode=0.5, high=2.0),
              stats.triang(0.25, 0, 2)),
             (Prior(dist="normal", mean=1.0, sd=0.5, low=0.0), stats.norm(1, 0.5)),
             (Prior(dist="lognormal", median=1.0, sigma=0.5, high=2.0),
              stats.lognorm(0.5, scale=1.0))]
    for prior, dist in cases:
        got = prior_logpdf(prior, x)
        low, high = prior.support()
        inside = (x >= low) & (x <= high) & (dist.pdf(x) > 0)
        outside = (x < low) | (x > high)
        # up to a constant (truncation): differences of log densities agree
        diff = got[inside] - dist.logpdf(x[inside])
        assert np.allclose(diff, diff[0]), prior.dist
        assert np.all(np.isneginf(got[outside])), prior.dist


# --------------------------------------------------------------------------- the command


def _small(tmp_path):
    path = _scenario(tmp_path)
    return load_observations(_observations(tmp_path, _synthetic(path, 0.3, 10**6)))


SMALL = {"simulations": 3000, "population": 200, "generations": 5, "seed": 3}


def test_a_rerun_gives_the_identical_posterior_whatever_the_batches(tmp_path):
    obs = _small(tmp_path)
    calibrate(obs, out_dir=tmp_path / "a", batch=20_000, **SMALL)
    calibrate(obs, out_dir=tmp_path / "b", batch=97, **SMALL)
    a = json.loads((tmp_path / "a" / "posterior.json").read_text())
    b = json.loads((tmp_path / "b" / "posterior.json").read_text())
    assert a["samples"] == b["samples"] and a["weights"] == b["weights"]
    d = json.loads((tmp_path / "a" / "calibration.json").read_text())
    assert d["simulations"] == 3000 and len(d["generations"]) >= 3
    assert [g["t"] for g in d["generations"]] == list(range(len(d["generations"])))


def test_an_interrupted_calibration_resumes_to_the_same_posterior(tmp_path):
    """Ctrl-C in generation 2: generations 0 and 1 are on disk; the same call resumes after
    them and ends with the posterior of an uninterrupted run; other settings are refused."""
    obs = _small(tmp_path)
    calibrate(obs, out_dir=tmp_path / "whole", **SMALL)

    def interrupt(done, generation, eps):
        if generation == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        calibrate(obs, out_dir=tmp_path / "cut", batch=50, progress=interrupt, **SMALL)
    saved = sorted(p.name for p in (tmp_path / "cut" / "generations").iterdir())
    assert saved == ["000.json", "001.json"]
    assert not (tmp_path / "cut" / "posterior.json").exists()
    with pytest.raises(UsageError, match=r"other settings.*population"):
        calibrate(obs, out_dir=tmp_path / "cut", **{**SMALL, "population": 150})
    d = calibrate(obs, out_dir=tmp_path / "cut", **SMALL)
    assert d["resumed_after_generation"] == 1
    whole = json.loads((tmp_path / "whole" / "posterior.json").read_text())
    resumed = json.loads((tmp_path / "cut" / "posterior.json").read_text())
    assert whole["samples"] == resumed["samples"] and whole["weights"] == resumed["weights"]


def test_ctrl_c_in_the_command_says_how_to_resume(tmp_path, monkeypatch, capsys):
    from sim.validation import calibrate as module

    path = _scenario(tmp_path)
    obs_path = _observations(tmp_path, _synthetic(path, 0.3, 10**6))
    real, calls = module.BatchedSimulator._run, []

    def flaky(self, values):
        calls.append(len(values))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, values)

    monkeypatch.setattr(module.BatchedSimulator, "_run", flaky)
    args = ["calibrate", str(path), str(obs_path), "--simulations", "2000", "--population",
            "100", "--batch", "100", "--out", str(tmp_path / "c"), "--no-progress"]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "resume with the same command" in err
    assert (tmp_path / "c" / "generations" / "000.json").exists()
    monkeypatch.setattr(module.BatchedSimulator, "_run", real)
    assert main(args) == 0
    assert (tmp_path / "c" / "posterior.json").exists()


def test_the_calibration_example_runs_with_its_cutoff(tmp_path):
    """The shipped example: its scenario has dated events after the cutoff, which the
    truncated run leaves out (they would never act in it)."""
    folder = SCENARIOS / "calibration"
    obs = load_observations(folder / "idlib_2020_early.observations.yaml")
    d = calibrate(obs, out_dir=tmp_path / "c", simulations=600, population=100,
                  generations=3, seed=1)
    assert d["simulated_days"] == 22 and d["simulations"] == 600  # 31 Jan to 21 Feb
    assert d["fitted"]["quantities"] == ["losses.turkey"]


def test_every_calibration_variant_loads_with_a_time_split():
    """scenarios/calibration/: each variant has uncertain values and an observations file
    with a cutoff, with something to fit before it and something held out after it."""
    from sim.validation.calibrate import build_target

    folder = SCENARIOS / "calibration"
    files = sorted(folder.glob("*.observations.yaml"))
    assert len(files) >= 3
    for path in files:
        obs = load_observations(path)
        assert obs.scenario.uncertain and obs.spec.cutoff is not None, path.name
        target = build_target(obs)
        assert target.events or target.quantities
        assert target.scenario.spec.run.days < obs.days
