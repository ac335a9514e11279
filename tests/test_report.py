"""The report page (``sim report``): figures told as a story with captions that say what to
read, every Sobol index in a table with a word on estimation noise, scored runs written as a
reader reads them, effects by construction marked, and every field of a folder escaped by the
template. Folders are written by hand (no model run), so these tests take seconds."""

from __future__ import annotations

import json
import re

import matplotlib
import numpy as np
import pytest
import yaml

matplotlib.use("Agg")
from matplotlib.figure import Figure

from sim.plots import CHAPTERS, FIGURE_GUIDE, comparison_chart, figure_story
from sim.report import render, sensitivity_section, write_report

EVIL = "<script>alert(1)</script>"


def _png(path) -> None:
    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1], [0, 1])
    fig.savefig(path, format="png")


def _folder(tmp_path, stems, name="crisis"):
    folder = tmp_path / name
    (folder / "figures").mkdir(parents=True)
    for stem in stems:
        _png(folder / "figures" / f"{stem}.png")
    (folder / "scenario.resolved.yaml").write_text(yaml.safe_dump({"name": name}))
    (folder / "summary.json").write_text(json.dumps({
        "runs": 100, "seed": 1, "indicators": [],
        "outcomes": [{"outcome": "war", "probability": 0.3, "low": 0.22, "high": 0.4,
                      "count": 30, "runs": 100}]}))
    return folder


RUN_STEMS = ["event_days", "fan_affinity", "fan_losses", "fan_people", "fan_pressure",
             "indicators", "levels_deal", "levels_rung", "network", "outcomes"]


def _figures(page: str) -> list[tuple[str, str]]:
    """``(figure name, caption)`` in the order the page shows them."""
    return re.findall(r'<figure data-name="([^"]+)">.*?<figcaption class=note>(.*?)'
                      r"</figcaption>", page, flags=re.S)


def test_figures_are_told_as_a_story_with_captions_that_say_what_to_read(tmp_path):
    page = write_report(_folder(tmp_path, RUN_STEMS)).read_text()
    shown = _figures(page)
    names = [n for n, _ in shown]
    assert names == ["outcomes", "levels_rung", "event_days", "levels_deal", "fan_people",
                     "fan_losses", "network", "fan_affinity", "fan_pressure", "indicators"]
    chapters = re.findall(r"<h3 class=chapter>(.*?)</h3>", page)
    assert chapters == list(CHAPTERS)  # outcomes -> escalation -> people -> losses -> ...
    for name, caption in shown:
        # a sentence about what to read, not the file name
        assert caption != name.replace("_", " ") and len(caption.split()) >= 10, caption
    assert "share of runs at each escalation rung" in dict(shown)["levels_rung"]


def test_the_story_puts_outcome_figures_first_and_unknown_ones_last():
    story = figure_story(["zz_new", "sensitivity_war", "network", "response_war",
                          "comparison", "outcomes", "levels_rung"])
    assert [s["stem"] for s in story] == ["outcomes", "comparison", "response_war",
                                          "sensitivity_war", "levels_rung", "network",
                                          "zz_new"]
    assert "'war'" in story[2]["caption"] and story[-1]["chapter"] == "Details"
    assert {chapter for _, chapter, _ in FIGURE_GUIDE} == set(CHAPTERS)


def test_every_field_of_a_folder_is_escaped_by_the_template(tmp_path):
    folder = _folder(tmp_path, ["outcomes"])
    (folder / "summary.json").write_text(json.dumps({
        "runs": EVIL, "seed": EVIL, "indicators": [],
        "outcomes": [{"outcome": EVIL, "probability": 0.5, "low": 0.4, "high": 0.6,
                      "count": EVIL, "runs": 10}]}))
    (folder / "manifest.json").write_text(json.dumps({EVIL: EVIL, "mode": "uncertain",
                                                      "varied": {EVIL: EVIL}}))
    (folder / "provenance.json").write_text(json.dumps([
        {"path": EVIL, "value": EVIL, "note": EVIL, "kind": "source"}]))
    (folder / "score.json").write_text(json.dumps({
        "observations": EVIL, "summary": {}, "events": [
            {"outcome": EVIL, "happened": True, "probability": 0.5, "brier": 0.25,
             "log_score": 0.69, "source": EVIL}], "reliability": []}))
    (folder / "sensitivity.json").write_text(json.dumps({
        "method": "sobol", "parameters": [EVIL],
        "results": {f"outcome.{EVIL}": {"S1": [0.1], "S1_conf": [0.05], "ST": [0.2],
                                        "ST_conf": [0.05]}}}))
    (folder / "policies.json").write_text(json.dumps({
        "reference": EVIL, "points": 1, "reps": 1, "policies": [{"policy": EVIL}],
        "rows": [{"outcome": EVIL, "policy": EVIL, "probability": 0.5, "low": 0.4,
                  "high": 0.6, "difference": 0.1, "difference_low": 0.0,
                  "difference_high": 0.2}]}))
    page = write_report(folder).read_text()
    assert "<script>" not in page
    assert page.count("&lt;script&gt;") >= 11
    # and the autoescaping is the template's own, not a call someone may forget
    assert "&lt;b&gt;" in render(_minimal_context(title="<b>"))


def _minimal_context(**changes):
    context = {"css": "", "title": "t", "description": "", "summary": None, "splits": [],
               "degeneracy": None, "comparison": None, "design": None, "sensitivity": None,
               "discovery": "", "mode": None, "score": None, "chapters": [], "manifest": [],
               "provenance": None, "policies": None}
    return {**context, **changes}


def _sobol(s1, st):
    return {"method": "sobol", "parameters": ["a", "b"],
            "results": {f"outcome.o{k}": {"S1": s1, "S1_conf": [0.05, 0.05], "ST": st,
                                          "ST_conf": [0.1, 0.1]} for k in range(8)}
            | {"mean.losses.x": {"S1": s1, "S1_conf": [0.05, 0.05], "ST": st,
                                 "ST_conf": [0.1, 0.1]}}}


def test_sobol_indices_of_every_outcome_are_tabled_and_noise_is_named():
    section = sensitivity_section(_sobol([-0.08, 0.5], [0.3, 1.2]), base_samples=64)
    assert [t["target"] for t in section["targets"]] == [f"o{k}" for k in range(8)]  # no cut
    first = section["targets"][0]
    assert first["rows"][0]["values"] == ["-0.08 [-0.13, -0.03]", "0.30 [0.20, 0.40]"]
    noise = " ".join(first["noise"])
    assert "a: S1 -0.08 [-0.13, -0.03] is below 0" in noise and "estimation noise" in noise
    assert "b: ST 1.20 [1.10, 1.30] is above 1" in noise and "than 64" in noise
    assert "whole interval lies below 0" in noise and "whole interval lies above 1" in noise
    straddling = sensitivity_section(_sobol([-0.02, 0.5], [0.3, 0.9]))["targets"][0]["noise"]
    assert len(straddling) == 1 and "within 0 to 1 (0.00 to 0.03)" in straddling[0]
    assert sensitivity_section(_sobol([0.1, 0.5], [0.3, 0.9]))["targets"][0]["noise"] == []


def test_the_report_has_a_sobol_table_for_every_outcome(tmp_path):
    folder = _folder(tmp_path, ["outcomes"])
    (folder / "sensitivity.json").write_text(json.dumps(_sobol([-0.08, 0.5], [0.3, 0.9])))
    page = write_report(folder).read_text()
    assert page.count("<table class=sensitivity>") == 8
    assert "which a share of variance cannot be" in page


def test_a_scored_run_writes_never_rounds_the_sample_size_and_embeds_the_posterior(
        tmp_path):
    folder = _folder(tmp_path, ["outcomes", "posterior"])
    (folder / "manifest.json").write_text(json.dumps({
        "mode": "posterior", "varied": {"posterior": "cal/posterior.json",
                                        "effective_sample_size": 2005.4494349123581}}))
    (folder / "score.json").write_text(json.dumps({
        "observations": "obs.yaml", "summary": {"brier": 0.1, "brier_skill": 0.6,
                                                 "log_score": 0.3, "log_skill": 0.5,
                                                 "events": 1},
        "events": [{"outcome": "war", "happened": False, "probability": 0.2, "brier": 0.04,
                    "log_score": 0.22, "source": "news"}],
        "days_of_events": [{"outcome": "war", "observed": 142, "median": 142,
                            "interval90": {"low": 60, "high": 142}, "never_day": 142,
                            "crps": 3.0, "pit": 0.8, "source": "news"}],
        "quantities": [], "reliability": [{"forecast": 0.2, "observed": 0.0, "count": 1}]}))
    page = write_report(folder).read_text()
    section = page[page.index("<h2>Calibrated values</h2>"):page.index("<h2>Scores")]
    assert "effective sample size 2,005)" in section and "2005.4" not in section
    row = re.search(r"<td>day of war</td>(.*?)</tr>", page, flags=re.S).group(1)
    cells = re.findall(r"<td class=num>([^<]*)</td>", row)
    assert cells[:3] == ["never", "never", "60 – never"]
    assert "&#39;never&#39;: the event did not happen" in page
    names = [n for n, _ in _figures(page)]
    assert names.count("posterior") == 1 and "reliability" in names
    calibrated = page.index("<h2>Calibrated values</h2>")
    assert calibrated < page.index('data-name="posterior"') < page.index("<h2>Figures</h2>")


def test_an_effect_by_construction_is_marked_and_does_not_set_the_axis():
    rows = [{"outcome": "deployed", "scenario": "cf", "probability": 1.0, "difference": 0.85,
             "difference_low": 0.8, "difference_high": 0.9},
            {"outcome": "war", "scenario": "cf", "probability": 0.3, "difference": -0.04,
             "difference_low": -0.08, "difference_high": 0.0}]
    comparison = {"scenarios": ["base", "cf"], "rows": rows}
    ax = comparison_chart(comparison, {("deployed", "cf")}).axes[0]
    low, high = ax.get_xlim()
    assert high < 20 and low > -20  # scaled to the 4-point effect, not the 85-point premise
    assert any("+85 pts by construction" in t.get_text() for t in ax.texts)
    free = comparison_chart(comparison).axes[0]
    assert free.get_xlim()[1] > 85  # without the mark, as before
    edge = [line for line in ax.lines if line.get_marker() == ">"]  # drawn at the edge
    assert len(edge) == 1 and np.isclose(edge[0].get_xdata()[0], high)


@pytest.mark.parametrize("name", ["../escape", "a/b", ""])
def test_constructed_effects_read_only_the_comparisons_own_subfolders(tmp_path, name):
    from sim.plots import constructed_effects

    comparison = {"scenarios": ["base", name], "rows": [
        {"outcome": "war", "scenario": name, "difference": 0.5}]}
    assert constructed_effects(tmp_path, comparison) == {}


def test_an_asset_deployed_on_day_0_is_certain_by_construction():
    from sim.reachability import CERTAIN, outcome_verdicts
    from sim.scenario.loader import load_scenario

    from .conftest import BASELINE, COUNTERFACTUALS

    counterfactual = outcome_verdicts(load_scenario(COUNTERFACTUALS / "patriots_day0.yaml").spec)
    assert counterfactual["patriots_deployed"].verdict == CERTAIN
    assert "on day 0" in counterfactual["patriots_deployed"].why
    baseline = outcome_verdicts(load_scenario(BASELINE).spec)
    assert baseline["patriots_deployed"].verdict is None  # granted or not: the dynamics
    # drawn per run, the value is not a fact of the structure
    varied = frozenset({"assets.patriot.deployed_at_start"})
    spec = load_scenario(COUNTERFACTUALS / "patriots_day0.yaml").spec
    assert outcome_verdicts(spec, varied)["patriots_deployed"].verdict is None


def test_response_curves_scale_the_axis_to_the_effect():
    from sim.plots import response_curves

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 4000)
    runs = {"param.a": x, "param.b": rng.uniform(0, 1, 4000),
            "outcome.war": (rng.uniform(size=4000) < 0.05 + 0.10 * x).astype(float)}
    fig = response_curves(runs, "war", ["a", "b"])
    low, high = fig.axes[0].get_ylim()
    assert low >= 0 and 15 <= high <= 30  # 5% to 15%, not flattened on 0-100%
    assert fig.axes[1].get_ylim() == (low, high)  # the panels compare


def test_a_nearly_constant_panel_is_named_under_the_figure_not_drawn(tmp_path):
    """Issue #26: a gate open in 0.5% of runs was drawn as a solid grey panel."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.plots import plot_folder

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "scenario.resolved.yaml").write_text(yaml.safe_dump({"name": "gates"}))
    rows = []
    for day in range(10):
        date = f"2031-05-{day + 1:02d}"
        for series, open_share in (("gate.rare", 0.005 if day > 4 else 0.0),
                                   ("gate.often", 0.1 * day)):
            rows += [(day, date, series, 0, 1 - open_share), (day, date, series, 1, open_share)]
    day, date, series, level, share = zip(*rows, strict=True)
    pq.write_table(pa.table({"day": list(day), "date": list(date), "series": list(series),
                             "level": list(level), "share": list(share)}),
                   folder / "levels.parquet")
    plot_folder(folder, ("svg",))
    svg = (folder / "figures" / "levels_gate.svg").read_text()
    assert "often" in svg and "rare (at most 0.5%)" in svg
    assert "Not drawn, under 1% of runs ever away from their usual level" in svg
    assert svg.count("last day:") == 1  # one panel: the varying gate
