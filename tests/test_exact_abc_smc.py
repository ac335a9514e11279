"""Exact behaviour of the ABC-SMC algorithm (``sim/validation/abc_smc.py``, issue 28).

The priors' densities against their formulas written out by hand; the kernel's fallbacks and
draws; the proposals' redraw loop and its give-up; generation 0 and the stopping rules; and a
generation's plan (tolerance, how many to simulate, the top-ups, the last generation, a budget
run out) with a scripted simulator whose distances are chosen so every count is computed by
hand here. No simulation: each test takes milliseconds (the mutants of ``scripts/mutation.py``
run against them).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.errors import UsageError
from sim.scenario.schema import Prior
from sim.validation import abc_smc
from sim.validation.abc_smc import (
    ABCSMC,
    Generation,
    Kernel,
    Settings,
    importance_weights,
    predicted_acceptance,
    prior_logpdf,
    weighted_quantile,
)

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# --------------------------------------------------------------------------- prior densities


def test_a_uniform_prior_is_flat_on_its_closed_range_and_impossible_outside():
    prior = Prior(dist="uniform", low=1.0, high=3.0)
    got = prior_logpdf(prior, [0.5, 1.0, 2.0, 3.0, 3.5])
    assert got.tolist() == [-math.inf, 0.0, 0.0, 0.0, -math.inf]


def test_a_triangular_prior_is_its_formula():
    """pdf = 2 (x - a) / ((b - a)(c - a)) up to the mode c, 2 (b - x) / ((b - a)(b - c)) after."""
    prior = Prior(dist="triangular", low=1.0, mode=2.0, high=5.0)
    x = [0.0, 1.5, 2.0, 3.5, 4.0, 6.0]
    pdf = [0.0, 2 * 0.5 / (4 * 1), 2 * 1 / (4 * 1), 2 * 1.5 / (4 * 3), 2 * 1 / (4 * 3), 0.0]
    expected = [math.log(p) if p else -math.inf for p in pdf]
    np.testing.assert_allclose(prior_logpdf(prior, x), expected, rtol=1e-12)


def test_a_lognormal_prior_is_its_formula_and_zero_below_zero():
    prior = Prior(dist="lognormal", median=2.0, sigma=0.5)
    x = np.array([0.5, 1.0, 2.0, 7.0])
    expected = (-np.log(x * 0.5) - LOG_SQRT_2PI
                - (np.log(x) - math.log(2.0)) ** 2 / (2 * 0.25))
    np.testing.assert_allclose(prior_logpdf(prior, x), expected, rtol=1e-12)
    assert prior_logpdf(prior, [-1.0]).tolist() == [-math.inf]


def test_normal_and_beta_priors_are_their_formulas():
    normal = Prior(dist="normal", mean=1.0, sd=2.0, low=0.0)
    x = np.array([-0.5, 0.0, 1.0, 4.0])
    expected = -math.log(2.0) - LOG_SQRT_2PI - (x - 1.0) ** 2 / 8.0
    expected[0] = -math.inf  # below its low
    np.testing.assert_allclose(prior_logpdf(normal, x), expected, rtol=1e-12)
    beta = Prior(dist="beta", a=2.0, b=3.0, low=-1.0, high=2.0)
    y = np.array([-0.5, 0.5, 1.5])
    u = (y + 1.0) / 3.0
    log_b = math.lgamma(2.0) + math.lgamma(3.0) - math.lgamma(5.0)
    expected = np.log(u) + 2.0 * np.log(1 - u) - log_b - math.log(3.0)
    np.testing.assert_allclose(prior_logpdf(beta, y), expected, rtol=1e-12)
    assert prior_logpdf(beta, [-1.5, 2.5]).tolist() == [-math.inf, -math.inf]


# --------------------------------------------------------------------- quantiles and kernels


def test_a_quantile_beyond_the_total_weight_is_the_largest_value():
    x = np.array([3.0, 1.0, 2.0])
    w = np.array([0.2, 0.3, 0.5])
    assert weighted_quantile(x, w, 1.5) == 3.0
    assert weighted_quantile(x, w, 0.3) == 1.0
    assert weighted_quantile(x, w, 0.31) == 2.0


def test_the_planned_acceptance_counts_a_distance_equal_to_the_tolerance_as_within():
    d = np.array([1.0, 2.0, 3.0, 4.0])
    assert predicted_acceptance(0.4, d, 2.0, 0.0) == 0.4 * 0.5


def test_a_singular_matrix_is_not_positive_definite():
    assert abc_smc._positive_definite(np.array([[1.0, 2.0], [2.0, 1.0]])) is False
    assert abc_smc._positive_definite(np.array([[2.0, 0.0], [0.0, 3.0]])) is True
    assert abc_smc._positive_definite(np.array([[np.inf, 0.0], [0.0, 1.0]])) is False


def test_a_collapsed_population_gets_a_tiny_diagonal_kernel():
    """All particles on one point: twice the covariance is 0, so the kernel's covariance is
    diag((1e-6 * |x_j|)^2), and 1e-18 where x_j is 0 (1e-6 * the floor 1e-12)."""
    x = np.tile([2.0, -3.0, 0.0], (5, 1))
    kernel = Kernel.build(x, np.full(5, 0.2), np.zeros(5), 1.0)
    assert kernel.kind == "2cov"
    np.testing.assert_allclose(np.diagonal(kernel.chol), [2e-6, 3e-6, 1e-18], rtol=1e-12)
    assert np.count_nonzero(kernel.chol - np.diag(np.diagonal(kernel.chol))) == 0
    assert not kernel.offsets.any()


def test_exactly_j_particles_within_the_tolerance_are_too_few_for_the_local_kernel():
    """J particles in J dimensions: their covariance has rank J - 1, and whether Cholesky
    accepts it numerically is chance; the kernel is Beaumont's whenever there are not more
    than J (here a population where Cholesky would accept the near ones' covariance)."""
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x, w = rng.normal(size=(7, 3)), rng.uniform(0.2, 1.0, 7)
        w_normalised = w / w.sum()  # as build normalises them
        if abc_smc._positive_definite(abc_smc._weighted_cov(x[:3], w_normalised[:3])[1]):
            break
    else:
        pytest.fail("no population found")
    d = np.array([0.1, 0.2, 0.3, 2.0, 3.0, 4.0, 5.0])
    assert Kernel.build(x, w, d, 0.5).kind == "2cov"
    assert Kernel.build(x, w, d, 2.5).kind == "olcm"  # four within: more than J = 3


def test_a_kernels_draws_are_centre_plus_l_z_plus_u_times_one_more_normal():
    """The documented draw: pick i by weight, then c_i + L z + u_i z' with z, z' standard
    normal, from one (count, J + 1) block of normals after the choice of centres."""
    x = np.array([[0.0, 1.0], [2.0, -1.0], [1.0, 3.0], [-1.0, 0.5]])
    w = np.array([0.1, 0.4, 0.3, 0.2])
    kernel = Kernel(x, w, np.array([[1.0, 0.0], [0.5, 2.0]]),
                    np.array([[0.1, 0.2], [0.3, -0.4], [0.0, 0.5], [-0.6, 0.7]]), "olcm")
    got = kernel.sample(np.random.default_rng(4), 6)
    rng = np.random.default_rng(4)
    index = rng.choice(4, size=6, p=w)
    z = rng.standard_normal((6, 3))
    expected = np.array([x[i] + np.array([z[k, 0], 0.5 * z[k, 0] + 2.0 * z[k, 1]])
                         + kernel.offsets[i] * z[k, 2] for k, i in enumerate(index)])
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)


# ----------------------------------------------------------------------- records, summaries


def _generation(**changes) -> Generation:
    fields = dict(t=2, epsilon=0.75, samples=np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
                  weights=np.array([0.5, 0.25, 0.25]), distances=np.array([0.1, 0.5, 0.7]),
                  simulations=9, total=30, seconds=1.23456, simulation_seconds=0.98765,
                  complete=True, kernel="olcm")
    fields.update(changes)
    return Generation(**fields)


def test_a_generations_record_and_summary_are_written_out():
    gen = _generation()
    assert gen.record() == {
        "t": 2, "epsilon": 0.75, "samples": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        "weights": [0.5, 0.25, 0.25], "distances": [0.1, 0.5, 0.7], "simulations": 9,
        "total": 30, "seconds": 1.235, "simulation_seconds": 0.988, "complete": True,
        "kernel": "olcm"}
    # acceptance 3/9 to 5 places; ESS 1 / (0.25 + 0.0625 + 0.0625) = 2.67 to one
    assert gen.summary() == {
        "t": 2, "epsilon": 0.75, "simulations": 9, "accepted": 3, "acceptance_rate": 0.33333,
        "effective_sample_size": 2.7, "kernel": "olcm", "complete": True, "seconds": 1.23,
        "simulation_seconds": 0.99}
    first = _generation(t=0, epsilon=math.inf, complete=False, kernel="prior")
    assert first.record()["epsilon"] is None and first.summary()["epsilon"] is None
    assert first.record()["complete"] is False and first.summary()["kernel"] == "prior"
    empty = _generation(weights=np.zeros(0), simulations=0)
    assert (empty.acceptance_rate, empty.ess) == (0.0, 0.0)


def test_settings_as_a_dict():
    s = Settings(population=5, simulations=100, generations=3, min_epsilon=0.1,
                 min_acceptance=0.02, seed=7)
    assert s.as_dict() == {"population": 5, "simulations": 100, "generations": 3,
                           "min_epsilon": 0.1, "min_acceptance": 0.02, "seed": 7}


# ------------------------------------------------------------------------ the algorithm


class _Scripted:
    """A simulator whose distances are given in advance, one array per call; it records the
    size of each call and the progress object, and each call 'takes' 2.5 seconds."""

    def __init__(self, *calls):
        self.calls, self.sizes, self.progress = list(calls), [], []
        self.seconds = 100.0

    def run(self, values, progress=None):
        self.sizes.append(len(values))
        self.progress.append(progress)
        self.seconds += 2.5
        d = np.asarray(self.calls.pop(0), float)
        assert len(d) == len(values), (len(d), len(values))
        return d


UNIFORM = [Prior(dist="uniform", low=0.0, high=1.0), Prior(dist="uniform", low=2.0, high=2.0)]


def test_generation_0_is_the_priors_draws_from_the_seed_all_weighted_alike():
    """u ~ U(0, 1) from numpy's generator seeded (seed, 0); a uniform prior's draw is
    low + u (high - low); a degenerate range is its constant."""
    sim = _Scripted(np.arange(4.0))
    settings = Settings(population=4, simulations=100, generations=3, min_epsilon=0.0,
                        min_acceptance=0.01, seed=11)
    progress = object()
    gen = ABCSMC(UNIFORM, sim, settings).first(progress)
    u = np.random.default_rng([11, 0]).random((4, 2))
    np.testing.assert_array_equal(gen.samples, np.column_stack([u[:, 0], np.full(4, 2.0)]))
    assert gen.weights.tolist() == [0.25] * 4
    assert gen.distances.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert (gen.t, gen.epsilon, gen.simulations, gen.total) == (0, math.inf, 4, 4)
    assert (gen.complete, gen.kernel, gen.simulation_seconds) == (True, "prior", 2.5)
    assert 0.0 <= gen.seconds < 60.0
    assert sim.progress == [progress]
    small = ABCSMC(UNIFORM, _Scripted(np.zeros(3)), Settings(
        population=4, simulations=3, generations=3, min_epsilon=0.0, min_acceptance=0.01,
        seed=11)).first()
    assert small.simulations == 3 and small.weights.tolist() == [1 / 3] * 3


def _settings(**changes) -> Settings:
    fields = dict(population=10, simulations=1000, generations=5, min_epsilon=0.0,
                  min_acceptance=0.01, seed=5)
    fields.update(changes)
    return Settings(**fields)


def test_the_stopping_rules_in_their_order_and_at_their_edges():
    abc = ABCSMC(UNIFORM, None, _settings(population=10, simulations=100, generations=4,
                                          min_epsilon=0.5, min_acceptance=0.2))

    def why(**changes):
        base = dict(t=1, epsilon=1.0, weights=np.full(10, 0.1), simulations=40, total=80,
                    complete=True)
        base.update(changes)
        return abc.stop_after(_generation(**base))

    assert why() is None
    assert why(complete=False) == "budget"
    assert why(total=100) == "budget"
    assert why(total=101) == "budget"
    assert why(total=90) is None  # 10 left: one population's worth
    assert why(total=91) == "budget"  # 9 left: not enough for one population
    assert why(t=3) == "generations"  # generation 3 is the 4th
    assert why(t=2) is None
    assert why(t=4) == "generations"
    assert why(epsilon=0.5) == "min_epsilon"
    assert why(epsilon=0.49) == "min_epsilon"
    assert why(simulations=51) == "min_acceptance"  # 10/51 < 0.2
    assert why(simulations=50) is None  # 10/50 = 0.2: not below
    assert why(t=0, simulations=51) is None  # generation 0 accepts everything it simulates
    assert why(t=3, epsilon=0.5) == "generations"
    assert why(epsilon=0.5, simulations=51) == "min_epsilon"


EPS = 0.95 * 8  # generation 1's tolerance in the tests below


def _previous(n=16, simulations=32, total=32) -> Generation:
    """A generation 0 of 16 particles at distances 1..16 (weights 1/16, exact in binary), 16
    accepted of 32 simulated, spread over the free value."""
    x = np.column_stack([np.linspace(0.05, 0.95, n), np.full(n, 2.0)])
    return Generation(0, math.inf, x, np.full(n, 1 / n), np.arange(1.0, n + 1), simulations,
                      total, 0.0, 0.0, True, "prior")


def _within(count, accepted, eps=EPS):
    """``count`` distances, ``accepted`` of them within ``eps`` (the last of those at it)."""
    d = np.full(count, eps + 10.0)
    d[:accepted] = np.linspace(0.5, eps, accepted)
    return d


def test_a_generation_plans_from_its_predicted_acceptance_and_tops_up():
    """Tolerance: 0.95 x the weighted median of 1..16 (8) = 7.6. Generation 0 accepted 16 of
    32 (rate 0.5) and 7 of its 16 are within 7.6: planned rate 0.5 x 7/16 = 0.21875, so
    ceil(10 / 0.21875) = ceil(45.7) = 46 are simulated. 4 accepted: the top-up is
    ceil(1.1 x 6 / max(4/46, 0.21875 / 2, 0.01)) = ceil(6.6 / 0.109375) = ceil(60.3) = 61;
    6 more accepted reach the population exactly, and the generation ends."""
    prev = _previous()
    first, second = _within(46, 4), _within(61, 6)
    sim = _Scripted(first, second)
    progress = object()
    abc = ABCSMC(UNIFORM, sim, _settings())
    gen = abc.next(prev, progress)
    assert sim.sizes == [46, 61]
    assert sim.progress == [progress, progress]
    assert (gen.t, gen.epsilon, gen.simulations, gen.total) == (1, EPS, 107, 139)
    assert gen.complete is True
    np.testing.assert_array_equal(gen.distances, np.concatenate([first[:4], second[:6]]))
    assert gen.distances.max() == EPS  # a distance at the tolerance is accepted
    assert (gen.samples[:, 1] == 2.0).all() and ((gen.samples[:, 0] >= 0)
                                                 & (gen.samples[:, 0] <= 1)).all()
    kernel = Kernel.build(prev.samples[:, abc.free], prev.weights, prev.distances, EPS)
    assert gen.kernel == kernel.kind
    log_prior = np.zeros(len(gen.samples))
    expected = importance_weights(log_prior, kernel.logpdf(gen.samples[:, abc.free]))
    np.testing.assert_allclose(gen.weights, expected, rtol=1e-12)
    assert gen.simulation_seconds == 5.0 and 0.0 <= gen.seconds < 60.0


def test_a_generation_is_reproducible_from_its_seed():
    def run(seed):
        sim = _Scripted(_within(46, 4), _within(61, 6))
        return ABCSMC(UNIFORM, sim, _settings(seed=seed)).next(_previous()).samples

    np.testing.assert_array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_a_top_up_uses_the_observed_rate_when_it_is_above_half_the_planned_one():
    """8 of 46 accepted (0.174 > 0.109): ceil(1.1 x 2 / (8/46)) = ceil(12.65) = 13."""
    sim = _Scripted(_within(46, 8), _within(13, 2))
    gen = ABCSMC(UNIFORM, sim, _settings()).next(_previous())
    assert sim.sizes == [46, 13]
    assert (gen.simulations, len(gen.distances)) == (59, 10)


def test_a_top_up_never_plans_below_the_minimum_acceptance():
    """min_acceptance 0.25 floors the planned rate (wanted = ceil(10 / 0.25) = 40) and the
    top-up: 1 of 40 accepted, ceil(1.1 x 9 / max(0.025, 0.125, 0.25)) = ceil(39.6) = 40."""
    sim = _Scripted(_within(40, 1), _within(40, 9))
    ABCSMC(UNIFORM, sim, _settings(min_acceptance=0.25)).next(_previous())
    assert sim.sizes == [40, 40]


def test_top_ups_go_on_until_the_population_is_reached():
    """0 accepted of 46: ceil(11 / 0.109375) = ceil(100.6) = 101; then 3 of 147:
    ceil(7.7 / 0.109375) = ceil(70.4) = 71."""
    sim = _Scripted(_within(46, 0), _within(101, 3), _within(71, 7))
    gen = ABCSMC(UNIFORM, sim, _settings()).next(_previous())
    assert sim.sizes == [46, 101, 71]
    assert (gen.simulations, gen.total, len(gen.distances)) == (218, 250, 10)


def test_a_top_up_of_the_last_simulation_left_is_still_run():
    """Budget 140 - 32 = 108 left (not last: 108 >= 2 x 46). 46, then 61 (as above) leave 1,
    which is simulated too. 7 accepted, the budget spent: the 10th smallest distance (17.6)
    is above the previous tolerance (8.0), so the tolerance is 8.0, which accepts 8:
    incomplete."""
    prev = _previous()
    prev.epsilon = 8.0
    sim = _Scripted(_within(46, 4), _within(61, 3), [8.0])
    gen = ABCSMC(UNIFORM, sim, _settings(simulations=140)).next(prev)
    assert sim.sizes == [46, 61, 1]
    assert (gen.epsilon, gen.complete, gen.total, len(gen.distances)) == (8.0, False, 140, 8)


@pytest.mark.parametrize(("changes", "last"), [
    ({"generations": 3}, False),  # generation 1 of 3: not the last
    ({"generations": 2}, True),  # generation 1 of 2: the last, it spends everything
    ({"min_epsilon": EPS}, True),  # the tolerance reached its floor
    ({"min_epsilon": 7.5}, False),
    ({"simulations": 124}, False),  # 92 left: exactly two generations of 46
    ({"simulations": 123}, True),  # 91 left: less than two, so this one takes all
])
def test_the_last_generation_spends_what_is_left(changes, last):
    settings = _settings(**changes)
    remaining = settings.simulations - 32
    count = remaining if last else 46
    sim = _Scripted(_within(count, 10, max(settings.min_epsilon, EPS)))
    gen = ABCSMC(UNIFORM, sim, settings).next(_previous())
    assert sim.sizes == [count]
    assert (gen.simulations, gen.total, gen.complete) == (count, 32 + count, True)
    assert len(gen.distances) == 10


def test_a_budget_run_out_raises_the_tolerance_to_accept_the_population():
    """Planned last (generations 2): all 100 left are simulated, 6 within 7.6; the tolerance
    rises to the 10th smallest distance (12.0), which accepts exactly 10."""
    d = np.concatenate([_within(6, 6), [11.0, 11.5, 11.75, 12.0, 12.5, 13.0],
                        np.full(88, 30.0)])
    sim = _Scripted(d)
    gen = ABCSMC(UNIFORM, sim, _settings(generations=2, simulations=132)).next(_previous())
    assert sim.sizes == [100]
    assert (gen.epsilon, gen.complete, gen.simulations, gen.total) == (12.0, True, 100, 132)
    np.testing.assert_array_equal(np.sort(gen.distances), np.sort(d)[:10])


def test_a_budget_run_out_never_raises_the_tolerance_above_the_previous_one():
    """Budget 132 - 32 = 100 left, not last (100 >= 2 x 46): 46 simulated, 2 accepted; the
    top-up would be ceil(8.8 / 0.109375) = 81 but only 54 are left; 1 more accepted. The 10th
    smallest distance (30.0) is above the previous tolerance (20.0), so the tolerance is
    20.0, which accepts only 7: incomplete."""
    prev = _previous()
    prev.epsilon = 20.0
    first = np.concatenate([_within(2, 2), [19.0, 20.0, 21.0], np.full(41, 40.0)])
    second = np.concatenate([_within(1, 1), [15.0, 16.0], np.full(51, 30.0)])
    sim = _Scripted(first, second)
    gen = ABCSMC(UNIFORM, sim, _settings(simulations=132)).next(prev)
    assert sim.sizes == [46, 54]
    assert (gen.epsilon, gen.complete, gen.simulations, gen.total) == (20.0, False, 100, 132)
    assert len(gen.distances) == 7


# ------------------------------------------------------------------------ proposals


class _Fixed:
    """A stand-in kernel that returns the rows it is given, in turn, and records each ask."""

    def __init__(self, *rows):
        self.rows, self.asked = list(rows), []

    def sample(self, rng, count):
        self.asked.append(count)
        return np.asarray(self.rows.pop(0), float)[:, None]


def test_proposals_outside_the_prior_are_redrawn_in_batches_of_at_least_16():
    abc = ABCSMC(UNIFORM, None, _settings())
    kernel = _Fixed(np.r_[np.full(30, 0.5), np.full(10, 1.5)], np.r_[np.full(16, 0.25)])
    got = abc._proposals(np.random.default_rng(0), kernel, 40)
    assert kernel.asked == [40, 16]  # 30 inside: 10 more asked, at least 16
    np.testing.assert_array_equal(got[:, 0], np.r_[np.full(30, 0.5), np.full(10, 0.25)])
    assert (got[:, 1] == 2.0).all()
    exact = _Fixed(np.full(40, 0.5))
    assert len(abc._proposals(np.random.default_rng(0), exact, 40)) == 40
    assert exact.asked == [40]


def test_proposals_that_keep_falling_outside_give_up_after_1000_tries():
    abc = ABCSMC(UNIFORM, None, _settings())
    kernel = _Fixed(*[np.full(16, 5.0)] * 1001)
    with pytest.raises(UsageError) as excinfo:
        abc._proposals(np.random.default_rng(0), kernel, 3)
    assert str(excinfo.value) == ("the calibration's proposals keep falling outside the "
                                  "priors' support; widen the ranges of the uncertain values")
    assert kernel.asked == [16] * 1000
