"""Sweeps with policy levers: policies x scenarios, common random numbers, errors, resume.

The fictional three-state scenario: a categorical lever deploys Corvalia's shield in Arcadia
on day 0 (or leaves it to be decided during the run), crossed with an uncertain loss rate.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim.execution.ensemble as ensemble_module
from sim import api
from sim.cli import main
from sim.errors import RunInterruptedError
from sim.execution.storage import read_runs
from sim.execution.sweep import run_sweep, sweep_batches

from .conftest import FICTIONAL
from .test_execution import _same_tables

SHIELD = """\
design: lhs
points: 3
reps: 8
seed: 5
uncertainties:
  fighting.loss_rate: {low: 0.1, high: 0.5}
levers:
  shield:
    options:
      later: {}
      day0: {set: {assets.shield.deployed_at_start: arcadia}}
"""


def _file(tmp_path, text: str, name: str = "levers.sweep.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _design(fictional, tmp_path, text: str = SHIELD):
    return api.make_sweep_design(fictional, sweep_file=_file(tmp_path, text))


def _by_policy(columns: dict, policy: str) -> dict:
    keep = columns["policy"] == policy
    return {k: v[keep] for k, v in columns.items()}


@pytest.fixture(scope="module")
def shield_sweep(tmp_path_factory, fictional):
    """The shield lever's sweep, in memory (3 points x 8 replications x 2 policies)."""
    folder = tmp_path_factory.mktemp("levers")
    design, reps, seed = _design(fictional, folder)
    return run_sweep(fictional, design, reps=reps, seed=seed, workers=1, progress=False,
                     out_dir=folder / "out")


def test_the_design_is_policies_x_scenarios_with_one_sample_of_the_uncertainties(
        shield_sweep):
    design = shield_sweep.design
    assert [p.name for p in design.policies] == ["shield=later", "shield=day0"]
    runs = shield_sweep.columns
    assert runs["run"].size == 2 * 3 * 8
    assert np.array_equal(runs["run"], np.arange(48))
    later, day0 = _by_policy(runs, "shield=later"), _by_policy(runs, "shield=day0")
    assert later["run"].size == day0["run"].size == 24
    # each policy meets the same points of the uncertainties, replication for replication
    for key in ("point", "rep", "param.fighting.loss_rate"):
        assert np.array_equal(later[key], day0[key]), key
    assert np.array_equal(np.unique(later["point"]), np.arange(3))
    assert np.unique(later["param.fighting.loss_rate"]).size == 3
    assert set(runs["lever.shield"]) == {"later", "day0"}
    # the per-point table has a row per policy and point
    points = shield_sweep.points
    assert list(points["policy"]) == ["shield=later"] * 3 + ["shield=day0"] * 3
    assert list(points["point"]) == [0, 1, 2, 0, 1, 2]
    assert np.array_equal(points["param.fighting.loss_rate"][:3],
                          points["param.fighting.loss_rate"][3:])


def test_deploying_the_asset_on_day_0_raises_its_outcome_and_its_days(shield_sweep):
    rows = {(r["outcome"], r["policy"]): r for r in shield_sweep.policies}
    later, day0 = rows[("shield", "shield=later")], rows[("shield", "shield=day0")]
    assert day0["probability"] == 1.0  # in place from day 0: deployed at some time, always
    assert later["probability"] < 1.0
    assert day0["difference"] == pytest.approx(1.0 - later["probability"])
    assert day0["difference_low"] > 0  # the paired interval excludes no effect
    runs = shield_sweep.columns
    assert (_by_policy(runs, "shield=day0")["asset.shield.days"].mean()
            > _by_policy(runs, "shield=later")["asset.shield.days"].mean())


def test_a_lever_that_changes_nothing_gives_identical_runs(fictional, tmp_path):
    """Common random numbers: replication r of every policy uses the same random numbers."""
    text = SHIELD.replace("day0: {set: {assets.shield.deployed_at_start: arcadia}}",
                          "same: {set: {actors.arcadia.rationality: 8.0}}")  # as written
    design, reps, seed = _design(fictional, tmp_path, text)
    result = run_sweep(fictional, design, reps=reps, seed=seed, workers=1, progress=False)
    a = _by_policy(result.columns, "shield=later")
    b = _by_policy(result.columns, "shield=same")
    varied = 0
    for key in a:
        if key in ("run", "policy", "lever.shield"):
            continue
        assert np.array_equal(a[key], b[key], equal_nan=a[key].dtype.kind == "f"), key
        varied += a[key].dtype.kind == "f" and np.unique(a[key][~np.isnan(a[key])]).size > 1
    assert varied > 10  # the runs do differ among themselves: the equality is not vacuous
    for row in result.policies:
        if row["policy"] == "shield=same":
            assert row["difference"] == row["difference_low"] == row["difference_high"] == 0


def test_a_counterfactual_file_as_an_option_is_its_set_edits(fictional, tmp_path,
                                                             shield_sweep):
    """The option's edits go through the counterfactual machinery (extends:, merged)."""
    _file(tmp_path, f"extends: {FICTIONAL}\nname: the shield on day 0\nassets:\n  shield:\n"
          "    deployed_at_start: arcadia\n", "shield_day0.yaml")
    text = SHIELD.replace("{set: {assets.shield.deployed_at_start: arcadia}}",
                          "{counterfactual: shield_day0.yaml}")
    design, reps, seed = _design(fictional, tmp_path, text)
    result = run_sweep(fictional, design, reps=reps, seed=seed, workers=1, progress=False)
    for key, values in shield_sweep.columns.items():
        assert np.array_equal(result.columns[key], values,
                              equal_nan=values.dtype.kind == "f"), key


def test_numeric_levers_cross_levels_and_sample_ranges(fictional, tmp_path):
    text = SHIELD + ("  actors.arcadia.war_cost: {levels: [0.0, 0.1]}\n"
                     "  bargaining.noise: {low: 0.2, high: 0.8}\npolicies: 3\n"
                     "reference: {shield: day0, actors.arcadia.war_cost: 0.1}\n")
    design, _, _ = _design(fictional, tmp_path, text)
    assert len(design.policies) == 2 * 2 * 3
    noise = sorted({p.values["bargaining.noise"] for p in design.policies})
    assert len(noise) == 3 and all(0.2 <= v <= 0.8 for v in noise)
    ref = design.policies[design.reference]
    assert ref.values["shield"] == "day0" and ref.values["actors.arcadia.war_cost"] == 0.1
    assert dict(ref.sets)["actors.arcadia.war_cost"] == 0.1


SHIELD_LINE = "      day0: {set: {assets.shield.deployed_at_start: arcadia}}"


@pytest.mark.parametrize(("edit", "message"), [
    (("levers:", "reference: {sheild: later}\nlevers:"),
     ":7:1: reference: no lever 'sheild'; did you mean 'shield'?"),
    (("levers:", "reference: {shield: day_0}\nlevers:"),
     ":7:1: reference.shield: no option 'day_0' of lever shield; options: later, day0"),
    (("deployed_at_start", "deployed_at_stat"),
     ":11:7: levers.shield.options.day0.set.assets.shield.deployed_at_stat: "
     "'deployed_at_stat' is not a key of assets.shield; did you mean 'deployed_at_start'?"),
    (("shield.deployed", "sheild.deployed"),
     ":11:7: levers.shield.options.day0.set.assets.sheild.deployed_at_start: no 'sheild' in "
     "assets; did you mean 'shield'?"),
    (("{set:", "{sett:"), ":11:14: levers.shield.options.day0.sett: unknown key; did you "
     "mean 'set'?"),
    (("arcadia}}", "atlantis}}"),
     ":11:7: levers.shield.options.day0: the scenario with this option does not validate: "
     "assets.shield.deployed_at_start: unknown actor 'atlantis'; known: ['arcadia', "
     "'borduria', 'corvalia']; fix the option's edits"),
    (("{set: {assets.shield.deployed_at_start: arcadia}}", "{counterfactual: missing.yaml}"),
     ":11:14: levers.shield.options.day0.counterfactual: file not found ({folder}/missing.yaml)"
     "; name a counterfactual file (relative to the sweep file) that extends the swept "
     "scenario"),
    ((SHIELD_LINE, SHIELD_LINE + "\n  actors.arcadia.war_cots: {levels: [0, 0.1]}"),
     ":12:3: levers.actors.arcadia.war_cots: 'war_cots' is not a key of actors.arcadia; did "
     "you mean 'war_cost'?"),
    ((SHIELD_LINE, SHIELD_LINE + "\n  fighting.loss_rate: {levels: [0.1, 0.2]}"),
     ":12:3: levers.fighting.loss_rate: fighting.loss_rate is both a lever and an "
     "uncertainty; keep it in one of the two lists"),
    (("      later: {}\n", ""), ":8:3: levers.shield: a lever of one option is not a "
     "lever; list at least two options (one may be {} for the scenario as written)"),
])
def test_a_bad_lever_is_one_line_with_file_key_and_fix(tmp_path, capsys, edit, message):
    path = _file(tmp_path, SHIELD.replace(*edit))
    code = main(["sweep", str(FICTIONAL), "--sweep", str(path), "--out",
                 str(tmp_path / "out"), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == f"error: {path}{message.replace('{folder}', str(tmp_path))}"
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_a_counterfactual_of_another_scenario_is_refused(tmp_path, capsys):
    other = _file(tmp_path, FICTIONAL.read_text(), "other.yaml")
    _file(tmp_path, f"extends: {other}\nassets:\n  shield:\n    deployed_at_start: arcadia\n",
          "cf.yaml")
    path = _file(tmp_path, SHIELD.replace(
        "{set: {assets.shield.deployed_at_start: arcadia}}", "{counterfactual: cf.yaml}"))
    assert main(["sweep", str(FICTIONAL), "--sweep", str(path), "--no-progress",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}:11:7: levers.shield.options.day0.counterfactual: ")
    assert f"extends {other}, not the swept scenario {FICTIONAL}" in err
    assert "\n" not in err


def test_an_old_sweep_file_loads_as_before(tmp_path):
    from sim.design import load_sweep_file

    spec = load_sweep_file(_file(tmp_path, "design: grid\npoints: 2\nparameters:\n"
                                 "  fighting.loss_rate: {low: 0.1, high: 0.5}\n"))
    assert [p.path for p in spec["parameters"]] == ["fighting.loss_rate"]
    assert spec["levers"] == []


def test_a_sweep_with_levers_resumes_to_exactly_the_uninterrupted_result(
        fictional, tmp_path, monkeypatch):
    design, reps, seed = _design(fictional, tmp_path)

    def sweep(out):
        return run_sweep(fictional, design, reps=reps, seed=seed, batch_size=8, workers=1,
                         out_dir=out, progress=False)

    real, written = ensemble_module.write_parquet, []
    block = design.size * reps  # one policy's runs
    first = len(sweep_batches(block, 8))  # policy 0's batches (two small ones first)
    second = len(sweep_batches(block, 8, first=block))

    def write_then_stop(path, table):
        real(path, table)
        written.append(path.name)
        if len(written) == first:  # policy 0's batches, none of policy 1's
            raise KeyboardInterrupt

    out = tmp_path / "resumed"
    with monkeypatch.context() as m:
        m.setattr(ensemble_module, "write_parquet", write_then_stop)
        with pytest.raises(RunInterruptedError):
            sweep(out)
    assert len(list((out / "parts").glob("runs-*.parquet"))) == first
    written.clear()
    monkeypatch.setattr(ensemble_module, "write_parquet",
                        lambda path, table: (written.append(path.name), real(path, table)))
    resumed = sweep(out)
    assert len(written) == second == 3  # only the other policy's batches ran, in full ones
    whole = sweep(tmp_path / "whole")
    for name in ("sweep.parquet", "points.parquet", "policies.parquet"):
        _same_tables(out / name, tmp_path / "whole" / name)
    on_disk = read_runs(out / "sweep.parquet", ["policy", "point", "rep"])
    assert list(np.unique(on_disk["policy"])) == ["shield=day0", "shield=later"]
    assert resumed.policies == whole.policies


def test_discovery_takes_a_categorical_lever_as_categories(shield_sweep):
    pytest.importorskip("ema_workbench")
    from sim.discovery import box_rule, discover_folder, format_discovery

    found = discover_folder(shield_sweep.out_dir, outcome="shield")
    assert found["parameters"] == ["fighting.loss_rate", "lever.shield"]
    box = {b["parameter"]: b for b in found["prim"]["box"]}
    lever = box["lever.shield"]
    assert lever["categorical"] and lever["values"] == ["day0"]
    assert lever["range_values"] == ["day0", "later"] and lever["significant"]
    assert found["prim"]["significant_box"]["density"] == 1.0
    assert "lever.shield in {day0}" in box_rule(found["prim"])
    assert "lever.shield  in {day0}   (options day0, later" in format_discovery(found)
    assert (shield_sweep.out_dir / "discovery.json").exists()


def test_plots_draw_the_policies_against_the_reference(shield_sweep):
    from sim.plots import plot_folder

    written = plot_folder(shield_sweep.out_dir, ("png",))
    assert "policies.png" in {p.name for p in written}


def test_the_command_prints_outcomes_per_policy_and_a_sobol_design_gives_each_policys_indices(
        tmp_path, capsys):
    import json

    path = _file(tmp_path, SHIELD)
    out = tmp_path / "out"
    assert main(["sweep", str(FICTIONAL), "--sweep", str(path), "--design", "sobol",
                 "--points", "4", "--reps", "4", "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "2 policies (1 lever) x sobol design of 12 points x 4 replications = 96 runs" \
        in captured.err
    lines = captured.out.splitlines()
    shield = [line for line in lines if "shield=" in line and "%" in line]
    assert any(line.startswith("shield ") and "shield=later" in line and "reference" in line
               for line in shield)
    assert any("shield=day0" in line and "100.0%" in line and " pts  [" in line
               for line in shield)
    assert ("2 policies x 12 points of the uncertainties x 4 replications; differences "
            "against shield=later, paired by point and replication") in captured.out
    sensitivity = json.loads((out / "sensitivity.json").read_text())
    assert sensitivity["policy"] == "shield=later"
    assert set(sensitivity["by_policy"]) == {"shield=later", "shield=day0"}
    assert sensitivity["results"] == sensitivity["by_policy"]["shield=later"]
    policies = json.loads((out / "policies.json").read_text())
    assert policies["reference"] == "shield=later" and len(policies["rows"]) == 2 * 4


def test_the_api_takes_levers_alone_as_plain_data(fictional):
    result = api.sweep(fictional, levers={
        "shield": {"options": {"later": {}, "day0": {
            "set": {"assets.shield.deployed_at_start": "arcadia"}}}},
        "actors.arcadia.war_cost": [0.0, 0.1]}, reps=6, workers=1, progress=False)
    design = result.result.design
    assert design.size == 1 and not design.parameters  # no uncertainties: the scenario's own
    assert len(design.policies) == 4
    table = result.policies
    assert set(table["policy"]) == {p.name for p in design.policies}
    shield = table[table["outcome"] == "shield"].set_index("policy")
    assert (shield.loc["shield=day0 actors.arcadia.war_cost=0", "probability"] == 1.0)
    assert np.isnan(shield.loc["shield=later actors.arcadia.war_cost=0", "difference"])
    assert set(result.runs["lever.actors.arcadia.war_cost"]) == {0.0, 0.1}


def test_a_counterfactual_that_edits_the_run_settings_is_refused(tmp_path, capsys):
    _file(tmp_path, f"extends: {FICTIONAL}\nrun:\n  days: 30\n", "shorter.yaml")
    path = _file(tmp_path, SHIELD.replace(
        "{set: {assets.shield.deployed_at_start: arcadia}}", "{counterfactual: shorter.yaml}"))
    assert main(["sweep", str(FICTIONAL), "--sweep", str(path), "--no-progress",
                 "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {path}:11:7: levers.shield.options.day0.counterfactual: {tmp_path}/shorter.yaml"
        " edits the run settings (run:); run settings cannot be levers: leave them out of the "
        "counterfactual")


def test_the_report_shows_the_policies_table(shield_sweep):
    from sim.report import write_report

    page = write_report(shield_sweep.out_dir).read_text()
    assert "<table id=policies>" in page
    table = page.split("<table id=policies>")[1].split("</table>")[0]
    row = next(r for r in shield_sweep.policies
               if r["outcome"] == "shield" and r["policy"] == "shield=day0")
    assert ("<td>shield</td><td>shield=day0</td><td class=num>100.0%</td>" in table)
    assert f"{100 * row['difference']:+.1f} pts [" in table
    assert "<td class=num>reference</td>" in table


def test_the_shipped_example_sweep_file_crosses_the_baselines_counterfactuals(baseline):
    from .conftest import SCENARIOS

    design, reps, _ = api.make_sweep_design(
        baseline, sweep_file=SCENARIOS / "sweeps" / "idlib_2020_levers.sweep.yaml")
    assert [lev.name for lev in design.levers] == ["patriots", "offer"]
    assert len(design.policies) == 4 and design.size == 8 and reps == 25
    assert design.policies[design.reference].name == ("patriots=decided_later "
                                                      "offer=baseline_deals")
    day0 = next(o for o in design.levers[0].options if o.name == "day0")
    assert day0.merge == {"assets": {"patriot": {"deployed_at_start": "turkey"}}}


def test_the_apps_picker_leaves_sweep_files_out():
    pytest.importorskip("solara")
    from sim.app.page import scenario_files

    from .conftest import SCENARIOS

    listed = scenario_files(SCENARIOS, str(FICTIONAL))
    assert str(SCENARIOS / "counterfactuals" / "patriots_day0.yaml") in listed
    assert not [f for f in listed if f.endswith(".sweep.yaml")]


def test_a_sweep_with_levers_exports_its_policies_and_levers_as_ema_inputs(shield_sweep):
    """In the EMA Workbench's shape, each run's policy is its combination of levers and the
    levers are inputs beside the uncertainties (as EMA's levers are), not outcomes."""
    experiments, outcomes = api.to_ema(shield_sweep.out_dir)
    runs = shield_sweep.columns
    order = np.argsort(runs["run"], kind="stable")
    assert list(experiments["policy"].astype(str)) == [str(p) for p in runs["policy"][order]]
    assert set(experiments["policy"].astype(str)) == {p.name for p in shield_sweep.design.policies}
    assert list(experiments["shield"].astype(str)) == [
        str(v) for v in runs["lever.shield"][order]]
    assert "fighting_loss_rate" in experiments.columns
    assert not any(k.startswith(("lever", "policy")) for k in outcomes)
