"""``sim calibrate``: fit a scenario's uncertain values to observations by ABC-SMC.

Likelihood-free: the model has no likelihood to write down, but it can be simulated, so the
posterior of the uncertain values (their priors are the ``range:``/``prior:`` of the scenario)
is approximated by approximate Bayesian computation with sequential Monte Carlo: ABC
population Monte Carlo (Toni et al. 2009, J. R. Soc. Interface 6:187; Beaumont, Cornuet, Marin
& Robert 2009, Biometrika 96:983). Populations of parameter vectors, each simulated once and
accepted when its simulation lies within a shrinking distance (the tolerance) of the
observations, weighted by prior over proposal.

Vectorised, in numpy, so that a generation costs one lockstep batch and a few array passes
(pyABC, used before, spent more than 90% of a calibration in its per-particle bookkeeping):

* Generation 0 draws ``population`` vectors from the prior (tolerance infinite).
* Generation ``t``'s tolerance is a little below the weighted median of generation ``t-1``'s
  distances (``0.95 *`` the 0.5 quantile, as pyABC's ``QuantileEpsilon`` with a multiplier:
  distances are partly counts of mismatched events, whose median can sit on a point mass that a
  plain median would never move past), never below ``min_epsilon``.
* Proposals: a particle of ``t-1`` picked by weight, moved by a normal kernel with the optimal
  local covariance of Filippi, Barnes, Cornebise & Stumpf 2013 (Stat. Appl. Genet. Mol. Biol.
  12:87): the weighted covariance of the particles of ``t-1`` that already meet the new
  tolerance, plus the particle's own offset from their mean. (Where that is degenerate, twice
  the weighted covariance of the whole population, Beaumont et al. 2009.) The whole
  generation's proposals are drawn at once; those outside the prior's support are redrawn
  before anything is simulated.
* How many to simulate: enough to accept ``population`` particles at the acceptance rate the
  previous generation predicts (its rate times the share of its particles within the new
  tolerance). All of them are replications of ONE lockstep batch with per-replication parameter
  vectors (the machinery of ``sim run --uncertain``); a short top-up batch follows when too
  few were accepted. Every accepted proposal is kept.
* Weights: prior density over the kernel mixture's density, ``pi(x) / sum_i w_i K_i(x)``
  (Beaumont et al. 2009), evaluated for all accepted particles at once.
* Stopping: the simulation budget, the number of generations, the tolerance reaching
  ``min_epsilon``, or an acceptance rate below ``min_acceptance``. The last generation (the
  planned last, or one after which, at the predicted acceptance rate, the budget could not pay
  for another as costly) spends all that is left of the budget; if that is too little to
  accept ``population`` particles at its tolerance, the tolerance is raised to the distance
  that accepts them, but never above the previous generation's (else the previous generation
  is the result).

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
from sim.scenario.loader import LoadedScenario, format_path, load_data
from sim.scenario.schema import Prior
from sim.validation.observations import Observations

log = logging.getLogger(__name__)
MAX_POSTERIOR_BYTES = 50_000_000
QUANTILE, MULTIPLIER = 0.5, 0.95  # the tolerance schedule (see the module docstring)
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
        self.frozen = json.dumps(self.loaded.data, default=str)
        self.probes = probes
        from sim.validation.uncertain import _point_value

        # integer values are simulated rounded, as sim run --posterior rounds them
        self.integer = np.array([isinstance(_point_value(self.loaded, p), int) for p in paths])
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
        from sim.validation.uncertain import _affine_map, _apply, _compile_with
        from sim.world import Params

        started = time.perf_counter()
        values = np.where(self.integer[None], np.round(values), values)
        mapping = _affine_map(self.frozen, self.paths, self.probes)
        if mapping is not None:
            params = _apply(mapping, values)
        else:  # not affine: compile each candidate's scenario (slower, always exact)
            parts = []
            for row in values:
                compiled = _compile_with(self.loaded.data, tuple(zip(self.paths, row,
                                                                     strict=True)))
                if compiled is None:
                    raise UsageError(f"values {dict(zip(self.paths, row, strict=True))} do not "
                                     "validate; narrow the priors of the uncertain values")
                parts.append(compiled.params)
            params = Params.stack(parts, [1] * len(parts))
        reps = np.arange(self.simulations, self.simulations + len(values))
        model = CrisisModel(self.loaded, world=self.world, replications=reps, seed=self.seed,
                            params=params, record_paths=False)
        model.run()
        d = self.target.distances(indicators(model))
        self.simulations += len(values)
        self.seconds += time.perf_counter() - started
        return d


# --------------------------------------------------------------------------- priors, kernels


def prior_logpdf(prior: Prior, x: np.ndarray) -> np.ndarray:
    """Log density of a prior at ``x`` (up to a constant; ``-inf`` outside its support)."""
    from scipy import stats

    x = np.asarray(x, float)
    low, high = prior.support()
    inside = (x >= low) & (x <= high)
    if prior.dist == "uniform":
        dens = np.zeros_like(x)
    elif prior.dist == "triangular":
        width = prior.high - prior.low
        dens = stats.triang(c=(prior.mode - prior.low) / width, loc=prior.low,
                            scale=width).logpdf(x)
    elif prior.dist == "beta":
        dens = stats.beta(prior.a, prior.b, loc=low, scale=high - low).logpdf(x)
    elif prior.dist == "normal":
        dens = stats.norm(prior.mean, prior.sd).logpdf(x)
    else:
        dens = stats.lognorm(s=prior.sigma, scale=prior.median).logpdf(x)
    with np.errstate(invalid="ignore"):
        return np.where(inside, dens, -np.inf)


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The smallest ``x`` whose cumulative weight reaches ``q``."""
    order = np.argsort(x, kind="stable")
    cdf = np.cumsum(w[order]) / np.sum(w)
    return float(x[order][min(np.searchsorted(cdf, q), len(x) - 1)])


def _weighted_cov(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = w / w.sum()
    mean = w @ x
    c = x - mean
    return mean, (c * w[:, None]).T @ c


def _positive_definite(c: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(np.isfinite(c)))


@dataclass
class Kernel:
    """A mixture of normal kernels, one per particle of the previous generation.

    Particle ``i``'s covariance is ``L L^T + u_i u_i^T``: the shared covariance ``L L^T``
    plus a rank-one term (the optimal local covariance; ``u_i = 0`` for twice the weighted
    covariance). Densities use the Sherman-Morrison form in coordinates whitened by ``L``, so
    that the mixture's density at many points is a few matrix products.

    Attributes:
        centres: ``(N, J)`` the particles (free dimensions only).
        weights: ``(N,)`` their normalised weights.
        chol: ``(J, J)`` the Cholesky factor ``L`` of the shared covariance.
        offsets: ``(N, J)`` each particle's ``u_i``.
        kind: 'olcm' (Filippi et al. 2013) or '2cov' (Beaumont et al. 2009).
    """

    centres: np.ndarray
    weights: np.ndarray
    chol: np.ndarray
    offsets: np.ndarray
    kind: str

    @classmethod
    def build(cls, x: np.ndarray, w: np.ndarray, d: np.ndarray, eps: float) -> Kernel:
        """The optimal local covariance kernel for tolerance ``eps``.

        Twice the population's weighted covariance where that is degenerate (fewer than
        ``J + 1`` particles within ``eps``, or a singular covariance).
        """
        w = w / w.sum()
        j = x.shape[1]
        near = d <= eps
        if near.sum() > j:
            # sum_k w_k (x_k - x_i)(x_k - x_i)^T over the particles within eps: their
            # weighted covariance plus the particle's offset from their mean
            mean, cov = _weighted_cov(x[near], w[near])
            if _positive_definite(cov):
                return cls(x, w, np.linalg.cholesky(cov), mean - x, "olcm")
        _, cov = _weighted_cov(x, w)
        cov = 2.0 * cov
        if not _positive_definite(cov):  # e.g. a population collapsed onto one value
            spread = np.maximum(np.abs(x).max(axis=0), 1e-12) * 1e-6
            cov = cov + np.diag(spread ** 2)
        return cls(x, w, np.linalg.cholesky(cov), np.zeros_like(x), "2cov")

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` proposals: a centre by weight, moved by its kernel."""
        index = rng.choice(len(self.weights), size=count, p=self.weights)
        z = rng.standard_normal((count, self.centres.shape[1] + 1))
        return (self.centres[index] + z[:, :-1] @ self.chol.T
                + self.offsets[index] * z[:, -1:])

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of the mixture at each row of ``x`` (vectorised, in chunks)."""
        n, j = self.centres.shape
        inverse_t = np.linalg.inv(self.chol).T  # J x J: whitening is a @ inverse_t
        c, u = self.centres @ inverse_t, self.offsets @ inverse_t
        uu = 1.0 + np.sum(u * u, axis=1)  # (N,)
        cu = np.sum(c * u, axis=1)
        cc = np.sum(c * c, axis=1)
        logdet = np.log(np.diagonal(self.chol)).sum() + 0.5 * np.log(uu)
        with np.errstate(divide="ignore"):  # a particle of weight 0 adds nothing
            base = np.log(self.weights) - logdet - 0.5 * j * math.log(2 * math.pi)
        out = np.empty(len(x))
        step = max(1, 65_536 // n)  # chunks that stay in cache: fresh large arrays page-fault
        for a in range(0, len(x), step):
            y = x[a:a + step] @ inverse_t
            square = np.sum(y * y, axis=1)[:, None] + cc[None] - 2.0 * (y @ c.T)
            along = y @ u.T - cu[None]
            quad = np.maximum(square - along * along / uu[None], 0.0)
            terms = base[None] - 0.5 * quad
            top = terms.max(axis=1)
            out[a:a + step] = top + np.log(np.exp(terms - top[:, None]).sum(axis=1))
        return out


# --------------------------------------------------------------------------- the algorithm


@dataclass
class Generation:
    """A finished generation: its accepted particles and what it cost.

    Attributes:
        t: Its index (0 = drawn from the prior).
        epsilon: Its tolerance (``inf`` for generation 0).
        samples: ``(N, J)`` the accepted parameter vectors (every uncertain value).
        weights: ``(N,)`` normalised importance weights.
        distances: ``(N,)`` their distances.
        simulations: Simulations spent on it.
        total: Simulations spent so far, this generation included.
        seconds: Wall time of the generation; ``simulation_seconds`` the part simulating.
        complete: Whether it accepted enough particles to be used (else the previous
            generation is the result).
        kernel: The proposal kernel that made it ('prior', 'olcm' or '2cov').
    """

    t: int
    epsilon: float
    samples: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    simulations: int
    total: int
    seconds: float
    simulation_seconds: float
    complete: bool
    kernel: str

    @property
    def acceptance_rate(self) -> float:
        """Accepted over simulated."""
        return len(self.weights) / self.simulations if self.simulations else 0.0

    @property
    def ess(self) -> float:
        """Effective sample size ``1 / sum(w^2)`` (Kish)."""
        return float(1.0 / np.sum(self.weights ** 2)) if len(self.weights) else 0.0

    def record(self) -> dict:
        """What ``generations/NNN.json`` holds (also read back to resume)."""
        return {"t": self.t, "epsilon": None if math.isinf(self.epsilon) else self.epsilon,
                "samples": self.samples.tolist(), "weights": self.weights.tolist(),
                "distances": self.distances.tolist(), "simulations": self.simulations,
                "total": self.total, "seconds": round(self.seconds, 3),
                "simulation_seconds": round(self.simulation_seconds, 3),
                "complete": self.complete, "kernel": self.kernel}

    def summary(self) -> dict:
        """One line of ``calibration.json``'s ``generations``."""
        return {"t": self.t, "epsilon": None if math.isinf(self.epsilon) else self.epsilon,
                "simulations": self.simulations, "accepted": len(self.weights),
                "acceptance_rate": round(self.acceptance_rate, 5),
                "effective_sample_size": round(self.ess, 1), "kernel": self.kernel,
                "complete": self.complete, "seconds": round(self.seconds, 2),
                "simulation_seconds": round(self.simulation_seconds, 2)}


@dataclass(frozen=True)
class Settings:
    """Everything a calibration's result depends on (a resumed run must match them)."""

    population: int
    simulations: int
    generations: int
    min_epsilon: float
    min_acceptance: float
    seed: int

    def as_dict(self) -> dict:
        """A JSON-able copy."""
        return dict(self.__dict__)


class ABCSMC:
    """Vectorised ABC-SMC over the free (non-degenerate) uncertain values.

    Args:
        priors: One prior per uncertain value.
        simulator: Has ``run(values (K, J), progress) -> distances (K,)`` and ``seconds``
            (time spent simulating); simulation ``i`` must depend only on its values and on
            how many simulations came before it (``BatchedSimulator``).
        settings: Population, budget, generations, tolerance floor, seed.
    """

    def __init__(self, priors: list[Prior], simulator, settings: Settings):
        self.priors, self.simulator, self.s = priors, simulator, settings
        supports = np.array([p.support() for p in priors], float)
        self.fixed = supports[:, 0] == supports[:, 1]  # degenerate ranges: constant values
        self.free = np.flatnonzero(~self.fixed)
        self.low, self.high = supports[:, 0], supports[:, 1]

    # -- pieces

    def _log_prior(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros(len(x))
        for j in self.free:
            out += prior_logpdf(self.priors[j], x[:, j])
        return out

    def _full(self, free_values: np.ndarray) -> np.ndarray:
        x = np.repeat(self.low[None], len(free_values), axis=0)
        x[:, self.free] = free_values
        return x

    def _from_prior(self, rng: np.random.Generator, count: int) -> np.ndarray:
        from sim.validation.uncertain import prior_ppf

        u = rng.random((count, len(self.priors)))
        return np.column_stack([prior_ppf(p, u[:, j]) for j, p in enumerate(self.priors)])

    def _proposals(self, rng: np.random.Generator, kernel: Kernel, count: int) -> np.ndarray:
        """``count`` proposals inside the prior's support (those outside are redrawn)."""
        kept: list[np.ndarray] = []
        have, tries = 0, 0
        while have < count:
            tries += 1
            if tries > 1000:
                raise UsageError("the calibration's proposals keep falling outside the priors' "
                                 "support; widen the ranges of the uncertain values")
            x = self._full(kernel.sample(rng, max(count - have, 16)))
            x = x[np.isfinite(self._log_prior(x))]
            kept.append(x)
            have += len(x)
        return np.concatenate(kept)[:count]

    # -- generations

    def first(self, progress=None) -> Generation:
        """Generation 0: ``population`` draws from the prior, all accepted."""
        started = time.perf_counter()
        rng = np.random.default_rng([self.s.seed, 0])
        n = min(self.s.population, self.s.simulations)
        x = self._from_prior(rng, n)
        sim0 = self.simulator.seconds
        d = self.simulator.run(x, progress)
        return Generation(0, math.inf, x, np.full(n, 1.0 / n), d, n, n,
                          time.perf_counter() - started, self.simulator.seconds - sim0, True,
                          "prior")

    def tolerance(self, prev: Generation) -> float:
        """The next generation's tolerance: below the weighted median of ``prev``'s."""
        eps = MULTIPLIER * weighted_quantile(prev.distances, prev.weights, QUANTILE)
        return max(min(eps, prev.epsilon), self.s.min_epsilon)

    def stop_after(self, gen: Generation) -> str | None:
        """Why the calibration ends after ``gen`` (None: it goes on)."""
        s = self.s
        if not gen.complete:
            return "budget"  # an incomplete generation is always the last
        if gen.total >= s.simulations:
            return "budget"
        if gen.t + 1 >= s.generations:
            return "generations"
        if gen.epsilon <= s.min_epsilon:
            return "min_epsilon"
        if gen.t > 0 and gen.acceptance_rate < s.min_acceptance:
            return "min_acceptance"
        if s.simulations - gen.total < self.s.population:
            return "budget"
        return None

    def next(self, prev: Generation, progress=None) -> Generation:
        """Generation ``prev.t + 1`` (see the module docstring for every step)."""
        s = self.s
        started = time.perf_counter()
        sim0 = self.simulator.seconds
        t = prev.t + 1
        rng = np.random.default_rng([s.seed, t])
        eps = self.tolerance(prev)
        kernel = Kernel.build(prev.samples[:, self.free], prev.weights, prev.distances, eps)
        remaining = s.simulations - prev.total
        # the acceptance rate to expect: the previous rate times the share of the previous
        # particles that already meet the new tolerance
        share = float(np.mean(prev.distances <= eps)) if math.isfinite(eps) else 1.0
        rate = max(prev.acceptance_rate * max(share, 1.0 / len(prev.distances)),
                   s.min_acceptance)
        wanted = math.ceil(s.population / rate)
        # generations cost more as the tolerance falls: when what would be left after this
        # one could not pay for another like it, this one is the last and spends it all
        last = t + 1 >= s.generations or eps <= s.min_epsilon or remaining < 2 * wanted
        count = remaining if last else min(wanted, remaining)
        xs, ds = [], []
        accepted, spent = 0, 0
        while True:
            x = self._proposals(rng, kernel, count)
            d = self.simulator.run(x, progress)
            xs.append(x)
            ds.append(d)
            spent += count
            accepted += int(np.sum(d <= eps))
            remaining -= count
            if accepted >= s.population or remaining <= 0:
                break
            observed = accepted / spent
            count = min(remaining, math.ceil(1.1 * (s.population - accepted)
                                             / max(observed, rate / 2, s.min_acceptance)))
        x, d = np.concatenate(xs), np.concatenate(ds)
        complete = True
        if accepted < s.population:
            # the budget ran out: raise the tolerance to accept population particles, never
            # above the previous generation's
            nth = np.sort(d)[min(s.population, len(d)) - 1]
            eps = min(max(eps, float(nth)), prev.epsilon)
            complete = int(np.sum(d <= eps)) >= s.population
        keep = d <= eps
        x, d = x[keep], d[keep]
        logw = self._log_prior(x) - kernel.logpdf(x[:, self.free])
        w = np.exp(logw - logw.max()) if len(x) else np.zeros(0)
        w = w / w.sum() if len(x) else w
        return Generation(t, eps, x, w, d, spent, prev.total + spent,
                          time.perf_counter() - started, self.simulator.seconds - sim0, complete,
                          kernel.kind)


# --------------------------------------------------------------------------- the command


def _settings_digest(loaded: LoadedScenario, obs: Observations, paths, settings: Settings) -> dict:
    digest = hashlib.sha256(Path(obs.path).read_bytes()).hexdigest()
    return {"scenario_sha256": loaded.digest(), "observations_sha256": digest,
            "parameters": list(paths), **settings.as_dict()}


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


def _resume(out_dir: Path, settings: dict, j: int) -> list[Generation]:
    """The generations an earlier, unfinished run with the same settings saved."""
    folder = out_dir / "generations"
    saved = out_dir / "settings.json"
    if not saved.exists():
        if folder.exists():
            raise UsageError(f"{out_dir} holds generations without settings.json; choose "
                             "another --out")
        return []
    try:
        old = json.loads(saved.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        raise UsageError(f"{saved}: unreadable; choose another --out") from None
    if old != settings:
        differ = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        raise UsageError(f"{out_dir} holds an unfinished calibration with other settings "
                         f"({', '.join(differ)}); re-run it with the same ones to resume, or "
                         "choose another --out")
    gens = []
    for t in range(10_000):
        path = folder / f"{t:03d}.json"
        if not path.exists():
            break
        gen = _read_generation(path, j)
        if gen.t != t:
            raise UsageError(f"{path}: generation {gen.t} in the file of {t}; choose another "
                             "--out")
        gens.append(gen)
    return gens


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
    from sim.validation.uncertain import PROBE_QUANTILES, VariedSet, check_varied, prior_ppf

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
    probes = tuple(tuple(float(x) for x in prior_ppf(p, np.array(PROBE_QUANTILES)))
                   for p in priors)
    check_varied(loaded, VariedSet("calibrate", paths, np.array([[a for a, _ in probes],
                                                                 [b for _, b in probes]]),
                                   probes, tuple(False for _ in paths), {}))
    if all(p.support()[0] == p.support()[1] for p in priors):
        raise UsageError(f"{loaded.path}: every uncertain value has a range of one point; "
                         "nothing to calibrate")
    target = build_target(obs)
    settings = Settings(population, simulations, generations, float(min_epsilon),
                        float(min_acceptance), int(seed))
    recorded = _settings_digest(loaded, obs, paths, settings)
    resumed = _resume(out_dir, recorded, len(paths))
    try:
        (out_dir / "generations").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out_dir}: {exc.strerror}") from None
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
        write_json(out_dir / "generations" / f"{gen.t:03d}.json", gen.record())
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
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    write_json(out_dir / "calibration.json", diagnostics)
    plot_posterior(out_dir / "calibration.png", paths, priors, samples, weights)
    write_json(out_dir / "posterior.json", {
        "kind": "crisis-sim posterior", "scenario": str(loaded.path),
        "scenario_sha256": loaded.digest(), "parameters": list(paths),
        "samples": samples.tolist(), "weights": weights.tolist()})
    return diagnostics


def _summary(x: np.ndarray, w: np.ndarray) -> dict:
    q = {level: weighted_quantile(x, w, level) for level in (0.05, 0.5, 0.95)}
    return {"mean": float(np.sum(w * x)), "q05": q[0.05], "median": q[0.5], "q95": q[0.95]}


def plot_posterior(path: Path, paths, priors, samples: np.ndarray, weights: np.ndarray) -> None:
    """Prior density and weighted posterior histogram of every fitted value, saved at ``path``."""
    fig = posterior_plot(paths, priors, samples, weights)
    fig.savefig(path, dpi=110)


def posterior_plot(paths, priors, samples: np.ndarray, weights: np.ndarray):
    """Prior against weighted posterior of every fitted value, as a matplotlib ``Figure``.

    A plain ``Figure`` (not pyplot's), so ``sim report`` can draw it for a ``--posterior``
    run's folder (``sim.plots.posterior_figure``) in any thread.
    """
    from matplotlib.figure import Figure

    from sim.validation.uncertain import prior_ppf

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
            and (weights >= 0).all() and weights.sum() > 0):
        raise UsageError(f"{path}: samples and weights must be finite; weights >= 0, not all 0")
    return {"parameters": params, "samples": samples, "weights": weights}
