"""The app without a browser: generated controls, the R = 1 model, and solara's test rendering."""

from __future__ import annotations

import shutil
import time

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
from solara.widgets import HTML

from sim.app.controls import DECIDED_IN_RUN, controls_for, overrides_for, parse_settings
from sim.app.explorer import ExplorerModel, ensemble_outcomes
from sim.app.page import Page
from sim.execution.batches import collect_rows
from sim.model import CrisisModel
from sim.scenario.loader import load_scenario

from .conftest import BASELINE, FICTIONAL

# ----------------------------------------------------------------------------- controls


@pytest.mark.parametrize("path", [BASELINE, FICTIONAL])
def test_every_choice_of_every_control_is_a_valid_scenario(path):
    loaded = load_scenario(path)
    controls = controls_for(loaded)
    actors = list(loaded.spec.actors)
    for actor in actors:
        assert f"actors.{actor}.rationality" in [c.path for c in controls]
    for control in controls:
        values = list(control.choices) if control.kind == "Select" else [control.low,
                                                                         control.high]
        for value in values:
            load_scenario(path, control.overrides(value))  # raises if the schema refuses


def test_controls_cover_main_interests_assets_and_gates(baseline):
    by_path = {c.path: c for c in controls_for(baseline)}
    turkey = baseline.spec.actors["turkey"].interests
    top = max(turkey, key=turkey.get)
    assert by_path[f"actors.turkey.interests.{top}"].value == turkey[top]
    patriot = by_path["assets.patriot"]
    assert patriot.value == DECIDED_IN_RUN
    assert any(s == ("assets.patriot.deployed_at_start=turkey",)
               for s in patriot.choices.values())
    assert by_path["assets.s400"].choices[next(
        k for k in by_path["assets.s400"].choices if k != DECIDED_IN_RUN)] == (
        "assets.s400.active_at_start=true",)
    assert set(baseline.spec.refugees.gates) == {
        p.split(".")[-1] for p in by_path if p.startswith("refugees.gates.")}


def test_untouched_controls_change_nothing_and_a_moved_one_changes_one_value(baseline):
    controls = controls_for(baseline)
    defaults = {c.path: c.value for c in controls}
    assert overrides_for(controls, defaults) == []
    moved = dict(defaults, **{"actors.turkey.rationality": 12.5})
    assert overrides_for(controls, moved) == ["actors.turkey.rationality=12.5"]
    assert parse_settings(" a.b=1; c.d=2\n e.f=3 ;") == ["a.b=1", "c.d=2", "e.f=3"]


# ----------------------------------------------------------------------------- the R = 1 model


def test_explorer_steps_run_k_exactly_as_the_ensemble_does(baseline):
    seed = baseline.spec.run.seed
    batch = CrisisModel(baseline, replications=np.arange(6), seed=seed).run()
    alone = ExplorerModel(scenario_file=str(BASELINE), run_index="4")
    while alone.running:
        alone.step()
    assert np.array_equal(alone.trajectory[:, 0], batch.trajectory[:, 4])
    assert alone.day == baseline.spec.run.days
    assert any("→" in text for _, text in alone.log)  # rung changes, in words


def test_bad_settings_are_reported_and_the_scenario_runs_as_written():
    model = ExplorerModel(scenario_file=str(BASELINE), seed="twelve", run_index="-3",
                          settings="actors.turky.war_cost=1")
    text = "\n".join(model.problems)
    assert "no 'turky' in actors; did you mean 'turkey'" in text
    assert "seed: 'twelve' is not a whole number" in text
    assert "run index: -3 is negative" in text
    assert model.overrides == [] and model.run_index == 0
    assert model.seed == load_scenario(BASELINE).spec.run.seed
    model.step()  # the server's model still works
    out_of_range = ExplorerModel(scenario_file=str(BASELINE),
                                 settings="actors.turkey.rationality=-5")
    assert any("actors.turkey.rationality" in p and "greater than or equal to 0" in p
               for p in out_of_range.problems), out_of_range.problems


def test_page_ensemble_equals_the_lockstep_ensemble(baseline):
    seed = 5
    page = ensemble_outcomes(baseline, seed, 230)
    model = CrisisModel(baseline, replications=np.arange(230), seed=seed,
                        record_paths=False).run()
    rows = collect_rows(model, baseline)
    for row in page.outcomes:
        flags = rows[f"outcome.{row['outcome']}"]
        assert row["count"] == int(flags.sum()) and row["runs"] == 230
    assert ensemble_outcomes(baseline, seed, 230, cancelled=lambda: True) is None


# ----------------------------------------------------------------------------- solara rendering


def _text(rc) -> str:
    return " ".join([str(w.children) for w in rc.find(v.Html).widgets]
                    + [w.unsafe_innerHTML or "" for w in rc.find(HTML).widgets])


def _wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the page")
        time.sleep(0.05)


@pytest.fixture
def app_page(monkeypatch, tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    shutil.copy(BASELINE, folder / "baseline.yaml")
    shutil.copy(FICTIONAL, folder / "fictional.yaml")
    (folder / "broken.yaml").write_text("name: broken\nactors: [\n")
    monkeypatch.setenv("SIM_APP_SCENARIO", str(folder / "baseline.yaml"))
    monkeypatch.setenv("SIM_APP_SCENARIOS", str(folder))
    _box, rc = solara.render(solara.AppLayout(children=[Page()]), handle_error=False)
    yield rc, folder
    rc.close()


def _day(rc) -> str:
    return rc.find(HTML, tag="h3").widget.unsafe_innerHTML


def test_page_steps_and_redraws(app_page):
    rc, _ = app_page
    assert _day(rc).startswith("Day 0 of 120")
    images = [w.value for w in rc.find(ipywidgets.Image).widgets]
    step = rc.find(v.Btn, children=["Step"])
    for _ in range(3):
        step.widget.click()
    assert _day(rc).startswith("Day 3 of 120")
    after = [w.value for w in rc.find(ipywidgets.Image).widgets]
    assert len(after) == len(images) >= 5
    assert sum(a != b for a, b in zip(images, after, strict=True)) >= 3
    log = rc.find(HTML, tag="ul").widget.unsafe_innerHTML
    assert "2020-02-2" in log and "<li>" in log


def test_page_applies_a_changed_control_on_reset(app_page):
    rc, _ = app_page
    slider = rc.find(v.Slider, label="Turkey: weight of territory")
    slider.widget.v_model = 0.9
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert "actors.turkey.interests.territory=0.9" in _text(rc)
    assert _day(rc).startswith("Day 0 of")


def test_page_shows_bad_settings_without_failing(app_page):
    rc, _ = app_page
    field = rc.find(v.TextField, label="Other settings: PATH=VALUE; PATH=VALUE")
    field.widget.v_model = "actors.turkey.rationality=-5"
    field.widget.fire_event("keyup.enter", None)
    rc.find(v.Btn, children=["Reset"]).widget.click()
    errors = " ".join(str(w.children) for w in rc.find(v.Alert).widgets)
    assert "actors.turkey.rationality" in errors and "Not applied" in errors
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert _day(rc).startswith("Day 1 of")


def test_page_refuses_a_broken_file_and_switches_to_a_good_one(app_page):
    rc, folder = app_page
    select = rc.find(v.Select, label="Scenario file")
    select.widget.v_model = str(folder / "broken.yaml")
    errors = " ".join(str(w.children) for w in rc.find(v.Alert).widgets)
    assert "broken.yaml was not loaded" in errors
    assert _day(rc).startswith("Day 0 of 120")  # still the baseline
    select.widget.v_model = str(folder / "fictional.yaml")
    assert not rc.find(v.Alert).widgets
    labels = [w.label for w in rc.find(v.Slider).widgets]
    assert any(label.startswith("Arcadia") for label in labels)


def test_ensemble_tab_runs_in_the_background_and_shows_probabilities(app_page):
    rc, _ = app_page
    rc.find(v.Tabs).widget.v_model = 1  # the "Ensemble" tab
    _wait(lambda: rc.find(v.Btn, children=["Run ensemble"]).widgets)
    field = rc.find(v.TextField, label="Replications N").widget
    field.v_model = "120"
    field.fire_event("keyup.enter", None)
    rc.find(v.Btn, children=["Run ensemble"]).widget.click()
    _wait(lambda: rc.find(HTML, tag="table").widgets)
    table = rc.find(HTML, tag="table").widget.unsafe_innerHTML
    assert "120 runs" in table and "%" in table and "agreement" in table


# ----------------------------------------------------------------------------- pages, saved results


def test_pages_have_names(app_page):
    rc, _ = app_page
    tabs = [str(w.children[0]) for w in rc.find(v.Tab).widgets]
    assert tabs == ["One run", "Ensemble", "Saved results"]


@pytest.fixture(scope="module")
def saved_results(tmp_path_factory):
    """A results root with a sweep and a run, as `sim sweep` and `sim run` write them."""
    from sim import api

    root = tmp_path_factory.mktemp("outputs")
    api.sweep(FICTIONAL, {"fighting.loss_rate": (0.05, 0.5),
                          "actors.arcadia.war_cost": (0, 0.2)}, points=12, reps=8, seed=3,
              workers=1, out=root / "lhs", progress=False)
    api.run(FICTIONAL, runs=50, workers=1, out=root / "run", progress=False)
    (root / "not-results").mkdir()
    (root / "damaged").mkdir()
    (root / "damaged" / "summary.json").write_text("{not json")
    return root


def test_results_folders_lists_only_results(saved_results):
    from sim.app.results import results_folders

    found = results_folders(saved_results)
    assert found == [str(saved_results / n) for n in ("damaged", "lhs", "run")]


def test_saved_results_page_shows_a_sweep_and_a_run_and_reports_a_damaged_folder(
        monkeypatch, saved_results, tmp_path):
    monkeypatch.setenv("SIM_APP_SCENARIO", str(BASELINE))
    monkeypatch.setenv("SIM_APP_RESULTS", str(saved_results))
    before = sorted(p.relative_to(saved_results) for p in saved_results.rglob("*"))
    _box, rc = solara.render(solara.AppLayout(children=[Page()]), handle_error=False)
    try:
        rc.find(v.Tabs).widget.v_model = 2  # "Saved results"
        _wait(lambda: rc.find(v.Select, label="Results folder").widgets)
        select = rc.find(v.Select, label="Results folder").widget
        select.v_model = str(saved_results / "lhs")
        _wait(lambda: rc.find(HTML, tag="table").widgets)
        table = rc.find(HTML, tag="table").widget.unsafe_innerHTML
        assert "12 design points" in table and "median P" in table and "war" in table
        images = rc.find(ipywidgets.Image).widgets
        assert len(images) >= 2 and all(len(w.value) > 1000 for w in images)
        assert "sweep results in" in _text_all(rc)
        select.v_model = "/etc"  # not offered: a hostile client's value is ignored
        assert "12 design points" in rc.find(HTML, tag="table").widget.unsafe_innerHTML
        select.v_model = str(saved_results / "run")
        _wait(lambda: "50 runs" in rc.find(HTML, tag="table").widget.unsafe_innerHTML)
        select.v_model = str(saved_results / "damaged")
        _wait(lambda: rc.find(v.Alert).widgets)
        errors = " ".join(str(w.children) for w in rc.find(v.Alert).widgets)
        assert "summary.json is damaged" in errors
    finally:
        rc.close()
    # the page only reads: nothing was written into the results folders
    assert sorted(p.relative_to(saved_results) for p in saved_results.rglob("*")) == before


def _text_all(rc) -> str:
    return _text(rc) + " " + " ".join(str(w.children) for w in rc.find(v.Html).widgets)
