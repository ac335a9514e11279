"""The browser page: a scenario picker around Mesa's SolaraViz (``solara run sim.app.page``).

SolaraViz (as this app lays it out: ``sim.app.viz.Explorer``) supplies the controls (Reset,
play/pause, Step, the parameter inputs) and the layout; this module chooses the scenario,
generates the inputs from it (``controls``) and lists the views. Choosing another scenario
file re-creates the SolaraViz element (its key is the file), because each scenario has its own
actors and therefore its own inputs. A file that does not load is refused with its problems
shown, and the page keeps the previous scenario.

The starting file comes from ``SIM_APP_SCENARIO`` (``sim app FILE`` sets it); the picker lists
the scenario files under ``SIM_APP_SCENARIOS`` (default: ``scenarios``): YAML files that look
like a scenario (``is_scenario_file``), not the observations, priors or sweep files beside them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import solara

from sim.app import views
from sim.app.controls import controls_for
from sim.app.explorer import ExplorerModel
from sim.app.results import ResultsView
from sim.app.viz import Explorer
from sim.errors import ScenarioError
from sim.safety import is_inside, read_text_limited
from sim.scenario.loader import MAX_FILE_BYTES, LoadedScenario, load_scenario

DEFAULT_SCENARIO = "scenarios/idlib_2020.yaml"
#: Files that are never scenarios, whatever they hold: what happened (``sim score``).
NOT_SCENARIOS = (".observations.yaml", ".observations.yml", ".sweep.yaml", ".sweep.yml")
#: A scenario has actors, or extends a scenario that has them: a top-level key of either.
_SCENARIO_KEY = re.compile(r"^(actors|extends)\s*:", re.MULTILINE)


def is_scenario_file(path: Path) -> bool:
    """Whether ``path`` looks like a scenario file.

    That is: a regular ``.yaml``/``.yml`` file, not an observations file, of at most the
    loader's size, with a top-level ``actors`` or ``extends`` key. A cheap check (one bounded
    read, no YAML parsing), so the picker does not offer the observations, priors and sweep
    files kept beside the scenarios; whether the file loads is the loader's to say when it is
    chosen.
    """
    if path.suffix not in (".yaml", ".yml") or path.name.endswith(NOT_SCENARIOS):
        return False
    try:
        text = read_text_limited(path, MAX_FILE_BYTES)
    except (OSError, UnicodeDecodeError):
        return False
    return _SCENARIO_KEY.search(text) is not None


def scenario_files(folder: Path, current: str) -> list[str]:
    """Scenario files the picker offers: those under ``folder``, and the current one.

    Only regular files whose real path (symlinks resolved) lies inside ``folder`` are listed,
    and only scenarios (``is_scenario_file``: no ``*.observations.yaml``, which says what
    happened, no ``*.sweep.yaml``, a sweep's design, nor any other YAML that is not a
    scenario).
    """
    found = sorted(str(p) for pattern in ("*.yaml", "*.yml") for p in folder.rglob(pattern)
                   if p.is_file() and is_inside(p, folder) and is_scenario_file(p)
                   ) if folder.is_dir() else []
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


#: (view, page, (width, height) of its cell in the 12-column grid of 30 px rows)
COMPONENTS = [
    (views.Status, 0, (12, 4)), (views.EscalationView, 0, (6, 10)),
    (views.LossesView, 0, (6, 10)), (views.PeopleView, 0, (6, 10)),
    (views.AllianceView, 0, (6, 10)), (views.ControlView, 0, (6, 10)),
    (views.EventLog, 0, (6, 10)), (views.EnsembleView, 1), (ResultsView, 2),
]


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
        for line in refused.value + problems:
            solara.Error(line)
    if loaded is None:
        return
    Explorer(model, components=COMPONENTS, model_params=model_params(loaded, file.value),
             name=f"Crisis explorer — {loaded.spec.name}").key(file.value)
