"""The counter-based generator: a pure function of (seed, replication, day, stream)."""

import numpy as np

from sim.rng import CounterRNG, Stream


def test_uniforms_are_in_the_open_unit_interval_and_uniform():
    u = CounterRNG(1, np.arange(2000)).uniform(3, Stream.DECISION, (50,))
    assert u.shape == (2000, 50)
    assert (u > 0).all() and (u < 1).all()
    # mean and variance of U(0,1) within 5 standard errors
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    assert abs(u.var() - 1 / 12) < 0.002
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    expected = u.size / 10
    assert ((counts - expected) ** 2 / expected).sum() < 40  # chi2(9) far tail is ~28


def test_a_replication_gets_the_same_numbers_in_any_batch():
    alone = CounterRNG(5, np.array([123])).uniform(7, Stream.LOSSES, (4,))
    in_batch = CounterRNG(5, np.arange(100, 200)).uniform(7, Stream.LOSSES, (4,))
    assert np.array_equal(alone[0], in_batch[23])


def test_streams_days_seeds_and_replications_differ():
    g = CounterRNG(5, np.arange(3))
    base = g.uniform(1, 1, (8,))
    assert not np.allclose(base, g.uniform(2, 1, (8,)))
    assert not np.allclose(base, g.uniform(1, 2, (8,)))
    assert not np.allclose(base, CounterRNG(6, np.arange(3)).uniform(1, 1, (8,)))
    assert not np.allclose(base[0], base[1])


def test_adjacent_counters_are_uncorrelated():
    u = CounterRNG(9, np.arange(20000)).uniform(0, 3, (2,))
    r = np.corrcoef(u[:, 0], u[:, 1])[0, 1]
    assert abs(r) < 0.03


def test_normal_and_poisson_have_the_right_moments():
    g = CounterRNG(2, np.arange(40000))
    z = g.normal(4, 5)
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    lam = np.full((40000, 3), [0.2, 2.5, 80.0])
    k = g.poisson(4, 6, lam)
    assert np.allclose(k.mean(axis=0), [0.2, 2.5, 80.0], rtol=0.03)
    assert np.allclose(k.var(axis=0), [0.2, 2.5, 80.0], rtol=0.06)
