"""Experimental designs over scenario values: full grid, Latin hypercube, Sobol, Morris.

A design is plain data: the parameters (scenario paths with ranges or levels) and a matrix of
points, one row per point. Sampling is SALib's (Herman & Usher 2017), so the Sobol (Saltelli
2002) and Morris (1991) designs are the ones its analysers expect. Every design is a pure
function of its specification and seed.

References:
    Herman, J. & Usher, W. (2017). SALib: an open-source Python library for sensitivity
    analysis. JOSS 2(9).
    McKay, Beckman & Conover (1979). Latin hypercube sampling. Technometrics 21(2).
    Saltelli, A. (2002). Making best use of model evaluations to compute sensitivity indices.
    Morris, M. D. (1991). Factorial sampling plans for preliminary computational experiments.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from sim.errors import UsageError

DESIGNS = ("grid", "lhs", "sobol", "morris")


@dataclass(frozen=True)
class Parameter:
    """One swept scenario value: a range (``low``..``high``) or explicit ``levels``."""

    path: str
    low: float | None = None
    high: float | None = None
    levels: tuple[float, ...] | None = None
    integer: bool = False

    def __post_init__(self) -> None:
        if self.levels is None and (self.low is None or self.high is None):
            raise UsageError(f"parameter {self.path}: give LOW:HIGH or a list of levels")
        values = self.levels if self.levels is not None else (self.low, self.high)
        if not all(math.isfinite(v) for v in values):
            raise UsageError(f"parameter {self.path}: every value must be a finite number "
                             f"(got {', '.join(map(str, values))})")
        if self.levels is None and not self.low < self.high:
            raise UsageError(f"parameter {self.path}: LOW must be below HIGH "
                             f"(got {self.low}:{self.high})")
        if self.levels is not None and len(self.levels) == 0:
            raise UsageError(f"parameter {self.path}: the list of levels is empty")

    @property
    def bounds(self) -> tuple[float, float]:
        """The range sampled (levels: their smallest and largest)."""
        if self.levels is not None:
            return (min(self.levels), max(self.levels))
        return (float(self.low), float(self.high))


def level_problem(levels) -> str:
    """What is wrong with a list of fewer than two different levels."""
    if not levels:
        return "the list of levels is empty"
    return (f"one level ({levels[0]}) is not a sweep" if len(levels) == 1 else
            f"the levels are all {levels[0]}, which is not a sweep")


@dataclass(frozen=True)
class Design:
    """A design: parameters, kind and the matrix of points (``(points, parameters)``).

    With levers, the design is policies x scenarios (the EMA Workbench's
    ``perform_experiments(scenarios, policies)``): every policy (a combination of the levers'
    values, ``make_policies``) meets every point of the uncertainties' matrix, with the same
    replications, so each policy meets the same states of the world.

    Attributes:
        kind: ``grid``, ``lhs``, ``sobol`` or ``morris`` (of the uncertainties).
        parameters: The uncertainties.
        points: ``(points, parameters)`` their values.
        seed: Seed of the sampling.
        options: The sampler's options (for the sensitivity analysers).
        levers: The levers, or none.
        policies: Their combinations (none without levers).
        reference: Index of the policy the paired differences are against.
    """

    kind: str
    parameters: tuple[Parameter, ...]
    points: np.ndarray
    seed: int
    options: dict = field(default_factory=dict)
    levers: tuple[Lever, ...] = ()
    policies: tuple[Policy, ...] = ()
    reference: int = 0

    @property
    def size(self) -> int:
        """Number of design points (of the uncertainties; each policy runs them all)."""
        return int(self.points.shape[0])

    @property
    def policy_count(self) -> int:
        """Number of policies (1 without levers: the scenario as written)."""
        return max(1, len(self.policies))

    def problem(self) -> dict:
        """The SALib problem definition of this design."""
        return {"num_vars": len(self.parameters), "names": [p.path for p in self.parameters],
                "bounds": [list(p.bounds) for p in self.parameters]}

    def overrides(self, point: int) -> dict[str, float]:
        """``{path: value}`` for one design point."""
        out = {}
        for p, value in zip(self.parameters, self.points[point], strict=True):
            out[p.path] = round(value) if p.integer else float(value)
        return out


def parse_parameter(text: str) -> Parameter:
    """Parse ``PATH=LOW:HIGH`` or ``PATH=V1,V2,...`` from the command line."""
    if "=" not in text:
        raise UsageError(f"--param '{text}': write PATH=LOW:HIGH or PATH=V1,V2,...")
    path, spec = (s.strip() for s in text.split("=", 1))
    try:
        if ":" in spec:
            low, high = (float(x) for x in spec.split(":"))
            return Parameter(path=path, low=low, high=high)
        return Parameter(path=path, levels=tuple(float(x) for x in spec.split(",")))
    except ValueError:
        raise UsageError(f"--param '{text}': '{spec}' is not LOW:HIGH or a list of "
                         "numbers") from None


def make_design(kind: str, parameters: list[Parameter], points: int, seed: int) -> Design:
    """Build a design.

    Args:
        kind: ``grid`` (every combination; ``points`` levels per ranged parameter), ``lhs``
            (``points`` Latin-hypercube points), ``sobol`` (Saltelli's scheme with ``points``
            base samples, first and total order: ``points * (D + 2)`` rows) or ``morris``
            (``points`` trajectories of 4 levels: ``points * (D + 1)`` rows).
        parameters: The swept values.
        points: Size parameter, as above (at least 1; Sobol wants a power of 2).
        seed: Seed of the sampling.
    """
    if kind not in DESIGNS:
        raise UsageError(f"unknown design '{kind}'; choose one of {', '.join(DESIGNS)}")
    if not parameters:
        raise UsageError("a sweep needs at least one --param")
    paths = [p.path for p in parameters]
    if len(set(paths)) != len(paths):
        raise UsageError("a parameter is swept twice: " + ", ".join(
            sorted({p for p in paths if paths.count(p) > 1})))
    if points < 1:
        raise UsageError(f"--points must be at least 1, not {points}")
    for p in parameters:
        if p.levels is not None and len(set(p.levels)) < 2:
            # one value is not swept (a zero-width range breaks every sampler and index)
            raise UsageError(f"parameter {p.path}: {level_problem(p.levels)}; list at least "
                             f"two different levels, or fix the value with --set {p.path}=VALUE")
    params = tuple(parameters)
    problem = {"num_vars": len(params), "names": paths, "bounds": [list(p.bounds)
                                                                     for p in params]}
    options: dict = {}
    if kind == "grid":
        axes = [np.asarray(p.levels, float) if p.levels is not None
                else np.linspace(p.low, p.high, points) for p in params]
        matrix = np.array(list(itertools.product(*axes)), dtype=float)
    elif kind == "lhs":
        from SALib.sample import latin

        matrix = latin.sample(problem, points, seed=seed)
    elif kind == "sobol":
        from SALib.sample import sobol

        if points & (points - 1):
            raise UsageError(f"--points for a Sobol design must be a power of 2 (got {points})")
        matrix = sobol.sample(problem, points, calc_second_order=False, seed=seed)
        options["calc_second_order"] = False
    else:
        from SALib.sample import morris

        matrix = morris.sample(problem, points, num_levels=4, seed=seed)
        options["num_levels"] = 4
    levels_only = [i for i, p in enumerate(params) if p.levels is not None]
    if kind != "grid" and levels_only:
        # snap sampled values to the nearest listed level
        for i in levels_only:
            lv = np.asarray(params[i].levels, float)
            matrix[:, i] = lv[np.abs(matrix[:, i, None] - lv[None, :]).argmin(axis=1)]
    return Design(kind=kind, parameters=params, points=np.asarray(matrix, float), seed=seed,
                  options=options)


# --------------------------------------------------------------------------- levers


@dataclass(frozen=True)
class Option:
    """One option of a categorical lever: scenario edits, as a counterfactual writes them.

    Attributes:
        name: The option's name (``day0``).
        merge: Edits merged into the scenario as a counterfactual's are by ``extends:``
            (mappings deep-merged, anything else replaced): the counterfactual file's own
            keys, or ``{}``.
        sets: ``(path, value)`` overrides, applied after the merge as ``--set`` would be.
        counterfactual: The counterfactual file the edits come from, or None.
        extends: That file's ``extends:``, resolved (the scenario its edits are of).
        where: ``file:line:column: levers.<lever>.options.<option>`` for messages.
    """

    name: str
    merge: dict = field(default_factory=dict)
    sets: tuple[tuple[str, object], ...] = ()
    counterfactual: str | None = None
    extends: str | None = None
    where: str = ""


@dataclass(frozen=True)
class Lever:
    """A policy lever: categorical (named options, each a set of edits) or numeric (a path).

    A numeric lever's name is the scenario path it sets; it takes its ``levels``, or values
    sampled between ``low`` and ``high`` (a Latin hypercube of ``policies`` values).
    """

    name: str
    options: tuple[Option, ...] = ()
    low: float | None = None
    high: float | None = None
    levels: tuple[float, ...] | None = None
    integer: bool = False
    where: str = ""

    @property
    def categorical(self) -> bool:
        """Whether the lever chooses among named options."""
        return bool(self.options)

    def describe(self) -> dict:
        """The lever as plain data (``design.json``)."""
        if self.categorical:
            return {"name": self.name, "kind": "categorical", "options": {
                o.name: {"counterfactual": o.counterfactual,
                         "set": {p: v for p, v in o.sets}} for o in self.options}}
        return {"name": self.name, "kind": "numeric", "low": self.low, "high": self.high,
                "levels": list(self.levels) if self.levels is not None else None,
                "integer": self.integer}


@dataclass(frozen=True)
class Policy:
    """One combination of lever values: the edits that make its variant of the scenario.

    Attributes:
        name: ``lever=value`` pairs, e.g. ``patriots=day0 offer=none``.
        values: Lever name -> option name (categorical) or number (numeric).
        options: The chosen options' edits, in the levers' order.
        sets: The numeric levers' ``(path, value)`` overrides.
    """

    name: str
    values: dict
    options: tuple[Option, ...] = ()
    sets: tuple[tuple[str, float], ...] = ()


def _value_text(value) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def make_policies(levers: list[Lever], count: int, seed: int) -> list[Policy]:
    """Every combination of the levers' values (EMA Workbench's policies).

    Categorical levers and numeric levers with ``levels`` are crossed in full (a full
    factorial); numeric levers with a range are sampled together, ``count`` Latin-hypercube
    values, and that sample crossed with the rest. Pure function of its arguments.
    """
    names = [lev.name for lev in levers]
    if len(set(names)) != len(names):
        raise UsageError("a lever is listed twice: " + ", ".join(
            sorted({n for n in names if names.count(n) > 1})))
    ranged = [lev for lev in levers if not lev.categorical and lev.levels is None]
    axes = []
    for lev in levers:
        if lev.categorical:
            axes.append([((lev, o.name, o),) for o in lev.options])
        elif lev.levels is not None:
            axes.append([((lev, round(v) if lev.integer else float(v), None),)
                         for v in lev.levels])
    if ranged:
        from SALib.sample import latin

        if count < 1:
            raise UsageError(f"policies must be at least 1, not {count}")
        problem = {"num_vars": len(ranged), "names": [lev.name for lev in ranged],
                   "bounds": [[lev.low, lev.high] for lev in ranged]}
        sample = latin.sample(problem, count, seed=seed)
        axes.append([tuple((lev, round(v) if lev.integer else float(v), None)
                           for lev, v in zip(ranged, row, strict=True)) for row in sample])
    policies = []
    for combo in itertools.product(*axes):
        chosen: dict = {}
        for assignment in combo:  # each axis assigns one lever, or every sampled one
            for lev, value, option in assignment:
                chosen[lev.name] = (value, option)
        values = {n: chosen[n][0] for n in names}
        options = tuple(chosen[n][1] for n in names if chosen[n][1] is not None)
        sets = tuple((n, chosen[n][0]) for n in names if chosen[n][1] is None)
        policies.append(Policy(name=" ".join(f"{n}={_value_text(v)}"
                                             for n, v in values.items()),
                               values=values, options=options, sets=sets))
    return policies


def find_reference(levers: list[Lever], policies: list[Policy], reference: dict | None,
                   where: str = "reference") -> int:
    """The index of the policy the paired differences are against (default the first).

    Args:
        levers: The levers.
        policies: Their combinations (``make_policies``).
        reference: ``{lever: option or level}`` for some levers; the first policy that
            matches them all.
        where: How messages name the reference (a file's key, an argument).
    """
    if not reference:
        return 0
    by_name = {lev.name: lev for lev in levers}
    for name, value in reference.items():
        lev = by_name.get(name)
        if lev is None:
            from difflib import get_close_matches

            close = get_close_matches(str(name), list(by_name), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"levers: {', '.join(by_name)}"
            raise UsageError(f"{where}: no lever '{name}'; {hint}")
        if lev.categorical and value not in [o.name for o in lev.options]:
            raise UsageError(f"{where}.{name}: no option {value!r} of lever {name}; options: "
                             f"{', '.join(o.name for o in lev.options)}")
        if not lev.categorical and (isinstance(value, bool) or not isinstance(
                value, int | float) or lev.levels is None or float(value) not in lev.levels):
            raise UsageError(f"{where}.{name}: {value!r} is not one of the lever's levels "
                             f"({', '.join(map(_value_text, lev.levels or ()))}); a lever "
                             "sampled from a range has no fixed value to refer to")
    for i, policy in enumerate(policies):
        if all(policy.values[n] == v for n, v in reference.items()):
            return i
    raise UsageError(f"{where}: no policy has {reference}")  # unreachable: every combination


def with_levers(design: Design, levers: list[Lever], count: int,
                reference: dict | None = None, where: str = "reference") -> Design:
    """The design crossed with the policies of ``levers`` (``count``: values of ranged ones)."""
    import dataclasses

    if not levers:
        if reference:
            raise UsageError(f"{where}: names a policy, but the sweep has no levers")
        return design
    swept = {p.path for p in design.parameters}
    for lev in levers:
        if not lev.categorical and lev.name in swept:
            raise UsageError(f"{lev.where}: {lev.name} is both a lever and an uncertainty; "
                             "keep it in one of the two lists")
    policies = make_policies(levers, count, design.seed)
    return dataclasses.replace(design, levers=tuple(levers), policies=tuple(policies),
                               reference=find_reference(levers, policies, reference, where))


def no_uncertainties(seed: int) -> Design:
    """The design of a sweep of levers alone: one point, the scenario's own values."""
    return Design(kind="grid", parameters=(), points=np.zeros((1, 0)), seed=seed)


def load_sweep_file(path) -> dict:
    """Read a sweep file (YAML): design, points, reps, seed, the uncertainties and levers.

    Example::

        design: lhs
        points: 200
        reps: 50
        parameters:          # the uncertainties (also written 'uncertainties:')
          actors.<id>.interests.losses: {low: 0.05, high: 0.5}
          fighting.loss_rate: {levels: [0.1, 0.15, 0.2]}
        levers:              # optional: policies crossed with the uncertainties
          shield:            # categorical: named options, each a set of scenario edits
            options:
              withheld: {}
              day0: {set: {assets.<id>.deployed_at_start: <actor>}}
              offer: {counterfactual: counterfactuals/x.yaml}
          actors.<id>.war_cost: {levels: [0.0, 0.1]}   # numeric: a path's levels or range
        policies: 4          # values sampled of the numeric levers given a range
        reference: {shield: withheld}   # the policy differences are against (default first)

    Unknown keys are errors, like everywhere else.
    """
    from pathlib import Path

    from pydantic import ValidationError

    from sim.errors import ScenarioError
    from sim.scenario.loader import read_yaml

    path = Path(path)
    try:  # the scenario loader's reading: size, depth and alias limits, no duplicate keys
        data, marks, _ = read_yaml(path)
    except ScenarioError as exc:
        raise UsageError("\n".join(str(p) for p in exc.problems)) from None
    try:
        spec = _models().SweepFile.model_validate(data)
    except ValidationError as exc:
        raise UsageError("\n".join(_located(path, marks, e) for e in exc.errors())) from None
    ranges = spec.parameters if spec.parameters is not None else spec.uncertainties or {}
    params = [Parameter(path=name, low=r.low, high=r.high,
                        levels=tuple(r.levels) if r.levels is not None else None,
                        integer=r.integer) for name, r in ranges.items()]
    levers = _levers(spec.levers or {}, path, marks)
    return {"design": spec.design, "points": spec.points, "reps": spec.reps,
            "seed": spec.seed, "parameters": params, "levers": levers,
            "policies": spec.policies, "reference": spec.reference,
            "reference_where": _where(path, marks, ("reference",))}


def parse_levers(levers: dict) -> list[Lever]:
    """Levers given as plain data (the API's ``levers=``), checked as a sweep file's are.

    ``{name: {"options": {option: {"set": {path: value}} | {"counterfactual": file}}}}``
    for a categorical lever; ``{path: (low, high) | [levels] | {"low": ..}}`` for a numeric
    one. Counterfactual files are read relative to the working directory.
    """
    from pathlib import Path

    from pydantic import ValidationError

    plain = {}
    for name, spec in dict(levers).items():
        if isinstance(spec, tuple) and len(spec) == 2:
            spec = {"low": spec[0], "high": spec[1]}
        elif isinstance(spec, list):
            spec = {"levels": spec}
        plain[name] = spec
    try:
        checked = _models().SweepFile.model_validate({"levers": plain}).levers or {}
    except ValidationError as exc:
        raise UsageError("\n".join(_located(Path("levers="), {}, e)
                                   for e in exc.errors())) from None
    return _levers(checked, None, {})


def _where(path, marks: dict, key: tuple) -> str:
    """``file:line:column: key`` of a key of a sweep file (its nearest mapping's mark)."""
    line = column = None
    for depth in range(len(key), -1, -1):
        if key[:depth] in marks:
            _, line, column = marks[key[:depth]]
            break
    place = str(path) if path is not None else "levers="
    if line is not None:
        place += f":{line}" + (f":{column}" if column is not None else "")
    return f"{place}: {'.'.join(map(str, key))}"


def _levers(specs: dict, path, marks: dict) -> list[Lever]:
    """Levers of a validated sweep file, counterfactual files read (safely) for their edits."""
    from pathlib import Path

    from sim.errors import ScenarioError
    from sim.scenario.loader import read_yaml

    out = []
    for name, spec in specs.items():
        where = _where(path, marks, ("levers", name))
        if spec.options is None:
            out.append(Lever(name=name, low=spec.low, high=spec.high,
                             levels=tuple(spec.levels) if spec.levels is not None else None,
                             integer=spec.integer, where=where))
            continue
        options = []
        for option, edits in spec.options.items():
            key = ("levers", name, "options", option)
            at = _where(path, marks, key)
            edits = edits if edits is not None else _models().OptionSpec()
            merge, extends, source = {}, None, None
            if edits.counterfactual is not None:
                base = Path(path).parent if path is not None else Path.cwd()
                file = base / edits.counterfactual
                try:
                    merge, _, _ = read_yaml(file)
                except ScenarioError as exc:
                    raise UsageError(f"{_where(path, marks, (*key, 'counterfactual'))}: "
                                     f"{exc.problems[0].message} ({file}); name a "
                                     "counterfactual file (relative to the sweep file) that "
                                     "extends the swept scenario") from None
                extends = merge.pop("extends", None)
                if not isinstance(extends, str):
                    raise UsageError(f"{_where(path, marks, (*key, 'counterfactual'))}: {file} "
                                     "has no 'extends:' naming the scenario it edits, so it is "
                                     "not a counterfactual; give a file that extends the "
                                     "swept scenario")
                extends = str((file.parent / extends).resolve())
                for key_ in ("name", "description"):
                    merge.pop(key_, None)
                source = str(file)
            sets = tuple((str(p), v) for p, v in (edits.set or {}).items())
            options.append(Option(name=option, merge=merge, sets=sets,
                                  counterfactual=source, extends=extends, where=at))
        out.append(Lever(name=name, options=tuple(options), where=where))
    return out


@functools.lru_cache(maxsize=1)
def _models():
    """The sweep file's schema (pydantic models, built on first use)."""
    from types import SimpleNamespace
    from typing import Annotated, Any, Literal

    from pydantic import (
        BeforeValidator,
        Field,
        field_validator,
        model_validator,
    )

    from sim.scenario.schema import Identifier, RunSettings, Strict

    def number(value: object) -> object:
        if isinstance(value, bool):  # YAML's yes/no is not 1.0
            raise ValueError(f"{str(value).lower()} is a yes/no value; give a number")
        return value

    # the bounds of seed, points and reps are run.seed's and run.runs' in the schema
    finite = Annotated[float, BeforeValidator(number), Field(allow_inf_nan=False)]
    seed_type = Annotated[(int, *RunSettings.model_fields["seed"].metadata)]
    count = Annotated[(int, *RunSettings.model_fields["runs"].metadata)]

    class Numeric(Strict):  # a parameter's or a numeric lever's values
        low: finite | None = None
        high: finite | None = None
        levels: list[finite] | None = None
        integer: bool = False

    class Range(Numeric):
        @model_validator(mode="after")
        def _a_sweep(self):
            if self.levels is not None:
                if self.low is not None or self.high is not None:
                    raise ValueError("give either low and high or levels, not both")
                if len(set(self.levels)) < 2:
                    raise ValueError(f"{level_problem(self.levels)}; list at least two "
                                     "different levels (a fixed value belongs in the scenario "
                                     "or --set)")
            elif self.low is None or self.high is None:
                raise ValueError("give low and high, or a list of levels")
            elif not self.low < self.high:
                raise ValueError(f"low must be below high (got {self.low} and {self.high})")
            return self

    class OptionSpec(Strict):
        counterfactual: str | None = Field(None, min_length=1)
        set: dict[str, Any] | None = None

    class LeverSpec(Numeric):
        options: dict[Identifier, OptionSpec | None] | None = None

        @model_validator(mode="after")
        def _a_lever(self):
            numeric = (self.low, self.high, self.levels)
            if self.options is not None:
                if any(v is not None for v in numeric) or self.integer:
                    raise ValueError("a lever has either options (categorical) or low/high "
                                     "or levels (numeric), not both")
                if len(self.options) < 2:
                    raise ValueError("a lever of one option is not a lever; list at least two "
                                     "options (one may be {} for the scenario as written)")
                return self
            Range.model_validate({"low": self.low, "high": self.high,
                                  "levels": self.levels, "integer": self.integer})
            return self

    class SweepFile(Strict):
        design: Literal[DESIGNS] = "lhs"  # type: ignore[valid-type]
        points: count = 100
        reps: count = 50
        seed: seed_type | None = None
        parameters: dict[str, Range] | None = Field(None, min_length=1)
        uncertainties: dict[str, Range] | None = Field(None, min_length=1)
        levers: dict[str, LeverSpec] | None = Field(None, min_length=1)
        policies: count = 5
        reference: dict[str, str | finite] | None = None

        @field_validator("design", mode="before")
        @classmethod
        def _known(cls, value: object) -> object:
            if value not in DESIGNS:
                raise ValueError(f"unknown design {value!r}; choose one of "
                                 f"{', '.join(DESIGNS)}")
            return value

        @model_validator(mode="after")
        def _something_to_sweep(self):
            if self.parameters is not None and self.uncertainties is not None:
                raise ValueError("'parameters' and 'uncertainties' are the same list; give "
                                 "one of them")
            if self.parameters is None and self.uncertainties is None and not self.levers:
                raise ValueError("give the uncertainties to sweep ('parameters:' or "
                                 "'uncertainties:'), levers ('levers:'), or both")
            if self.reference is not None and not self.levers:
                raise ValueError("'reference' names a policy, but the file has no levers")
            return self

    return SimpleNamespace(Range=Range, OptionSpec=OptionSpec, LeverSpec=LeverSpec,
                           SweepFile=SweepFile)


def _located(path, marks: dict, error: dict) -> str:
    """One validation error of a sweep file as ``file:line:column: key: message``."""
    from sim.errors import Problem

    key = tuple(error["loc"])
    line = column = None
    for depth in range(len(key), -1, -1):  # the key itself, else the nearest mapping above
        if key[:depth] in marks:
            _, line, column = marks[key[:depth]]
            break
    got = (f" (got {error['input']!r})" if "input" in error
           and not isinstance(error.get("input"), dict | list) else "")
    message = (_unknown_key(key) if error["type"] == "extra_forbidden" else
               "required key is missing; add it" if error["type"] == "missing" else
               error["msg"].removeprefix("Value error, ") + got)
    return str(Problem(str(path), ".".join(map(str, key)), message, line, column))


def _unknown_key(key: tuple) -> str:
    """``unknown key; did you mean 'set'?`` for a key of a sweep file no model has."""
    from difflib import get_close_matches

    models = _models()
    shape = {1: models.SweepFile, 3: models.LeverSpec, 5: models.OptionSpec}
    model = shape.get(len(key)) if key[:1] == ("levers",) or len(key) == 1 else None
    if key[:1] in (("parameters",), ("uncertainties",)) and len(key) == 3:
        model = models.Range
    if model is None:
        return "unknown key"
    known = list(model.model_fields)
    close = get_close_matches(str(key[-1]), known, n=1)
    return "unknown key; " + (f"did you mean '{close[0]}'?" if close else
                              f"allowed: {', '.join(known)}")
