"""Observations files: what happened in a crisis, with sources, for scoring a scenario's runs.

An observations file sits beside its scenario (``<crisis>.observations.yaml``) and names it.
It is read with the scenario loader's safe YAML reader (``sim.scenario.loader.read_yaml``: no
tags, no merge keys, size and nesting limits, every key located), validated by a strict schema
(unknown keys are errors) and cross-checked against the scenario it names: every ``outcome``
must be an outcome of the scenario, every ``indicator`` a column a run of it writes, every date
within the run. The format is documented for users in ``docs/observations.md``.

Observed values are what happened, with sources (a citation, and a short quote where one
exists); they score the scenario and may calibrate its uncertain values, never tune its file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.errors import Problem, ScenarioError, UsageError
from sim.scenario.loader import (
    LoadedScenario,
    Note,
    PathKey,
    _locate,
    format_path,
    load_scenario,
    read_yaml,
    validation_problems,
)
from sim.scenario.schema import ID_PATTERN, Condition

#: An observed number: finite, and small enough that sums and midpoints of two stay finite (no
#: count of a crisis comes near; an interval of two 1e308s had an infinite midpoint)
MAX_OBSERVED = 1e15
Finite = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_OBSERVED, le=MAX_OBSERVED)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventObservation(_Strict):
    """A binary outcome of the scenario and whether it happened (with its first day)."""

    outcome: str = Field(pattern=ID_PATTERN, description="An outcome defined in the scenario.")
    happened: bool = Field(description="Whether the outcome happened within the run's dates.")
    date: dt.date | None = Field(None, description="First day it happened (happened: true).")
    day_indicator: str | None = Field(
        None, description="The day.<event> column whose value is the outcome's first day, "
        "when it cannot be read off the outcome's condition (optional).")

    @model_validator(mode="after")
    def _date_needs_happened(self) -> EventObservation:
        if self.date is not None and not self.happened:
            raise ValueError("'date' is the day the outcome happened; remove it, or set "
                             "happened: true")
        return self


class QuantityObservation(_Strict):
    """An observed value (or interval) of one indicator column of the runs."""

    indicator: str = Field(description="A column of runs.parquet, e.g. losses.<actor>.")
    value: Finite | None = Field(None, description="The observed value.")
    interval: tuple[Finite, Finite] | None = Field(
        None, description="The observed range [low, high], when sources disagree or round.")
    window: tuple[dt.date, dt.date] | None = Field(
        None, description="The dates the figure covers [first, last] (optional).")

    @model_validator(mode="after")
    def _one_value(self) -> QuantityObservation:
        if (self.value is None) == (self.interval is None):
            raise ValueError("give exactly one of 'value' or 'interval'")
        if self.interval is not None and self.interval[0] > self.interval[1]:
            raise ValueError(f"interval {list(self.interval)}: low is above high")
        if self.window is not None and self.window[0] > self.window[1]:
            raise ValueError(f"window {[str(d) for d in self.window]}: first date is after "
                             "the last")
        return self

    @property
    def observed(self) -> float:
        """The number scored: the value, or the interval's midpoint."""
        if self.value is not None:
            return float(self.value)
        return 0.5 * self.interval[0] + 0.5 * self.interval[1]


class ObservationsSpec(_Strict):
    """An observations file."""

    scenario: str = Field(description="Path of the scenario scored, relative to this file.")
    description: str = Field(description="What happened after the start date, briefly.")
    cutoff: dt.date | None = Field(
        None, description="Calibrate on observations up to this date; score those after.")
    events: list[EventObservation] = Field(default_factory=list)
    quantities: list[QuantityObservation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> ObservationsSpec:
        if not self.events and not self.quantities:
            raise ValueError("no observations: list at least one of 'events' or 'quantities'")
        return self


@dataclass
class Observations:
    """A validated observations file, with its scenario and the sources of each observation.

    Attributes:
        spec: The validated file.
        path: The file.
        scenario: The scenario it scores (loaded and validated).
        sources: ``("events", i)`` / ``("quantities", i)`` -> the observation's source.
        day_indicators: Event index -> the ``day.<event>`` column giving its first day, or None.
    """

    spec: ObservationsSpec
    path: Path
    scenario: LoadedScenario
    sources: dict[PathKey, Note]
    day_indicators: dict[int, str | None]
    #: event index -> day columns its outcome's condition refers to, for an event with no
    #: day column of its own (what ``day_indicator:`` could name; empty: none could)
    day_candidates: dict[int, list[str]] = field(default_factory=dict)

    @property
    def start(self) -> dt.date:
        """Day 0 of the scenario's run."""
        return self.scenario.spec.run.start

    @property
    def days(self) -> int:
        """The run's horizon in days."""
        return self.scenario.spec.run.days

    def day_of(self, date: dt.date) -> int:
        """Day index of a calendar date (0 = the start date)."""
        return (date - self.start).days


def read_observations(path: str | Path) -> tuple[ObservationsSpec, dict, dict]:
    """Read and validate an observations file alone (no scenario); return (spec, marks, notes).

    Raises:
        ScenarioError: Every problem, located as ``file:line:column: key``.
    """
    path = Path(path)
    file = str(path)
    data, marks, notes = read_yaml(path)
    try:
        spec = ObservationsSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, marks, file, _known_keys)) from None
    problems = []
    for kind, items in (("events", spec.events), ("quantities", spec.quantities)):
        for i in range(len(items)):
            note = notes.get((kind, i))
            if note is None or note.kind != "source":
                located, line, column = _locate((kind, i), marks, file)
                what = "an 'assumption'" if note is not None else "no 'source'"
                problems.append(Problem(located, f"{kind}[{i}]", f"the observation has {what}; "
                                        "add source: \"citation, and a short quote\" (what "
                                        "happened is cited, never assumed)", line, column))
    # one observation per outcome, and per indicator and window: listed twice (happened and
    # not), an outcome was scored twice and counted twice in a calibration
    first: dict = {}
    for kind, items in (("events", spec.events), ("quantities", spec.quantities)):
        for i, item in enumerate(items):
            what = (item.outcome if kind == "events" else
                    (item.indicator, item.window))
            if (kind, what) in first:
                field = "outcome" if kind == "events" else "indicator"
                located, line, column = _locate((kind, i, field), marks, file)
                shown = item.outcome if kind == "events" else item.indicator
                problems.append(Problem(located, f"{kind}[{i}].{field}", f"'{shown}' is "
                                        f"observed already in {kind}[{first[kind, what]}]"
                                        + ("" if kind == "events" else " (same window)")
                                        + "; keep one observation of it", line, column))
            else:
                first[kind, what] = i
    if problems:
        raise ScenarioError(problems)
    return spec, marks, notes


def _known_keys(key: PathKey) -> list[str]:
    """Field names allowed at ``key`` of an observations file."""
    model = _model_at(key)
    return list(model.model_fields) if model else []


def _model_at(key: PathKey) -> type[BaseModel] | None:
    if not key:
        return ObservationsSpec
    if key[0] == "events":
        return EventObservation if len(key) == 2 else None
    if key[0] == "quantities":
        return QuantityObservation if len(key) == 2 else None
    return None


def outcome_day_indicator(cond: Condition, rungs: list[str], war_from: str) -> str | None:
    """The ``day.<event>`` column whose value is the first day an outcome's condition holds.

    Read off the condition when it is one comparison whose first day a run records: ``{day.X,
    happened}`` (day.X), or ``{rung.a~b.max, >=, war_from}`` (``day.war.a~b``, the day the
    dyad reached the ladder's war rung). Anything else (all/any/not, thresholds, final values)
    has no recorded first day: None (an observation can name one with ``day_indicator``).
    """
    if cond.indicator is None:
        return None
    name = cond.indicator
    if name.startswith("day.") and cond.op == "happened":
        return name
    if (name.startswith("rung.") and name.endswith(".max") and cond.op == ">="
            and cond.rung == war_from):
        return f"day.war.{name.removeprefix('rung.').removesuffix('.max')}"
    return None


def day_candidates(cond: Condition, columns: set[str]) -> list[str]:
    """The ``day.<event>`` columns of the runs that an outcome's condition refers to.

    An outcome with no recorded first day of its own (a state held a week, a combination) may
    still have a day column for one of its parts that an observation can name with
    ``day_indicator:`` (``{state: gate.x, at: any}``: ``day.opened.x``). A threshold or a final
    value (``control.<objective>.<actor>.final >= 0.75``) has none: its date cannot be scored.
    """
    found: list[str] = []
    parts = [cond]
    while parts:
        c = parts.pop(0)
        parts += [*(c.all or []), *(c.any or []), *([c.not_] if c.not_ is not None else [])]
        names = []
        if c.indicator is not None and c.indicator.startswith("day."):
            names.append(c.indicator)
        if c.indicator is not None and c.indicator.startswith("rung."):
            names.append("day.war." + c.indicator.removeprefix("rung.").rsplit(".", 1)[0])
        if c.state is not None:
            kind, _, name = c.state.partition(".")
            names += {"agreement": [f"day.agreement{'.' + name if name else ''}"],
                      "asset": [f"day.granted.{name}", f"day.activated.{name}"],
                      "gate": [f"day.opened.{name}"], "war": [f"day.war.{name}"]}.get(kind, [])
        found += [n for n in names if n in columns and n not in found]
    return found


def load_observations(path: str | Path, scenario: LoadedScenario | None = None) -> Observations:
    """Load an observations file and cross-check it against its scenario.

    Args:
        path: The observations YAML.
        scenario: The scenario to check against (default: the one the file names, loaded
            from beside the file). ``sim score`` passes the scenario exactly as run.

    Raises:
        ScenarioError: Every problem, located in the observations file.
    """
    from sim.outcomes import indicator_names
    from sim.world import compile_scenario

    path = Path(path)
    file = str(path)
    spec, marks, notes = read_observations(path)
    if scenario is None:
        scenario_path = path.parent / spec.scenario
        if not scenario_path.is_file():
            _, line, column = _locate(("scenario",), marks, file)
            raise ScenarioError([Problem(file, "scenario", f"scenario file '{spec.scenario}' "
                                         f"not found (looked for {scenario_path}); the path "
                                         "is relative to this file", line, column)])
        scenario = load_scenario(scenario_path)
    layout = compile_scenario(scenario.spec).layout
    columns = set(indicator_names(layout))
    start, days = scenario.spec.run.start, scenario.spec.run.days
    end = start + dt.timedelta(days=days)
    problems: list[Problem] = []

    def problem(key: PathKey, message: str) -> None:
        located, line, column = _locate(key, marks, file)
        problems.append(Problem(located, format_path(key), message, line, column))

    def check_date(key: PathKey, date: dt.date) -> None:
        if not start <= date <= end:
            problem(key, f"{date} is outside the scenario's run ({start} to {end}, "
                    f"{days} days); observations score what the run covers")

    if spec.cutoff is not None:
        check_date(("cutoff",), spec.cutoff)
    rungs = list(scenario.spec.ladder.rungs)
    day_indicators: dict[int, str | None] = {}
    hints: dict[int, list[str]] = {}
    for i, ev in enumerate(spec.events):
        if ev.outcome not in scenario.spec.outcomes:
            close = get_close_matches(ev.outcome, list(scenario.spec.outcomes), n=1)
            hint = (f"; did you mean '{close[0]}'?" if close else
                    f"; the scenario's outcomes: {', '.join(scenario.spec.outcomes)}")
            problem(("events", i, "outcome"), f"'{ev.outcome}' is not an outcome of the "
                    f"scenario{hint}")
            continue
        if ev.date is not None:
            check_date(("events", i, "date"), ev.date)
        if ev.day_indicator is not None:
            if not ev.day_indicator.startswith("day.") or ev.day_indicator not in columns:
                days_known = sorted(c for c in columns if c.startswith("day."))
                close = get_close_matches(ev.day_indicator, days_known, n=1)
                problem(("events", i, "day_indicator"), f"'{ev.day_indicator}' is not a day "
                        "column of the scenario's runs" + (f"; did you mean '{close[0]}'?"
                                                           if close else ""))
            day_indicators[i] = ev.day_indicator
        else:
            when = scenario.spec.outcomes[ev.outcome].when
            day_indicators[i] = outcome_day_indicator(when, rungs,
                                                      scenario.spec.ladder.war_from)
            if day_indicators[i] is None:
                hints[i] = day_candidates(when, columns)
    for i, q in enumerate(spec.quantities):
        if q.indicator not in columns:
            close = get_close_matches(q.indicator, sorted(columns), n=1, cutoff=0.5)
            problem(("quantities", i, "indicator"), f"'{q.indicator}' is not an indicator "
                    "column of the scenario's runs" + (f"; did you mean '{close[0]}'?" if close
                                                       else "") + " (README lists them)")
        if q.window is not None:
            for j, date in enumerate(q.window):
                check_date(("quantities", i, "window", j), date)
    if problems:
        raise ScenarioError(problems)
    sources = {k: v for k, v in notes.items() if len(k) == 2 and k[0] in ("events",
                                                                           "quantities")}
    return Observations(spec=spec, path=path, scenario=scenario, sources=sources,
                        day_candidates=hints,
                        day_indicators=day_indicators)


def library_files(folder: Path) -> list[Path]:
    """The observations files of a library folder, in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    files = sorted(folder.glob("*.observations.yaml"))
    if not files:
        raise UsageError(f"{folder} holds no *.observations.yaml; a crisis of the library is "
                         "a scenario with an observations file beside it (docs/observations.md)")
    return files


def crisis_name(path: Path) -> str:
    """``georgia_2008.observations.yaml`` -> ``georgia_2008``."""
    return path.name.removesuffix(".observations.yaml")
