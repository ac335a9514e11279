"""``sim calibrate --library``: fit the library's generic constants on every crisis at once.

Every crisis of the library copied a few generic constants from the baseline (the loss rate,
the ladder's rates, the bargaining noise, the actors' rationality, the incident rate), so an
error in those judgements is shared by all of them. What the library's observations can teach
is that shared error: one multiplier per constant, applied to every crisis (each path the
constant scales takes its value in the crisis times the multiplier, cut to the schema's
bounds; ``sim.execution.variation.scaled_values``). The constants, the paths they scale and
their priors are in the library's ``pooled_priors.yml``, with reasons.

The fit is one ABC-SMC (``sim.validation.abc_smc``, unchanged) whose particles are vectors of
multipliers and whose distance pools the crises:

* each crisis's distance is *normalised*: the mean, over its fitted observations, of one term
  per observation in [0, 1]: 1 for a mismatched event, and for a quantity its miss of the
  observed value or interval over the observed value (as ``sim calibrate``'s), cut at 1 (a
  miss by the whole observed value or more, or no value at all, counts as one wrong event);
* the pooled distance is the mean of the crises' normalised distances, so that every crisis
  weighs the same whatever its number of observations, and no crisis's large count (a loss
  total missed by a factor of 30) can outweigh the others' events.

Simulation: particle ``i`` of the calibration is simulated once in every crisis, as replication
``i`` of that crisis's counter-based generator, seeded by the calibration's seed and the
crisis's name (so a crisis's simulations do not depend on which other crises are fitted: a
leave-one-crisis-out fit is the fit of a library without that crisis). Each generation is one
lockstep batch per crisis (cut into tasks of at most ``batch`` replications), with
per-replication parameters (``params_for``), run on the local process pool or a Dask cluster:
the results do not depend on where or how the tasks ran.

Every crisis runs at its point values apart from the multiplied constants: drawing each
crisis's own 20-50 priors per simulation would compile most runs one by one (interest weights
are normalised, so not affine: about 30 ms a run against about 3 ms simulating it). Runs that
use the posterior (``sim validate``, ``sim run`` of a crisis of the library) multiply the
crisis's own prior draws instead: the multiplier is read as a shared bias, the crisis's prior as
its own deviation around it.

Files, resuming and refusals are ``sim calibrate``'s (``sim.validation.calibrate``): the folder
is claimed and locked, each generation is saved as it finishes, the same command resumes, a
folder holding a posterior is never overwritten. ``posterior.json`` holds the pooled posterior;
``--write-posterior`` also stores it beside the library (``pooled_posterior.json``), where the
library's scenarios find it.

Leave one crisis out (``--cv``): for each crisis, the same fit on all the others (its own folder
under ``loco/``, resumable), then that crisis is run with the priors it declares, with and
without the multipliers drawn from that fit, and both are scored on its observations: what the
pooled calibration adds to a crisis it never saw.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import time
import zlib
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sim.errors import UsageError
from sim.execution.variation import (
    PROBE_QUANTILES,
    frozen_data,
    params_for,
    prior_ppf,
    scaled_values,
)
from sim.scenario.schema import Prior
from sim.validation.abc_smc import ABCSMC, Generation, Settings
from sim.validation.calibrate import _summary, generations_folder, piled_against_bounds

log = logging.getLogger(__name__)
PRIORS_FILE = "pooled_priors.yml"
POSTERIOR_FILE = "pooled_posterior.json"
KIND = "crisis-sim pooled posterior"
MAX_PRIORS_BYTES = 1_000_000
MAX_POOLED_POSTERIOR_BYTES = 100_000_000
PRIOR_SAMPLES = 2000  # draws of the multipliers' priors a leave-one-out check runs with


# --------------------------------------------------------------------------- the constants


@dataclass(frozen=True)
class Constant:
    """A generic constant: a multiplier shared by every crisis.

    Attributes:
        name: Its name (``loss_scale``).
        scales: The scenario paths it multiplies (``*`` for every id: ``actors.*.rationality``).
        prior: The multiplier's prior.
        reason: Why this prior (from ``pooled_priors.yml``).
    """

    name: str
    scales: tuple[str, ...]
    prior: Prior
    reason: str

    def as_dict(self) -> dict:
        """A JSON-able copy."""
        return {"name": self.name, "scales": list(self.scales),
                "prior": self.prior.model_dump(exclude_none=True), "reason": self.reason}


def read_pooled_priors(path: Path) -> list[Constant]:
    """The constants of a ``pooled_priors.yml`` (untrusted: read bounded, checked)."""
    import yaml
    from pydantic import ValidationError

    from sim.safety import UnsafeFileError, read_limited

    path = Path(path)
    try:
        data = yaml.safe_load(read_limited(path, MAX_PRIORS_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found; a pooled calibration needs the library's "
                         f"{PRIORS_FILE} (the constants to fit and their priors)") from None
    except (UnsafeFileError, OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: unreadable ({str(exc)[:80]})") from None
    constants = data.get("constants") if isinstance(data, dict) else None
    if not isinstance(constants, dict) or not constants:
        raise UsageError(f"{path}: needs a 'constants:' mapping of name -> scales, prior, "
                         "reason")
    out = []
    for name, spec in constants.items():
        where = f"{path}: constants.{str(name)[:40]}"
        if not isinstance(spec, dict) or set(spec) - {"scales", "prior", "reason"}:
            raise UsageError(f"{where}: give exactly scales:, prior: and reason:")
        scales = spec.get("scales")
        if (not isinstance(scales, list) or not scales
                or not all(isinstance(s, str) and s for s in scales)):
            raise UsageError(f"{where}.scales: a list of scenario paths")
        try:
            prior = Prior(**spec["prior"]) if isinstance(spec.get("prior"), dict) else None
        except ValidationError as exc:
            raise UsageError(f"{where}.prior: {exc.errors()[0]['msg']}") from None
        if prior is None:
            raise UsageError(f"{where}.prior: a prior ({{dist: lognormal, median: 1, ...}})")
        low, high = prior.support()
        if not (low > 0 and math.isfinite(high)):
            raise UsageError(f"{where}.prior: a multiplier's prior must lie within (0, inf): "
                             "cut it with low: and high:")
        reason = spec.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"{where}.reason: say why this prior")
        out.append(Constant(str(name), tuple(scales), prior, " ".join(reason.split())))
    return out


# --------------------------------------------------------------------------- the distance


def crisis_distance(target, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Each run's normalised distance from one crisis's observations, in [0, 1].

    The mean over the crisis's fitted observations of one term each: ``|happened - observed|``
    for an event; for a quantity, its miss of the observed value or interval over the observed
    value (``sim calibrate``'s term), cut at 1, and 1 where the run has no value.

    Args:
        target: The crisis's ``sim.validation.calibrate.Target``.
        columns: The runs' indicators.
    """
    runs = len(next(iter(columns.values())))
    d = np.zeros(runs)
    for column, y in target.events:
        happened = ~np.isnan(np.asarray(columns[column], float))
        d += np.abs(happened - y)
    for column, lo, hi, scale in target.quantities:
        s = np.asarray(columns[column], float)
        with np.errstate(invalid="ignore"):
            miss = np.maximum(0.0, np.maximum(lo - s, s - hi)) / scale
        d += np.where(np.isnan(s), 1.0, np.minimum(miss, 1.0))
    return d / (len(target.events) + len(target.quantities))


def pooled_distance(per_crisis: np.ndarray) -> np.ndarray:
    """The pooled distance of each particle: the mean of its crises' normalised distances.

    Args:
        per_crisis: ``(C, K)`` crisis ``c``'s normalised distance of particle ``k``.
    """
    return np.asarray(per_crisis, float).mean(axis=0)


# --------------------------------------------------------------------------- the crises


@dataclass
class Crisis:
    """A crisis of the library as the pooled fit simulates it."""

    name: str
    observations: Path
    loaded: object  # the LoadedScenario (as loaded, with its priors)
    target: object  # calibrate.Target (the scenario truncated at a cutoff, if any)
    frozen: str  # the target scenario's data as JSON (the workers' cache key)
    seed: int
    paths: tuple[str, ...]
    probes: tuple[tuple[float, float], ...]
    observations_sha256: str

    def values(self, constants: list[Constant], scales: np.ndarray) -> np.ndarray:
        """``(K, P)`` each particle's values of the paths the constants scale here."""
        return scaled_values(self.target.scenario, _pairs(constants), scales)[1]


def _pairs(constants: list[Constant]) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.name, c.scales) for c in constants]


def crisis_seed(seed: int, name: str) -> int:
    """The seed of a crisis's simulations: the calibration's seed and the crisis's name.

    By name, not position, so that a crisis's simulations are the same whichever crises are
    fitted with it (a leave-one-crisis-out fit is the fit of the library without that crisis).
    """
    return int(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())])
               .generate_state(1, np.uint32)[0])


def load_crises(folder: Path, constants: list[Constant], seed: int,
                leave_out: str | None = None) -> list[Crisis]:
    """Every crisis of the library folder (but ``leave_out``), checked before anything runs."""
    from sim.errors import ScenarioError
    from sim.safety import read_limited
    from sim.scenario.loader import MAX_FILE_BYTES
    from sim.validation.calibrate import build_target
    from sim.validation.observations import crisis_name, library_files, load_observations

    files = library_files(folder)
    names = [crisis_name(f) for f in files]
    if leave_out is not None and leave_out not in names:
        raise UsageError(f"{leave_out}: no such crisis in {folder}; known: {names}")
    loaded, problems = [], []
    for path in files:
        if crisis_name(path) == leave_out:
            continue
        try:
            loaded.append((path, load_observations(path)))
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    crises = []
    for path, obs in loaded:
        name = crisis_name(path)
        target = build_target(obs)
        frozen = frozen_data(target.scenario.data)
        # probes fixed per crisis (the affine map is probed once per process and cached):
        # every path at its point value times the prior's extreme quantiles
        quantiles = np.array([[float(prior_ppf(c.prior, np.array([q]))[0]) for c in constants]
                              for q in PROBE_QUANTILES])
        paths, at, _ = scaled_values(target.scenario, _pairs(constants), quantiles)
        if not paths:
            raise UsageError(f"{path}: no value of its scenario is scaled by the pooled "
                             "constants; nothing to fit there")
        probes = tuple((float(at[0, k]), float(at[1, k])) for k in range(len(paths)))
        digest = hashlib.sha256(read_limited(path, MAX_FILE_BYTES)).hexdigest()
        crises.append(Crisis(name, path, obs.scenario, target, frozen, crisis_seed(seed, name),
                             paths, probes, digest))
    if not crises:
        raise UsageError(f"{folder}: no crisis left to fit")
    return crises


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True)
class CrisisTask:
    """One lockstep batch of one crisis: picklable, for a local pool or a Dask cluster."""

    crisis: str
    frozen: str
    seed: int
    start: int
    paths: tuple[str, ...]
    probes: tuple[tuple[float, float], ...]
    values: np.ndarray
    events: tuple
    quantities: tuple


@lru_cache(maxsize=64)
def _compiled(frozen: str):
    from sim.scenario.loader import load_data
    from sim.world import compile_scenario

    loaded = load_data(json.loads(frozen))
    return loaded, compile_scenario(loaded.spec)


def run_crisis(task: CrisisTask) -> np.ndarray:
    """The normalised distances of one batch of one crisis (runs in a worker)."""
    from sim.model import CrisisModel
    from sim.outcomes import indicators
    from sim.validation.calibrate import Target

    loaded, world = _compiled(task.frozen)
    params = params_for(loaded.data, task.frozen, task.paths, task.probes, task.values)
    reps = np.arange(task.start, task.start + len(task.values))
    model = CrisisModel(loaded, world=world, replications=reps, seed=task.seed,
                        params=params, record_paths=False)
    model.run()
    target = Target(loaded, list(task.events), list(task.quantities))
    return crisis_distance(target, indicators(model))


class PooledSimulator:
    """Simulates multiplier vectors in every crisis; returns their pooled distances.

    ``ABCSMC``'s simulator: ``run(values (K, M)) -> (K,)``, simulation ``i`` (particle ``i``)
    depending only on its values and ``i`` (replication ``i`` of each crisis).
    """

    def __init__(self, crises: list[Crisis], constants: list[Constant], batch: int,
                 executor):
        self.crises, self.constants, self.batch = crises, constants, batch
        self.executor = executor
        self.simulations = 0  # particles so far
        self.seconds = 0.0

    def run(self, values: np.ndarray, progress=None) -> np.ndarray:
        """Pooled distances of one particle per row of ``values`` (every crisis simulated)."""
        started = time.perf_counter()
        k = len(values)
        per_crisis = np.full((len(self.crises), k), np.nan)
        tasks = []
        for c, crisis in enumerate(self.crises):
            rows = crisis.values(self.constants, values)
            for a in range(0, k, self.batch):
                tasks.append((c, a, CrisisTask(
                    crisis.name, crisis.frozen, crisis.seed, self.simulations + a, crisis.paths,
                    crisis.probes, rows[a:a + self.batch], tuple(crisis.target.events),
                    tuple(crisis.target.quantities))))
        done = 0
        before = self.simulations * len(self.crises)
        futures = {self.executor.submit(run_crisis, task): (c, a, len(task.values))
                   for c, a, task in tasks}
        try:
            pending = set(futures)
            while pending:
                ready, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in ready:
                    c, a, n = futures[future]
                    per_crisis[c, a:a + n] = future.result()
                    done += n
                    if progress is not None:
                        progress(before + done)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        self.simulations += k
        self.seconds += time.perf_counter() - started
        return pooled_distance(per_crisis)


# --------------------------------------------------------------------------- the command


def _settings(crises: list[Crisis], constants: list[Constant], priors_file: Path,
              settings: Settings, held_out: str | None) -> dict:
    from sim.safety import read_limited

    return {"kind": "pooled", "held_out": held_out,
            "crises": [{"crisis": c.name, "scenario_sha256": c.loaded.digest(),
                        "observations_sha256": c.observations_sha256} for c in crises],
            "priors_sha256": hashlib.sha256(read_limited(priors_file, MAX_PRIORS_BYTES))
            .hexdigest(),
            "parameters": [c.name for c in constants], **settings.as_dict()}


def fit_library(folder: Path, *, out_dir: Path, simulations: int = 100_000,
                population: int = 500, batch: int = 1000, generations: int = 10,
                min_epsilon: float = 0.0, min_acceptance: float = 0.005,
                seed: int = 1, workers: int | None = None, scheduler: str | None = None,
                leave_out: str | None = None, progress=None, executor=None,
                reuse: bool = False) -> dict:
    """One pooled ABC-SMC over the library's crises (but ``leave_out``); writes its folder.

    Args:
        folder: The library folder (its ``*.observations.yaml`` and ``pooled_priors.yml``).
        out_dir: The output folder; an unfinished fit there with the same settings is
            resumed; one holding a ``posterior.json`` is refused (never overwritten).
        simulations: The budget in model runs (each particle costs one run per crisis).
        population: Particles accepted per generation, at least.
        batch: At most this many replications per task (results do not depend on it).
        generations: At most this many generations.
        min_epsilon: Stop once the tolerance is down to this.
        min_acceptance: Stop once a generation accepts fewer than this share.
        seed: The seed of the proposals and (with each crisis's name) of its simulations.
        workers: Local worker processes (default one per core; 1: in this process).
        scheduler: A Dask scheduler's address, else the local pool.
        leave_out: A crisis not to fit on (leave one crisis out).
        progress: Called as ``progress(runs, generation, epsilon)`` as tasks finish.
        executor: An executor to use (and leave open) instead of making one.
        reuse: Return a finished fit with the same settings found in ``out_dir`` (its
            ``calibration.json``) instead of refusing the folder (``--cv`` resumes so).

    Returns:
        The diagnostics written to ``calibration.json``.
    """
    from sim.execution.executors import default_workers, executor_for, scheduler_address
    from sim.execution.outdir import claim_folder
    from sim.execution.storage import write_json
    from sim.validation.calibrate import (
        _calibration_folder,
        _resume,
        check_sizes,
        plot_posterior,
    )

    folder, out_dir = Path(folder), Path(out_dir)
    priors_file = folder / PRIORS_FILE
    constants = read_pooled_priors(priors_file)
    crises = load_crises(folder, constants, seed, leave_out)
    per_particle = len(crises)
    particles = simulations // per_particle
    if particles < 1:
        raise UsageError(f"--simulations {simulations} cannot run one particle in each of "
                         f"{per_particle} crises; give at least {per_particle}")
    settings = Settings(population, particles, generations, float(min_epsilon),
                        float(min_acceptance), int(seed))
    check_sizes(settings, len(constants))
    recorded = _settings(crises, constants, priors_file, settings, leave_out)
    if (out_dir / "posterior.json").exists():
        done = _finished(out_dir, recorded) if reuse else None
        if done is not None:
            return done
        raise UsageError(f"{out_dir} already holds a posterior.json; choose another --out "
                         "(results are never overwritten)")
    claim_folder(out_dir, made_before_marker=_calibration_folder)
    priors = [c.prior for c in constants]
    resumed = _resume(out_dir, recorded, priors)
    gen_dir = generations_folder(out_dir)
    if not resumed:
        write_json(out_dir / "settings.json", recorded)
    close = None
    if executor is None:
        executor, close = executor_for(scheduler, workers)
    address = scheduler_address(scheduler)  # the argument, else SIM_SCHEDULER
    where = (f"dask {address}" if address else
             f"local pool ({workers or default_workers()})")
    simulator = PooledSimulator(crises, constants, batch, executor)
    abc = ABCSMC(priors, simulator, settings)
    gens = list(resumed)
    if gens:
        simulator.simulations = gens[-1].total
        log.info("resuming %s after generation %d", out_dir, gens[-1].t)

    def said(t: int, eps: float):
        if progress is None:
            return None
        return lambda done: progress(done, t, eps)

    started = time.perf_counter()
    cancelled = False
    try:
        reason = abc.stop_after(gens[-1]) if gens else None
        while reason is None:
            if not gens:
                gen = abc.first(said(0, math.inf))
            else:
                gen = abc.next(gens[-1], said(gens[-1].t + 1, abc.tolerance(gens[-1])))
            write_json(gen_dir / f"{gen.t:03d}.json", gen.record())
            gens.append(gen)
            log.info("generation %d: epsilon %.4g, %d accepted of %d", gen.t, gen.epsilon,
                     len(gen.weights), gen.simulations)
            reason = abc.stop_after(gen)
    except BaseException:
        cancelled = True
        raise
    finally:
        if close is not None:
            close(cancel=cancelled)
    wall = time.perf_counter() - started
    final: Generation = gens[-1] if gens[-1].complete else gens[-2]
    names = [c.name for c in constants]
    all_wall = sum(g.seconds for g in gens)
    runs = gens[-1].total * per_particle
    diagnostics = {
        "kind": "pooled", "library": str(folder), "held_out": leave_out,
        "crises": [c.name for c in crises], "priors_file": str(priors_file),
        "constants": [c.as_dict() for c in constants], "parameters": names,
        "priors": {c.name: c.prior.model_dump(exclude_none=True) for c in constants},
        "distance": "mean over crises of each crisis's mean observation term (event "
        "mismatch 0/1; quantity miss over the observed value, cut at 1; 1 if no value)",
        "method": "ABC-SMC (vectorised; Beaumont et al. 2009, Filippi et al. 2013 kernel), "
        "one lockstep batch per crisis and generation",
        "simulations": int(runs), "particles": int(gens[-1].total),
        "simulation_seconds": round(sum(g.simulation_seconds for g in gens), 1),
        "wall_seconds": round(all_wall, 1), "wall_seconds_this_run": round(wall, 1),
        "runs_per_second": round(runs / all_wall, 1) if all_wall else None,
        "executor": where,
        "resumed_after_generation": resumed[-1].t if resumed else None,
        "stopped": reason, "result_generation": final.t,
        "final_epsilon": None if math.isinf(final.epsilon) else final.epsilon,
        "population_size": population, "batch": batch, "seed": seed,
        "generations": [g.summary() for g in gens], "effective_sample_size": final.ess,
        "posterior": {n: _summary(final.samples[:, j], final.weights)
                      for j, n in enumerate(names)},
        "piled_against_bounds": piled_against_bounds(names, priors, final.samples,
                                                     final.weights),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    write_json(out_dir / "calibration.json", diagnostics)
    plot_posterior(out_dir / "calibration.png", names, priors, final.samples, final.weights)
    write_json(out_dir / "posterior.json", posterior_record(
        folder, crises, constants, final, diagnostics))
    return diagnostics


def _finished(out_dir: Path, recorded: dict) -> dict | None:
    """The diagnostics of a finished fit in ``out_dir`` with these settings, or None."""
    from sim.safety import read_limited
    from sim.validation.calibrate import MAX_SETTINGS_BYTES

    try:
        old = json.loads(read_limited(out_dir / "settings.json", MAX_SETTINGS_BYTES).decode())
        diagnostics = json.loads(read_limited(out_dir / "calibration.json",
                                              MAX_POOLED_POSTERIOR_BYTES).decode())
    except Exception:  # unreadable: not a finished fit to reuse
        return None
    return diagnostics if old == recorded and isinstance(diagnostics, dict) else None


def posterior_record(folder: Path, crises: list[Crisis], constants: list[Constant],
                     final: Generation, diagnostics: dict) -> dict:
    """What a pooled ``posterior.json`` holds (and ``pooled_posterior.json`` beside the library)."""
    from sim.validation.recalibration import library_commit

    return {"kind": KIND, "constants": [c.as_dict() for c in constants],
            "parameters": [c.name for c in constants], "samples": final.samples.tolist(),
            "weights": final.weights.tolist(), "held_out": diagnostics["held_out"],
            "crises": [{"crisis": c.name, "scenario": c.loaded.spec.name,
                        "scenario_file": c.loaded.path.name if c.loaded.path else "",
                        "scenario_sha256": c.loaded.digest(),
                        "observations_sha256": c.observations_sha256} for c in crises],
            "library": {"folder": str(folder), **library_commit(folder)},
            "simulations": diagnostics["simulations"],
            "effective_sample_size": diagnostics["effective_sample_size"],
            "posterior": diagnostics["posterior"], "created": diagnostics["created"]}


# --------------------------------------------------------------------------- reading and use


def read_pooled_posterior(path: Path) -> dict:
    """A pooled posterior file (untrusted: read bounded; shapes, numbers, paths checked).

    Returns:
        ``constants`` as ``(name, scales)`` pairs, ``samples`` ``(N, M)``, normalised
        ``weights``, ``crises`` (the crises it was fitted on), ``loco`` (crisis -> its
        leave-one-out posterior, when ``--cv`` stored them) and ``describe`` (for manifests).
    """
    from sim.safety import UnsafeFileError, read_limited

    path = Path(path)
    try:
        raw = read_limited(path, MAX_POOLED_POSTERIOR_BYTES)
        data = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found") from None
    except (UnsafeFileError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a pooled posterior of sim calibrate --library "
                         f"({str(exc)[:60]})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise UsageError(f"{path}: not a pooled posterior of sim calibrate --library (its kind "
                         f"is not {KIND!r})")
    try:
        constants = [(str(c["name"]), tuple(str(s) for s in c["scales"]))
                     for c in data["constants"]]
        crises = [{"crisis": str(c["crisis"]), "scenario": str(c["scenario"]),
                   "scenario_file": str(c["scenario_file"]),
                   "scenario_sha256": str(c["scenario_sha256"])} for c in data["crises"]]
        samples, weights = _samples(data, len(constants), path)
        loco = {}
        for name, fold in (data.get("loco") or {}).items():
            loco[str(name)] = _samples(fold, len(constants), path)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UsageError(f"{path}: a damaged pooled posterior; regenerate it with sim "
                         "calibrate --library") from None
    if not constants or any(not s for _, s in constants):
        raise UsageError(f"{path}: names no constant to scale")
    digest = hashlib.sha256(raw).hexdigest()
    commit = (data.get("library") or {}).get("commit") if isinstance(data.get("library"),
                                                                      dict) else None
    return {"constants": constants, "samples": samples, "weights": weights, "crises": crises,
            "loco": loco, "path": str(path),
            "describe": {"file": str(path), "sha256": digest,
                         "constants": [n for n, _ in constants],
                         "crises": len(crises), "library_commit": commit
                         if isinstance(commit, str) else None}}


def _samples(data: dict, m: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    samples = np.asarray(data["samples"], float)
    weights = np.asarray(data["weights"], float)
    if samples.ndim != 2 or samples.shape[1] != m or samples.shape[0] < 1:
        raise ValueError("shape")
    if weights.shape != (samples.shape[0],):
        raise ValueError("weights")
    if not (np.isfinite(samples).all() and (samples > 0).all() and np.isfinite(weights).all()
            and (weights >= 0).all() and weights.max() > 0):
        raise UsageError(f"{path}: multipliers must be finite and positive, weights finite, "
                         ">= 0 and not all 0")
    weights = weights / weights.max()
    return samples, weights / weights.sum()


def find_pooled_posterior(scenario_file: Path | None) -> Path | None:
    """The pooled posterior a scenario of the library uses by default, or None.

    Looked for beside the scenario, then in a ``library`` folder beside it (the baseline,
    ``scenarios/idlib_2020.yaml``, is a crisis of ``scenarios/library/``).
    """
    if scenario_file is None:
        return None
    here = Path(scenario_file).parent
    return next((p for p in (here / POSTERIOR_FILE, here / "library" / POSTERIOR_FILE)
                 if p.is_file()), None)


def pooled_for(loaded, path: Path | None = None) -> dict | None:
    """The pooled posterior that applies to ``loaded`` (a crisis it was fitted on), or None.

    For a crisis of the library the posterior fitted *without* it is used when the file holds
    one (``--cv`` stores them): an out-of-sample forecast; else the posterior fitted on every
    crisis, this one included, which ``describe`` says (``in_sample``).
    """
    path = path if path is not None else find_pooled_posterior(loaded.path)
    if path is None:
        return None
    post = read_pooled_posterior(path)
    stem = loaded.path.name if loaded.path else None
    match = [c for c in post["crises"] if stem and c["scenario_file"] == stem]
    if len(match) != 1:
        return None
    crisis = match[0]["crisis"]
    describe = dict(post["describe"], crisis=crisis,
                    scenario_as_fitted=match[0]["scenario_sha256"] == loaded.digest())
    if crisis in post["loco"]:
        samples, weights = post["loco"][crisis]
        describe.update(fitted_without_this_crisis=True, in_sample=False)
    else:
        samples, weights = post["samples"], post["weights"]
        describe.update(fitted_without_this_crisis=False, in_sample=True)
    return {**post, "samples": samples, "weights": weights, "describe": describe}


def write_library_posterior(folder: Path, out_dir: Path, loco: dict | None = None) -> Path:
    """Store a fit's posterior (and its leave-one-out posteriors) as the library's default.

    A ``pooled_posterior.json`` already there is replaced only if sim wrote it (its kind):
    any other file of that name is the user's and is left alone.
    """
    from sim.safety import read_limited

    target = Path(folder) / POSTERIOR_FILE
    if target.exists() or target.is_symlink():
        try:
            old = json.loads(read_limited(target, MAX_POOLED_POSTERIOR_BYTES).decode())
        except Exception:
            old = None
        if not isinstance(old, dict) or old.get("kind") != KIND:
            raise UsageError(f"{target} exists and is not a pooled posterior sim wrote; "
                             "move it away to store this one")
    record = json.loads(read_limited(Path(out_dir) / "posterior.json",
                                     MAX_POOLED_POSTERIOR_BYTES).decode())
    if loco:
        record["loco"] = loco
    from sim.execution.storage import atomic_write_bytes

    # compact: sixteen posteriors of a few hundred vectors each are a megabyte indented
    atomic_write_bytes(target, (json.dumps(record, sort_keys=True, separators=(",", ":"))
                                + "\n").encode())
    return target


# --------------------------------------------------------------------------- leave one out


def loco_skill(folder: Path, *, out_dir: Path, simulations: int = 20_000,
               population: int = 200, batch: int = 1000, generations: int = 10,
               min_epsilon: float = 0.0, seed: int = 1, runs: int = 200,
               workers: int | None = None, scheduler: str | None = None, progress=None,
               on_fold=None) -> dict:
    """Leave-one-crisis-out skill of the pooled calibration; writes ``out_dir/loco.json``.

    For each crisis: the pooled fit on all the *other* crises (``out_dir/loco/<crisis>``,
    budget ``simulations`` model runs; a finished fold is reused, an unfinished one resumed),
    then ``runs`` runs of the held-out crisis drawing its own priors, without and with the
    multipliers drawn from that fit (paired: the same prior draws), each scored on its
    observations. The held-out crisis's observations never enter its fold's fit (its fold
    loads the library without it).

    Returns:
        Per crisis and overall: Brier and log score without (``priors``) and with
        (``pooled``) the held-out fit, their differences with crisis-bootstrap intervals
        (``sim.validation.crossval``), and what each fold cost.
    """
    from sim.execution.ensemble import run_ensemble
    from sim.execution.executors import executor_for
    from sim.execution.outdir import claim_folder
    from sim.execution.storage import write_json
    from sim.execution.variation import pooled_set, uncertain_set
    from sim.validation.crossval import bootstrap_draws, interval, pooled_means
    from sim.validation.observations import crisis_name, library_files, load_observations
    from sim.validation.scores import score_run

    folder, out_dir = Path(folder), Path(out_dir)
    files = library_files(folder)
    claim_folder(out_dir)
    (out_dir / "loco").mkdir(exist_ok=True)
    executor, close = executor_for(scheduler, workers)
    rows, cancelled = [], False
    # the multipliers drawn from their priors: what the extra spread alone does, so that
    # "pooled - prior_multipliers" is what the fit learnt
    constants = read_pooled_priors(folder / PRIORS_FILE)
    u = np.random.default_rng([seed, 2024]).random((PRIOR_SAMPLES, len(constants)))
    prior_post = {"constants": _pairs(constants),
                  "samples": np.column_stack([prior_ppf(c.prior, u[:, j])
                                              for j, c in enumerate(constants)]),
                  "weights": np.full(PRIOR_SAMPLES, 1.0 / PRIOR_SAMPLES),
                  "describe": {"file": str(folder / PRIORS_FILE), "prior": True,
                               "constants": [c.name for c in constants]}}
    try:
        for path in files:
            name = crisis_name(path)
            fold = out_dir / "loco" / name
            started = time.perf_counter()
            d = fit_library(folder, out_dir=fold, simulations=simulations,
                            population=population, batch=batch, generations=generations,
                            min_epsilon=min_epsilon, seed=seed, leave_out=name,
                            progress=progress, executor=executor, reuse=True)
            post = read_pooled_posterior(fold / "posterior.json")
            obs = load_observations(path)
            loaded = obs.scenario
            run_seed = loaded.spec.run.seed
            base = uncertain_set(loaded, run_seed, runs) if loaded.uncertain else None
            scores = {}
            for mode, varied in (
                    ("priors", base),
                    ("prior_multipliers", pooled_set(loaded, run_seed, runs, prior_post, base)),
                    ("pooled", pooled_set(loaded, run_seed, runs, post, base))):
                run_dir = fold / f"run-{mode}"
                run_ensemble(loaded, runs=runs, seed=run_seed, workers=workers,
                             scheduler=scheduler, out_dir=run_dir, progress=False,
                             varied=varied)
                scores[mode] = score_run(run_dir, path)
            row = {"crisis": name, "events": len(scores["priors"]["events"]),
                   "fit_simulations": d["simulations"], "fit_seconds": d["wall_seconds"],
                   "fold_seconds": round(time.perf_counter() - started, 1),
                   "posterior": d["posterior"],
                   **{mode: {"brier": _mean(s["events"], "brier"),
                             "log_score": _mean(s["events"], "log_score")}
                      for mode, s in scores.items()},
                   "_events": {mode: s["events"] for mode, s in scores.items()}}
            rows.append(row)
            if on_fold is not None:
                on_fold(row)
    except BaseException:
        cancelled = True
        raise
    finally:
        close(cancel=cancelled)
    kept = [r for r in rows if r["events"]]
    if not kept:
        raise UsageError(f"{folder}: no crisis has events to score; leave one out scores "
                         "events")
    crisis = np.concatenate([np.full(r["events"], i) for i, r in enumerate(kept)])
    modes = ("priors", "prior_multipliers", "pooled")
    per_event = {mode: {m: np.array([e[m] for r in kept for e in r["_events"][mode]], float)
                        for m in ("brier", "log_score")} for mode in modes}
    idx = bootstrap_draws(len(kept))
    overall = {"crises": len(kept), "events": int(crisis.size)}
    for m in ("brier", "log_score"):
        for mode in modes:
            v = per_event[mode][m]
            overall.setdefault(mode, {})[m] = float(v.mean())
            overall[mode][f"{m}_interval"] = interval(pooled_means(v, crisis, len(kept), idx))
        # pooled - priors: what the pooled posterior changes; pooled - prior_multipliers: what
        # the fit learnt (the same spread of multipliers, drawn from the prior instead)
        for key, (a, b) in (("difference", ("pooled", "priors")),
                            ("learnt", ("pooled", "prior_multipliers"))):
            diff = per_event[a][m] - per_event[b][m]
            overall.setdefault(key, {})[m] = {
                "mean": float(diff.mean()),
                "interval": interval(pooled_means(diff, crisis, len(kept), idx))}
    for r in rows:
        r.pop("_events")
    result = {"kind": "pooled leave-one-crisis-out", "library": str(folder),
              "simulations_per_fold": simulations, "population": population, "seed": seed,
              "runs": runs, "crises": rows, "overall": overall,
              "fit_seconds": round(sum(r["fit_seconds"] for r in rows), 1),
              "seconds": round(sum(r["fold_seconds"] for r in rows), 1),
              "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    write_json(out_dir / "loco.json", result)
    return result


def _mean(events: list[dict], key: str) -> float | None:
    return float(np.mean([e[key] for e in events])) if events else None


def loco_posteriors(out_dir: Path) -> dict:
    """The leave-one-out posteriors of a ``--cv`` run, for the library's posterior file."""
    out = {}
    folds = Path(out_dir) / "loco"
    for fold in sorted(folds.iterdir()) if folds.is_dir() else []:
        path = fold / "posterior.json"
        if path.is_file() and not path.is_symlink():
            post = read_pooled_posterior(path)
            out[fold.name] = {"samples": post["samples"].tolist(),
                              "weights": post["weights"].tolist()}
    return out


def format_loco(result: dict) -> str:
    """The leave-one-crisis-out table in plain text."""
    modes = ("priors", "prior_multipliers", "pooled")
    lines = ["| held-out crisis | events | Brier: own priors | x prior multipliers | x pooled "
             "fit | log score: own priors | x prior multipliers | x pooled fit |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    o = result["overall"]
    for r in [*[r for r in result["crises"] if r["events"]],
              {"crisis": "**all**", "events": o["events"], **{m: o[m] for m in modes}}]:
        name = r["crisis"] if r["crisis"].startswith("*") else f"`{r['crisis']}`"
        lines.append(f"| {name} | {r['events']} | "
                     + " | ".join(f"{r[m]['brier']:.3f}" for m in modes) + " | "
                     + " | ".join(f"{r[m]['log_score']:.3f}" for m in modes) + " |")

    def diff(d: dict) -> str:
        return (f"Brier {d['brier']['mean']:+.3f} [{d['brier']['interval'][0]:+.3f}, "
                f"{d['brier']['interval'][1]:+.3f}], log score {d['log_score']['mean']:+.3f} "
                f"[{d['log_score']['interval'][0]:+.3f}, {d['log_score']['interval'][1]:+.3f}]")

    lines += ["", f"Each crisis scored on {result['runs']} runs drawing its own priors: alone, "
              "times multipliers drawn from their priors, and times multipliers drawn from the "
              f"pooled fit on the other crises ({result['simulations_per_fold']} simulations "
              f"per fit, {result['seconds']:.0f} s in all). Pooled fit - own priors (negative: "
              f"better): {diff(o['difference'])}; pooled fit - prior multipliers (what the fit "
              f"learnt): {diff(o['learnt'])} (crisis bootstrap 95%)."]
    return "\n".join(lines)


def format_pooled(d: dict) -> str:
    """What a pooled calibration found, in a few lines: cost, stopping, prior vs posterior."""
    eps = d["final_epsilon"] if d["final_epsilon"] is not None else float("inf")
    lines = [f"pooled calibration of {len(d['crises'])} crises"
             + (f" ({d['held_out']} held out)" if d["held_out"] else "") + f": "
             f"{d['simulations']} simulations ({d['particles']} parameter vectors x "
             f"{len(d['crises'])} crises) in {d['wall_seconds']} s on {d['executor']} "
             f"({d['runs_per_second']} runs/s), {len(d['generations'])} generations (stopped: "
             f"{d['stopped']}), pooled tolerance {eps:.3g}, effective sample size "
             f"{d['effective_sample_size']:.0f}"]
    for name, q in d["posterior"].items():
        prior = d["priors"][name]
        lines.append(f"  {name}: median {q['median']:.3g}, 90% [{q['q05']:.3g}, "
                     f"{q['q95']:.3g}] (prior {prior.get('dist')} median "
                     f"{prior.get('median', '?')}, sigma {prior.get('sigma', '?')}, "
                     f"[{prior.get('low', '?')}, {prior.get('high', '?')}])")
    lines += [f"warning: {x['message']}" for x in d.get("piled_against_bounds", [])]
    return "\n".join(lines)
