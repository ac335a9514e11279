"""Figures and the report are made from saved outputs, and are not blank."""

from __future__ import annotations

import json

import matplotlib.image as mpimg
import numpy as np
import pytest

from sim.design import make_design, parse_parameter
from sim.execution.compare import compare
from sim.execution.ensemble import run_ensemble
from sim.execution.sweep import run_sweep
from sim.plots import comparison_chart, outcome_bars, plot_folder
from sim.report import write_report
from sim.scenario.loader import load_scenario

from .conftest import FICTIONAL


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    loaded = load_scenario(FICTIONAL)
    run_ensemble(loaded, runs=60, seed=2, workers=1, out_dir=root / "run", progress=False)
    design = make_design("sobol", [parse_parameter("actors.arcadia.war_cost=0:0.1"),
                                   parse_parameter("fighting.loss_rate=0.1:0.5")], 8, 1)
    run_sweep(loaded, design, reps=6, workers=1, out_dir=root / "sweep", progress=False)
    other = load_scenario(FICTIONAL, ["relations.arcadia~borduria.trade=0.8"])
    compare([loaded, other], runs=40, seed=2, workers=1, out_dir=root / "compare",
            progress=False)
    return root


def _not_blank(path) -> None:
    pixels = mpimg.imread(path)[..., :3]
    assert pixels.std() > 0.05, f"{path.name} looks blank"
    assert (pixels < 0.5).mean() > 0.002, f"{path.name} has almost no ink"


@pytest.mark.parametrize(("kind", "expected"), [
    ("run", {"outcomes", "fan_rung", "fan_people", "indicators", "network"}),
    ("sweep", {"heatmap_split", "response_split", "sensitivity_split"}),
    ("compare", {"comparison"}),
])
def test_plot_folder_writes_non_blank_png_and_svg(folders, kind, expected):
    written = plot_folder(folders / kind)
    stems = {p.stem for p in written}
    assert expected <= stems, stems
    for path in written:
        assert path.stat().st_size > 1000
        if path.suffix == ".png":
            _not_blank(path)
        else:
            assert path.read_text().lstrip().startswith("<?xml")


def test_sweep_folder_has_response_and_sensitivity_figures(folders):
    stems = {p.stem for p in plot_folder(folders / "sweep", ("png",))}
    assert any(s.startswith("response_") for s in stems)
    assert any(s.startswith("sensitivity_") for s in stems)


def test_figures_have_titles_and_labelled_axes(folders):
    summary = json.loads((folders / "run" / "summary.json").read_text())
    fig = outcome_bars(summary["outcomes"], "t")
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_title() and ax.get_yticklabels()
    fig = comparison_chart(json.loads((folders / "compare" / "comparison.json").read_text()))
    assert "percentage points" in fig.axes[0].get_xlabel()


def test_fan_chart_uses_calendar_dates(folders):
    from sim.plots import _read, fan_chart

    traj = _read(folders / "run" / "trajectories.parquet")
    fig = fan_chart(traj, ["people.valley"], "t", "people")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert any("May" in t or "Jun" in t for t in labels), labels


def test_report_is_one_self_contained_page(folders):
    path = write_report(folders / "run")
    page = path.read_text()
    assert page.count("data:image/png;base64,") >= 4
    assert "<h2>Outcomes" in page and "Manifest" in page and "Sources and assumptions" in page
    assert "src=\"http" not in page and "<script" not in page  # nothing fetched
    for kind in ("sweep", "compare"):
        assert write_report(folders / kind).exists()
    assert np.isfinite(json.loads((folders / "compare" / "comparison.json").read_text())
                       ["paired_narrowing"])
