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
    """A design: parameters, kind and the matrix of points (``(points, parameters)``)."""

    kind: str
    parameters: tuple[Parameter, ...]
    points: np.ndarray
    seed: int
    options: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of design points."""
        return int(self.points.shape[0])

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


def load_sweep_file(path) -> dict:
    """Read a sweep file (YAML): design, points, reps, seed and the swept parameters.

    Example::

        design: lhs
        points: 200
        reps: 50
        parameters:
          actors.<id>.interests.losses: {low: 0.05, high: 0.5}
          fighting.loss_rate: {levels: [0.1, 0.15, 0.2]}

    Unknown keys are errors, like everywhere else.
    """
    from pathlib import Path
    from typing import Annotated, Literal

    from pydantic import (
        BeforeValidator,
        Field,
        ValidationError,
        field_validator,
        model_validator,
    )

    from sim.errors import ScenarioError
    from sim.scenario.loader import read_yaml
    from sim.scenario.schema import RunSettings, Strict

    def number(value: object) -> object:
        if isinstance(value, bool):  # YAML's yes/no is not 1.0
            raise ValueError(f"{str(value).lower()} is a yes/no value; give a number")
        return value

    # the bounds of seed, points and reps are run.seed's and run.runs' in the schema
    finite = Annotated[float, BeforeValidator(number), Field(allow_inf_nan=False)]
    seed_type = Annotated[(int, *RunSettings.model_fields["seed"].metadata)]
    count = Annotated[(int, *RunSettings.model_fields["runs"].metadata)]

    class Range(Strict):
        low: finite | None = None
        high: finite | None = None
        levels: list[finite] | None = None
        integer: bool = False

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

    class SweepFile(Strict):
        design: Literal[DESIGNS] = "lhs"  # type: ignore[valid-type]
        points: count = 100
        reps: count = 50
        seed: seed_type | None = None
        parameters: dict[str, Range] = Field(min_length=1)

        @field_validator("design", mode="before")
        @classmethod
        def _known(cls, value: object) -> object:
            if value not in DESIGNS:
                raise ValueError(f"unknown design {value!r}; choose one of "
                                 f"{', '.join(DESIGNS)}")
            return value

    path = Path(path)
    try:  # the scenario loader's reading: size, depth and alias limits, no duplicate keys
        data, marks, _ = read_yaml(path)
    except ScenarioError as exc:
        raise UsageError("\n".join(str(p) for p in exc.problems)) from None
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise UsageError("\n".join(_located(path, marks, e) for e in exc.errors())) from None
    params = [Parameter(path=name, low=r.low, high=r.high,
                        levels=tuple(r.levels) if r.levels is not None else None,
                        integer=r.integer) for name, r in spec.parameters.items()]
    return {"design": spec.design, "points": spec.points, "reps": spec.reps,
            "seed": spec.seed, "parameters": params}


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
    message = ("unknown key" if error["type"] == "extra_forbidden" else
               "required key is missing; add it" if error["type"] == "missing" else
               error["msg"].removeprefix("Value error, ") + got)
    return str(Problem(str(path), ".".join(map(str, key)), message, line, column))
