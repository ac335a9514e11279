"""The browser page: a scenario picker around Mesa's SolaraViz (``solara run sim.app.page``).

SolaraViz supplies the controls (Reset, play/pause, Step, the parameter inputs) and the
layout; this module chooses the scenario, generates the inputs from it (``controls``) and
lists the views. Choosing another scenario file re-creates the SolaraViz element (its key is
the file), because each scenario has its own actors and therefore its own inputs. A file that
does not load is refused with its problems shown, and the page keeps the previous scenario.

The starting file comes from ``SIM_APP_SCENARIO`` (``sim app FILE`` sets it); the picker lists
the ``*.yaml`` files under ``SIM_APP_SCENARIOS`` (default: ``scenarios``).
"""

from __future__ import annotations

import os
from pathlib import Path

import solara
from mesa.visualization import SolaraViz

from sim.app import views
from sim.app.controls import controls_for
from sim.app.explorer import ExplorerModel
from sim.app.results import ResultsView, use_named_pages
from sim.errors import ScenarioError
from sim.safety import is_inside
from sim.scenario.loader import LoadedScenario, load_scenario

DEFAULT_SCENARIO = "scenarios/idlib_2020.yaml"


def scenario_files(folder: Path, current: str) -> list[str]:
    """Scenario files the picker offers: every YAML under ``folder``, and the current one.

    Only regular files whose real path (symlinks resolved) lies inside ``folder`` are listed,
    and no observations file (``*.observations.yaml``: what happened, not a scenario) nor
    sweep file (``*.sweep.yaml``: a design of a sweep, not a scenario).
    """
    found = sorted(str(p) for p in folder.rglob("*.yaml")
                   if not p.name.endswith((".observations.yaml", ".sweep.yaml"))
                   and p.is_file() and is_inside(p, folder)) if folder.is_dir() else []
    return found if current in found else [current, *found]


def offered(new: object, folder: Path, first: str) -> bool:
    """Whether ``new`` is one of the files the picker offers.

    The value comes from the browser, and a websocket client can send any value: loading
    whatever it names would read any file the server can (``/etc/passwd`` echoed as
    problems, ``/dev/zero`` without end). Only the listed files, compared as given and
    resolved inside the scenarios folder (or the file the server was started with), load.
    """
    return isinstance(new, str) and new in scenario_files(folder, first) and (
        new == first or is_inside(Path(new), folder))


def model_params(loaded: LoadedScenario, file: str) -> dict:
    """SolaraViz's ``model_params``: fixed file, replay inputs, generated controls, free text."""
    params: dict = {"scenario_file": file}
    params["seed"] = {"type": "InputText", "label": "Seed (a saved ensemble's, to replay it)",
                      "value": str(loaded.spec.run.seed)}
    params["run_index"] = {"type": "InputText", "label": "Run index (replication to step)",
                           "value": "0"}
    for control in controls_for(loaded):
        params[control.path] = control.as_mesa_param()
    params["settings"] = {"type": "InputText",
                          "label": "Other settings: PATH=VALUE; PATH=VALUE", "value": ""}
    return params


COMPONENTS = [
    (views.Status, 0), (views.EscalationView, 0), (views.LossesView, 0),
    (views.PeopleView, 0), (views.AllianceView, 0), (views.ControlView, 0),
    (views.EventLog, 0), (views.EnsembleView, 1), (ResultsView, 2),
]
use_named_pages()  # tabs "One run", "Ensemble", "Saved results" instead of "Page 0", ...


def _load(file: str) -> tuple[LoadedScenario | None, list[str]]:
    try:
        return load_scenario(file), []
    except ScenarioError as exc:
        return None, [str(p) for p in exc.problems]
    except OSError as exc:
        return None, [f"{file}: cannot read it ({exc.strerror or exc})"]


@solara.component
def Page():
    """The app: scenario picker, then SolaraViz for the chosen scenario."""
    first = os.environ.get("SIM_APP_SCENARIO", DEFAULT_SCENARIO)
    folder = Path(os.environ.get("SIM_APP_SCENARIOS", "scenarios"))
    file = solara.use_reactive(first)
    refused = solara.use_reactive([])
    loaded, problems = solara.use_memo(lambda: _load(file.value), [file.value])
    model = solara.use_memo(
        lambda: None if loaded is None else ExplorerModel(scenario_file=file.value),
        [file.value])

    def choose(new: str) -> None:
        if not offered(new, folder, first):
            refused.set(["that file is not one of the scenarios offered; pick one from the "
                         "list"])
            return
        candidate, new_problems = _load(new)
        refused.set([f"{new} was not loaded:", *new_problems] if candidate is None else [])
        if candidate is not None:
            file.set(new)

    with solara.Sidebar(), solara.Card("Scenario"):
        solara.Select("Scenario file", value=file.value, on_value=choose,
                      values=scenario_files(folder, file.value))
        solara.Text("Inputs apply when you press Reset.")
        for line in refused.value + problems:
            solara.Error(line)
    if loaded is None:
        return
    SolaraViz(model, components=COMPONENTS, model_params=model_params(loaded, file.value),
              name=f"Crisis explorer — {loaded.spec.name}").key(file.value)
