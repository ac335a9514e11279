"""Per-run parameter variation: uncertain draws, posterior samples, checks of swept values.

Three things give the runs of one experiment different parameters, and all reach the engine
the same way, as per-replication parameter vectors (``Params`` stacked along the replication
axis), so the lockstep batch never compiles a scenario per run:

* a sweep's design points (``sim sweep``; the points come from ``sim.design``, and a batch
  compiles each point once: ``sim.execution.batches.point_params``), whose paths
  ``check_parameters`` checks;
* draws of the scenario's uncertain values from their priors (``sim run --uncertain``);
* samples of a calibrated posterior (``sim run --posterior``; ``sim.validation.calibrate``
  writes and reads the file, this module resamples it), and the proposals of a calibration;
* multipliers of the library's generic constants (``sim calibrate --library`` fits them on
  every crisis at once, ``sim.validation.pooled``; ``scaled_values`` applies a multiplier to
  every path it scales, in the pooled fit and in the runs that draw from its posterior,
  ``pooled_set``).

A scenario value written ``{value: 0.02, range: [0.005, 0.05]}`` or ``{value: 0.02, prior:
{dist: lognormal, median: 0.02, sigma: 0.5}}`` is *uncertain* (the loader keeps its point value
in the data and its ``Prior`` in ``LoadedScenario.uncertain``). ``sim run --uncertain`` gives
every run its own draw of every uncertain value, so outcome intervals include parameter
uncertainty, as the EMA Workbench treats uncertainties as ranges (Kwakkel 2017). ``sim run
--posterior FILE`` draws each run's values from a calibrated posterior instead.

Draws are reproducible and batch-independent: run ``r``'s draws are inverse-CDF transforms of
uniforms keyed by (seed, r, day 0, ``Stream.PARAMETERS``) from the project's counter-based
generator, so they depend only on the seed and the run index.

Compiling a scenario per run (validation and compilation, ~30 ms) would cost more than
simulating it (~0.5 ms), so each varied value's effect on the compiled ``Params`` is probed
once per process: the scenario is compiled at two points of the value's range (and once more
with every value moved at once); when the arrays move affinely with the values (the usual
case: a value is copied or scaled into its array) a run's parameters are the point scenario's
plus the values' offsets times those slopes, exactly; otherwise (a value that is normalised,
as interest weights are, or an integer) each run is compiled on its own (``params_for``).
Only values a sweep could vary may be uncertain: numbers that are parameters, not run
settings, dates or anything that changes the model's structure.

Execution uses this module (``batches``, ``ensemble``, ``sweep``) and validation builds on it
(calibration); it imports neither.
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
from sim.scenario.loader import (
    LoadedScenario,
    check_override_path,
    format_path,
    load_data,
    merge_edits,
    parse_path,
)
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
    # truncated normal (and lognormal, a normal in log x): scipy's truncnorm computes in the
    # tail, where ``cdf(low) + u * (cdf(high) - cdf(low))`` rounds to 1 and every draw of a
    # prior cut to its upper tail (normal(0.1, 0.01) on [0.3, 0.6]) came out as the high end
    low, high = prior.support()
    if prior.dist == "normal":
        centre, scale, a, b = prior.mean, prior.sd, low, high
    else:
        centre, scale = float(np.log(prior.median)), prior.sigma
        a = float(np.log(low)) if low > 0 else -np.inf
        b = float(np.log(high)) if np.isfinite(high) else np.inf
    dist = stats.truncnorm((a - centre) / scale, (b - centre) / scale, loc=centre,
                           scale=scale)
    with np.errstate(all="ignore"):
        x = dist.ppf(u)
    if not np.isfinite(x).all() and np.isfinite([a, b]).all():
        raise UsageError(f"a {prior.dist} prior cut to [{low:g}, {high:g}] lies too far in "
                         "its tail to draw from; widen the cut or move the prior's centre")
    x = x if prior.dist == "normal" else np.exp(x)
    return np.clip(x, low, high)


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
        pooled: The pooled posterior the runs' generic constants were scaled by (its file,
            digest and constants, for the manifest), or None.
    """

    mode: str
    paths: tuple[str, ...]
    values: np.ndarray
    probes: tuple[tuple[float, float], ...]
    integer: tuple[bool, ...]
    describe: dict
    pooled: dict | None = None

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
    integer = integer_paths(loaded, paths)
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


def posterior_set(loaded: LoadedScenario, posterior: Path, seed: int, runs: int,
                  post: dict) -> VariedSet:
    """Every run's values resampled from a posterior file (``sim run --posterior``).

    Run ``r`` takes the sample whose cumulative weight first exceeds its uniform of the
    parameter stream: weighted resampling, reproducible and batch-independent.

    Args:
        loaded: The scenario the runs simulate.
        posterior: The file, named in messages and in the manifest.
        seed: The ensemble's seed.
        runs: How many runs.
        post: Its contents as ``sim.validation.calibrate.read_posterior`` returns them (the
            reader lives with the writer, in validation; this module only resamples).
    """
    paths = tuple(post["parameters"])
    if post["scenario_sha256"] is None:
        raise UsageError(f"{posterior} records no scenario_sha256 (the scenario it was fitted "
                         "on): use a posterior.json that sim calibrate wrote for this scenario")
    if post["scenario_sha256"] != loaded.digest():
        raise UsageError(f"{posterior} was fitted on another scenario, or on this one with "
                         "other values (its scenario_sha256 is not this scenario's): calibrate "
                         "this scenario (with the same --set values) to get its posterior")
    _check_paths(loaded, paths, posterior)
    samples = np.asarray(post["samples"], float)
    weights = np.asarray(post["weights"], float)  # normalised by read_posterior
    cumulative = np.cumsum(weights)
    u = run_uniforms(seed, np.arange(runs), 1)[:, 0]
    index = np.minimum(np.searchsorted(cumulative, u, side="right"), len(weights) - 1)
    integer = tuple(isinstance(_point_value(loaded, p), int) for p in paths)
    values = _rounded(samples[index], integer)
    # probed where the runs' values lie: an integer value's probes are rounded as its draws
    # are (a fractional probe of an integer value is not a value the scenario accepts)
    probes = tuple(tuple(float(x) for x in _rounded(np.array([samples[:, j].min(),
                                                              samples[:, j].max()]), (i,)))
                   for j, i in enumerate(integer))
    describe = {"posterior": str(posterior), "samples": len(weights),
                "effective_sample_size": float(1.0 / np.sum(weights ** 2))}
    varied = VariedSet("posterior", paths, values, probes, integer, describe)
    check_varied(loaded, varied)
    return varied


def check_parameters(loaded: LoadedScenario, design) -> None:
    """Every swept path must exist and hold a number, and not be a run setting.

    Args:
        loaded: The scenario.
        design: The ``sim.design.Design`` whose parameters' paths are checked.
    """
    full = loaded.spec.model_dump(by_alias=True)  # every value, defaults included
    for p in design.parameters:
        key = parse_path(p.path)
        why = check_override_path(loaded.data, key)
        if why:
            raise UsageError(f"--param {p.path}: {why}")
        if key[0] == "run":
            raise UsageError(f"--param {p.path}: run settings cannot be swept")
        node = full
        for part in key:
            node = node[part] if isinstance(node, dict | list) else None
        if isinstance(node, bool) or not isinstance(node, int | float):
            raise UsageError(f"--param {p.path}: the value there is {node!r}, not a number")


def policy_scenarios(loaded: LoadedScenario, design) -> list[LoadedScenario]:
    """The scenario each policy of a design runs: the base with the policy's edits.

    A categorical lever's option applies its edits as a counterfactual does (its
    counterfactual file's keys deep-merged as ``extends:`` merges them, then its ``set:``
    values as ``--set`` applies them); a numeric lever sets its path. Each policy is its own
    scenario, compiled on its own: an option may change the model's structure (an asset
    deployed on day 0, a deal on the table), which per-run parameters could not. Every edit
    is checked here, before anything runs: a path that does not exist, a lever on a run
    setting, a counterfactual of another scenario, an edit the scenario refuses.

    Args:
        loaded: The swept scenario.
        design: A ``sim.design.Design`` with levers (without: ``[loaded]``).

    Raises:
        UsageError: One line naming the lever, option and fix.
    """
    if not design.policies:
        return [loaded]
    swept = {p.path for p in design.parameters}
    full = loaded.spec.model_dump(by_alias=True)
    for lever in design.levers:
        if lever.categorical:
            for option in lever.options:
                _check_option(loaded, option, swept)
            continue
        key = parse_path(lever.name)
        why = check_override_path(loaded.data, key)
        if why is None and key[0] == "run":
            why = "run settings cannot be levers"
        node = full
        for part in key if why is None else ():
            node = node[part] if isinstance(node, dict | list) else None
        if why is None and (isinstance(node, bool) or not isinstance(node, int | float)):
            why = f"the value there is {node!r}, not a number; a categorical lever (options:) " \
                  "sets other values"
        if why:
            raise UsageError(f"{lever.where}: {why}")
    variants = []
    for policy in design.policies:
        data = loaded.data
        sets = []
        for option in policy.options:
            data = merge_edits(data, option.merge)
            sets += [f"{path}={json.dumps(value, default=str)}" for path, value in option.sets]
        sets += [f"{path}={_text(value)}" for path, value in policy.sets]
        try:
            variants.append(load_data(data, sets))
        except ScenarioError as exc:
            problem = exc.problems[0]
            raise UsageError(f"policy {policy.name}: the scenario with its edits does not "
                             f"validate: {problem.path}: {problem.message}; change the "
                             "options' edits") from None
        if list(variants[-1].spec.outcomes) != list(loaded.spec.outcomes):
            raise UsageError(f"policy {policy.name}: its edits define other outcomes than the "
                             "scenario's; a lever edits the crisis, not what is measured: "
                             "leave 'outcomes' out of its edits")
    return variants


def _check_option(loaded: LoadedScenario, option, swept: set[str]) -> None:
    """One option's edits: of this scenario, on paths that exist, valid on their own."""
    if (option.extends is not None and loaded.path is not None
            and Path(option.extends) != Path(loaded.path).resolve()):
        raise UsageError(f"{option.where}.counterfactual: {option.counterfactual} extends "
                         f"{option.extends}, not the swept scenario {loaded.path}; its "
                         "edits are of another scenario: name a counterfactual of the "
                         "swept one")
    if "run" in option.merge:
        raise UsageError(f"{option.where}.counterfactual: {option.counterfactual} edits the run "
                         "settings (run:); run settings cannot be levers: leave them out of "
                         "the counterfactual")
    data = merge_edits(loaded.data, option.merge)
    for path, _ in option.sets:
        try:
            key = parse_path(path)
        except ValueError:
            key = None
        why = check_override_path(data, key) if key else "malformed path"
        if why is None and key[0] == "run":
            why = "run settings cannot be levers"
        if why is None and path in swept:
            why = "the sweep also varies it as an uncertainty; keep it in one of the two"
        if why:
            raise UsageError(f"{option.where}.set.{path}: {why}")
    try:
        load_data(data, [f"{p}={json.dumps(v, default=str)}" for p, v in option.sets])
    except ScenarioError as exc:
        problem = exc.problems[0]
        source = f" (the edits of {option.counterfactual})" if option.counterfactual else ""
        raise UsageError(f"{option.where}: the scenario with this option{source} does not "
                         f"validate: {problem.path}: {problem.message}; fix the option's "
                         "edits") from None


def _check_paths(loaded: LoadedScenario, paths: tuple[str, ...], source: Path) -> None:
    """Refuse a path the scenario has no number at (one line, with the fix).

    A posterior names its values by path: one of another scenario, or a pair written in
    the other order (``b~a`` for the scenario's ``a~b``), is not a value of this one.
    """
    for path in paths:
        try:
            value = _point_value(loaded, path)
        except (KeyError, IndexError, TypeError, ValueError):
            value = None
        if isinstance(value, bool) or not isinstance(value, int | float):
            parts = path.split(".")
            swapped = [".".join([*parts[:k], "~".join(reversed(part.split("~"))),
                                 *parts[k + 1:]])
                       for k, part in enumerate(parts) if part.count("~") == 1]
            hint = next((f"; the scenario writes it {alt}" for alt in swapped
                         if _is_number_at(loaded, alt)), "")
            shown = path if len(path) <= 80 else path[:77] + "..."
            raise UsageError(f"{source}: '{shown}' is not a number of the scenario{hint}; "
                             "use a posterior that sim calibrate fitted on this scenario")


def _is_number_at(loaded: LoadedScenario, path: str) -> bool:
    try:
        value = _point_value(loaded, path)
    except (KeyError, IndexError, TypeError, ValueError):
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_varied(loaded: LoadedScenario, varied: VariedSet) -> None:
    """Refuse values a sweep could not vary, and draws outside the schema's bounds.

    Each path must hold a number that is a parameter (not a run setting, not structure);
    the smallest and largest value any run gets must validate.
    """
    from sim.design import Design, Parameter

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


@lru_cache(maxsize=64)  # a pooled calibration probes every crisis of the library in turn
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
        compiled_mid = _compile_with(data, ((path, mid),))
        if compiled_mid is None:  # an integer value's midpoint (1 and 8: 4.5) is no value of
            return None  # it: compiled per run, as its rounded draws are
        at_mid = compiled_mid.params
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


def frozen_data(data: dict) -> str:
    """Scenario data as the JSON text that keys the compiled scenarios and the probed maps.

    Key order is kept as given (actors are indexed in the order listed): the one definition
    every caller of ``params_for`` / ``varied_params`` and the batches' caches share.
    """
    return json.dumps(data, default=str)


def params_for(data: dict, frozen: str, paths: tuple[str, ...], probes: tuple,
               values: np.ndarray) -> Params:
    """Per-run parameters ``(R, ...)`` of a scenario whose ``paths`` take ``values`` ``(R, J)``.

    By the affine map when the values act affinely (exact where verified, probed once per
    process and cached), else by compiling each run's scenario (slower, always exact). Used
    by the batches of ``sim run --uncertain``/``--posterior`` and by calibration.

    Args:
        data: The scenario's resolved data.
        frozen: ``data`` as JSON (the cache key; key order kept).
        paths: The varied scenario paths.
        probes: Per path, the two values at which its effect is probed.
        values: Each run's values.
    """
    mapping = _affine_map(frozen, paths, probes)
    if mapping is not None:
        return _apply(mapping, values)
    parts = []
    for row in values:  # not affine: compile each run's scenario (slower, always exact)
        # plain floats: numpy's repr ("np.float64(0.59)") is no value a scenario accepts
        compiled = _compile_with(data, tuple((p, float(v)) for p, v in zip(paths, row,
                                                                          strict=True)))
        if compiled is None:
            shown = dict(zip(paths, np.asarray(row).tolist(), strict=True))
            raise UsageError(f"values {shown} do not validate; narrow the ranges or priors of "
                             "the uncertain values")
        parts.append(compiled.params)
    return Params.stack(parts, [1] * len(parts))


# --------------------------------------------------------------------------- pooled constants


def scaled_paths(loaded: LoadedScenario, patterns) -> tuple[str, ...]:
    """The scenario paths a pooled constant scales: its patterns, ``*`` standing for every id.

    ``actors.*.rationality`` is the rationality of every actor of the scenario (written or the
    schema's default); ``ladder.rate_up`` is that one value, written or not.
    """
    out: list[str] = []
    for pattern in patterns:
        parts = str(pattern).split(".")
        found = [[]]
        for part in parts:
            if part != "*":
                found = [[*f, part] for f in found]
                continue
            grown = []
            for f in found:
                node = loaded.spec.model_dump(by_alias=True)
                for key in f:
                    node = node.get(key) if isinstance(node, dict) else None
                grown += [[*f, str(k)] for k in (node or {})] if isinstance(node, dict) else []
            found = grown
        for f in found:
            path = ".".join(f)
            if path not in out:
                out.append(path)
    return tuple(out)


def schema_bounds(path: str) -> tuple[float, float]:
    """The schema's bounds of the number at ``path`` (``-inf``/``inf`` where it has none).

    Read from the schema (the bounds live there once): a scaled rate is cut at its bound,
    e.g. a probability at 1.
    """
    import typing

    from annotated_types import Ge, Gt, Le, Lt
    from pydantic import BaseModel

    from sim.scenario.schema import Scenario

    annotation, info = Scenario, None
    for part in parse_path(path):
        while typing.get_origin(annotation) is not None and typing.get_origin(
                annotation) is not dict:  # Optional[X], X | None: the model or mapping in it
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names = {(f.alias or n): n for n, f in annotation.model_fields.items()}
            info = annotation.model_fields[names[part]]
            annotation = info.annotation
        elif typing.get_origin(annotation) is dict:
            annotation, info = typing.get_args(annotation)[1], None
        else:
            raise UsageError(f"{path}: not a number of the schema")
    low, high = -np.inf, np.inf
    for bound in info.metadata if info is not None else ():
        if isinstance(bound, Ge | Gt):
            low = float(bound.ge if isinstance(bound, Ge) else bound.gt)
        elif isinstance(bound, Le | Lt):
            high = float(bound.le if isinstance(bound, Le) else bound.lt)
    return low, high


def scaled_values(loaded: LoadedScenario, constants: list[tuple[str, tuple[str, ...]]],
                  scales: np.ndarray, base: VariedSet | None = None
                  ) -> tuple[tuple[str, ...], np.ndarray, tuple[tuple[float, float], ...]]:
    """Every run's values of the paths the pooled constants scale (and of ``base``'s paths).

    The one definition of a pooled multiplier, used by the pooled fit and by the runs that
    draw from its posterior: a scaled path takes its value in the run (``base``'s draw where
    ``base`` varies it, else the scenario's point value) times the constant's multiplier,
    cut to the schema's bounds. A path no constant scales keeps ``base``'s values.

    Args:
        loaded: The scenario.
        constants: ``(name, patterns)`` of each pooled constant (``scaled_paths``).
        scales: ``(R, M)`` each run's multipliers, one column per constant.
        base: The runs' own draws (``uncertain_set``), or None for the point values.

    Returns:
        The paths, their ``(R, P)`` values, and per path two probes (the smallest and largest
        value, the point value included: a path whose values are all its point value gets
        equal probes, which the affine map reads as "no effect", rightly).
    """
    r = scales.shape[0]
    paths = list(base.paths) if base is not None else []
    columns = [base.values[:, k].astype(float) for k in range(len(paths))]
    changed = set()
    for m, (_name, patterns) in enumerate(constants):
        for path in scaled_paths(loaded, patterns):
            point = _point_value(loaded, path)
            if isinstance(point, bool) or not isinstance(point, float | int):
                raise UsageError(f"{path}: a pooled constant scales it, but it is not a number "
                                 "of the scenario")
            if isinstance(point, int):
                raise UsageError(f"{path}: a pooled constant scales it, but the scenario holds "
                                 "a whole number there; scale only real-valued constants")
            if path in paths:
                k = paths.index(path)
            else:
                paths.append(path)
                columns.append(np.full(r, float(point)))
                k = len(paths) - 1
            columns[k] = columns[k] * scales[:, m]
            changed.add(k)
    probes = list(base.probes) if base is not None else []
    values = np.column_stack(columns) if columns else np.zeros((r, 0))
    for k in sorted(changed):
        low, high = schema_bounds(paths[k])
        values[:, k] = np.clip(values[:, k], low, high)
        point = float(_point_value(loaded, paths[k]))
        probe = (float(min(values[:, k].min(), point)), float(max(values[:, k].max(), point)))
        if k < len(probes):
            probes[k] = probe
        else:
            probes.append(probe)
    return tuple(paths), values, tuple(probes)


def pooled_set(loaded: LoadedScenario, seed: int, runs: int, post: dict,
               base: VariedSet | None = None) -> VariedSet:
    """Every run's values with the library's generic constants drawn from a pooled posterior.

    Run ``r`` resamples the posterior (weighted, as ``posterior_set``) with a uniform of the
    parameter stream past those its own draws use (so the crisis's prior draws are the same
    with or without the pooled posterior: the two are paired), and multiplies every path a
    constant scales by its multiplier (``scaled_values``).

    Args:
        loaded: The scenario the runs simulate.
        seed: The ensemble's seed.
        runs: How many runs.
        post: The pooled posterior as ``sim.validation.pooled.read_pooled_posterior`` returns
            it (``constants``, ``samples``, ``weights``, ``describe``).
        base: The runs' draws of the scenario's own priors, or None for the point values.
    """
    weights = np.asarray(post["weights"], float)
    samples = np.asarray(post["samples"], float)
    column = len(base.paths) if base is not None else 0
    u = run_uniforms(seed, np.arange(runs), column + 1)[:, column]
    index = np.minimum(np.searchsorted(np.cumsum(weights), u, side="right"), len(weights) - 1)
    paths, values, probes = scaled_values(loaded, post["constants"], samples[index], base)
    integer = tuple(base.integer) + (False,) * (len(paths) - len(base.paths)) \
        if base is not None else (False,) * len(paths)
    varied = VariedSet(base.mode if base is not None else "pooled", paths, values, probes,
                       integer, dict(base.describe) if base is not None else {},
                       pooled=dict(post["describe"]))
    check_varied(loaded, varied)
    return varied


def integer_paths(loaded: LoadedScenario, paths: tuple[str, ...]) -> tuple[bool, ...]:
    """Per path, whether the scenario holds an integer there (its draws are rounded)."""
    return tuple(isinstance(_point_value(loaded, p), int) for p in paths)


def _values(varied: tuple) -> tuple[tuple[str, ...], np.ndarray]:
    paths, _probes, _integer, rows = varied
    return paths, np.array(rows, float).reshape(len(rows), len(paths))


def varied_params(varied: tuple, data: dict, frozen: str) -> Params:
    """The per-run parameters of a batch whose task carries per-run values.

    Args:
        varied: The task's ``varied`` field (``VariedSet.task_field``).
        data: The task's scenario data.
        frozen: The same as JSON (the key of the probed map's cache).
    """
    paths, values = _values(varied)
    return params_for(data, frozen, paths, varied[1], values)


def varied_columns(varied: tuple) -> dict[str, np.ndarray]:
    """``param.<path>`` columns of a batch's runs (each run's values)."""
    paths, values = _values(varied)
    return {f"param.{p}": values[:, j] for j, p in enumerate(paths)}
