"""The ABC-SMC algorithm's pure pieces (sim.validation.abc_smc), without simulating anything."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.validation.abc_smc import (
    MULTIPLIER,
    Kernel,
    importance_weights,
    next_tolerance,
    predicted_acceptance,
    weighted_quantile,
)


def test_the_tolerance_is_a_little_below_the_weighted_median():
    d = np.array([1.0, 2.0, 3.0, 4.0])
    assert next_tolerance(d, np.full(4, 0.25), math.inf, 0.0) == MULTIPLIER * 2.0
    # weight moves the median: most of it on the largest distance
    assert next_tolerance(d, np.array([0.1, 0.1, 0.1, 0.7]), math.inf, 0.0) == MULTIPLIER * 4.0


def test_the_tolerance_never_rises_nor_falls_below_the_floor():
    d = np.array([5.0, 6.0, 7.0])
    w = np.full(3, 1 / 3)
    assert next_tolerance(d, w, 2.0, 0.0) == 2.0  # the previous tolerance caps it
    assert next_tolerance(d, w, math.inf, 10.0) == 10.0  # min_epsilon floors it


def test_importance_weights_are_prior_over_proposal_normalised():
    log_prior = np.log(np.array([1.0, 2.0, 4.0]))
    log_proposal = np.log(np.array([1.0, 1.0, 2.0]))
    w = importance_weights(log_prior, log_proposal)
    np.testing.assert_allclose(w, np.array([1.0, 2.0, 2.0]) / 5.0, rtol=1e-12)


def test_importance_weights_do_not_overflow_and_handle_no_particles():
    w = importance_weights(np.array([1000.0, 999.0]), np.zeros(2))  # exp(1000) is inf
    np.testing.assert_allclose(w, [1 / (1 + math.exp(-1)), 1 / (1 + math.e)], rtol=1e-12)
    assert importance_weights(np.zeros(0), np.zeros(0)).shape == (0,)


def test_the_planned_acceptance_is_the_rate_times_the_share_already_within():
    d = np.array([0.5, 1.5, 2.5, 3.5])
    assert predicted_acceptance(0.2, d, 2.0, 0.0) == pytest.approx(0.2 * 0.5)
    assert predicted_acceptance(0.2, d, 0.1, 0.0) == pytest.approx(0.2 * 0.25)  # at least one
    assert predicted_acceptance(0.001, d, 2.0, 0.005) == 0.005  # min_acceptance floors it
    assert predicted_acceptance(0.2, d, math.inf, 0.0) == 0.2


def test_the_kernel_mixture_density_integrates_to_one_and_matches_its_samples():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2))
    w = rng.random(40)
    d = rng.random(40)
    for eps in (0.9, 0.01):  # the local covariance (olcm), then the degenerate fallback
        kernel = Kernel.build(x, w, d, eps)
        assert kernel.kind == ("olcm" if eps == 0.9 else "2cov")
        grid = np.linspace(-9, 9, 301)
        gx, gy = np.meshgrid(grid, grid)
        density = np.exp(kernel.logpdf(np.column_stack([gx.ravel(), gy.ravel()])))
        assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=2e-3)
        samples = kernel.sample(np.random.default_rng(2), 20_000)
        mean = (density[:, None] * np.column_stack([gx.ravel(), gy.ravel()])).sum(0) * (
            grid[1] - grid[0]) ** 2
        np.testing.assert_allclose(samples.mean(axis=0), mean, atol=0.05)


def test_weighted_quantile_is_the_smallest_value_reaching_the_weight():
    x = np.array([3.0, 1.0, 2.0])
    assert weighted_quantile(x, np.array([1.0, 1.0, 1.0]), 0.5) == 2.0
    assert weighted_quantile(x, np.array([0.0, 1.0, 0.0]), 0.5) == 1.0
