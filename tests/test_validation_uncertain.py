"""Uncertain assumptions: range/prior parsing, per-run draws, and sim validate's table."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sim.cli import main
from sim.errors import ScenarioError, UsageError
from sim.execution import variation as uncertain
from sim.execution.ensemble import run_ensemble
from sim.scenario.loader import load_scenario
from sim.world import compile_scenario
from tests.conftest import BASELINE, FICTIONAL

POINT = "rationality: {value: 8.0, assumption: \"invented\"}"


def _variant(tmp_path, arcadia: str, borduria: str | None = None, name="v.yaml"):
    text = FICTIONAL.read_text()
    first = text.index(POINT)
    text = text[:first] + arcadia + text[first + len(POINT):]
    if borduria is not None:
        second = text.index(POINT)
        text = text[:second] + borduria + text[second + len(POINT):]
    path = tmp_path / name
    path.write_text(text)
    return path


def test_range_and_prior_are_read_beside_the_value(tmp_path):
    path = _variant(tmp_path, "rationality: {value: 8.0, range: [4, 12], assumption: \"x\"}",
                    "rationality: {value: 8.0, prior: {dist: lognormal, median: 8, sigma: "
                    "0.3}}")
    loaded = load_scenario(path)
    assert loaded.spec.actors["arcadia"].rationality == 8.0
    priors = {".".join(map(str, k)): p for k, p in loaded.uncertain.items()}
    assert priors["actors.arcadia.rationality"].dist == "uniform"
    assert priors["actors.arcadia.rationality"].support() == (4.0, 12.0)
    assert priors["actors.borduria.rationality"].dist == "lognormal"
    assert loaded.note_for(("actors", "arcadia", "rationality")).text == "x"


@pytest.mark.parametrize(("text", "message"), [
    ("rationality: {value: 8.0, range: [9, 12]}", "outside the uniform prior's range"),
    ("rationality: {value: 8.0, range: [12, 4]}", "low 12.0 is above high 4.0"),
    ("rationality: {value: 8.0, range: [4]}", "range: [low, high]"),
    ("rationality: {value: 8.0, prior: {dist: normal, mean: 8}}", "needs sd"),
    ("rationality: {value: 8.0, prior: {dist: uniform, low: 1, high: 9, sd: 1}}",
     "takes no sd"),
    ("rationality: {value: 8.0, prior: {dist: cauchy, low: 1, high: 9}}", "Input should be"),
    ("rationality: {value: 8.0, range: [4, 12], prior: {dist: normal, mean: 8, sd: 1}}",
     "not both"),
])
def test_bad_ranges_and_priors_are_located(tmp_path, text, message):
    path = _variant(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problem = info.value.problems[0]
    assert message in problem.message
    assert problem.file == str(path) and problem.line == 21


def test_draws_follow_the_prior_and_depend_only_on_seed_and_run(tmp_path):
    path = _variant(tmp_path, "rationality: {value: 8.0, range: [4, 12]}",
                    "rationality: {value: 8.0, prior: {dist: triangular, low: 6, mode: 8, "
                    "high: 10}}")
    loaded = load_scenario(path)
    a = uncertain.uncertain_set(loaded, seed=3, runs=4000)
    b = uncertain.uncertain_set(loaded, seed=3, runs=10)
    assert np.array_equal(a.values[:10], b.values)  # run r's draws do not depend on R
    assert a.paths == ("actors.arcadia.rationality", "actors.borduria.rationality")
    uniform, triangular = a.values[:, 0], a.values[:, 1]
    assert uniform.min() >= 4 and uniform.max() <= 12
    assert abs(uniform.mean() - 8) < 0.15 and abs(np.median(triangular) - 8) < 0.1
    assert triangular.min() >= 6 and triangular.max() <= 10


def test_truncated_normal_stays_inside_its_bounds():
    from sim.scenario.schema import Prior

    prior = Prior(dist="normal", mean=0.0, sd=1.0, low=-0.5, high=2.0)
    x = uncertain.prior_ppf(prior, np.linspace(0.0005, 0.9995, 999))
    assert x.min() >= -0.5 and x.max() <= 2.0 and np.all(np.diff(x) > 0)


def test_degenerate_ranges_equal_the_point_run(tmp_path):
    point = load_scenario(FICTIONAL)
    path = _variant(tmp_path, "rationality: {value: 8.0, range: [8, 8]}")
    loaded = load_scenario(path)
    varied = uncertain.uncertain_set(loaded, seed=5, runs=40)
    a = run_ensemble(point, runs=40, seed=5, workers=1, progress=False).columns
    b = run_ensemble(loaded, runs=40, seed=5, workers=1, progress=False,
                     varied=varied).columns
    assert set(b) - set(a) == {"param.actors.arcadia.rationality"}
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=True), name


def test_uncertain_runs_are_batch_independent_and_exact(tmp_path):
    path = _variant(tmp_path, "rationality: {value: 8.0, range: [2, 14]}")
    loaded = load_scenario(path)
    varied = uncertain.uncertain_set(loaded, seed=9, runs=30)
    a = run_ensemble(loaded, runs=30, seed=9, workers=1, batch_size=7, progress=False,
                     varied=varied).columns
    b = run_ensemble(loaded, runs=30, seed=9, workers=1, batch_size=30, progress=False,
                     varied=varied).columns
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=True), name
    # run 4 equals a point run of the same replication with its drawn value set by hand
    value = float(varied.values[4, 0])
    fixed = load_scenario(path, [f"actors.arcadia.rationality={value!r}"])
    row = run_ensemble(fixed, runs=5, seed=9, workers=1, progress=False).columns
    for name in row:
        if name != "run":
            assert np.allclose(row[name][4], a[name][4], equal_nan=True), name
    # and the values differ across runs: the draws reached the model
    assert np.unique(a["param.actors.arcadia.rationality"]).size == 30


def test_an_integer_value_whose_probes_have_no_whole_midpoint_is_compiled_per_run():
    """bargaining.talks drawn over [1, 8] is probed at 1 and 8 (rounded, as its draws are):
    their midpoint 4.5 is no number of days, so the value is not probed for an affine map
    (that raised AttributeError: `sim run` of such a scenario ended in a traceback) but
    compiled per run, each run's parameters those of the scenario with its value set."""
    loaded = load_scenario(FICTIONAL)
    frozen = json.dumps(loaded.data, default=str)
    paths, probes = ("bargaining.talks",), ((1.0, 8.0),)
    assert uncertain._affine_map(frozen, paths, probes) is None
    params = uncertain.params_for(loaded.data, frozen, paths, probes,
                                  np.array([[1.0], [4.0], [8.0]]))
    assert params.talks.tolist() == [1, 4, 8]
    fixed = compile_scenario(load_scenario(FICTIONAL, ["bargaining.talks=4"]).spec).params
    for name in ("talks", "loss_rate"):
        assert np.array_equal(getattr(params, name)[1], getattr(fixed, name)[0]), name


def test_only_parameters_may_be_uncertain(tmp_path):
    text = FICTIONAL.read_text().replace("  days: 60", "  days: {value: 60, range: [50, 70]}")
    path = tmp_path / "days.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match="run settings cannot be swept"):
        uncertain.uncertain_set(load_scenario(path), seed=1, runs=5)
    wide = _variant(tmp_path, "rationality: {value: 8.0, range: [-5, 12]}", name="w.yaml")
    with pytest.raises(UsageError, match="outside the value's bounds"):
        uncertain.uncertain_set(load_scenario(wide), seed=1, runs=500)


def test_sim_run_uncertain_writes_the_mode(tmp_path, capsys):
    path = _variant(tmp_path, "rationality: {value: 8.0, range: [4, 12]}")
    out = tmp_path / "out"
    assert main(["run", str(path), "--uncertain", "--runs", "20", "--workers", "1",
                 "--out", str(out), "--no-progress"]) == 0
    assert "uncertain mode" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["mode"] == "uncertain"
    assert manifest["varied"]["actors.arcadia.rationality"]["dist"] == "uniform"
    assert main(["report", str(out)]) == 0
    assert "Uncertain assumptions" in (out / "report.html").read_text()
    capsys.readouterr()
    # a run that drew its values replays exactly: its draws depend only on the seed and run
    assert main(["run", str(path), "--uncertain", "--replay", "3", "--out", str(out)]) == 0
    assert "matches row 3" in capsys.readouterr().out
    # the point run of the same scenario may not reuse that folder
    assert main(["run", str(path), "--point", "--runs", "20", "--workers", "1", "--out",
                 str(out), "--no-progress"]) == 2
    assert main(["run", str(FICTIONAL), "--uncertain", "--runs", "5", "--workers", "1",
                 "--out", str(tmp_path / "o2"), "--no-progress"]) == 2
    assert "no uncertain values" in capsys.readouterr().err


# --------------------------------------------------------------------------- sim validate

OBS = """\
scenario: {scenario}
description: Invented.
events:
  - outcome: war
    happened: {war}
    source: "Invented chronicle"
  - outcome: shield
    happened: false
    source: "Invented chronicle"
quantities:
  - indicator: losses.arcadia
    interval: [10, 60]
    source: "Invented chronicle"
"""


def test_sim_validate_on_a_tiny_library(tmp_path, capsys):
    library = tmp_path / "library"
    library.mkdir()
    for name, war in (("alpha", "true"), ("beta", "false")):
        shutil.copy(FICTIONAL, library / f"{name}.yaml")
        (library / f"{name}.observations.yaml").write_text(
            OBS.format(scenario=f"{name}.yaml", war=war))
    readme = tmp_path / "README.md"
    readme.write_text("# Library\n\n<!-- skill-table:start -->\nold\n<!-- skill-table:end -->"
                      "\n\nafter\n")
    out = tmp_path / "out"
    assert main(["validate", "--library", str(library), "--runs", "12", "--workers", "1",
                 "--out", str(out), "--readme", str(readme), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| `alpha` |" in printed and "| **overall** |" in printed
    table = json.loads((out / "skill.json").read_text())
    assert [r["crisis"] for r in table["crises"]] == ["alpha", "beta"]
    for row in [*table["crises"], table["overall"]]:
        assert {"brier", "log_score", "brier_skill", "log_skill", "coverage50", "coverage90",
                "verdict"} <= set(row)
        assert 0 <= row["brier"] <= 1
    assert table["overall"]["events"] == 4
    # the two crises share a scenario and seed: identical forecasts, opposite outcomes
    alpha, beta = table["crises"]
    war_p = json.loads((out / "alpha" / "score.json").read_text())["events"][0]["probability"]
    assert alpha["brier"] + beta["brier"] == pytest.approx(
        ((war_p - 1) ** 2 + war_p ** 2) / 2 + json.loads(
            (out / "alpha" / "score.json").read_text())["events"][1]["probability"] ** 2)
    # climatology: alpha's events forecast by beta's base rate (0 of 2 happened)
    assert alpha["brier_climatological"] == pytest.approx(0.5)
    text = readme.read_text()
    assert "old" not in text and "| `beta` |" in text and text.endswith("after\n")
    assert (out / "skill.md").read_text().startswith("| crisis |")


def test_sim_validate_reports_every_bad_file_before_running(tmp_path, capsys):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(FICTIONAL, library / "alpha.yaml")
    (library / "alpha.observations.yaml").write_text(
        OBS.format(scenario="alpha.yaml", war="true").replace("outcome: war", "outcome: wars"))
    (library / "beta.observations.yaml").write_text(OBS.format(scenario="gone.yaml", war="no"))
    assert main(["validate", "--library", str(library), "--runs", "5", "--workers", "1",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "'wars' is not an outcome" in err and "gone.yaml" in err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- priors by default


def _columns(folder):
    from sim.execution.storage import read_runs

    return read_runs(folder / "runs.parquet")


def test_many_priors_are_counted_not_all_listed_in_the_first_line(tmp_path, capsys):
    """The baseline's 122 priors: six named, the rest counted, and where to see them all (the
    whole list made a first line of 3,000 characters)."""
    out = tmp_path / "out"
    assert main(["run", str(BASELINE), "--runs", "2", "--workers", "1", "--no-progress",
                 "--out", str(out)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "of 122 uncertain assumptions" in first and "and 116 more ('sim check " in first
    assert first.count("actors.") == 6 and len(first) < 500


def test_priors_are_drawn_by_default_and_point_runs_today(tmp_path, capsys):
    path = _variant(tmp_path, "rationality: {value: 8.0, range: [4, 12]}")
    common = ["--runs", "16", "--workers", "1", "--no-progress"]
    assert main(["run", str(path), *common, "--out", str(tmp_path / "default")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("priors (uncertain mode): each run draws its own values of 1 "
                            "uncertain assumption (the scenario declares priors; --point")
    assert main(["run", str(path), "--uncertain", *common, "--out", str(tmp_path / "u")]) == 0
    assert "(--uncertain)" in capsys.readouterr().out.splitlines()[0]
    assert main(["run", str(path), "--point", *common, "--out", str(tmp_path / "p")]) == 0
    assert not capsys.readouterr().out.startswith("priors")
    assert main(["run", str(FICTIONAL), *common, "--out", str(tmp_path / "today")]) == 0
    default, drawn = _columns(tmp_path / "default"), _columns(tmp_path / "u")
    point, today = _columns(tmp_path / "p"), _columns(tmp_path / "today")
    # the default draws are --uncertain's, run for run
    assert set(default) == set(drawn)
    for name in drawn:
        assert np.array_equal(default[name], drawn[name], equal_nan=True), name
    assert np.unique(default["param.actors.arcadia.rationality"]).size == 16
    # --point is today's run of the scenario without the prior
    assert set(point) == set(today)
    for name in today:
        assert np.array_equal(point[name], today[name], equal_nan=True), name
    assert json.loads((tmp_path / "default" / "manifest.json").read_text())["mode"] == \
        "uncertain"
    # --point excludes --uncertain; a replay takes its run's options: by default run 2's own
    # draws (as the default ensemble drew them), with --point the point values
    assert main(["run", str(path), "--point", "--uncertain", *common]) == 2
    capsys.readouterr()
    assert main(["run", str(path), "--replay", "2", "--out", str(tmp_path / "default")]) == 0
    assert "matches row 2" in capsys.readouterr().out
    assert main(["run", str(path), "--point", "--replay", "2", "--out",
                 str(tmp_path / "default")]) == 0
    assert "not compared with" in capsys.readouterr().out


def test_check_says_whether_intervals_hold_parameter_uncertainty(tmp_path, capsys):
    assert main(["check", str(FICTIONAL)]) == 0
    assert "parameter uncertainty: none declared" in capsys.readouterr().out
    path = _variant(tmp_path, "rationality: {value: 8.0, range: [4, 12]}")
    assert main(["check", str(path)]) == 0
    assert "parameter uncertainty: 1 values with a range or prior" in capsys.readouterr().out
