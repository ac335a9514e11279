"""``sim calibrate``: fit a scenario's uncertain values to observations by ABC-SMC.

Likelihood-free: the model has no likelihood to write down, but it can be simulated, so the
posterior of the uncertain values (their priors are the ``range:``/``prior:`` of the scenario)
is approximated by approximate Bayesian computation with sequential Monte Carlo: ABC
population Monte Carlo (Toni et al. 2009, J. R. Soc. Interface 6:187; Beaumont, Cornuet, Marin
& Robert 2009, Biometrika 96:983). Populations of parameter vectors, each simulated once and
accepted when its simulation lies within a shrinking distance (the tolerance) of the
observations, weighted by prior over proposal.

The algorithm (generations, proposal kernels, importance weights, the tolerance schedule,
how many to simulate and when to stop) is ``sim.validation.abc_smc``, vectorised in numpy so
that a generation costs one lockstep batch and a few array passes. This module gives it what
it fits and how to simulate (``Target``, ``BatchedSimulator``: every simulation of a
generation a replication of one lockstep batch with per-replication parameter vectors, as
``sim run --uncertain`` runs, through ``sim.execution.variation``), and keeps its files: the
settings, each generation as it finishes, resuming, the posterior and the report.

Distance: 1 per mismatched event and, per quantity, its miss of the observed value or interval
divided by the observed value (at least 1); a simulation without a value is 1e6 away.

Time split: with a ``cutoff`` in the observations, the scenario is simulated only up to (and
including) the cutoff day and fitted to what was known by then (events that had happened,
quantities whose window ended); the posterior is then run over the whole horizon and scored on
what came after.

Reproducible: generation ``t``'s proposals come from numpy's generator seeded by
``(seed, t)``; simulation ``i`` of the calibration is replication ``i`` of the counter-based
generator. A re-run, or a run resumed after an interruption, gives the identical posterior.

Nothing computed is lost: each finished generation is written to ``generations/`` in the output
folder (with the settings in ``settings.json``) before the next starts; the same command on
the same folder resumes after the last of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import UsageError
from sim.execution.variation import (
    PROBE_QUANTILES,
    VariedSet,
    check_varied,
    frozen_data,
    integer_paths,
    params_for,
    prior_ppf,
)
from sim.scenario.loader import LoadedScenario, format_path, load_data
from sim.scenario.schema import Prior
from sim.validation.abc_smc import ABCSMC, Generation, Settings, weighted_quantile
from sim.validation.observations import Observations

log = logging.getLogger(__name__)
MAX_POSTERIOR_BYTES = 50_000_000
MISSING = 1e6  # the distance of a quantity a simulation has no value for
MAX_GENERATION_BYTES = 200_000_000


# --------------------------------------------------------------------------- what is fitted


@dataclass
class Target:
    """The observations a calibration fits: summaries of a (possibly truncated) run.

    Attributes:
        scenario: The scenario simulated (truncated at the cutoff when there is one).
        events: ``(day column, observed 0/1)``: did the event happen within the simulation?
        quantities: ``(indicator, low, high, scale)``: the observed value or interval.
    """

    scenario: LoadedScenario
    events: list[tuple[str, float]]
    quantities: list[tuple[str, float, float, float]]

    def distances(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Each simulated run's distance from the observations (see the module docstring)."""
        runs = len(next(iter(columns.values())))
        d = np.zeros(runs)
        for column, y in self.events:
            happened = ~np.isnan(np.asarray(columns[column], float))
            d += np.abs(happened - y)
        for column, lo, hi, scale in self.quantities:
            s = np.asarray(columns[column], float)
            with np.errstate(invalid="ignore"):
                miss = np.maximum(0.0, np.maximum(lo - s, s - hi)) / scale
            d += np.where(np.isnan(s), MISSING, miss)
        return d


def build_target(obs: Observations) -> Target:
    """What the calibration fits: observations known by the cutoff (all without one)."""
    scenario = obs.scenario
    cutoff = obs.spec.cutoff
    if cutoff is not None:
        # the run covers the days up to and including the cutoff: what an observation dated
        # on the cutoff (an event's date, a window's end) counts
        days = min((cutoff - obs.start).days + 1, obs.days)
        if days < 1:
            raise UsageError(f"cutoff {cutoff} is before the start date: nothing to calibrate "
                             "on")
        # dated events after the cutoff would never act in the shortened run (and the
        # loader refuses them there): they are left out of it
        data = dict(scenario.data)
        if "timeline" in data:
            data["timeline"] = [ev for ev, spec in zip(data["timeline"], scenario.spec.timeline,
                                                       strict=True) if spec.date <= cutoff]
        scenario = load_data(data, [f"run.days={days}"])
        scenario.uncertain = obs.scenario.uncertain
    events, quantities = [], []
    for i, ev in enumerate(obs.spec.events):
        column = obs.day_indicators.get(i)
        if column is None:
            continue
        if cutoff is None:
            events.append((column, float(ev.happened)))
        else:
            events.append((column, float(ev.happened and ev.date is not None
                                         and ev.date <= cutoff)))
    for q in obs.spec.quantities:
        if cutoff is not None and (q.window is None or q.window[1] > cutoff):
            continue
        lo, hi = q.interval if q.interval is not None else (q.value, q.value)
        scale = max(abs(0.5 * (lo + hi)), 1.0)
        quantities.append((q.indicator, float(lo), float(hi), scale))
    if not events and not quantities:
        raise UsageError(f"{obs.path}: no observation to calibrate on" + (
            f" by the cutoff {cutoff} (quantities need a window ending by then; events a "
            "day column)" if cutoff else ""))
    return Target(scenario=scenario, events=events, quantities=quantities)


# --------------------------------------------------------------------------- simulation


class BatchedSimulator:
    """Simulates parameter vectors as the replications of lockstep batches.

    Simulation ``i`` of the calibration is replication ``i`` of the counter-based generator,
    whatever the batches, so results do not depend on how the proposals are split.
    """

    def __init__(self, target: Target, paths: tuple[str, ...], probes: tuple, seed: int,
                 batch: int):
        from sim.world import compile_scenario

        self.target, self.paths, self.seed, self.batch = target, paths, seed, batch
        self.loaded = target.scenario
        self.world = compile_scenario(self.loaded.spec)
        self.frozen = frozen_data(self.loaded.data)
        self.probes = probes
        # integer values are simulated rounded, as sim run --posterior rounds them
        self.integer = np.array(integer_paths(self.loaded, paths))
        self.simulations = 0
        self.seconds = 0.0

    def run(self, values: np.ndarray, progress=None) -> np.ndarray:
        """Distances of one simulation per row of ``values`` ``(K, J)``.

        In batches of at most ``batch`` replications (one batch when ``K <= batch``).
        """
        out = np.empty(len(values))
        for start in range(0, len(values), self.batch):
            chunk = values[start:start + self.batch]
            out[start:start + len(chunk)] = self._run(chunk)
            if progress is not None:
                progress(self.simulations)
        return out

    def _run(self, values: np.ndarray) -> np.ndarray:
        from sim.model import CrisisModel
        from sim.outcomes import indicators

        started = time.perf_counter()
        values = np.where(self.integer[None], np.round(values), values)
        params = params_for(self.loaded.data, self.frozen, self.paths, self.probes, values)
        reps = np.arange(self.simulations, self.simulations + len(values))
        model = CrisisModel(self.loaded, world=self.world, replications=reps, seed=self.seed,
                            params=params, record_paths=False)
        model.run()
        d = self.target.distances(indicators(model))
        self.simulations += len(values)
        self.seconds += time.perf_counter() - started
        return d


# --------------------------------------------------------------------------- the command


def _settings_digest(loaded: LoadedScenario, obs: Observations, paths, settings: Settings) -> dict:
    from sim.safety import read_limited
    from sim.scenario.loader import MAX_FILE_BYTES

    # bounded as when it was loaded: the file could have been swapped for a FIFO since
    try:
        text = read_limited(obs.path, MAX_FILE_BYTES)
    except OSError as exc:
        raise UsageError(f"{obs.path}: cannot read it again ({exc})") from None
    digest = hashlib.sha256(text).hexdigest()
    return {"scenario_sha256": loaded.digest(), "observations_sha256": digest,
            "parameters": list(paths), **settings.as_dict()}


#: most characters one number takes in a generation's JSON (``repr`` of a float, ", ")
NUMBER_CHARS = 26
MAX_SETTINGS_BYTES = 1_000_000
KERNELS = ("prior", "olcm", "2cov")


def check_sizes(settings: Settings, j: int) -> None:
    """Refuse a calibration that could write a generation larger than a resume reads back.

    Why: the last generation keeps every accepted proposal, up to the whole budget, and a
    generation file beyond ``MAX_GENERATION_BYTES`` could never be resumed (and a budget of
    ``10**9`` allocates its proposals before the first simulation). Checked before anything
    runs, from the sizes alone.

    Raises:
        UsageError: With the largest ``--simulations`` that fits.
    """
    per_row = (j + 2) * NUMBER_CHARS + 8  # a sample's J values, its weight, its distance
    most = (MAX_GENERATION_BYTES - 4096) // per_row
    if settings.simulations > most:
        raise UsageError(f"--simulations {settings.simulations} is more than a calibration of "
                         f"{j} value{'s' if j != 1 else ''} can save and resume (at most "
                         f"{most}); give a smaller --simulations")
    if settings.population > settings.simulations:
        raise UsageError(f"--population {settings.population} is more than the budget of "
                         f"--simulations {settings.simulations}; give a smaller --population")


def _read_generation(path: Path, j: int) -> Generation:
    """A saved generation (untrusted: shapes and numbers checked)."""
    from sim.safety import UnsafeFileError, read_limited

    try:
        data = json.loads(read_limited(path, MAX_GENERATION_BYTES).decode("utf-8"))
        x = np.asarray(data["samples"], float).reshape(-1, j)
        w = np.asarray(data["weights"], float)
        d = np.asarray(data["distances"], float)
        eps = math.inf if data["epsilon"] is None else float(data["epsilon"])
        gen = Generation(int(data["t"]), eps, x, w, d, int(data["simulations"]),
                         int(data["total"]), float(data["seconds"]),
                         float(data["simulation_seconds"]), bool(data["complete"]),
                         str(data["kernel"]))
    except (UnsafeFileError, OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise UsageError(f"{path}: not a generation written by sim calibrate; choose another "
                         "--out") from None
    if not (len(w) == len(d) == len(x) and np.isfinite(x).all() and np.isfinite(w).all()
            and (w >= 0).all() and np.isfinite(d).all() and gen.total >= gen.simulations >= 0):
        raise UsageError(f"{path}: a damaged generation of sim calibrate; choose another --out")
    return gen


def generations_folder(out_dir: Path) -> Path:
    """``OUT/generations``, made if missing; a symlink or a file there is refused."""
    folder = out_dir / "generations"
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise UsageError(f"{folder} is a symlink or a file, not a folder of sim calibrate; "
                         "choose another --out")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {folder}: {exc.strerror}") from None
    return folder


def _resume(out_dir: Path, settings: dict, priors: list[Prior]) -> list[Generation]:
    """The generations an earlier, unfinished run with the same settings saved.

    The folder is untrusted (it may have been edited or received): every file is read through
    the bounded reader, and the generations must make a calibration this one could have
    made (see ``_check_generations``); anything else is a one-line refusal, never a
    traceback or a posterior built on tampered numbers.
    """
    from sim.safety import UnsafeFileError, read_limited

    folder = out_dir / "generations"
    saved = out_dir / "settings.json"
    if not saved.exists() and not saved.is_symlink():
        if folder.exists():
            raise UsageError(f"{out_dir} holds generations without settings.json; choose "
                             "another --out")
        return []
    try:
        old = json.loads(read_limited(saved, MAX_SETTINGS_BYTES).decode("utf-8"))
    except (UnsafeFileError, OSError, ValueError, UnicodeDecodeError) as exc:
        why = f" ({exc})" if isinstance(exc, UnsafeFileError) else ""
        raise UsageError(f"{saved}: unreadable{why}; choose another --out") from None
    if not isinstance(old, dict):
        raise UsageError(f"{saved}: not the settings of sim calibrate; choose another --out")
    if old != settings:
        differ = sorted(str(k)[:40] for k in set(old) | set(settings)
                        if old.get(k) != settings.get(k))[:8]
        raise UsageError(f"{out_dir} holds an unfinished calibration with other settings "
                         f"({', '.join(differ)}); re-run it with the same ones to resume, or "
                         "choose another --out")
    gens = []
    for t in range(settings["generations"]):
        path = folder / f"{t:03d}.json"
        if not path.exists() and not path.is_symlink():
            break
        gen = _read_generation(path, len(priors))
        if gen.t != t:
            raise UsageError(f"{path}: generation {gen.t} in the file of {t}; choose another "
                             "--out")
        gens.append(gen)
    _check_generations(out_dir, gens, priors, settings)
    return gens


def _calibration_folder(folder: Path) -> bool:
    """Whether ``folder`` is one ``sim calibrate`` wrote before it left a marker.

    Only its own files: ``settings.json`` and ``generations/`` (of ``NNN.json`` files), and the
    results it writes at the end; its contents are then checked as any resume's are.
    """
    names = {"settings.json", "calibration.json", "calibration.png", "posterior.json", ".lock"}
    entries = list(folder.iterdir())
    generations = folder / "generations"
    return (any(p.name == "settings.json" for p in entries)
            and all((p.name in names and p.is_file() and not p.is_symlink())
                    or (p == generations and p.is_dir() and not p.is_symlink())
                    for p in entries)
            and (not generations.is_dir() or all(
                p.suffix == ".json" and p.stem.isdigit() for p in generations.iterdir())))


def _check_generations(out_dir: Path, gens: list[Generation], priors: list[Prior],
                       settings: dict) -> None:
    """Refuse saved generations this calibration could not have written.

    Each must hold at least one particle, with weights that are finite, not negative and
    not all zero (they are normalised here), samples inside every prior's support, and
    distances within its tolerance; tolerances must not rise, the simulations must add up
    within the budget, and only the last may be incomplete (an incomplete generation ends a
    calibration), with a complete one before it.
    """
    supports = np.array([p.support() for p in priors], float)
    spent = 0
    for i, gen in enumerate(gens):
        where = f"{out_dir / 'generations' / f'{gen.t:03d}.json'}"
        bad = None
        if len(gen.weights) == 0:
            bad = "no particles"
        elif not gen.weights.sum() > 0 or not np.isfinite(gen.weights.sum()):
            bad = "weights that do not sum to a positive number"
        elif ((gen.samples < supports[:, 0]) | (gen.samples > supports[:, 1])).any():
            bad = "samples outside the priors' support"
        elif (gen.distances > gen.epsilon).any():
            bad = "distances above its tolerance"
        elif i > 0 and gen.epsilon > gens[i - 1].epsilon:
            bad = "a tolerance above the previous generation's"
        elif gen.kernel not in KERNELS or (gen.kernel == "prior") != (gen.t == 0):
            bad = f"a kernel ({gen.kernel[:20]!r}) sim calibrate does not use there"
        elif gen.total != spent + gen.simulations or gen.total > settings["simulations"]:
            bad = "simulations that do not add up"
        elif not gen.complete and (i != len(gens) - 1 or i == 0):
            bad = ("an incomplete generation " + ("first (generation 0 is always complete)"
                                                  if i == 0 else "before the last"))
        if bad is not None:
            raise UsageError(f"{where}: a damaged generation of sim calibrate ({bad}); choose "
                             "another --out")
        spent = gen.total
        gen.weights = gen.weights / gen.weights.sum()


def calibrate(obs: Observations, *, out_dir: Path, simulations: int = 100_000,
              population: int = 1000, batch: int = 20_000, generations: int = 10,
              min_epsilon: float = 0.0, min_acceptance: float = 0.005,
              seed: int | None = None, progress=None) -> dict:
    """Run ABC-SMC and write ``posterior.json``, ``calibration.json`` and the plot.

    Args:
        obs: The observations (and, through them, the scenario with its uncertain values).
        out_dir: The output folder; an unfinished calibration there with the same settings
            is resumed; one with a ``posterior.json`` is refused (never overwritten).
        simulations: The simulation budget.
        population: Particles accepted per generation (at least; every accepted proposal
            is kept).
        batch: At most this many replications per lockstep batch (a generation is one batch
            when it is not larger; the split does not change the results).
        generations: At most this many generations (generation 0 included).
        min_epsilon: Stop once the tolerance is down to this.
        min_acceptance: Stop once a generation accepts fewer than this share.
        seed: The seed (default: the scenario's).
        progress: Called as ``progress(simulations, generation, epsilon)`` after each batch.

    Returns:
        The diagnostics written to ``calibration.json``.
    """
    from sim.execution.storage import write_json

    loaded = obs.scenario
    if not loaded.uncertain:
        raise UsageError(f"{loaded.path}: the scenario has no uncertain values to calibrate; "
                         "give the values to fit a range: or prior:")
    out_dir = Path(out_dir)
    if (out_dir / "posterior.json").exists():
        raise UsageError(f"{out_dir} already holds a posterior.json; choose another --out "
                         "(results are never overwritten)")
    seed = loaded.spec.run.seed if seed is None else seed
    keys = sorted(loaded.uncertain, key=format_path)
    paths = tuple(format_path(k) for k in keys)
    priors = [loaded.uncertain[k] for k in keys]
    # an integer value is simulated rounded (BatchedSimulator), so it is probed rounded: a
    # fractional probe is no value the scenario accepts there
    integer = integer_paths(loaded, paths)
    probes = tuple(tuple(float(np.round(x)) if whole else float(x)
                         for x in prior_ppf(p, np.array(PROBE_QUANTILES)))
                   for p, whole in zip(priors, integer, strict=True))
    check_varied(loaded, VariedSet("calibrate", paths, np.array([[a for a, _ in probes],
                                                                 [b for _, b in probes]]),
                                   probes, tuple(False for _ in paths), {}))
    if all(p.support()[0] == p.support()[1] for p in priors):
        raise UsageError(f"{loaded.path}: every uncertain value has a range of one point; "
                         "nothing to calibrate")
    target = build_target(obs)
    settings = Settings(population, simulations, generations, float(min_epsilon),
                        float(min_acceptance), int(seed))
    check_sizes(settings, len(paths))
    recorded = _settings_digest(loaded, obs, paths, settings)
    from sim.execution.outdir import claim_folder

    # claimed and locked as run's folders are (until this process ends): a folder of the
    # user's (their calibration.json) is refused, a second calibrate into it too
    claim_folder(out_dir, made_before_marker=_calibration_folder)
    resumed = _resume(out_dir, recorded, priors)
    gen_dir = generations_folder(out_dir)
    if not resumed:
        write_json(out_dir / "settings.json", recorded)
    simulator = BatchedSimulator(target, paths, probes, seed, batch)
    abc = ABCSMC(priors, simulator, settings)
    started = time.perf_counter()
    gens = list(resumed)
    if gens:
        simulator.simulations = gens[-1].total
        log.info("resuming %s after generation %d (%d simulations)", out_dir, gens[-1].t,
                 gens[-1].total)

    def said(t: int, eps: float):
        if progress is None:
            return None
        return lambda done: progress(done, t, eps)

    reason = abc.stop_after(gens[-1]) if gens else None
    while reason is None:
        if not gens:
            gen = abc.first(said(0, math.inf))
        else:
            gen = abc.next(gens[-1], said(gens[-1].t + 1, abc.tolerance(gens[-1])))
        write_json(gen_dir / f"{gen.t:03d}.json", gen.record())
        gens.append(gen)
        log.info("generation %d: epsilon %.4g, %d accepted of %d (%s kernel)", gen.t,
                 gen.epsilon, len(gen.weights), gen.simulations, gen.kernel)
        reason = abc.stop_after(gen)
    wall = time.perf_counter() - started
    final = gens[-1] if gens[-1].complete else gens[-2]
    samples, weights = final.samples, final.weights
    total = gens[-1].total
    all_wall = sum(g.seconds for g in gens)
    all_sim = sum(g.simulation_seconds for g in gens)
    diagnostics = {
        "scenario": str(loaded.path), "scenario_name": loaded.spec.name,
        "scenario_sha256": loaded.digest(), "observations": str(obs.path),
        "cutoff": str(obs.spec.cutoff) if obs.spec.cutoff else None,
        "simulated_days": target.scenario.spec.run.days, "parameters": list(paths),
        "priors": {p: pr.model_dump(exclude_none=True) for p, pr in zip(paths, priors,
                                                                        strict=True)},
        "fitted": {"events": [c for c, _ in target.events],
                   "quantities": [q[0] for q in target.quantities]},
        "method": "ABC-SMC (vectorised; Beaumont et al. 2009, Filippi et al. 2013 kernel)",
        "simulations": int(total), "simulation_seconds": round(all_sim, 1),
        "wall_seconds": round(all_wall, 1), "wall_seconds_this_run": round(wall, 1),
        "runs_per_second": round(total / all_wall, 1) if all_wall else None,
        "resumed_after_generation": resumed[-1].t if resumed else None,
        "stopped": reason, "result_generation": final.t,
        "final_epsilon": None if math.isinf(final.epsilon) else final.epsilon,
        "population_size": population, "batch": batch, "seed": seed,
        "generations": [g.summary() for g in gens],
        "effective_sample_size": final.ess,
        "posterior": {p: _summary(samples[:, j], weights) for j, p in enumerate(paths)},
        "piled_against_bounds": piled_against_bounds(paths, priors, samples, weights),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    write_json(out_dir / "calibration.json", diagnostics)
    plot_posterior(out_dir / "calibration.png", paths, priors, samples, weights)
    write_json(out_dir / "posterior.json", {
        "kind": "crisis-sim posterior", "scenario": str(loaded.path),
        "scenario_sha256": loaded.digest(), "parameters": list(paths),
        "samples": samples.tolist(), "weights": weights.tolist()})
    return diagnostics


#: A bound's edge: the prior's outermost share of mass next to it (5% under the prior).
EDGE = 0.05
#: A posterior with at least this share of its weight in an edge (3x the prior's) is piled
#: against that bound: the data push the value toward or past it. ABC's perturbation kernel
#: spreads even a posterior the data pin at a bound: 1,500 simulations of a loss rate whose
#: truth, 0.45, lies far above its prior's [0.02, 0.1] put 31% of the weight in the top 5%.
PILED = 0.15


def piled_against_bounds(paths, priors, samples: np.ndarray, weights: np.ndarray
                         ) -> list[dict]:
    """The fitted values whose posterior piles against a bound their prior declares.

    A bound is declared by a uniform, triangular or beta prior, or a ``low``/``high`` cut of
    a normal or lognormal (a lognormal's 0 is no declared bound). Its edge is the prior's
    outermost ``EDGE`` of mass next to it; a posterior with ``PILED`` or more of its weight
    there is reported: the data would like values the prior rules out, so the prior may be
    too narrow (or the model cannot reach the observations inside it).

    Returns:
        One dict per such bound: ``parameter``, ``bound`` (``lower``/``upper``), ``value``,
        ``share`` (posterior weight in the edge) and ``message`` (one line).
    """
    from sim.execution.variation import prior_ppf

    w = np.asarray(weights, float)
    w = w / w.sum()
    found = []
    for j, (name, prior) in enumerate(zip(paths, priors, strict=True)):
        low, high = prior.support()
        if not low < high:
            continue
        declared = prior.dist in ("uniform", "triangular", "beta")
        x = samples[:, j]
        edge_low, edge_high = (float(v) for v in prior_ppf(prior, np.array([EDGE, 1 - EDGE])))
        for side, value, share, given in (
                ("lower", low, float(w[x <= edge_low].sum()), declared or prior.low is not None),
                ("upper", high, float(w[x >= edge_high].sum()),
                 declared or prior.high is not None)):
            if given and share >= PILED:
                found.append({
                    "parameter": name, "bound": side, "value": value, "share": share,
                    "message": f"the posterior of {name} is piled against its prior's {side} "
                    f"bound {value:.4g} ({share:.0%} of its weight in the prior's "
                    f"{'lowest' if side == 'lower' else 'highest'} {EDGE:.0%}): the prior may "
                    "be too narrow"})
    return found


def _summary(x: np.ndarray, w: np.ndarray) -> dict:
    q = {level: weighted_quantile(x, w, level) for level in (0.05, 0.5, 0.95)}
    return {"mean": float(np.sum(w * x)), "q05": q[0.05], "median": q[0.5], "q95": q[0.95]}


def plot_posterior(path: Path, paths, priors, samples: np.ndarray, weights: np.ndarray) -> None:
    """Prior density and weighted posterior histogram of every fitted value, saved at ``path``."""
    from sim.execution.storage import save_figure

    fig = posterior_plot(paths, priors, samples, weights)
    save_figure(fig, path, "png", dpi=110)  # never through a symlink at the figure's name


def posterior_plot(paths, priors, samples: np.ndarray, weights: np.ndarray):
    """Prior against weighted posterior of every fitted value, as a matplotlib ``Figure``.

    A plain ``Figure`` (not pyplot's), so ``sim report`` can draw it for a ``--posterior``
    run's folder (``sim.plots.posterior_figure``) in any thread.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(paths), 3.4))
    axes = fig.subplots(1, len(paths), squeeze=False)
    for j, (ax, name, prior) in enumerate(zip(axes[0], paths, priors, strict=True)):
        draws = prior_ppf(prior, (np.arange(4000) + 0.5) / 4000)
        lo, hi = float(draws.min()), float(draws.max())
        logscale = lo > 0 and hi > 100 * lo  # a prior over orders of magnitude
        if logscale:  # bins of equal width in log x, bars the share in each bin
            bins = np.geomspace(lo, hi, 30)
            ax.set_xscale("log")
            ax.hist(draws, bins=bins, weights=np.full(len(draws), 1 / len(draws)),
                    color="#bbb", label="prior")
            ax.hist(samples[:, j], bins=bins, weights=weights / weights.sum(),
                    color="#0b5394", alpha=0.75, label="posterior")
            ax.set_ylabel("share per bin", fontsize=8)
        else:
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
            ax.hist(draws, bins=bins, density=True, color="#bbb", label="prior")
            ax.hist(samples[:, j], bins=bins, weights=weights, density=True,
                    color="#0b5394", alpha=0.75, label="posterior")
            ax.set_ylabel("probability density", fontsize=8)
        ax.set_xlabel("value", fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def read_posterior(path: Path) -> dict:
    """Read a ``posterior.json`` (untrusted: shapes, numbers and weights checked)."""
    from sim.safety import UnsafeFileError, read_limited

    path = Path(path)
    try:
        raw = read_limited(path, MAX_POSTERIOR_BYTES)  # regular files only, bounded
    except FileNotFoundError:
        raise UsageError(f"{path}: file not found") from None
    except (UnsafeFileError, OSError) as exc:
        raise UsageError(f"{path}: {exc}; name a posterior.json of sim calibrate") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        params = data["parameters"]
        samples = np.asarray(data["samples"], float)
        weights = np.asarray(data["weights"], float)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise UsageError(f"{path}: not a posterior written by sim calibrate (needs "
                         "parameters, samples and weights)") from None
    if (not isinstance(params, list) or not params
            or not all(isinstance(p, str) for p in params)):
        raise UsageError(f"{path}: 'parameters' must be a list of scenario paths")
    if samples.ndim != 2 or samples.shape[1] != len(params) or samples.shape[0] < 1:
        raise UsageError(f"{path}: 'samples' must be rows of {len(params)} values")
    if weights.shape != (samples.shape[0],):
        raise UsageError(f"{path}: one weight per sample needed")
    if not (np.isfinite(samples).all() and np.isfinite(weights).all()
            and (weights >= 0).all() and weights.max() > 0):
        raise UsageError(f"{path}: samples and weights must be finite; weights >= 0, not all 0")
    if len(set(params)) != len(params):
        raise UsageError(f"{path}: a parameter is listed twice in 'parameters'")
    # normalised from the largest weight down: weights of 1e308 would overflow their sum to
    # infinity (every run then took the last sample and the effective sample size was inf)
    weights = weights / weights.max()
    weights = weights / weights.sum()
    digest = data.get("scenario_sha256") if isinstance(data, dict) else None
    return {"parameters": params, "samples": samples, "weights": weights,
            "scenario_sha256": digest if isinstance(digest, str) else None}
