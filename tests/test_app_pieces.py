"""The app's pieces that need no browser and no server: tables, slider readouts, the grid, which
files the scenario picker offers, which folders the results page opens, and ``--results``."""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

import pytest

from sim.app import tables
from sim.app.page import is_scenario_file, scenario_files
from sim.app.results import inside_root, results_folders, results_root
from sim.app.viz import COLUMNS, decimals, grid_layout, readout
from sim.cli import main

from .conftest import BASELINE, FICTIONAL, ROOT

CELL = re.compile(r"<td(?: class='num')?>(.*?)</td>")


def _cells(table_html: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", table_html.split("<tbody>")[1])
    return [[html.unescape(c) for c in CELL.findall(row)] for row in rows]


def _headers(table_html: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r"<th(?: [^>]*)?>(.*?)</th>", table_html)]


# ----------------------------------------------------------------------------- tables


def test_probability_and_interval_are_separate_cells():
    outcomes = [{"outcome": "war_a_b", "probability": 0.944, "low": 0.92, "high": 0.961},
                {"outcome": "deal", "probability": 0.05, "low": 0.031, "high": 0.08}]
    table = tables.outcome_table(outcomes, "500 runs")
    assert _headers(table) == ["outcome", "probability", "95% interval"]
    assert _cells(table) == [["war a b", "94.4%", "92.0 – 96.1%"],
                             ["deal", "5.0%", "3.1 – 8.0%"]]  # most likely first
    assert "<caption>500 runs</caption>" in table
    # numbers are right-aligned, in their own cells
    assert table.count("<td class='num'>") == 4


def test_comparison_rows_carry_each_difference_with_its_interval():
    rows = [{"outcome": "war", "scenario": "base", "probability": 0.5, "low": 0.4,
             "high": 0.6, "difference": float("nan")},
            {"outcome": "war", "scenario": "more_trade", "probability": 0.3, "low": 0.21,
             "high": 0.4, "difference": -0.2, "difference_low": -0.27,
             "difference_high": -0.131}]
    table = tables.comparison_table(rows)
    headers = _headers(table)
    assert headers[4] == "difference from base"
    assert headers[5] == "95% interval of the difference"
    base, other = _cells(table)
    assert base[4] == tables.REFERENCE and base[5] == ""
    assert other == ["war", "more_trade", "30.0%", "21.0 – 40.0%", "-20.0 pts",
                     "-27.0 – -13.1 pts"]


def test_prim_rows_are_the_chosen_box_as_discovery_found_it():
    found = {"target": "war", "prim": {
        "chosen": 1, "unrestricted": ["c"],
        "trajectory": [{"box": 0, "coverage": 1.0, "density": 0.2, "mass": 1.0, "runs": 100},
                       {"box": 1, "coverage": 0.61, "density": 0.83, "mass": 0.15,
                        "runs": 15}],
        "box": [{"parameter": "a", "low": 0.71234, "high": 1.0, "range_low": 0.0,
                 "range_high": 1.0},
                {"parameter": "b", "low": 0.0, "high": 0.39, "range_low": 0.0,
                 "range_high": 0.5}]}}
    limits = tables.prim_table(found)
    assert _headers(limits) == list(tables.PRIM_HEADERS)
    assert _cells(limits) == [["a", "0.7123", "1", "0", "1"], ["b", "0", "0.39", "0", "0.5"]]
    assert "PRIM box 1 of 2 for war" in limits
    measures = dict(map(tuple, _cells(tables.prim_measures_table(found))))
    assert measures == {"coverage": "61.0%", "density": "83.0%", "mass": "15.0%",
                        "runs in the box": "15"}


def test_table_cells_are_escaped():
    table = tables.html_table(("a",), [("<script>x</script>",)])
    assert "<script>" not in table and "&lt;script&gt;" in table


# ----------------------------------------------------------------------------- sliders, grid


def test_slider_readout_shows_value_and_range_to_the_step():
    assert decimals(0.01) == 2 and decimals(0.1) == 1 and decimals(1.0) == 0
    assert decimals(0.05) == 2 and decimals(50) == 0
    assert readout(0.25, 0.0, 1.0, 0.01) == ("0.25", "0.00 – 1.00")
    assert readout(60.0, 0.0, 200.0, 1.0) == ("60", "0 – 200")
    assert readout(100, 0, 1000, 50) == ("100", "0 – 1000")


def test_grid_layout_fills_rows_left_to_right():
    layout = grid_layout([(12, 4), (6, 10), (6, 10), (6, 10)])
    assert [(c["x"], c["y"], c["w"], c["h"]) for c in layout] == [
        (0, 0, 12, 4), (0, 4, 6, 10), (6, 4, 6, 10), (0, 14, 6, 10)]
    assert all(c["x"] + c["w"] <= COLUMNS for c in layout)


# ----------------------------------------------------------------------------- scenario picker


def test_the_picker_offers_scenarios_only(tmp_path):
    folder = tmp_path / "scenarios"
    (folder / "library").mkdir(parents=True)
    shutil.copy(FICTIONAL, folder / "three_states.yaml")
    (folder / "variant.yml").write_text(f"extends: {FICTIONAL}\nname: variant\n")
    (folder / "library" / "three_states.observations.yaml").write_text(
        "scenario: ../three_states.yaml\nevents: []\nactors: {}\n")  # even with actors
    (folder / "library" / "pooled_priors.yml").write_text("constants:\n  a: 1\n")
    (folder / "sweep.yaml").write_text("parameters:\n  fighting.loss_rate: [0.1, 0.3]\n")
    (folder / "notes.md").write_text("actors:\n")
    (folder / "binary.yaml").write_bytes(b"\xff\xfe actors:\n")
    (folder / "escape.yaml").symlink_to(BASELINE)  # a scenario, but outside the folder
    os.mkfifo(folder / "fifo.yaml")
    first = str(folder / "three_states.yaml")
    assert scenario_files(folder, first) == [first, str(folder / "variant.yml")]
    assert not is_scenario_file(folder / "fifo.yaml")  # and does not block on it


def test_the_repository_picker_lists_no_observations_file():
    folder = ROOT / "scenarios"
    found = scenario_files(folder, str(BASELINE))
    assert str(BASELINE) in found and len(found) > 10
    assert not [f for f in found if "observations" in f or not f.endswith((".yaml", ".yml"))]
    assert not [f for f in found if f.endswith("pooled_priors.yml")]


# ----------------------------------------------------------------------------- results root


@pytest.fixture
def root_and_outside(tmp_path):
    root = tmp_path / "outputs"
    (root / "deep" / "a" / "b" / "c" / "run").mkdir(parents=True)
    (root / "deep" / "a" / "b" / "c" / "run" / "summary.json").write_text("{}")
    (root / "sweep").mkdir()
    (root / "sweep" / "sweep.parquet").write_bytes(b"")
    (root / "empty").mkdir()
    outside = tmp_path / "elsewhere" / "run"
    outside.mkdir(parents=True)
    (outside / "summary.json").write_text("{}")
    (root / "escape").symlink_to(outside)
    return root, outside


def test_the_results_page_opens_folders_inside_its_root_only(root_and_outside):
    root, outside = root_and_outside
    listed = results_folders(root)
    assert listed == [str(root / "sweep")]  # the deep one is typed; the symlink not listed
    deep = root / "deep" / "a" / "b" / "c" / "run"
    assert inside_root("deep/a/b/c/run", root) == (str(deep), None)
    assert inside_root(str(deep), root) == (str(deep), None)
    for escaping in (str(outside), "escape", "../elsewhere/run", "sweep/../../elsewhere/run",
                     "/etc", "~"):
        folder, problem = inside_root(escaping, root)
        assert folder is None and "outside the results root" in problem, escaping
        assert "\n" not in problem
    assert "no such folder" in inside_root("missing", root)[1]
    for hostile in ("x" * 5000, "a\x00b", "sweep\n../../elsewhere", None, ["sweep"]):
        folder, problem = inside_root(hostile, root)  # refused, never raised
        assert folder is None and "\n" not in problem and len(problem) < 400, problem
    assert "no results" in inside_root("empty", root)[1]
    assert "type a folder" in inside_root("  ", root)[1]


def test_results_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SIM_APP_RESULTS", str(tmp_path))
    assert results_root() == tmp_path.resolve()
    monkeypatch.delenv("SIM_APP_RESULTS")
    assert results_root() == Path("outputs").resolve()


def test_sim_app_refuses_a_results_folder_that_is_not_one(tmp_path, capsys):
    missing = tmp_path / "missing"
    assert main(["app", str(FICTIONAL), "--port", "0", "--results", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--results" in err and "does not exist" in err
    afile = tmp_path / "file"
    afile.write_text("")
    assert main(["app", str(FICTIONAL), "--port", "0", "--results", str(afile)]) == 2
    assert "is not a folder" in capsys.readouterr().err

