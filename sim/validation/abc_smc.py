"""The ABC-SMC algorithm of ``sim calibrate``: kernels, importance weights, tolerances.

Approximate Bayesian computation with sequential Monte Carlo, ABC population Monte Carlo
(Toni et al. 2009, J. R. Soc. Interface 6:187; Beaumont, Cornuet, Marin & Robert 2009,
Biometrika 96:983): populations of parameter vectors, each simulated once and accepted when
its simulation lies within a shrinking distance (the tolerance) of the observations, weighted
by prior over proposal.

This module is the algorithm alone, as functions of arrays and a seed: the proposal kernel
(``Kernel``), the importance weights (``importance_weights``), the tolerance schedule
(``next_tolerance``), the acceptance rate a generation plans for (``predicted_acceptance``)
and the loop over generations (``ABCSMC``), which simulates through any object with
``run(values) -> distances``. What is fitted (the distance to the observations), the
simulator of lockstep batches, the files, resuming and the report are
``sim.validation.calibrate``'s.

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

Reproducible: generation ``t``'s proposals come from numpy's generator seeded by
``(seed, t)``; simulation ``i`` of the calibration is replication ``i`` of the counter-based
generator (the simulator's promise). A re-run, or a run resumed after an interruption, gives the
identical posterior.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from sim.errors import UsageError
from sim.execution.variation import prior_ppf
from sim.scenario.schema import Prior

QUANTILE, MULTIPLIER = 0.5, 0.95  # the tolerance schedule (see the module docstring)


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


# --------------------------------------------------------------------------- weights, tolerances


def importance_weights(log_prior: np.ndarray, log_proposal: np.ndarray) -> np.ndarray:
    """Normalised weights ``pi(x) / q(x)`` of accepted particles from their log densities.

    Args:
        log_prior: ``(N,)`` the prior's log density at each particle.
        log_proposal: ``(N,)`` the proposal's (the kernel mixture's) log density there.

    Returns:
        ``(N,)`` weights summing to 1 (computed from the largest down, so that no exponent
        overflows); empty for no particles.
    """
    logw = log_prior - log_proposal
    w = np.exp(logw - logw.max()) if len(logw) else np.zeros(0)
    return w / w.sum() if len(logw) else w


def next_tolerance(distances: np.ndarray, weights: np.ndarray, previous: float,
                   floor: float) -> float:
    """The next generation's tolerance: a little below the weighted median of the distances.

    ``MULTIPLIER`` times the ``QUANTILE`` weighted quantile, never above the ``previous``
    tolerance nor below ``floor`` (``min_epsilon``).
    """
    eps = MULTIPLIER * weighted_quantile(distances, weights, QUANTILE)
    return max(min(eps, previous), floor)


def predicted_acceptance(rate: float, distances: np.ndarray, eps: float,
                         floor: float) -> float:
    """The acceptance rate to plan a generation of tolerance ``eps`` for.

    The previous generation's ``rate`` times the share of its particles (``distances``) that
    already meet ``eps`` (at least one of them), never below ``floor`` (``min_acceptance``).
    """
    share = float(np.mean(distances <= eps)) if math.isfinite(eps) else 1.0
    return max(rate * max(share, 1.0 / len(distances)), floor)


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
            how many simulations came before it (``sim.validation.calibrate.BatchedSimulator``).
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
        return next_tolerance(prev.distances, prev.weights, prev.epsilon, self.s.min_epsilon)

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
        rate = predicted_acceptance(prev.acceptance_rate, prev.distances, eps,
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
        w = importance_weights(self._log_prior(x), kernel.logpdf(x[:, self.free]))
        return Generation(t, eps, x, w, d, spent, prev.total + spent,
                          time.perf_counter() - started, self.simulator.seconds - sim0, complete,
                          kernel.kind)
