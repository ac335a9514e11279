"""Figures drawn by ``plot_folder`` show the numbers of the files they are drawn from.

The figures are caught as ``plot_folder`` saves them (``Figure.savefig`` is wrapped), so these
tests depend on the folder-level entry point and the figures' file names, not on the names or
signatures of the individual plotting functions. Values are compared with the plotted data
exactly (to rounding), in either unit a figure may use (shares or percent).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from sim.execution.compare import compare
from sim.execution.ensemble import run_ensemble
from sim.plots import plot_folder
from sim.scenario.loader import load_scenario

from .conftest import FICTIONAL


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    loaded = load_scenario(FICTIONAL)
    run_ensemble(loaded, runs=80, seed=2, workers=1, out_dir=root / "run", progress=False)
    other = load_scenario(FICTIONAL, ["relations.arcadia~borduria.trade=0.8"])
    compare([loaded, other], runs=80, seed=2, workers=1, out_dir=root / "compare",
            progress=False)
    return root


def _drawn(folder, monkeypatch) -> dict[str, Figure]:
    """Every figure ``plot_folder`` saves for ``folder``, by file stem."""
    import sim.plots as plots

    figures: dict[str, Figure] = {}
    if hasattr(plots, "save_figure"):  # figures written through a helper (path, format)
        real_save = plots.save_figure

        def catch_save(fig, path, *args, **kwargs):
            figures[Path(path).stem] = fig
            return real_save(fig, path, *args, **kwargs)

        monkeypatch.setattr(plots, "save_figure", catch_save)
    else:
        real = Figure.savefig

        def catch(self, fname, *args, **kwargs):
            figures[str(getattr(fname, "stem", fname))] = self
            return real(self, fname, *args, **kwargs)

        monkeypatch.setattr(Figure, "savefig", catch)
    plot_folder(folder, ("png",))
    return figures


def _one(figures: dict[str, Figure], prefix: str) -> Figure:
    found = [fig for stem, fig in figures.items() if stem.startswith(prefix)]
    assert found, f"no figure named {prefix}*: {sorted(figures)}"
    return found[0]


def _in_unit(drawn: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``expected`` in the unit of ``drawn``: percent if what is drawn goes beyond 1."""
    return expected * 100 if np.abs(drawn).max() > 1.0 + 1e-9 else expected


def test_outcome_bars_are_the_probabilities_of_summary_json(folders, monkeypatch):
    summary = json.loads((folders / "run" / "summary.json").read_text())
    p = np.sort([row["probability"] for row in summary["outcomes"]])
    assert p.max() > 0.05 and p.size >= 3  # not a trivial picture
    fig = _one(_drawn(folders / "run", monkeypatch), "outcomes")
    bars = [r for ax in fig.axes for r in ax.patches if isinstance(r, Rectangle)]
    assert len(bars) == p.size, f"{len(bars)} bars for {p.size} outcomes"
    # a horizontal bar starts at x = 0 and is as long as it is wide; a vertical one is tall
    lengths = np.sort([r.get_width() if r.get_x() == 0 else r.get_height() for r in bars])
    assert np.allclose(lengths, _in_unit(lengths, p), rtol=0, atol=1e-9), (lengths, p)


def test_a_fans_median_line_is_the_trajectorys_q50(folders, monkeypatch):
    traj = pq.read_table(folders / "run" / "trajectories.parquet").to_pandas()
    fig = _one(_drawn(folders / "run", monkeypatch), "fan_people")
    medians = {name: group["q50"].to_numpy() for name, group in traj.groupby("series")
               if name.startswith("people.")}
    lines = [np.asarray(line.get_ydata(), float) for ax in fig.axes for line in ax.lines
             if isinstance(line, Line2D) and len(line.get_ydata()) > 2]
    matched = {name for name, q50 in medians.items()
               if any(y.shape == q50.shape and np.allclose(y, q50, rtol=1e-12, atol=0)
                      for y in lines)}
    moving = {name for name, q50 in medians.items() if np.ptp(q50) > 0}
    assert moving, "no people series moves in this ensemble"
    assert moving <= matched, f"no median line equals q50 of {sorted(moving - matched)}"


def test_comparison_marks_are_the_paired_differences(folders, monkeypatch):
    comparison = json.loads((folders / "compare" / "comparison.json").read_text())
    rows = [r for r in comparison["rows"] if "difference" in r]
    diffs = np.array([r["difference"] for r in rows])
    assert np.abs(diffs).max() > 0.02  # a comparison with something to show
    fig = _one(_drawn(folders / "compare", monkeypatch), "comparison")
    drawn = []
    for ax in fig.axes:
        for line in ax.lines:
            drawn += list(np.asarray(line.get_xdata(), float))
        drawn += [r.get_x() + r.get_width() for r in ax.patches if isinstance(r, Rectangle)]
    drawn = np.array(drawn, float)
    expected = _in_unit(drawn, diffs)
    missing = [d for d in expected if not np.isclose(drawn, d, rtol=0, atol=1e-9).any()]
    assert not missing, f"differences not drawn: {missing}"
