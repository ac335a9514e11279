"""Uncertain assumptions: per-run values drawn from ranges and priors, or from a posterior.

A scenario value written ``{value: 0.02, range: [0.005, 0.05]}`` or ``{value: 0.02, prior:
{dist: lognormal, median: 0.02, sigma: 0.5}}`` is *uncertain* (the loader keeps its point value
in the data and its ``Prior`` in ``LoadedScenario.uncertain``). ``sim run --uncertain`` gives
every run its own draw of every uncertain value, so outcome intervals include parameter
uncertainty, as the EMA Workbench treats uncertainties as ranges (Kwakkel 2017). ``sim run
--posterior FILE`` draws each run's values from a calibrated posterior instead.

Draws are reproducible and batch-independent: run ``r``'s draws are inverse-CDF transforms of
uniforms keyed by (seed, r, day 0, ``Stream.PARAMETERS``) from the project's counter-based
generator, so they depend only on the seed and the run index.

The runs' parameters reach the engine as per-replication parameter vectors, as a sweep's
design points do. Compiling a scenario per run (validation and compilation, ~30 ms) would
cost more than simulating it (~0.5 ms), so each uncertain value's effect on the compiled
``Params`` is probed once per process: the scenario is compiled at two points of the value's
range (and once more with every value moved at once); when the arrays move affinely with the
values (the usual case: a value is copied or scaled into its array) a run's parameters are the
point scenario's plus the values' offsets times those slopes, exactly; otherwise (a value
that is normalised, as interest weights are, or an integer) each run is compiled on its own.
Only values a sweep could vary may be uncertain: numbers that are parameters, not run
settings, dates or anything that changes the model's structure.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sim.errors import ScenarioError, UsageError
from sim.rng import CounterRNG, Stream
from sim.scenario.loader import LoadedScenario, format_path, load_data, parse_path
from sim.scenario.schema import Prior
from sim.world import Params, World, compile_scenario

log = logging.getLogger(__name__)
PROBE_QUANTILES = (0.001, 0.999)


# --------------------------------------------------------------------------- distributions


def prior_ppf(prior: Prior, u: np.ndarray) -> np.ndarray:
    """Quantiles of a prior at probabilities ``u`` (truncated to low/high where given)."""
    from scipy import stats

    u = np.asarray(u, float)
    if prior.dist == "uniform":
        return prior.low + u * (prior.high - prior.low)
    if prior.dist == "triangular":
        width = prior.high - prior.low
        if width == 0:
            return np.full_like(u, prior.low)
        dist = stats.triang(c=(prior.mode - prior.low) / width, loc=prior.low, scale=width)
        return dist.ppf(u)
    if prior.dist == "beta":
        low, high = prior.support()
        return low + (high - low) * stats.beta(prior.a, prior.b).ppf(u)
    dist = (stats.norm(prior.mean, prior.sd) if prior.dist == "normal"
            else stats.lognorm(s=prior.sigma, scale=prior.median))
    low, high = prior.support()
    f_low = dist.cdf(low) if np.isfinite(low) else 0.0
    f_high = dist.cdf(high) if np.isfinite(high) else 1.0
    return np.clip(dist.ppf(f_low + u * (f_high - f_low)), low, high)


def run_uniforms(seed: int, runs: np.ndarray, count: int) -> np.ndarray:
    """``(len(runs), count)`` uniforms of the parameter stream (day 0) of each run."""
    return CounterRNG(seed, np.asarray(runs)).uniform(0, Stream.PARAMETERS, (count,))


# --------------------------------------------------------------------------- per-run values


@dataclass(frozen=True)
class VariedSet:
    """Per-run values of a set of scenario paths, for every run of an ensemble.

    Attributes:
        mode: 'uncertain' (drawn from priors) or 'posterior' (resampled from a posterior).
        paths: The scenario paths (``actors.a.war_cost``).
        values: ``(runs, len(paths))`` each run's values.
        probes: Per path, the two values at which its effect is probed (fixed for the run).
        integer: Per path, whether the schema holds an integer there (draws are rounded).
        describe: What the values come from, for the manifest.
    """

    mode: str
    paths: tuple[str, ...]
    values: np.ndarray
    probes: tuple[tuple[float, float], ...]
    integer: tuple[bool, ...]
    describe: dict

    def task_field(self, start: int, stop: int) -> tuple:
        """What a batch of runs ``start..stop`` needs: paths, probes and its rows' values."""
        rows = tuple(tuple(float(x) for x in row) for row in self.values[start:stop])
        return (self.paths, self.probes, self.integer, rows)


def _point_value(loaded: LoadedScenario, path: str):
    node = loaded.spec.model_dump(by_alias=True)
    for part in parse_path(path):
        node = node[part] if isinstance(node, dict | list) else None
    return node


def uncertain_set(loaded: LoadedScenario, seed: int, runs: int) -> VariedSet:
    """Every run's draws of the scenario's uncertain values (``sim run --uncertain``)."""
    if not loaded.uncertain:
        raise UsageError("--uncertain: the scenario has no uncertain values; write one as "
                         "{value: x, range: [low, high]} or {value: x, prior: {dist: ...}}")
    keys = sorted(loaded.uncertain, key=format_path)
    paths = tuple(format_path(k) for k in keys)
    priors = [loaded.uncertain[k] for k in keys]
    integer = tuple(isinstance(_point_value(loaded, p), int) for p in paths)
    u = run_uniforms(seed, np.arange(runs), len(paths))
    values = np.column_stack([prior_ppf(pr, u[:, j]) for j, pr in enumerate(priors)])
    values = _rounded(values, integer)
    probes = tuple(tuple(float(x) for x in _rounded(prior_ppf(pr, np.array(PROBE_QUANTILES)),
                                                    (i,)))
                   for pr, i in zip(priors, integer, strict=True))
    describe = {p: pr.model_dump(exclude_none=True) for p, pr in zip(paths, priors,
                                                                     strict=True)}
    varied = VariedSet("uncertain", paths, values, probes, integer, describe)
    check_varied(loaded, varied)
    return varied


def _rounded(values: np.ndarray, integer: tuple[bool, ...]) -> np.ndarray:
    values = np.array(values, float, ndmin=1)
    if values.ndim == 1:
        return np.round(values) if integer[0] else values
    for j, is_int in enumerate(integer):
        if is_int:
            values[:, j] = np.round(values[:, j])
    return values


def posterior_set(loaded: LoadedScenario, posterior: Path, seed: int, runs: int) -> VariedSet:
    """Every run's values resampled from a posterior file (``sim run --posterior``).

    Run ``r`` takes the sample whose cumulative weight first exceeds its uniform of the
    parameter stream: weighted resampling, reproducible and batch-independent.
    """
    from sim.validation.calibrate import read_posterior

    post = read_posterior(posterior)
    paths = tuple(post["parameters"])
    samples = np.asarray(post["samples"], float)
    weights = np.asarray(post["weights"], float)
    cumulative = np.cumsum(weights / weights.sum())
    u = run_uniforms(seed, np.arange(runs), 1)[:, 0]
    index = np.minimum(np.searchsorted(cumulative, u, side="right"), len(weights) - 1)
    integer = tuple(isinstance(_point_value(loaded, p), int) for p in paths)
    values = _rounded(samples[index], integer)
    probes = tuple((float(samples[:, j].min()), float(samples[:, j].max()))
                   for j in range(len(paths)))
    describe = {"posterior": str(posterior), "samples": len(weights),
                "effective_sample_size": float(1.0 / np.sum((weights / weights.sum()) ** 2))}
    varied = VariedSet("posterior", paths, values, probes, integer, describe)
    check_varied(loaded, varied)
    return varied


def check_varied(loaded: LoadedScenario, varied: VariedSet) -> None:
    """Refuse values a sweep could not vary, and draws outside the schema's bounds.

    Each path must hold a number that is a parameter (not a run setting, not structure);
    the smallest and largest value any run gets must validate.
    """
    from sim.design import Design, Parameter
    from sim.execution.sweep import check_parameters

    params = tuple(Parameter(path=p, levels=(0.0,)) for p in varied.paths)
    check_parameters(loaded, Design("uncertain", params, np.zeros((1, len(params))), 0))
    base = compile_scenario(loaded.spec)
    for j, path in enumerate(varied.paths):
        column = varied.values[:, j]
        for value in {float(column.min()), float(column.max()), *varied.probes[j]}:
            world = _compile_with(loaded.data, ((path, value),))
            if world is None:
                raise UsageError(f"{path}: a run would get {value:g}, which the scenario does "
                                 "not accept there (outside the value's bounds); narrow its "
                                 "range or prior")
            if pickle.dumps(world.layout) != pickle.dumps(base.layout):
                raise UsageError(f"{path}: its value changes the model's structure (menus, "
                                 "timeline, calendar); only values that are parameters may "
                                 "carry a range or prior")


def _compile_with(data: dict, overrides: tuple) -> World | None:
    try:
        loaded = load_data(data, [f"{p}={_text(v)}" for p, v in overrides])
    except ScenarioError:
        return None
    return compile_scenario(loaded.spec)


def _text(value: float) -> str:
    value = float(value)  # a numpy float's repr is 'np.float64(x)', which no override parses
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(value)


# --------------------------------------------------------------------------- in the worker


@dataclass
class _AffineMap:
    """``Params(values) = base + sum_j (values_j - point_j) * slope_j`` (exact where verified)."""

    base: Params
    point: np.ndarray
    slopes: list[dict[str, np.ndarray]]


@lru_cache(maxsize=8)
def _affine_map(frozen: str, paths: tuple, probes: tuple) -> _AffineMap | None:
    """Probe each path's effect on the compiled parameters; None if it is not affine."""
    data = json.loads(frozen)
    loaded = load_data(data)
    base = compile_scenario(loaded.spec).params
    point = np.array([float(_point_value(loaded, p)) for p in paths])
    fields = [f.name for f in dataclasses.fields(Params)]
    slopes: list[dict[str, np.ndarray]] = []
    for j, path in enumerate(paths):
        low, high = probes[j]
        if high == low:
            slopes.append({})
            continue
        at_low = _compile_with(data, ((path, low),)).params
        at_high = _compile_with(data, ((path, high),)).params
        mid = 0.5 * (low + high)
        at_mid = _compile_with(data, ((path, mid),)).params
        slope: dict[str, np.ndarray] = {}
        for name in fields:
            a, b, m = getattr(at_low, name), getattr(at_high, name), getattr(at_mid, name)
            if np.array_equal(a, b) and np.array_equal(a, m):
                continue
            if not np.issubdtype(np.asarray(a).dtype, np.floating):
                return None  # an integer or flag moves with the value: not affine
            s = (b.astype(float) - a) / (high - low)
            if not (np.allclose(m, a + (mid - low) * s, rtol=1e-9, atol=1e-12)
                    and np.allclose(getattr(base, name), a + (point[j] - low) * s,
                                    rtol=1e-9, atol=1e-12)):
                return None
            slope[name] = s
        slopes.append(slope)
    mapping = _AffineMap(base=base, point=point, slopes=slopes)
    # the effects must also add up: move every value at once to a quarter of its probe range
    joint = tuple((p, probes[j][0] + 0.25 * (probes[j][1] - probes[j][0]))
                  for j, p in enumerate(paths))
    exact = _compile_with(data, joint).params
    predicted = _apply(mapping, np.array([[v for _, v in joint]]))
    for name in fields:
        if not np.allclose(getattr(exact, name), getattr(predicted, name), rtol=1e-9,
                           atol=1e-12):
            return None
    return mapping


def _apply(mapping: _AffineMap, values: np.ndarray) -> Params:
    """Per-run parameters ``(R, ...)`` for ``values`` ``(R, J)``."""
    r = values.shape[0]
    out = {}
    for f in dataclasses.fields(Params):
        base = getattr(mapping.base, f.name)
        array = np.repeat(base, r, axis=0)
        for j, slope in enumerate(mapping.slopes):
            if f.name in slope:
                offset = (values[:, j] - mapping.point[j]).reshape((r,) + (1,) * (base.ndim - 1))
                array = array + offset * slope[f.name]
        out[f.name] = array
    return Params(**out)


def varied_params(task, world: World) -> Params:
    """The per-run parameters of a batch whose task carries per-run values (``varied``)."""
    from sim.execution.batches import _frozen

    paths, probes, _integer, rows = task.varied
    values = np.array(rows, float).reshape(len(rows), len(paths))
    mapping = _affine_map(_frozen(task), paths, probes)
    if mapping is not None:
        return _apply(mapping, values)
    data = task.scenario
    parts = []
    for row in values:  # not affine: compile each run's scenario (slower, always exact)
        compiled = _compile_with(data, tuple(zip(paths, row, strict=True)))
        if compiled is None:
            raise UsageError(f"values {dict(zip(paths, row, strict=True))} do not validate")
        parts.append(compiled.params)
    return Params.stack(parts, [1] * len(parts))


def varied_columns(task) -> dict[str, np.ndarray]:
    """``param.<path>`` columns of a batch's runs (each run's values)."""
    paths, _, _, rows = task.varied
    values = np.array(rows, float).reshape(len(rows), len(paths))
    return {f"param.{p}": values[:, j] for j, p in enumerate(paths)}
