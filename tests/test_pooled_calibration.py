"""Pooled calibration of the library's generic constants (``sim calibrate --library``).

The pooled distance is what its definition says; a leave-one-crisis-out fit never sees the
held-out crisis (a planted signal in it moves the full fit but not its fold, which equals the
fit of a library that never had it); an interrupted fit resumes to the same posterior; the
command writes a posterior that the library's scenarios then run with by default, and
``--no-pooled`` turns it off. A tiny library of three copies of the fictional scenario keeps
each fit to seconds.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from sim.cli import main
from sim.errors import UsageError
from sim.validation.calibrate import Target
from sim.validation.pooled import (
    crisis_distance,
    crisis_seed,
    fit_library,
    pooled_distance,
    read_pooled_posterior,
)
from tests.conftest import FICTIONAL

PRIORS = """constants:
  loss_scale:
    scales: [fighting.loss_rate]
    prior: {dist: lognormal, median: 1.0, sigma: 1.0, low: 0.1, high: 10.0}
    reason: a test prior
  rationality_scale:
    scales: ["actors.*.rationality"]
    prior: {dist: lognormal, median: 1.0, sigma: 0.5, low: 0.3333, high: 3.0}
    reason: a test prior
"""
SMALL = {"simulations": 3 * 400, "population": 60, "batch": 150, "generations": 4, "seed": 3,
         "workers": 1}


def _scenario_data() -> dict:
    """The fictional scenario with near-Poisson losses and no deals (as test_validation_calibrate:
    the war runs its course, so the loss totals carry the loss rate)."""
    data = yaml.safe_load(FICTIONAL.read_text())
    data["fighting"] = {"loss_rate": 0.2, "event_size": 1.0, "dispersion": 1000.0}
    data["deals"] = {}
    for actor in data["actors"].values():
        actor["actions"] = [a for a in actor["actions"] if a.get("verb") != "negotiate"]
    data["outcomes"] = {k: v for k, v in data["outcomes"].items() if "agreement" not in str(v)}
    data["run"]["days"] = 30
    return data


def _library(folder, losses: dict[str, float]):
    """A library of one crisis per entry of ``losses`` (Arcadia's observed loss total)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pooled_priors.yml").write_text(PRIORS)
    for name, loss in losses.items():
        data = _scenario_data()
        data["name"] = f"crisis {name}"
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        (folder / f"{name}.observations.yaml").write_text(
            f"scenario: {name}.yaml\ndescription: synthetic\nevents:\n  - outcome: war\n"
            "    happened: true\n    source: \"planted\"\nquantities:\n"
            f"  - indicator: losses.arcadia\n    value: {loss}\n    source: \"planted\"\n")
    return folder


def _posterior(out) -> dict:
    return json.loads((out / "posterior.json").read_text())


def test_the_pooled_distance_is_the_mean_of_each_crisis_mean_term():
    """Crisis A: two events and a quantity; crisis B: one quantity. By hand."""
    a = Target(None, [("e1", 1.0), ("e2", 0.0)], [("q", 10.0, 20.0, 15.0)])
    b = Target(None, [], [("r", 100.0, 100.0, 100.0)])
    cols_a = {"e1": np.array([3.0, np.nan, 1.0]), "e2": np.array([np.nan, 5.0, 2.0]),
              "q": np.array([15.0, 50.0, np.nan])}
    cols_b = {"r": np.array([100.0, 130.0, 1e9])}
    # run 0: events right, quantity inside: 0; run 1: both events wrong, quantity 30 over a
    # scale of 15 (cut at 1): 3/3; run 2: e2 wrong, quantity missing (1): 2/3
    da = crisis_distance(a, cols_a)
    assert da == pytest.approx([0.0, 1.0, 2 / 3])
    # run 1: 30 over 100: 0.3; run 2: cut at 1
    db = crisis_distance(b, cols_b)
    assert db == pytest.approx([0.0, 0.3, 1.0])
    assert pooled_distance(np.array([da, db])) == pytest.approx([0.0, 0.65, (2 / 3 + 1) / 2])


def test_a_multiplier_scales_every_path_of_its_constant_and_keeps_the_crisis_draws(tmp_path):
    """Rationality of every actor times its multiplier (Arcadia's own prior draw times it), a
    rate cut at the schema's bound of 1; the crisis's own draws are those of a run without the
    pooled posterior (paired)."""
    from sim.execution.variation import pooled_set, uncertain_set
    from sim.scenario.loader import load_scenario

    text = FICTIONAL.read_text().replace(
        'rationality: {value: 8.0, assumption: "invented"}',
        'rationality: {value: 8.0, range: [4, 12], assumption: "invented"}', 1)
    path = tmp_path / "v.yaml"
    path.write_text(text)
    loaded = load_scenario(path)
    base = uncertain_set(loaded, 5, 50)
    post = {"constants": [("rationality_scale", ("actors.*.rationality",)),
                          ("rate_up_scale", ("ladder.rate_up",))],
            "samples": np.array([[0.5, 10.0], [2.0, 1.0]]), "weights": np.array([0.5, 0.5]),
            "describe": {"file": "p.json"}}
    varied = pooled_set(loaded, 5, 50, post, base)
    column = dict(zip(varied.paths, varied.values.T, strict=True))
    own = base.values[:, base.paths.index("actors.arcadia.rationality")]
    scale = column["actors.borduria.rationality"] / 8.0
    assert set(np.round(scale, 12)) == {0.5, 2.0}
    assert np.allclose(column["actors.arcadia.rationality"], own * scale)
    up = column["ladder.rate_up"]
    point = loaded.spec.ladder.rate_up
    assert np.allclose(up, np.where(scale == 0.5, min(10 * point, 1.0), point))
    assert up.max() <= 1.0 and varied.pooled == {"file": "p.json"}


def test_a_crisis_seed_depends_on_its_name_not_its_place():
    assert crisis_seed(3, "a") == crisis_seed(3, "a")
    assert len({crisis_seed(3, "a"), crisis_seed(3, "b"), crisis_seed(4, "a")}) == 3


def test_a_planted_signal_in_the_held_out_crisis_does_not_leak_into_its_fit(tmp_path):
    """Crisis c's observations say Arcadia lost 40 times what a and b say. Fitted with c, that
    moves the posterior (the same library with c observing what a does gives another one);
    c's leave-one-out fit is exactly the fit of a library that never had c."""
    losses = {"a": 20.0, "b": 24.0}
    planted = _library(tmp_path / "planted", {**losses, "c": 800.0})
    plain = _library(tmp_path / "plain", {**losses, "c": 20.0})
    without = _library(tmp_path / "without", losses)
    two = {**SMALL, "simulations": 2 * 400}
    fit_library(planted, out_dir=tmp_path / "fold", leave_out="c", **two)
    fit_library(without, out_dir=tmp_path / "ab", **two)
    fold, ab = _posterior(tmp_path / "fold"), _posterior(tmp_path / "ab")
    assert fold["samples"] == ab["samples"] and fold["weights"] == ab["weights"]
    assert [c["crisis"] for c in fold["crises"]] == ["a", "b"] and fold["held_out"] == "c"
    fit_library(planted, out_dir=tmp_path / "with", **SMALL)
    fit_library(plain, out_dir=tmp_path / "with_plain", **SMALL)
    assert _posterior(tmp_path / "with")["samples"] != _posterior(tmp_path / "with_plain")[
        "samples"]  # included, c's observations do reach the fit


def test_an_interrupted_pooled_fit_resumes_to_the_same_posterior(tmp_path):
    folder = _library(tmp_path / "lib", {"a": 20.0, "b": 24.0, "c": 30.0})
    fit_library(folder, out_dir=tmp_path / "whole", **SMALL)

    def interrupt(done, generation, eps):
        if generation == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_library(folder, out_dir=tmp_path / "cut", progress=interrupt,
                    **{**SMALL, "batch": 40})
    assert sorted(p.name for p in (tmp_path / "cut" / "generations").iterdir()) == [
        "000.json"]
    with pytest.raises(UsageError, match="other settings"):
        fit_library(folder, out_dir=tmp_path / "cut", **{**SMALL, "population": 50})
    d = fit_library(folder, out_dir=tmp_path / "cut", **SMALL)
    assert d["resumed_after_generation"] == 0 and len(d["generations"]) >= 3
    whole, cut = _posterior(tmp_path / "whole"), _posterior(tmp_path / "cut")
    assert whole["samples"] == cut["samples"] and whole["weights"] == cut["weights"]
    with pytest.raises(UsageError, match="already holds a posterior"):
        fit_library(folder, out_dir=tmp_path / "cut", **SMALL)


def test_the_command_writes_a_posterior_the_library_runs_with_by_default(tmp_path, capsys):
    folder = _library(tmp_path / "lib", {"a": 20.0, "b": 24.0})
    out = tmp_path / "cal"
    assert main(["calibrate", "--library", str(folder), "--simulations", "600",
                 "--population", "100", "--generations", "2", "--workers", "1",
                 "--out", str(out), "--write-posterior", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "pooled calibration of 2 crises" in printed and "loss_scale: median" in printed
    post = read_pooled_posterior(folder / "pooled_posterior.json")
    assert post["samples"].shape[1] == 2 and post["weights"].sum() == pytest.approx(1)
    runs = {}
    for flag in ([], ["--no-pooled"]):
        run = tmp_path / f"run{len(flag)}"
        assert main(["run", str(folder / "a.yaml"), "--runs", "20", "--workers", "1",
                     "--out", str(run), "--no-progress", *flag]) == 0
        runs[len(flag)] = (json.loads((run / "manifest.json").read_text()), capsys.readouterr())
    manifest, said = runs[0]
    assert manifest["pooled_posterior"]["constants"] == ["loss_scale", "rationality_scale"]
    assert manifest["pooled_posterior"]["in_sample"] is True
    assert "pooled constants:" in said.out.splitlines()[0]
    assert runs[1][0]["pooled_posterior"] is None
    import pyarrow.parquet as pq

    drawn = pq.read_table(tmp_path / "run0" / "runs.parquet").column(
        "param.fighting.loss_rate").to_numpy()
    assert set(np.round(drawn, 9)) <= set(np.round(0.2 * post["samples"][:, 0], 9))
    # a file of the user's at the library's name is never replaced
    (folder / "pooled_posterior.json").write_text("{}")
    assert main(["calibrate", "--library", str(folder), "--simulations", "600",
                 "--population", "100", "--generations", "2", "--workers", "1",
                 "--out", str(tmp_path / "cal2"), "--write-posterior", "--no-progress"]) == 2
    assert (folder / "pooled_posterior.json").read_text() == "{}"


def test_library_and_single_scenario_arguments_are_not_mixed(tmp_path, capsys):
    folder = _library(tmp_path / "lib", {"a": 20.0})
    assert main(["calibrate", str(folder / "a.yaml"), "--library", str(folder)]) == 2
    assert main(["calibrate", str(folder / "a.yaml"), str(folder / "a.observations.yaml"),
                 "--cv"]) == 2
    assert main(["calibrate"]) == 2
    err = capsys.readouterr().err
    assert "--library fits every crisis" in err and "--cv goes with --library" in err
    shutil.rmtree(folder)


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_posterior_as_the_local_pool(tmp_path):
    distributed = pytest.importorskip("distributed")
    folder = _library(tmp_path / "lib", {"a": 20.0, "b": 24.0})
    small = {**SMALL, "simulations": 2 * 300, "generations": 3}
    fit_library(folder, out_dir=tmp_path / "local", **{**small, "workers": 2})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        d = fit_library(folder, out_dir=tmp_path / "dask", scheduler=cluster.scheduler_address,
                        **{k: v for k, v in small.items() if k != "workers"})
    assert d["executor"].startswith("dask")
    local, dask = _posterior(tmp_path / "local"), _posterior(tmp_path / "dask")
    assert local["samples"] == dask["samples"] and local["weights"] == dask["weights"]


def test_validate_uses_each_crisis_fit_without_it_and_no_pooled_turns_it_off(tmp_path):
    """A library posterior holding a's leave-one-out fit: validate scales a by it (out of
    sample) and b by the fit on both (in sample, and says so); pooled=False uses neither."""
    from sim.scenario.loader import load_scenario
    from sim.validation.library import markdown_table, validate_library

    folder = _library(tmp_path / "lib", {"a": 20.0, "b": 24.0})
    crises = [{"crisis": n, "scenario": f"crisis {n}", "scenario_file": f"{n}.yaml",
               "scenario_sha256": load_scenario(folder / f"{n}.yaml").digest()}
              for n in ("a", "b")]
    record = {"kind": "crisis-sim pooled posterior",
              "constants": [{"name": "loss_scale", "scales": ["fighting.loss_rate"]}],
              "samples": [[2.0]], "weights": [1.0], "crises": crises,
              "loco": {"a": {"samples": [[0.5]], "weights": [1.0]}}}
    (folder / "pooled_posterior.json").write_text(json.dumps(record))
    result = validate_library(folder, runs=8, out_dir=tmp_path / "v", workers=1,
                              progress=False)
    assert result["pooled"]["a"]["fitted_without_this_crisis"] is True
    assert result["pooled"]["b"]["in_sample"] is True
    assert "1 of them by the fit without that crisis" in markdown_table(result)
    import pyarrow.parquet as pq

    for name, scale in (("a", 0.5), ("b", 2.0)):
        drawn = pq.read_table(tmp_path / "v" / name / "runs.parquet").column(
            "param.fighting.loss_rate").to_numpy()
        assert np.allclose(drawn, 0.2 * scale), name
    off = validate_library(folder, runs=8, out_dir=tmp_path / "off", workers=1,
                           progress=False, pooled=False)
    assert off["pooled"] == {}
    manifest = json.loads((tmp_path / "off" / "a" / "manifest.json").read_text())
    assert manifest["pooled_posterior"] is None


def test_leave_one_out_scores_each_crisis_with_the_fit_on_the_others(tmp_path):
    """loco_skill: a fold per crisis, fitted without it (its posterior lists only the other),
    each crisis scored three ways on the same runs; a second call reuses every fold."""
    from sim.validation.pooled import format_loco, loco_skill

    folder = _library(tmp_path / "lib", {"a": 20.0, "b": 24.0})
    kwargs = {"simulations": 200, "population": 50, "generations": 2, "seed": 3, "runs": 8,
              "workers": 1}
    result = loco_skill(folder, out_dir=tmp_path / "cv", **kwargs)
    assert [r["crisis"] for r in result["crises"]] == ["a", "b"]
    for name, other in (("a", "b"), ("b", "a")):
        fold = _posterior(tmp_path / "cv" / "loco" / name)
        assert fold["held_out"] == name and [c["crisis"] for c in fold["crises"]] == [other]
    o = result["overall"]
    assert o["events"] == 2 and set(o) >= {"priors", "prior_multipliers", "pooled", "learnt"}
    assert "held-out crisis" in format_loco(result)
    again = loco_skill(folder, out_dir=tmp_path / "cv", **kwargs)
    assert [r["posterior"] for r in again["crises"]] == [r["posterior"] for r in
                                                         result["crises"]]
