"""Each shipped counterfactual moves outcomes as its stylized fact says (docs/ODD.md, section 1)."""

from __future__ import annotations

import pytest

from sim.analysis import outcome_table

from .conftest import BASELINE, COUNTERFACTUALS, paired_effect, shared_ensemble

RUNS = 1000
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base():
    return shared_ensemble(BASELINE, RUNS, seed=11)


def effect(base, name: str, column: str) -> tuple[float, float, float]:
    # computed once per process, shared with the stylized facts (same file, runs and seed)
    alternative = shared_ensemble(COUNTERFACTUALS / f"{name}.yaml", RUNS, seed=11)
    return paired_effect(base[column], alternative[column])


def test_baseline_is_a_distribution_not_a_foregone_conclusion(base):
    rows = outcome_table(base)
    open_outcomes = [r["outcome"] for r in rows if 0.01 < r["probability"] < 0.99]
    assert len(open_outcomes) >= 3, rows


@pytest.mark.parametrize(("name", "column", "sign"), [
    ("patriots_day0", "losses.turkey.by.russia", -1),
    ("patriots_day0", "outcome.highways_taken", -1),
    ("s400_early", "outcome.patriots_deployed", -1),
    ("s400_early", "affinity.turkey~us.final", -1),
    ("gate_open", "people.eu_border.peak", +1),
    ("gate_open", "outcome.eu_support_granted", +1),
    ("russia_restrains", "displaced.total", -1),
    ("russia_restrains", "control.zone.syria.final", -1),
    ("russia_restrains", "losses.turkey", -1),
    ("eu_support_stronger", "outcome.eu_support_granted", +1),
    ("eu_support_stronger", "alignment.turkey.final", +1),
    pytest.param("eu_pays_for_the_gate", "outcome.gate_opened", +1, marks=pytest.mark.xfail(
        strict=True, reason="model v3 (issue 22): since one-off acts carry a private value "
        "(decisions.private_value), Turkey opens the gate in 38% of baseline runs without "
        "any deal; offering aid for a closed gate now also pre-empts some of those openings "
        "(the deal, once signed, holds the gate closed): net -0.020 [-0.035, -0.005] (seed "
        "11), leverage and binding confounded. Leverage alone, with and without the link in "
        "one scenario: tests/test_linkage.py")),  # leverage (#11 item 3)
])
def test_counterfactual_direction(base, name, column, sign):
    mean, low, high = effect(base, name, column)
    if sign > 0:
        assert low > 0, (mean, low, high)
    else:
        assert high < 0, (mean, low, high)
