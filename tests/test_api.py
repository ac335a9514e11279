"""The Python API (sim.api): documented, light to import, the same results as the CLI."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import sim
from sim import api
from sim.cli import main
from sim.errors import ScenarioError, UsageError

from .conftest import BASELINE, COUNTERFACTUALS, FICTIONAL, ROOT


def _public_functions():
    return [name for name in api.__all__ if inspect.isfunction(getattr(api, name))]


def test_every_public_function_has_a_docstring_and_is_on_the_api_page():
    page = (ROOT / "docs" / "api.md").read_text()
    names = _public_functions()
    assert {"load", "run", "sweep", "compare", "open_results", "discover"} <= set(names)
    for name in names:
        doc = inspect.getdoc(getattr(api, name)) or ""
        assert len(doc) > 40, f"sim.api.{name} has no real docstring"
        assert f"`{name}(" in page, f"docs/api.md does not document {name}"
    for name in api.__all__:  # the result classes too
        assert name in page, name
    # every public name is in __all__: nothing undocumented slips in
    public = {n for n, v in vars(api).items() if not n.startswith("_")
              and inspect.isfunction(v) and v.__module__ == "sim.api"}
    assert public <= set(api.__all__), public - set(api.__all__)


def test_import_sim_stays_light_and_the_api_loads_on_first_use():
    code = ("import sys, sim; heavy = [m for m in ('pandas', 'numba', 'sim.api', 'mesa') "
            "if m in sys.modules]; print(heavy); sim.load; print('sim.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"
    assert sim.api is api and sim.run is api.run
    with pytest.raises(AttributeError):
        sim.nothing_here  # noqa: B018


def test_load_takes_a_mapping_or_texts_and_reports_problems(tmp_path):
    loaded = api.load(FICTIONAL, {"fighting.loss_rate": 0.25, "run.runs": 30})
    assert loaded.spec.fighting.loss_rate == 0.25 and loaded.spec.run.runs == 30
    assert api.load(FICTIONAL, ["fighting.loss_rate=0.25"]).digest() == api.load(
        FICTIONAL, {"fighting.loss_rate": 0.25}).digest()
    with pytest.raises(ScenarioError, match=r"fighting\.los_rate"):
        api.load(FICTIONAL, {"fighting.los_rate": 0.2})
    with pytest.raises(UsageError, match="file not found"):
        api.load(tmp_path / "missing.yaml")


def test_run_returns_tables_equal_to_what_the_cli_writes(tmp_path, capsys):
    ens = api.run(FICTIONAL, runs=40, seed=3, workers=1, progress=False)
    assert isinstance(ens.outcomes, pd.DataFrame) and len(ens.runs) == 40
    assert {"outcome", "probability", "low", "high"} <= set(ens.outcomes.columns)
    assert ens.figure().axes
    out = tmp_path / "cli"
    assert main(["run", str(FICTIONAL), "--runs", "40", "--seed", "3", "--workers", "1",
                 "--out", str(out), "--no-progress"]) == 0
    saved = api.open_results(out)
    assert saved.kind == "run"
    pd.testing.assert_frame_equal(saved.outcomes, ens.outcomes, check_like=True)
    on_disk = saved.runs
    for column in ens.runs.columns:
        assert np.array_equal(on_disk[column].to_numpy(), ens.runs[column].to_numpy(),
                              equal_nan=ens.runs[column].dtype.kind == "f"), column


def test_sweep_and_compare_return_tables(tmp_path):
    sw = api.sweep(FICTIONAL, {"fighting.loss_rate": (0.1, 0.4),
                               "actors.arcadia.war_cost": [0.0, 0.1]},
                   design="grid", points=2, reps=5, workers=1, progress=False)
    assert len(sw.points) == 4 and len(sw.runs) == 20 and sw.sensitivity is None
    assert {"param.fighting.loss_rate", "param.actors.arcadia.war_cost"} <= set(sw.points)
    design, reps, _seed = api.make_sweep_design(api.load(FICTIONAL), ["fighting.loss_rate=0:1"],
                                               points=7)
    assert design.size == 7 and design.kind == "lhs" and reps == 50
    sobol = api.sweep(BASELINE, {"actors.turkey.war_cost": (0.0, 0.1),
                                 "fighting.loss_rate": (0.1, 0.3)},
                      design="sobol", points=4, reps=3, workers=1, progress=False)
    table = sobol.sensitivity
    assert {"target", "parameter", "S1", "ST", "S1_conf"} <= set(table.columns)
    assert len(table) % 2 == 0 and set(table["parameter"]) == {"actors.turkey.war_cost",
                                                               "fighting.loss_rate"}
    versus = api.compare([BASELINE, COUNTERFACTUALS / "patriots_day0.yaml"], runs=30,
                         workers=1, progress=False, out=tmp_path / "cmp")
    assert set(versus.table["scenario"]) == {"idlib_2020", "patriots_day0"}
    assert versus.figure().axes
    saved = api.open_results(tmp_path / "cmp")
    assert saved.kind == "compare" and len(saved.outcomes) == len(versus.table)
    # the counterfactual's premise (the Patriots deployed on day 0) is marked, not a finding
    from sim.plots import constructed_effects

    comparison = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert set(constructed_effects(tmp_path / "cmp", comparison)) == {
        ("patriots_deployed", "patriots_day0")}
    page = api.report(tmp_path / "cmp").read_text()
    assert "<b class=asm>by construction</b>" in page


def test_a_folder_that_cannot_be_drawn_keeps_no_empty_figures_folder(tmp_path):
    """sim plot of a folder whose summary is damaged fails (exit 2 from the CLI) and leaves
    the folder as it was: no empty ``figures/`` made by the failed call; one that was there
    already stays."""
    (tmp_path / "summary.json").write_text("{not json")
    (tmp_path / "scenario.resolved.yaml").write_text("name: x\n")
    with pytest.raises(UsageError, match=r"summary\.json"):
        api.plot(tmp_path, ["png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.resolved.yaml",
                                                           "summary.json"]
    (tmp_path / "figures").mkdir()
    with pytest.raises(UsageError, match=r"summary\.json"):
        api.plot(tmp_path, ["png"])
    assert (tmp_path / "figures").is_dir()


def test_open_results_refuses_a_folder_without_results(tmp_path):
    (tmp_path / "summary.txt").write_text("not results")
    with pytest.raises(UsageError, match="holds no results"):
        api.open_results(tmp_path)
    with pytest.raises(UsageError, match="unknown image format"):
        (tmp_path / "summary.json").write_text(json.dumps({"outcomes": [], "runs": 0}))
        api.plot(tmp_path, ["png", "gif"])


# ----------------------------------------------------------------------------- issue 26


def test_discover_on_tables_returns_a_box_with_its_limits():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.uniform(0, 1, 600), "b": rng.uniform(0, 1, 600)})
    y = (x["a"] > 0.7) & (rng.uniform(size=600) < 0.9)  # cases where a is high, b irrelevant
    box = api.discover(x, y)
    assert isinstance(box, api.Box)
    assert "a" in box.limits.index and box.limits.loc["a", "low"] == pytest.approx(0.7, abs=0.05)
    assert box.limits.loc["a", "significant"]
    assert box.density > 0.8 > box.base_rate and 0.5 <= box.coverage <= 1
    assert box.rule().startswith("a >= 0.")
    assert {"coverage", "density", "mass"} <= set(box.trajectory.columns)
    assert "PRIM" in str(box) and box.cart["leaves"]
    with pytest.raises(UsageError, match=r"^y: give one value per row"):
        api.discover(x, y[:10])
    with pytest.raises(UsageError, match=r"outcome= and where= are for a saved sweep"):
        api.discover(x, y, outcome="war")
    with pytest.raises(UsageError, match=r"^min_coverage must be in"):
        api.discover(x, y, min_coverage=2)


def test_errors_from_python_name_keyword_arguments_not_flags(tmp_path):
    loaded = api.load(FICTIONAL)
    with pytest.raises(UsageError, match=r"points= for a Sobol design") as caught:
        api.make_sweep_design(loaded, {"fighting.loss_rate": (0.1, 0.3)}, design="sobol",
                              points=6)
    assert "--" not in str(caught.value)
    with pytest.raises(UsageError, match=r"parameters=") as caught:
        api.make_sweep_design(loaded, ["fighting.loss_rate"])
    assert "--param" not in str(caught.value)
    with pytest.raises(UsageError, match=r"^unknown image format 'gif' for formats=; use"):
        (tmp_path / "summary.json").write_text(json.dumps({"outcomes": [], "runs": 0}))
        api.plot(tmp_path, ["gif"])


def test_score_is_sim_score_from_python(tmp_path):
    from .test_validation_scores import OBS

    shutil.copy(FICTIONAL, tmp_path / "three_states.yaml")
    (tmp_path / "three_states.observations.yaml").write_text(OBS)
    ens = api.run(tmp_path / "three_states.yaml", runs=40, workers=1, progress=False,
                  out=tmp_path / "run")
    scores = api.score(ens, tmp_path / "three_states.observations.yaml")
    saved = json.loads((tmp_path / "run" / "score.json").read_text())
    assert scores.result["summary"] == saved["summary"]
    assert list(scores.events["outcome"]) == ["war", "split", "borduria_gains"]
    assert scores.days["outcome"].tolist() == ["war", "split"] and len(scores.quantities) == 2
    with pytest.raises(UsageError, match="no such folder"):
        api.score(tmp_path / "nothing", tmp_path / "three_states.observations.yaml")


def test_calibrate_is_sim_calibrate_from_python(tmp_path):
    from .test_validation_calibrate import _observations, _scenario, _synthetic

    path = _scenario(tmp_path)
    obs = _observations(tmp_path, _synthetic(path, 0.3, 10**6))
    cal = api.calibrate(path, obs, out=tmp_path / "cal", simulations=400, population=60,
                        generations=2, progress=False)
    assert cal.posterior_file.exists() and (tmp_path / "cal" / "calibration.png").exists()
    row = cal.posterior.set_index("parameter").loc["fighting.loss_rate"]
    assert 0.02 <= row["q05"] <= row["median"] <= row["q95"] <= 0.6
    assert 0 < cal.effective_sample_size <= len(json.loads(cal.posterior_file.read_text())
                                                ["weights"])
    with pytest.raises(UsageError, match=r"^min_epsilon=-1"):
        api.calibrate(path, obs, out=tmp_path / "c2", min_epsilon=-1, progress=False)
    # a run drawn from this posterior gets its prior-vs-posterior figure (sim report embeds it)
    from sim.plots import posterior_figure

    run = tmp_path / "run"
    run.mkdir()
    for target, drawn in ((cal.posterior_file, True), ("/etc/passwd", False)):
        (run / "manifest.json").write_text(json.dumps({"mode": "posterior", "varied": {
            "posterior": str(target)}}))
        fig = posterior_figure(run)
        assert (fig is not None) == drawn
        if drawn:
            ax = fig.axes[0]
            assert ax.get_title() == "fighting.loss_rate" and ax.get_ylabel()


UNGUARDED = """\
import sim.api as sa
sa.run({scenario!r}, runs=4, workers=2, progress=False)
print("ran")
"""

GUARDED = """\
import sim.api as sa

def main():
    sa.run({scenario!r}, runs=4, workers=2, progress=False)
    print("ran")

if __name__ == "__main__":
    main()
"""


def test_a_script_without_the_main_guard_is_told_what_to_do_in_one_line(tmp_path):
    from sim.api import _guarded

    script = tmp_path / "study.py"
    script.write_text(UNGUARDED.format(scenario=str(FICTIONAL)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode != 0 and "ran" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert f"{script}:2: worker processes re-import this script" in last
    assert "if __name__ == \"__main__\":" in last
    guarded = tmp_path / "guarded.py"
    guarded.write_text(GUARDED.format(scenario=str(FICTIONAL)))
    # `python -m sim` runs sim/__main__.py unguarded, which workers never re-run: no refusal
    done = subprocess.run([sys.executable, "-m", "sim", "run", str(FICTIONAL), "--runs", "4",
                           "--workers", "2", "--out", str(tmp_path / "m"), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    # the script's top-level frame is at main() (line 8), inside the guard
    assert _guarded(guarded, 8) and not _guarded(guarded, 1) and not _guarded(script, 2)


def test_a_missing_extra_is_named_in_one_line():
    with pytest.raises(UsageError, match=r"needs the 'discover' extra.*pip install -e "
                       r"'\.\[discover\]'"):
        api._need_extra("no_such_module_for_sure", "discover", "scenario discovery")
    api._need_extra("numpy", "discover", "anything")  # installed: nothing to say
