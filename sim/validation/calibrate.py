"""``sim calibrate``: fit a scenario's uncertain values to observations by ABC-SMC.

Likelihood-free: the model has no likelihood to write down, but it can be simulated, so the
posterior of the uncertain values (their priors are the ``range:``/``prior:`` of the scenario)
is approximated by approximate Bayesian computation with sequential Monte Carlo (Toni et al.
2009; Beaumont et al. 2009), as implemented by pyABC (Schälte et al. 2022): populations of
parameter vectors, each accepted when its simulation lies within a shrinking distance of the
observations, weighted by prior over proposal.

Batching: pyABC proposes and simulates one particle at a time. ``LockstepSampler`` turns that
into lockstep batches without touching pyABC's algorithm: it lets pyABC propose a batch of
particles with a model that only *records* each proposal, runs every recorded parameter
vector as one replication of a single lockstep batch (per-replication parameter vectors, the
machinery of ``sim run --uncertain``), then restores numpy's random state and lets pyABC
propose the *same* particles again, this time answered from the batch's results. pyABC's
acceptance is deterministic once a simulation is known (a uniform acceptor), so both passes
see the same proposals; the sampler checks that they do.

Time split: with a ``cutoff`` in the observations, the scenario is simulated only up to the
cutoff and fitted to what was known by then (events that had happened, quantities whose window
ended); the posterior is then run over the whole horizon and scored on what came after.

Reproducible: proposals come from numpy's generator seeded by ``--seed``; simulation ``i`` of
the calibration is replication ``i`` of the counter-based generator.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import UsageError
from sim.scenario.loader import LoadedScenario, format_path, load_data
from sim.scenario.schema import Prior
from sim.validation.observations import Observations

log = logging.getLogger(__name__)
MAX_POSTERIOR_BYTES = 50_000_000


class _Recorded(Exception):  # noqa: N818 - a signal, not an error
    """Raised by the recording model: the proposal is noted, the simulation comes later."""


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

    def observed(self) -> dict[str, float]:
        """The observed summaries (pyABC's ``x_0``)."""
        out = {f"e{i}": y for i, (_, y) in enumerate(self.events)}
        out.update({f"q{i}": 0.5 * (lo + hi) for i, (_, lo, hi, _) in
                    enumerate(self.quantities)})
        return out

    def summaries(self, columns: dict[str, np.ndarray]) -> list[dict[str, float]]:
        """One summary dict per simulated run."""
        runs = len(next(iter(columns.values())))
        out = [{} for _ in range(runs)]
        for i, (column, _) in enumerate(self.events):
            happened = ~np.isnan(np.asarray(columns[column], float))
            for r in range(runs):
                out[r][f"e{i}"] = float(happened[r])
        for i, (column, *_) in enumerate(self.quantities):
            values = np.asarray(columns[column], float)
            for r in range(runs):
                out[r][f"q{i}"] = float(values[r])
        return out

    def distance(self, x: dict, _x0: dict | None = None) -> float:
        """Mismatched events count 1 each; quantities their scaled miss of the observation."""
        d = 0.0
        for i, (_, y) in enumerate(self.events):
            d += abs(x[f"e{i}"] - y)
        for i, (_, lo, hi, scale) in enumerate(self.quantities):
            s = x[f"q{i}"]
            d += 1e6 if math.isnan(s) else max(0.0, lo - s, s - hi) / scale
        return d


def build_target(obs: Observations) -> Target:
    """What the calibration fits: observations known by the cutoff (all without one)."""
    scenario = obs.scenario
    cutoff = obs.spec.cutoff
    if cutoff is not None:
        days = (cutoff - obs.start).days
        if days < 1:
            raise UsageError(f"cutoff {cutoff} is the start date: nothing to calibrate on")
        scenario = load_data(scenario.data, [f"run.days={days}"])
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
    """Simulates parameter vectors as the replications of one lockstep batch each call."""

    def __init__(self, target: Target, paths: tuple[str, ...], probes: tuple, seed: int):
        from sim.world import compile_scenario

        self.target, self.paths, self.seed = target, paths, seed
        self.loaded = target.scenario
        self.world = compile_scenario(self.loaded.spec)
        self.frozen = json.dumps(self.loaded.data, default=str)
        self.probes = probes
        self.simulations = 0
        self.seconds = 0.0

    def run(self, values: np.ndarray) -> list[dict[str, float]]:
        """Summaries of one simulation per row of ``values`` ``(K, J)``."""
        from sim.execution.batches import collect_rows
        from sim.model import CrisisModel
        from sim.validation.uncertain import _affine_map, _apply, _compile_with
        from sim.world import Params

        started = time.perf_counter()
        mapping = _affine_map(self.frozen, self.paths, self.probes)
        if mapping is not None:
            params = _apply(mapping, values)
        else:
            parts = [_compile_with(self.loaded.data, tuple(zip(self.paths, row, strict=True)))
                     .params for row in values]
            params = Params.stack(parts, [1] * len(parts))
        reps = np.arange(self.simulations, self.simulations + len(values))
        model = CrisisModel(self.loaded, world=self.world, replications=reps, seed=self.seed,
                            params=params, record_paths=False)
        model.run()
        self.simulations += len(values)
        self.seconds += time.perf_counter() - started
        return self.target.summaries(collect_rows(model, self.loaded))


def _pyabc():
    import pyabc

    logging.getLogger("ABC").setLevel(logging.WARNING)  # pyABC's own per-population chatter
    return pyabc


def _model_class():
    pyabc = _pyabc()

    class RecordingModel(pyabc.Model):
        """A pyABC model that records proposals, then answers them from a batch's results."""

        def __init__(self, names: list[str]) -> None:
            super().__init__(name="crisis-sim")
            self.names = names
            self.recording = True
            self.recorded: list[np.ndarray] = []
            self.answers: deque = deque()

        def sample(self, pars):
            theta = np.array([float(pars[n]) for n in self.names])
            if self.recording:
                self.recorded.append(theta)
                raise _Recorded
            expected, answer = self.answers.popleft()
            if not np.array_equal(expected, theta):
                raise RuntimeError("pyABC proposed other particles on its second pass; the "
                                   "lockstep batching cannot be used with this pyABC setup")
            return answer

    return RecordingModel


def _sampler_class():
    pyabc = _pyabc()

    class LockstepSampler(pyabc.sampler.SingleCoreSampler):
        """pyABC's single-core sampler, fed particles simulated in lockstep batches."""

        def __init__(self, model, simulator: BatchedSimulator, batch: int, progress=None):
            super().__init__(check_max_eval=True)  # the budget binds within a generation
            self.model, self.simulator, self.batch = model, simulator, batch
            self.progress = progress

        def sample_until_n_accepted(self, n, simulate_one, t, **kwargs):
            queue: deque = deque()

            def batched():
                if not queue:
                    state = np.random.get_state()
                    self.model.recording, self.model.recorded = True, []
                    for _ in range(self.batch):
                        try:
                            simulate_one()
                        except _Recorded:
                            continue
                        raise RuntimeError("the pyABC model was not asked to simulate")
                    values = np.array(self.model.recorded)
                    answers = self.simulator.run(values)
                    np.random.set_state(state)
                    self.model.recording = False
                    self.model.answers = deque(zip(values, answers, strict=True))
                    for _ in range(self.batch):
                        queue.append(simulate_one())
                    if self.progress is not None:
                        self.progress(self.simulator.simulations)
                return queue.popleft()

            return super().sample_until_n_accepted(n, batched, t, **kwargs)

    return LockstepSampler


def _rv(prior: Prior):
    """The pyABC random variable of a prior."""
    pyabc = _pyabc()
    if prior.dist == "uniform":
        return pyabc.RV("uniform", prior.low, prior.high - prior.low)
    if prior.dist == "triangular":
        width = prior.high - prior.low
        return pyabc.RV("triang", (prior.mode - prior.low) / width, prior.low, width)
    if prior.dist == "beta":
        low, high = prior.support()
        return pyabc.RV("beta", prior.a, prior.b, low, high - low)
    if prior.dist == "normal":
        low, high = prior.support()
        return pyabc.RV("truncnorm", (low - prior.mean) / prior.sd,
                        (high - prior.mean) / prior.sd, prior.mean, prior.sd)
    if prior.low is not None or prior.high is not None:
        raise UsageError("sim calibrate takes a lognormal prior without low/high bounds")
    return pyabc.RV("lognorm", prior.sigma, 0, prior.median)


# --------------------------------------------------------------------------- the command


def calibrate(obs: Observations, *, out_dir: Path, simulations: int = 100_000,
              population: int = 1000, batch: int = 2000, generations: int = 10,
              seed: int | None = None, progress=None) -> dict:
    """Run ABC-SMC and write ``posterior.json``, ``calibration.json`` and the plot.

    Returns:
        The diagnostics written to ``calibration.json``.
    """
    from sim.execution.storage import write_json
    from sim.validation.uncertain import PROBE_QUANTILES, check_varied, prior_ppf

    loaded = obs.scenario
    if not loaded.uncertain:
        raise UsageError(f"{loaded.path}: the scenario has no uncertain values to calibrate; "
                         "give the values to fit a range: or prior:")
    out_dir = Path(out_dir)
    if (out_dir / "posterior.json").exists():
        raise UsageError(f"{out_dir} already holds a posterior.json; choose another --out "
                         "(results are never overwritten)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out_dir}: {exc.strerror}") from None
    seed = loaded.spec.run.seed if seed is None else seed
    keys = sorted(loaded.uncertain, key=format_path)
    paths = tuple(format_path(k) for k in keys)
    priors = [loaded.uncertain[k] for k in keys]
    probes = tuple(tuple(float(x) for x in prior_ppf(p, np.array(PROBE_QUANTILES)))
                   for p in priors)
    from sim.validation.uncertain import VariedSet

    check_varied(loaded, VariedSet("calibrate", paths, np.array([[a for a, _ in probes],
                                                                 [b for _, b in probes]]),
                                   probes, tuple(False for _ in paths), {}))
    target = build_target(obs)
    simulator = BatchedSimulator(target, paths, probes, seed)
    pyabc = _pyabc()
    names = [f"p{j}" for j in range(len(paths))]
    model = _model_class()(names)
    sampler = _sampler_class()(model, simulator, batch, progress)
    prior = pyabc.Distribution(**{n: _rv(p) for n, p in zip(names, priors, strict=True)})
    np.random.seed(seed % 2**32)
    abc = pyabc.ABCSMC(model, prior, target.distance, population_size=population,
                       sampler=sampler,
                       # the median distance of the last population, a little lower: distances
                       # are partly counts of mismatched events, whose median can sit on a
                       # point mass that a plain median would never move past
                       eps=pyabc.epsilon.QuantileEpsilon(alpha=0.5, quantile_multiplier=0.95))
    db = out_dir / "abc.db"
    if db.exists():
        db.unlink()  # a previous attempt's, which wrote no posterior (checked above)
    abc.new(f"sqlite:///{db}", target.observed())
    started = time.perf_counter()
    history = abc.run(minimum_epsilon=0.0, max_nr_populations=generations,
                      max_total_nr_simulations=simulations, min_acceptance_rate=0.005)
    wall = time.perf_counter() - started
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    samples = frame[names].to_numpy(float)
    weights = np.asarray(weights, float) / np.sum(weights)
    populations = history.get_all_populations()
    diagnostics = {
        "scenario": str(loaded.path), "scenario_name": loaded.spec.name,
        "scenario_sha256": loaded.digest(), "observations": str(obs.path),
        "cutoff": str(obs.spec.cutoff) if obs.spec.cutoff else None,
        "simulated_days": target.scenario.spec.run.days, "parameters": list(paths),
        "priors": {p: pr.model_dump(exclude_none=True) for p, pr in zip(paths, priors,
                                                                        strict=True)},
        "fitted": {"events": [c for c, _ in target.events],
                   "quantities": [q[0] for q in target.quantities]},
        "simulations": int(simulator.simulations), "simulation_seconds":
        round(simulator.seconds, 1), "wall_seconds": round(wall, 1),
        "runs_per_second": round(simulator.simulations / wall, 1) if wall else None,
        "population_size": population, "batch": batch, "seed": seed,
        "generations": [{"t": int(r.t), "epsilon": float(r.epsilon),
                         "samples": int(r.samples)} for r in populations.itertuples()
                        if r.t >= 0],
        "effective_sample_size": float(1.0 / np.sum(weights ** 2)),
        "posterior": {p: _summary(samples[:, j], weights) for j, p in enumerate(paths)},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    write_json(out_dir / "calibration.json", diagnostics)
    write_json(out_dir / "posterior.json", {
        "kind": "crisis-sim posterior", "scenario": str(loaded.path),
        "scenario_sha256": loaded.digest(), "parameters": list(paths),
        "samples": samples.tolist(), "weights": weights.tolist()})
    plot_posterior(out_dir / "calibration.png", paths, priors, samples, weights)
    return diagnostics


def _summary(x: np.ndarray, w: np.ndarray) -> dict:
    order = np.argsort(x)
    cdf = np.cumsum(w[order])
    q = {level: float(x[order][min(np.searchsorted(cdf, level), len(x) - 1)])
         for level in (0.05, 0.5, 0.95)}
    return {"mean": float(np.sum(w * x)), "q05": q[0.05], "median": q[0.5], "q95": q[0.95]}


def plot_posterior(path: Path, paths, priors, samples: np.ndarray, weights: np.ndarray) -> None:
    """Prior density and weighted posterior histogram of every fitted value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.validation.uncertain import prior_ppf

    fig, axes = plt.subplots(1, len(paths), figsize=(4.2 * len(paths), 3.4), squeeze=False)
    for j, (ax, name, prior) in enumerate(zip(axes[0], paths, priors, strict=True)):
        draws = prior_ppf(prior, (np.arange(4000) + 0.5) / 4000)
        lo, hi = float(draws.min()), float(draws.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
        ax.hist(draws, bins=bins, density=True, color="#bbb", label="prior")
        ax.hist(samples[:, j], bins=bins, weights=weights, density=True, color="#0b5394",
                alpha=0.75, label="posterior")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
            and (weights >= 0).all() and weights.sum() > 0):
        raise UsageError(f"{path}: samples and weights must be finite; weights >= 0, not all 0")
    return {"parameters": params, "samples": samples, "weights": weights}
