"""Calibration: ABC-SMC in lockstep batches recovers known values (simulation-based check)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sim.cli import main
from sim.errors import UsageError
from sim.scenario.loader import load_scenario
from sim.validation.calibrate import calibrate, read_posterior
from sim.validation.observations import load_observations
from tests.conftest import FICTIONAL

RANGE = "loss_rate: {value: 0.2, range: [0.02, 0.6]}"
# The instrument is tested on an informative problem: losses one at a time, nearly Poisson
# (the scenario default's heavy-tailed tolls make two loss totals of one run carry too little
# information about the loss rate for a narrow posterior: that is the data, not the method).
NEAR_POISSON = "event_size: 1.0\n  dispersion: 1000.0"


def _scenario(tmp_path):
    text = FICTIONAL.read_text()
    assert "\nfighting:" not in text
    text += f"\nfighting:\n  {RANGE}\n  {NEAR_POISSON}\n"
    path = tmp_path / "s.yaml"
    path.write_text(text)
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
    assert post["samples"].shape == (100, 1) and post["weights"].sum() == pytest.approx(1)
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
