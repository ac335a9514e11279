"""Figures and the report are made from saved outputs, show what the tables say, and are not
blank: a minority of runs at a rung, the share of runs where an event never happened, a split
ensemble and outcome probabilities are checked in the figures' own data and text."""

from __future__ import annotations

import datetime as dt
import json

import matplotlib.image as mpimg
import numpy as np
import pytest

from sim.design import make_design, parse_parameter
from sim.execution.compare import compare
from sim.execution.ensemble import run_ensemble
from sim.execution.storage import levels_table, read_runs
from sim.execution.sweep import run_sweep
from sim.execution.trajectories import TrajectoryHistogram, series_edges
from sim.plots import (
    _read,
    bimodality,
    comparison_chart,
    ecdf_panel,
    event_day_ecdf,
    fan_chart,
    level_chart,
    outcome_bars,
    plot_folder,
)
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
    ("run", {"outcomes", "levels_rung", "fan_people", "indicators", "event_days", "network"}),
    # a heatmap is drawn for an outcome that varies over the design: in this small sweep
    # 'split' does ('war' became near-constant once compellence paid the attacker only by the
    # target's acceptance: the war is no longer started to make peace worth buying)
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


# ----------------------------------------------------------------------------- content


def _levels_with_tail(tail: float, runs: int = 200, days: int = 11) -> dict:
    """A levels table made the way ``sim run`` makes it: ``tail`` of runs at rung 3 from day 5."""
    names = ["rung.a~b", "affinity.a~b"]
    trajectory = np.zeros((days, runs, 2), dtype=np.float32)
    at_war = round(tail * runs)
    trajectory[5:, :at_war, 0] = 3
    trajectory[5:, at_war:, 0] = 1
    histogram = TrajectoryHistogram(names, days, series_edges(names, 4, 10.0))
    histogram.add(trajectory)
    table = levels_table(names, histogram.level_shares(), dt.date(2031, 5, 1))
    return {n: table.column(n).to_numpy(zero_copy_only=False) for n in table.column_names}


def test_a_tenth_of_runs_at_war_is_in_the_rung_figure():
    levels = _levels_with_tail(0.10)
    assert set(levels["series"]) == {"rung.a~b"}  # continuous series are not levels
    _, axes = level_chart(levels, ["rung.a~b"], "t", ["calm", "threats", "skirmishes", "war"])
    ax = axes[0]
    # the stacked areas: the top band (war) is 10 points high on the last day
    bands = [c for c in ax.collections]
    assert len(bands) == 4
    tops = [poly.get_paths()[0].vertices for poly in bands]
    last_x = max(v[:, 0].max() for v in tops)
    heights = []
    for v in tops:
        at_end = v[np.isclose(v[:, 0], last_x), 1]
        heights.append(at_end.max() - at_end.min())
    assert np.allclose(heights, [0, 90, 0, 10])
    assert "war 10%" in ax.get_title() and "threats 90%" in ax.get_title()
    assert "calm" not in ax.get_title()  # no runs there on the last day
    assert "most at" not in ax.get_title()  # the tail stays to the last day
    levels["share"] = levels["share"].copy()
    levels["share"][(levels["day"] == 10) & (levels["level"] == 3)] = 0.0  # it ends
    levels["share"][(levels["day"] == 10) & (levels["level"] == 1)] = 1.0
    _, axes = level_chart(levels, ["rung.a~b"], "t", ["calm", "threats", "skirmishes", "war"])
    assert "most at war: 10% on 06 May" in axes[0].get_title()


def test_level_chart_reads_the_shares_exactly():
    levels = _levels_with_tail(0.17, runs=100)
    sel = (levels["series"] == "rung.a~b") & (levels["day"] == 10)
    assert np.allclose(levels["share"][sel], [0, 0.83, 0, 0.17])
    for day in range(11):
        assert np.isclose(levels["share"][levels["day"] == day].sum(), 1.0)


def test_never_share_is_written_on_the_event_day_ecdf():
    day = np.full(200, np.nan)
    day[:166] = np.arange(166) % 30  # 83% of runs agree at some point, 17% never
    fig, axes = event_day_ecdf({"day.agreement": day}, ["day.agreement"], "t")
    ax = axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "never: 17%" in texts and "ever: 83% (dotted line)" in texts
    curve = ax.lines[0].get_ydata()
    assert np.isclose(curve[-1], 0.83)  # the ECDF ends at the share that happened
    assert any(np.allclose(line.get_ydata(), 0.83) for line in ax.lines[1:])  # its plateau
    fig = ecdf_panel({"losses.a": np.arange(10.0)}, ["losses.a"], "t")
    assert not any("never" in t.get_text() for t in fig.axes[0].texts)


def test_outcome_bars_are_the_probabilities_and_labels_clear_the_whiskers(folders):
    summary = json.loads((folders / "run" / "summary.json").read_text())
    summary["outcomes"].append({"outcome": "nearly_all", "probability": 0.96, "low": 0.93,
                                "high": 0.98, "count": 96, "runs": 100})
    fig = outcome_bars(summary["outcomes"], "t")
    ax = fig.axes[0]
    bars = {t.get_text().replace(" ", "_"): p.get_width()
            for t, p in zip(ax.get_yticklabels(), ax.patches, strict=True)}
    for row in summary["outcomes"]:
        assert np.isclose(bars[row["outcome"]], 100 * row["probability"])
    labels = [t for t in ax.texts if t.get_text().endswith("%")]
    assert len(labels) == len(summary["outcomes"])
    for text in labels:
        y = round(text.get_position()[1])
        row = sorted(summary["outcomes"], key=lambda r: r["probability"])[y]
        x = text.get_position()[0]
        assert f"{row['probability']:.1%}" == text.get_text()
        if text.get_horizontalalignment() == "left":  # starts right of the upper whisker
            assert x > 100 * row["high"]
        else:  # ends left of the lower whisker, inside the bar
            assert x < 100 * row["low"]


def test_bimodality_finds_a_split_and_its_shares():
    rng = np.random.default_rng(3)
    split = np.concatenate([rng.normal(0.0, 0.1, 780), rng.normal(3.0, 0.3, 220)])
    found = bimodality(split)
    assert found["bimodal"] and found["p"] < 0.001
    assert np.isclose(found["low_share"], 0.78) and np.isclose(found["high_share"], 0.22)
    assert abs(found["low_median"]) < 0.05 and abs(found["high_median"] - 3.0) < 0.1
    assert not bimodality(rng.normal(0.0, 1.0, 2000))["bimodal"]
    # integer counts: a unimodal staircase of ties is not many modes; zeros and a war are two
    assert not bimodality(rng.poisson(4.0, 2000).astype(float))["bimodal"]
    losses = np.concatenate([np.zeros(460), rng.poisson(1200, 540)]).astype(float)
    found = bimodality(losses, log=True)
    assert found["bimodal"] and np.isclose(found["low_share"], 0.46)
    assert not bimodality(np.concatenate([np.zeros(985), np.full(15, 9.0)]))["bimodal"]
    # a significant dip between modes too close to matter is not called a split
    close = np.concatenate([rng.normal(0.0094, 1e-5, 600), rng.normal(0.0097, 1e-5, 400)])
    assert bimodality(close)["p"] < 0.001
    assert not bimodality(close, min_gap=0.05)["bimodal"]
    assert bimodality(np.ones(50)) is None


def test_a_split_is_written_on_the_fan_chart():
    days, runs = 6, 100
    dates = [dt.date(2031, 5, 1) + dt.timedelta(days=d) for d in range(days)]
    traj = {"series": np.array(["losses.a"] * days), "date": np.array(dates, dtype=object),
            "day": np.arange(days)}
    for q in ("q05", "q25", "q50", "q75", "q95"):
        traj[q] = np.linspace(0, 1000 if q in ("q75", "q95") else 0, days)
    finals = np.where(np.arange(runs) < 40, 0.0, 1000.0 + np.arange(runs))
    fig = fan_chart(traj, ["losses.a"], "t", "soldiers", finals={"losses.a": finals},
                    log_split=True)
    ax = fig.axes[0]
    assert "splits 40% / 60%" in ax.get_title()
    assert any("40% of runs near 0" in t.get_text() and "60% near" in t.get_text()
               for t in ax.texts)


def test_rung_shares_on_the_last_day_equal_the_runs_final_rungs(folders):
    levels = _read(folders / "run" / "levels.parquet")
    runs = read_runs(folders / "run" / "runs.parquet")
    last = levels["day"].max()
    for name in ("rung.arcadia~borduria", "deal.valley_split", "gate.north_pass"):
        sel = (levels["series"] == name) & (levels["day"] == last)
        shares = levels["share"][sel][np.argsort(levels["level"][sel])]
        if name.startswith("rung."):
            final = runs[name + ".final"]
        elif name.startswith("deal."):
            final = runs["agreement.valley_split.final"].astype(float)
        else:
            continue  # no indicator holds a gate's last state; checked through paths below
        counts = np.bincount(final.astype(int), minlength=shares.size) / final.size
        assert np.allclose(shares, counts), name
    paths = _read(folders / "run" / "paths.parquet")
    assert set(np.unique(paths["gate.north_pass"])) <= {0.0, 1.0}


def test_network_first_panel_is_after_day_0_and_affinities_share_a_scale(folders):
    import matplotlib.pyplot as plt

    plot_folder(folders / "run", ("svg",))
    svg = (folders / "run" / "figures" / "network.svg").read_text()
    assert "after day 0" in svg and "before day 0" not in svg
    traj = _read(folders / "run" / "trajectories.parquet")
    affinity = [s for s in dict.fromkeys(traj["series"]) if s.startswith("affinity.")]
    fig = fan_chart(traj, affinity, "t", "affinity", ylim=(-1.05, 1.05))
    assert {ax.get_ylim() for ax in fig.axes if ax.get_visible()} == {(-1.05, 1.05)}
    assert "own y scale" not in fig._suptitle.get_text()
    plt.close("all")


def test_report_counts_sources_and_assumptions_as_they_are(folders):
    page = write_report(folders / "run").read_text()
    provenance = json.loads((folders / "run" / "provenance.json").read_text())
    kinds = [r["kind"] for r in provenance]
    assert "seed article" not in page
    assert f"{kinds.count('assumption')} values are assumptions" in page
    if kinds.count("source") == 0:
        assert "No value quotes a source." in page


def test_a_split_ensemble_is_named_in_the_network_and_the_report(folders, tmp_path):
    """Runs written as ``sim run`` writes them, 30% of them at war: figures and report say so."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.plots import alliance_network, ensemble_splits

    folder = tmp_path / "split"
    shutil.copytree(folders / "run", folder, ignore=shutil.ignore_patterns("figures"))
    runs = read_runs(folder / "runs.parquet")
    n = runs["run"].size
    war = np.arange(n) < round(0.3 * n)
    runs["affinity.arcadia~borduria.final"] = np.where(war, -0.95, -0.30) + 0.01 * (
        np.arange(n) % 5)
    pq.write_table(pa.table(runs), folder / "runs.parquet")
    rows = {r["series"]: r for r in ensemble_splits(folder)}
    split = rows["affinity.arcadia~borduria.final"]
    assert split["bimodal"] and np.isclose(split["low_share"], war.mean())
    page = write_report(folder).read_text()
    assert "Where the runs split" in page and f"{war.mean():.0%} of runs near -0.93" in page
    end = np.array([[1.0, -0.6], [-0.6, 1.0]])
    fig = alliance_network(["a", "b"], end, end, "t", "after day 0",
                           end_notes={(0, 1): "splits 30% / 70%"})
    assert any("splits 30% / 70%" in t.get_text() for t in fig.axes[1].texts)
