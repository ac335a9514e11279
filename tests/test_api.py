"""The Python API (sim.api): documented, light to import, the same results as the CLI."""

from __future__ import annotations

import inspect
import json
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


def test_open_results_refuses_a_folder_without_results(tmp_path):
    (tmp_path / "summary.txt").write_text("not results")
    with pytest.raises(UsageError, match="holds no results"):
        api.open_results(tmp_path)
    with pytest.raises(UsageError, match="unknown format"):
        (tmp_path / "summary.json").write_text(json.dumps({"outcomes": [], "runs": 0}))
        api.plot(tmp_path, ["png", "gif"])
