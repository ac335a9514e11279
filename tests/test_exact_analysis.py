"""The run statistics users read (sim.analysis), exactly (issue 28's mutation run).

Intervals against scipy's independent Wilson interval, means and paired intervals by hand,
and the printed tables character by character.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, norm

from sim.analysis import (
    Z95,
    degeneracy,
    format_degeneracy,
    format_indicators,
    format_outcomes,
    indicator_summary,
    outcome_table,
    paired_difference,
    wilson_interval,
)


@pytest.mark.parametrize("k, n", [(0, 3), (1, 3), (3, 3), (7, 20), (50, 100), (1, 1)])
def test_the_wilson_interval_is_scipys(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(ci.low, abs=1e-12) and high == pytest.approx(ci.high, abs=1e-12)
    assert (low == 0.0) == (k == 0) and (high == 1.0) == (k == n)  # exact at the ends


def test_the_wilson_interval_by_hand_and_with_another_z():
    # 1 of 4 with z = 1: centre (0.25 + 1/8) / 1.25 = 0.3, half sqrt(3/64 + 1/64) / 1.25 = 0.2
    low, high = wilson_interval(1, 4, z=1.0)
    assert low == pytest.approx(0.1, abs=1e-15) and high == pytest.approx(0.5, abs=1e-15)
    assert wilson_interval(0, 0) == (0.0, 1.0)  # no runs: nothing is known
    assert norm.ppf(0.975) == pytest.approx(Z95, abs=1e-15)  # the normal's 97.5% point


def test_the_outcome_table_counts_each_outcome_column():
    columns = {"run": np.arange(4), "outcome.war": np.array([True, False, True, True]),
               "losses.a": np.array([1.0, 2.0, 3.0, 4.0]),
               "outcome.deal": np.array([0, 0, 0, 0]), "outcome.none": np.array([], bool)}
    rows = outcome_table(columns)
    assert rows == [
        {"outcome": "war", "probability": 0.75, "low": wilson_interval(3, 4)[0],
         "high": wilson_interval(3, 4)[1], "count": 3, "runs": 4},
        {"outcome": "deal", "probability": 0.0, "low": 0.0, "high": wilson_interval(0, 4)[1],
         "count": 0, "runs": 4},
        {"outcome": "none", "probability": rows[2]["probability"], "low": 0.0, "high": 1.0,
         "count": 0, "runs": 0},
    ]
    assert math.isnan(rows[2]["probability"])


def test_the_indicator_summary_by_hand():
    columns = {"run": np.arange(5), "outcome.war": np.ones(5, bool),
               "losses.a": np.array([4.0, 0.0, 2.0, 1.0, 3.0]),
               "day.war": np.array([np.nan, 10.0, np.nan, 20.0, np.nan]),
               "day.never": np.full(5, np.nan)}
    rows = indicator_summary(columns)
    # numpy's default (linear) quantiles of 0..4: 0.2, 1, 2, 3, 3.8
    assert rows[0] == {"indicator": "losses.a", "runs": 5, "missing": 0, "mean": 2.0,
                       "q05": 0.2, "q25": 1.0, "q50": 2.0, "q75": 3.0, "q95": 3.8}
    assert rows[1] == pytest.approx({"indicator": "day.war", "runs": 5, "missing": 3,
                                     "mean": 15.0, "q05": 10.5, "q25": 12.5, "q50": 15.0,
                                     "q75": 17.5, "q95": 19.5})
    assert rows[2] == {"indicator": "day.never", "runs": 5, "missing": 5}
    assert len(rows) == 3


def test_the_paired_difference_by_hand():
    a, b = np.array([1.0, 2.0, 3.0, np.nan]), np.array([2.0, 4.0, 6.0, 1.0])
    # differences 1, 2, 3 (the NaN pair is dropped): mean 2, sd 1, half z / sqrt(3)
    mean, low, high = paired_difference(a, b)
    half = Z95 / math.sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half), abs=1e-15)
    assert paired_difference(a, b, z=1.0) == pytest.approx((2.0, 2 - 3 ** -0.5, 2 + 3 ** -0.5))
    assert paired_difference([1], [3]) == (2.0, -math.inf, math.inf)  # one pair: no interval
    assert paired_difference(np.array([True, False]), np.array([True, True]))[0] == 0.5


def test_the_outcome_table_as_printed():
    rows = [{"outcome": "war", "probability": 0.25, "low": 0.1, "high": 0.5, "count": 25,
             "runs": 100},
            {"outcome": "a_long_outcome", "probability": 1.0, "low": 0.96, "high": 1.0,
             "count": 100, "runs": 100}]
    assert format_outcomes(rows) == (
        "outcome              P     95% interval     runs\n"
        "war              25.0%  [10.0%, 50.0%]       25\n"
        "a_long_outcome  100.0%  [96.0%, 100.0%]      100")
    # no rows: the header at its least width (7, "outcome"), 2 spaces, P right in 6
    assert format_outcomes([]) == "outcome" + "  " + "     P" + "     95% interval     runs"


def test_the_indicator_table_as_printed():
    rows = [{"indicator": "losses.a", "runs": 4, "missing": 0, "mean": 1.0, "q05": 0.5,
             "q25": 1.0, "q50": 150.0, "q75": 2.0, "q95": 12345.6},
            {"indicator": "day.war", "runs": 4, "missing": 1, "mean": 3.0, "q05": 1.0,
             "q25": 2.0, "q50": 3.0, "q75": 4.0, "q95": 5.0},
            {"indicator": "day.never", "runs": 4, "missing": 4},
            {"indicator": "x", "runs": 4, "missing": 0, "mean": 0.0, "q05": -0.125,
             "q25": 0.0, "q50": 0.0, "q75": 0.0, "q95": -20000.0},
            {"indicator": "day.deal", "runs": 4, "missing": 0, "mean": 30.0, "q05": 6.95,
             "q25": 20.0, "q50": 35.5, "q75": 50.0, "q95": 3406.0}]
    assert format_indicators(rows) == (
        "indicator           5%       median          95%   never\n"
        "losses.a         0.500          150       12,346        \n"
        "day.war              1            3            5   25.0%\n"
        "day.never                                         100.0%\n"
        "x               -0.125            0      -20,000        \n"
        "day.deal          6.95         35.5        3,406    0.0%")
    assert format_indicators(rows, names=["x"]) == (
        "indicator           5%       median          95%   never\n"
        "x               -0.125            0      -20,000        ")


def test_what_a_scenario_cannot_vary():
    outcomes = [{"outcome": "never", "count": 0, "runs": 10},
                {"outcome": "always", "count": 10, "runs": 10},
                {"outcome": "some", "count": 3, "runs": 10},
                {"outcome": "empty", "count": 0, "runs": 0}]
    fixed = {"q05": 2.0, "q25": 2.0, "q50": 2.0, "q75": 2.0, "q95": 2.0}
    indicators = [
        {"indicator": "day.none", "runs": 10, "missing": 10},
        {"indicator": "flat", "runs": 10, "missing": 0, "mean": 2.0, **fixed},
        {"indicator": "flat_but_q95", "runs": 10, "missing": 0, "mean": 2.0,
         **fixed | {"q95": 2.001}},
        {"indicator": "flat_but_q05", "runs": 10, "missing": 0, "mean": 2.0,
         **fixed | {"q05": 1.999}},
        {"indicator": "day.some", "runs": 10, "missing": 4, "mean": 2.0, **fixed},
        {"indicator": "varies", "runs": 10, "missing": 0, "mean": 1.5,
         "q05": 0.0, "q25": 1.0, "q50": 2.0, "q75": 2.0, "q95": 3.0},
        {"indicator": "tiny", "runs": 10, "missing": 0, "mean": 0.0,
         **dict.fromkeys(fixed, 1e-13)},
    ]
    found = degeneracy(outcomes, indicators)
    assert found == {"never": ["never"], "always": ["always"],
                     "constant": ["day.none", "flat", "tiny"]}
    assert format_degeneracy(found, 7) == (
        "outcomes in no run (0%): never\n"
        "outcomes in every run (100%): always\n"
        "3 of 7 indicators never vary (listed by 'sim report')")
    assert format_degeneracy({"never": [], "always": [], "constant": []}, 7) == ""
    assert format_degeneracy({"never": ["a", "b"], "always": [], "constant": []}, 7) == (
        "outcomes in no run (0%): a, b")


def test_numbers_at_the_edges_of_their_formats():
    from sim.analysis import _num

    assert _num(1_000.0) == "1,000" and _num(999.4) == "999" and _num(9_999.4) == "9,999"
    assert _num(100.5) == "100" and _num(99.5) == "99.5" and _num(-3.0) == "-3"
    assert _num(99.96) == "99.96" and _num(1.0005) == "1" and _num(0.9995) == "1.000"


def test_a_relative_difference_above_1e_12_is_a_varying_indicator():
    base = {"runs": 10, "missing": 0, "mean": 1e6, "q05": 1e6, "q25": 1e6, "q50": 1e6,
            "q75": 1e6}
    varies = {**base, "indicator": "varies", "q95": 1e6 * (1 + 1e-10)}
    same = {**base, "indicator": "same", "q95": 1e6 * (1 + 1e-13)}
    assert degeneracy([], [varies, same])["constant"] == ["same"]


def test_two_outcomes_in_every_run_and_two_pairs():
    assert format_degeneracy({"never": [], "always": ["a", "b"], "constant": []}, 3) == (
        "outcomes in every run (100%): a, b")
    # two pairs: differences 1 and 3, mean 2, sd sqrt(2), half z * sqrt(2) / sqrt(2) = z
    assert paired_difference([0.0, 0.0], [1.0, 3.0]) == pytest.approx((2.0, 2 - Z95, 2 + Z95))
