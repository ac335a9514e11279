"""ABC-SMC's importance weights and posterior against independent computations (issue 28).

The known-answer recovery and the comparison with rejection ABC (test_validation_calibrate.py)
are too loose to see a biased weight: a kernel density that loses a normalising term still
passes them. Here the proposal kernel's density is checked against scipy's multivariate normal
mixture on a small population, each generation's weights against prior / mixture computed
with scipy, and the posterior of a conjugate normal model against its analytic posterior as
the tolerance shrinks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.scenario.schema import Prior
from sim.validation.abc_smc import ABCSMC, Generation, Kernel, Settings


def _mixture_logpdf(points, centres, weights, covariances) -> np.ndarray:
    """log sum_i w_i N(y; c_i, S_i), one scipy multivariate normal per particle."""
    dens = np.zeros(len(points))
    for c, w, s in zip(centres, weights, covariances, strict=True):
        dens += w * stats.multivariate_normal(c, s).pdf(points)
    return np.log(dens)


def _population(n: int = 7, seed: int = 5):
    rng = np.random.default_rng(seed)
    x = rng.normal([0.2, -1.0], [0.3, 0.8], size=(n, 2))
    w = rng.uniform(0.2, 1.0, n)
    d = rng.uniform(0.0, 1.0, n)
    return x, w, d


def test_the_optimal_local_covariance_kernel_is_scipys_mixture():
    """Filippi et al.'s kernel: particle i's covariance is the weighted covariance of the
    particles within eps plus (mean of those - x_i)(...)^T, and its density the weighted
    mixture of those normals (computed here with numpy's weighted np.cov and scipy)."""
    x, w, d = _population()
    eps = float(np.sort(d)[4])  # 5 particles within eps: more than J + 1
    kernel = Kernel.build(x, w, d, eps)
    assert kernel.kind == "olcm"
    near = d <= eps
    cov = np.cov(x[near].T, aweights=w[near], bias=True)
    mean = np.average(x[near], axis=0, weights=w[near])
    np.testing.assert_allclose(kernel.chol @ kernel.chol.T, cov, rtol=1e-12)
    np.testing.assert_allclose(kernel.offsets, mean - x, rtol=1e-12)
    np.testing.assert_allclose(kernel.weights, w / w.sum(), rtol=1e-15)
    covariances = [cov + np.outer(mean - xi, mean - xi) for xi in x]
    points = np.random.default_rng(1).normal([0.2, -1.0], [0.6, 1.5], size=(25, 2))
    np.testing.assert_allclose(kernel.logpdf(points),
                               _mixture_logpdf(points, x, w / w.sum(), covariances), rtol=1e-10)


def test_the_twice_the_covariance_kernel_is_scipys_mixture():
    """With too few particles within eps the kernel is Beaumont et al.'s: each particle with
    twice the population's weighted covariance."""
    x, w, d = _population()
    eps = float(np.sort(d)[1])  # 2 particles within eps: not more than J = 2
    kernel = Kernel.build(x, w, d, eps)
    assert kernel.kind == "2cov"
    cov = 2.0 * np.cov(x.T, aweights=w, bias=True)
    np.testing.assert_allclose(kernel.chol @ kernel.chol.T, cov, rtol=1e-12)
    assert not kernel.offsets.any()
    points = np.random.default_rng(2).normal([0.2, -1.0], [0.6, 1.5], size=(25, 2))
    np.testing.assert_allclose(kernel.logpdf(points),
                               _mixture_logpdf(points, x, w / w.sum(), [cov] * len(x)),
                               rtol=1e-10)


def test_a_kernel_density_integrates_to_one():
    """The mixture's density is a density: its integral over a grid covering it is 1 (a lost
    normalising term, e.g. of the rank-one part, would make it differ)."""
    x, w, d = _population(n=5)
    kernel = Kernel.build(x, w, d, float(np.sort(d)[3]))
    assert kernel.kind == "olcm"
    a = np.linspace(-6, 6, 601)
    b = np.linspace(-9, 7, 801)
    grid = np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1).reshape(-1, 2)
    total = np.exp(kernel.logpdf(grid)).sum() * (a[1] - a[0]) * (b[1] - b[0])
    assert total == pytest.approx(1.0, abs=1e-6)


class _Deterministic:
    """A stand-in simulator whose distance is a fixed function of the parameters."""

    def __init__(self):
        self.seconds = 0.0

    def run(self, values, progress=None):
        return np.abs(values[:, 0] + 0.5 * values[:, 1] - 0.3)


def test_a_generations_weights_are_prior_over_the_kernel_mixture():
    """Generation 1's weights, for every accepted particle: pi(x) / sum_i w_i K_i(x), each
    factor computed with scipy (a normal and a beta prior, the mixture of multivariate
    normals), normalised."""
    priors = [Prior(dist="normal", mean=0.1, sd=0.5),
              Prior(dist="beta", a=2.0, b=3.0, low=-1.0, high=2.0)]
    settings = Settings(population=12, simulations=400, generations=3, min_epsilon=0.0,
                        min_acceptance=0.01, seed=9)
    abc = ABCSMC(priors, _Deterministic(), settings)
    first = abc.first()
    gen = abc.next(first)
    assert isinstance(gen, Generation) and len(gen.weights) >= settings.population
    kernel = Kernel.build(first.samples, first.weights, first.distances, gen.epsilon)
    x = gen.samples
    if kernel.kind == "olcm":
        covariances = [kernel.chol @ kernel.chol.T + np.outer(u, u) for u in kernel.offsets]
    else:
        covariances = [kernel.chol @ kernel.chol.T] * len(first.samples)
    log_prior = (stats.norm(0.1, 0.5).logpdf(x[:, 0])
                 + stats.beta(2.0, 3.0, loc=-1.0, scale=3.0).logpdf(x[:, 1]))
    logw = log_prior - _mixture_logpdf(x, first.samples, first.weights, covariances)
    expected = np.exp(logw - logw.max())
    np.testing.assert_allclose(gen.weights, expected / expected.sum(), rtol=1e-9)
    assert (gen.distances <= gen.epsilon).all()


# --------------------------------------------------------------------------- a known posterior


class _Normal:
    """y ~ N(theta, SIGMA), simulation i's noise depending only on i; distance |y - Y0|."""

    def __init__(self):
        self.simulations, self.seconds = 0, 0.0

    noise = np.random.default_rng(11).standard_normal(200_000)

    def run(self, values, progress=None):
        z = self.noise[self.simulations:self.simulations + len(values)]
        self.simulations += len(values)
        return np.abs(values[:, 0] + SIGMA * z - Y0)


MU0, TAU, SIGMA, Y0 = 0.0, 1.0, 0.5, 1.0
#: the conjugate posterior of theta ~ N(MU0, TAU), y | theta ~ N(theta, SIGMA) at y = Y0
POST_VAR = 1.0 / (1.0 / TAU**2 + 1.0 / SIGMA**2)
POST_MEAN = POST_VAR * (MU0 / TAU**2 + Y0 / SIGMA**2)


def _abc_posterior(eps: float) -> tuple[float, float]:
    """Mean and sd of the exact ABC posterior at tolerance eps: prior(theta) x
    P(|theta + SIGMA z - Y0| <= eps), on a fine grid."""
    grid = np.linspace(-4.0, 5.0, 90_001)
    dens = stats.norm(MU0, TAU).pdf(grid) * (stats.norm(grid, SIGMA).cdf(Y0 + eps)
                                             - stats.norm(grid, SIGMA).cdf(Y0 - eps))
    dens /= dens.sum()
    mean = float(dens @ grid)
    return mean, float(np.sqrt(dens @ (grid - mean) ** 2))


def test_the_posterior_of_a_conjugate_normal_model_converges_to_the_analytic_one():
    """theta ~ N(0, 1), y ~ N(theta, 0.5), y observed at 1: the posterior is N(0.8, 0.447).
    Each generation's weighted population matches the exact ABC posterior at its tolerance
    (mean within 4 Monte Carlo standard errors, sd within 4 of its own), and as the tolerance
    shrinks that posterior, and the population with it, reaches the analytic one."""
    assert math.isclose(POST_MEAN, 0.8) and math.isclose(POST_VAR, 0.2)
    settings = Settings(population=2000, simulations=150_000, generations=8, min_epsilon=0.0,
                        min_acceptance=0.005, seed=3)
    abc = ABCSMC([Prior(dist="normal", mean=MU0, sd=TAU)], _Normal(), settings)
    gens = [abc.first()]
    while abc.stop_after(gens[-1]) is None:
        gens.append(abc.next(gens[-1]))
    gens = [g for g in gens if g.complete]
    assert len(gens) >= 5, [g.summary() for g in gens]
    epsilons = [g.epsilon for g in gens[1:]]
    assert epsilons == sorted(epsilons, reverse=True) and epsilons[-1] < 0.05
    for g in gens[1:]:
        mean, sd = _abc_posterior(g.epsilon)
        x, w = g.samples[:, 0], g.weights
        got_mean = float(w @ x)
        got_sd = float(np.sqrt(w @ (x - got_mean) ** 2))
        se = sd / math.sqrt(g.ess)
        assert abs(got_mean - mean) < 4 * se, (g.t, g.epsilon, got_mean, mean, se)
        assert abs(got_sd - sd) < 4 * sd / math.sqrt(2 * g.ess), (g.t, got_sd, sd)
    # at the last tolerance the exact ABC posterior is the analytic one to 1e-3, and so the
    # population is within its Monte Carlo error of N(0.8, 0.447)
    mean, sd = _abc_posterior(gens[-1].epsilon)
    assert mean == pytest.approx(POST_MEAN, abs=1e-3)
    assert sd == pytest.approx(math.sqrt(POST_VAR), abs=1e-3)
    last = gens[-1]
    x, w = last.samples[:, 0], last.weights
    got_mean = float(w @ x)
    got_sd = float(np.sqrt(w @ (x - got_mean) ** 2))
    assert abs(got_mean - POST_MEAN) < 4 * math.sqrt(POST_VAR / last.ess) + 1e-3
    assert abs(got_sd - math.sqrt(POST_VAR)) < 4 * math.sqrt(POST_VAR / (2 * last.ess)) + 1e-3
