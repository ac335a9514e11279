"""The model the app steps: one replication (R = 1) of ``CrisisModel``, built from page inputs.

Mesa's SolaraViz re-creates the model from its keyword parameters when the user presses Reset,
so everything the page can change arrives here as a keyword: the scenario file, the replayed
run's seed and index, free-form ``PATH=VALUE`` settings, and one keyword per generated control,
named by its scenario path. Bad input must not stop the server: instead of raising, the model
falls back to the scenario as written and keeps the problems (``problems``) for the page to
show, each located and worded as on the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.analysis import outcome_table
from sim.app.controls import controls_for, overrides_for, parse_settings
from sim.errors import ScenarioError
from sim.execution.batches import collect_rows
from sim.model import CrisisModel
from sim.scenario.loader import LoadedScenario, load_scenario

ENSEMBLE_BATCH = 100  # replications stepped together between progress reports


class ExplorerModel(CrisisModel):
    """One replication of a scenario with the page's settings applied.

    Args:
        scenario: Ignored: Mesa's Reset passes its own ``mesa.experimental.scenarios.Scenario``
            here; this model's scenario is the file.
        scenario_file: The scenario file (must load; the page checks it before choosing it).
        seed: Ensemble seed, as typed ("" = the scenario's own seed).
        run_index: Replication index to step, as typed: replication K with the ensemble's
            seed is run K of ``sim run`` (random numbers depend only on seed, index and day).
        settings: Extra ``PATH=VALUE`` overrides, separated by ``;`` or new lines.
        **values: One value per generated control, keyed by its scenario path.
    """

    def __init__(self, scenario: Any = None, *, scenario_file: str, seed: str = "",
                 run_index: str = "0", settings: str = "", **values: Any) -> None:
        base = load_scenario(scenario_file)
        self.problems: list[str] = []
        controls = controls_for(base)
        try:
            overrides = overrides_for(controls, values) + parse_settings(settings)
        except ValueError as exc:
            overrides, self.problems = [], [str(exc)]
        loaded = base
        if overrides:
            try:
                loaded = load_scenario(scenario_file, overrides)
            except ScenarioError as exc:
                self.problems += [str(p) for p in exc.problems]
                overrides = []
        self.overrides = overrides
        seed_value = _whole_number(seed, "seed", default=loaded.spec.run.seed,
                                   problems=self.problems)
        run = _whole_number(run_index, "run index", default=0, problems=self.problems)
        if run < 0:
            self.problems.append(f"run index: {run} is negative; runs are numbered from 0")
            run = 0
        self.run_index = run
        super().__init__(loaded, replications=np.array([run]), seed=seed_value,
                         log_events=True)

    @property
    def day(self) -> int:
        """Days stepped so far (0 before the first step)."""
        return int(self.steps)

    def history(self, name: str) -> np.ndarray:
        """The series ``name`` from day 0 to today."""
        index = self.series_names.index(name)
        return self.trajectory[: self.day + 1, 0, index]


def _whole_number(text: str, what: str, *, default: int, problems: list[str]) -> int:
    text = str(text).strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        problems.append(f"{what}: '{text}' is not a whole number; using {default}")
        return default


@dataclass
class EnsembleResult:
    """Outcome probabilities of an ensemble run from the page."""

    runs: int
    seed: int
    outcomes: list[dict]  # rows of ``sim.analysis.outcome_table``


def ensemble_outcomes(loaded: LoadedScenario, seed: int, runs: int,
                      progress: Callable[[int], None] | None = None,
                      cancelled: Callable[[], bool] | None = None) -> EnsembleResult | None:
    """Outcome probabilities of ``runs`` replications, stepped in lockstep batches.

    Not ``sim.execution.ensemble.run_ensemble``: the page needs progress after each batch and
    a way to stop, and only the outcome flags (no daily series, no files, no worker pool).

    The replications are runs 0..runs-1 of ``sim run`` with the same scenario and seed, so the
    page's probabilities equal the command line's. Progress is reported after every batch;
    returns None if ``cancelled()`` turns true between batches.
    """
    flags: dict[str, list[np.ndarray]] = {}
    for start in range(0, runs, ENSEMBLE_BATCH):
        if cancelled is not None and cancelled():
            return None
        stop = min(runs, start + ENSEMBLE_BATCH)
        model = CrisisModel(loaded, replications=np.arange(start, stop), seed=seed,
                            record_paths=False).run()
        for name, column in collect_rows(model, loaded).items():
            if name.startswith("outcome."):
                flags.setdefault(name, []).append(column)
        if progress is not None:
            progress(stop)
    columns = {name: np.concatenate(parts) for name, parts in flags.items()}
    return EnsembleResult(runs=runs, seed=seed, outcomes=outcome_table(columns))
